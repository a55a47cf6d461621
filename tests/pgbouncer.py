"""A PgBouncer (Debian's, 1.18) in transaction mode in front of a PostgreSQL server.

Used by tests/test_pgbouncer.py, and by .ci/run as a script:
``python tests/pgbouncer.py start DIR [HOST [PORT]]`` prints the URL to
connect through it, ``python tests/pgbouncer.py stop DIR`` stops it.
"""

from __future__ import annotations

import os
import pwd
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

CONFIG = """\
[databases]
* = host={host} port={port} user=postgres

[pgbouncer]
listen_addr = 127.0.0.1
listen_port = {listen}
unix_socket_dir =
auth_type = any
pool_mode = transaction
max_client_conn = 500
default_pool_size = 20
ignore_startup_parameters = extra_float_digits,options
logfile = {dir}/pgbouncer.log
pidfile = {dir}/pgbouncer.pid
"""


def binary() -> str | None:
    return shutil.which("pgbouncer") or (
        "/usr/sbin/pgbouncer" if Path("/usr/sbin/pgbouncer").exists() else None
    )


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start(directory: Path, host: str = "127.0.0.1", port: int = 5432) -> str:
    """Start PgBouncer on a free port; return ``postgres://postgres@127.0.0.1:PORT``."""
    program = binary()
    if program is None:
        raise RuntimeError("pgbouncer is not installed (apt-get install pgbouncer)")
    directory.mkdir(parents=True, exist_ok=True)
    listen = free_port()
    config = directory / "pgbouncer.ini"
    config.write_text(CONFIG.format(host=host, port=port, listen=listen, dir=directory))
    command = [program, "-d", str(config)]
    if os.geteuid() == 0:  # PgBouncer refuses to run as root
        user = pwd.getpwnam("postgres")
        os.chown(directory, user.pw_uid, user.pw_gid)
        command[1:1] = ["-u", "postgres"]
    started = subprocess.run(command, capture_output=True, text=True, timeout=30)
    if started.returncode != 0:
        raise RuntimeError(f"pgbouncer did not start: {started.stderr} {log(directory)}")
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", listen), timeout=1).close()
            return f"postgres://postgres@127.0.0.1:{listen}"
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"pgbouncer did not listen on {listen}: {log(directory)}")


def log(directory: Path) -> str:
    path = directory / "pgbouncer.log"
    return path.read_text()[-2000:] if path.exists() else "(no log)"


def stop(directory: Path) -> None:
    pidfile = directory / "pgbouncer.pid"
    if pidfile.exists():
        try:
            os.kill(int(pidfile.read_text().strip()), signal.SIGTERM)
        except (ProcessLookupError, ValueError):
            pass


if __name__ == "__main__":
    action, where = sys.argv[1], Path(sys.argv[2])
    if action == "start":
        target_host = sys.argv[3] if len(sys.argv) > 3 else "127.0.0.1"
        target_port = int(sys.argv[4]) if len(sys.argv) > 4 else 5432
        print(start(where, target_host, target_port))
    else:
        stop(where)
