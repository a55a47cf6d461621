"""Invariant 7 measured: a claim costs the same on a table holding a million finished
jobs as on an empty one."""

from __future__ import annotations

import os
import statistics
import time
from typing import Any

import psycopg
import pytest

from django_pgflow.worker import sql

from .conftest import TEMPLATE

# --soak sizes run for many minutes.
pytestmark = pytest.mark.timeout(1800)

# A million finished jobs, written the way the database would have: mostly
# completed, some failed or cancelled, spread over three queues and 30 days.
HISTORY_SQL = """
INSERT INTO pgflow_job (
    queue, task_name, args, kwargs, status, priority, run_at, attempts, failures,
    max_attempts, retry_delay, max_retry_delay, timeout, result, errors,
    created_at, started_at, finished_at
)
SELECT (ARRAY['default', 'emails', 'embeddings'])[1 + mod(g, 3)],
       'testproject.example.tasks.record', jsonb_build_array('h' || g), '{}',
       (ARRAY['completed', 'completed', 'completed', 'failed', 'cancelled'])[1 + mod(g, 5)],
       mod(g, 3), t, 1 + (mod(g, 5) = 3)::int, (mod(g, 5) = 3)::int, 3, 1, 3600, 300,
       CASE WHEN mod(g, 5) < 3 THEN to_jsonb('h' || g) END, '[]', t, t, t + interval '1 second'
FROM generate_series(1, %(rows)s) AS g,
     LATERAL (SELECT now() - make_interval(secs => g * 2.592) AS t) AS at
"""
READY = 5  # ready jobs at any moment: each claimed one is replaced, untimed
BLOCK = 100  # calls per database before switching to the other
WARM_UP = 200
TASK = "testproject.example.tasks.record"


class ClaimBench:
    """claim + complete_many calls, as a worker makes them, against one database."""

    def __init__(self, url: str) -> None:
        self.conn = psycopg.connect(url, autocommit=True)
        self.worker_id = sql.register_worker(self.conn, [], 1)
        for _ in range(READY):
            self._enqueue()
        self.conn.execute("VACUUM ANALYZE pgflow_job")
        self.timings: list[float] = []

    def _enqueue(self) -> None:
        self.conn.execute("SELECT django_pgflow.enqueue('default', %s, '[\"bench\"]')", [TASK])

    def calls(self, count: int, keep: bool = True) -> None:
        for _ in range(count):
            began = time.perf_counter()
            [job] = sql.claim(self.conn, self.worker_id, [], 1, 30)
            applied = sql.complete_many(
                self.conn, self.worker_id, [(job.id, job.attempt, '"ok"', None)]
            )
            elapsed = time.perf_counter() - began
            assert applied == {job.id}
            if keep:
                self.timings.append(elapsed)
            self._enqueue()

    def median_ms(self) -> float:
        return statistics.median(self.timings) * 1000


def test_claim_latency_with_a_million_finished_jobs_within_2x_of_empty(private_pg, size, report):
    names = {label: f"pgflow_claim_{label}_{os.getpid()}" for label in ("empty", "full")}
    for name in names.values():
        private_pg.clone(TEMPLATE, name)
    benches: dict[str, Any] = {}
    try:
        began = time.monotonic()
        with psycopg.connect(private_pg.url(names["full"]), autocommit=True) as conn:
            # Rows that never change status: none of the triggers has anything to do.
            conn.execute("SET session_replication_role = replica")
            conn.execute(HISTORY_SQL, {"rows": size.history_rows})  # type: ignore[arg-type]
            conn.execute("VACUUM ANALYZE pgflow_job")
        history_seconds = time.monotonic() - began
        benches = {label: ClaimBench(private_pg.url(name)) for label, name in names.items()}
        for bench in benches.values():
            bench.calls(WARM_UP, keep=False)
        # Alternate blocks, so a change in the machine's load hits both alike.
        while len(benches["full"].timings) < size.claim_calls:
            for bench in benches.values():
                bench.calls(BLOCK)
        empty, full = benches["empty"].median_ms(), benches["full"].median_ms()
        ratio = full / empty
        report(
            history_rows=size.history_rows,
            history_insert_and_analyze_s=round(history_seconds, 1),
            claim_calls_each=size.claim_calls,
            claim_complete_median_ms_empty=round(empty, 3),
            claim_complete_median_ms_1m=round(full, 3),
            ratio=round(ratio, 2),
        )
        assert ratio <= 2, f"claim on 1M finished jobs {full:.3f} ms vs empty {empty:.3f} ms"
    finally:
        for bench in benches.values():
            bench.conn.close()
        for name in names.values():
            private_pg.drop(name)
