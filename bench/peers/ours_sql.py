"""Our SQL floor: the worker's own fused statement in a loop, with no worker around it.

One psycopg connection registers a worker and loops ``django_pgflow.complete_and_claim``
(report the last batch and claim the next in one round trip and one commit) at batch
100, exactly as ``runworkers`` sends it, with no task bodies, threads or Django.
``runworkers --batch-size 100`` divided by this is what the Python worker costs on top
of its SQL. Jobs are enqueued by our own driver (``enqueue_many``).
"""

from __future__ import annotations

import os
import sys
import time
from typing import Any

import psycopg

from .base import DrainConfig, driver_args, report
from .ours import Ours

# The worker's fused call (django_pgflow/worker/sql.py complete_and_claim), verbatim.
FUSED_SQL = (
    "SELECT late_id, id, queue, task_name, args::text, kwargs::text, attempts, priority, "
    "timeout, "
    "run_id, task_index "
    "FROM django_pgflow.complete_and_claim(%s, %s, %s, %s, %s::bigint[], %s::integer[], "
    "ARRAY(SELECT value FROM jsonb_array_elements(%s::jsonb)), %s::bigint[])"
)


class OursSql(Ours):
    key = "ours_sql"
    name = "our fused SQL loop"
    drains = (DrainConfig("drain, batch 100", ("100",)),)
    latency = False
    enqueues = False  # the same enqueue as ours

    def label(self) -> str:
        return f"{self.name} (complete_and_claim, no worker)"

    def driver(self, url: str, action: str, *args: str) -> list[str]:
        module = "bench.peers.ours_sql" if action == "drain" else "bench.peers.ours"
        return [sys.executable, "-m", module, action, url, *args]

    def drain_command(self, url: str, config: DrainConfig) -> list[str]:
        return self.driver(url, "drain", *config.args)


def int_array(values: list[int]) -> str:
    """An array literal, as the worker sends it (django_pgflow/worker/sql.py _int_array)."""
    return "{" + ",".join(map(str, values)) + "}"


def drain(conn: psycopg.Connection[Any], batch: int) -> float:
    (worker,) = conn.execute(
        "SELECT django_pgflow.register_worker('bench', %s, '[]'::jsonb, %s)", [os.getpid(), batch]
    ).fetchone() or (0,)
    started = time.perf_counter()
    ids: list[int] = []
    attempts: list[int] = []
    while True:
        results = "[" + ",".join("null" for _ in ids) + "]"
        params = [worker, None, batch, 30.0, int_array(ids), int_array(attempts), results, "{}"]
        rows = conn.execute(FUSED_SQL, params, prepare=True).fetchall()
        claimed = [r for r in rows if r[0] is None]
        if not claimed:
            break
        ids, attempts = [r[1] for r in claimed], [r[6] for r in claimed]
    seconds = time.perf_counter() - started
    conn.execute("SELECT django_pgflow.stop_worker(%s)", [worker])
    return seconds


def main() -> None:
    ns = driver_args()
    with psycopg.connect(ns.url, autocommit=True, application_name="bench fused") as conn:
        report(drain(conn, int(ns.args[0])))


if __name__ == "__main__":
    main()
