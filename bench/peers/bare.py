"""The floor: a minimal job table and the simplest correct SKIP LOCKED claim/complete.

No framework, no leases, no retries: what any PostgreSQL queue must at least do per
job (insert; claim by an UPDATE over a ``FOR UPDATE SKIP LOCKED`` sub-select; mark
done), at the same durability as the others (``synchronous_commit`` as the server
has it, every table logged). The claim and the completion commit separately, twice
per batch. The driver loops them at batch 1 and at batch 100; ``pgbench`` runs the
same two statements from 1, 2 and 4 clients for the claim-and-complete ceiling.
"""

from __future__ import annotations

import math
import shutil
import time
from pathlib import Path
from typing import Any

import psycopg

from .base import DrainConfig, Peer, driver_args, report, timed

SCHEMA = """
CREATE TABLE bare_job (
    id bigserial PRIMARY KEY,
    payload jsonb NOT NULL DEFAULT '{}',
    status text NOT NULL DEFAULT 'queued',
    created_at timestamptz NOT NULL DEFAULT now(),
    started_at timestamptz,
    finished_at timestamptz
);
CREATE INDEX bare_job_ready ON bare_job (id) WHERE status = 'queued';
"""
CLAIM = (
    "UPDATE bare_job SET status = 'started', started_at = now() WHERE id IN ("
    "SELECT id FROM bare_job WHERE status = 'queued' ORDER BY id LIMIT {limit} "
    "FOR UPDATE SKIP LOCKED) RETURNING id, payload"
)
COMPLETE = "UPDATE bare_job SET status = 'completed', finished_at = now() WHERE id = ANY({ids})"
INSERT_ONE = "INSERT INTO bare_job (payload) VALUES (%s) RETURNING id"
INSERT_MANY = "INSERT INTO bare_job (payload) SELECT unnest(%s::jsonb[]) RETURNING id"
# pgbench: one claim and one completion per script run, two transactions, as the loop.
PGBENCH_SCRIPT = (
    "WITH c AS (" + CLAIM.format(limit=":batch") + ") "
    "SELECT coalesce(array_agg(id), '{}') AS ids FROM c \\gset\n"
    + COMPLETE.format(ids=":ids::bigint[]")
    + ";\n"
)


class Bare(Peer):
    key = "bare"
    name = "bare SQL loop"
    drains = (
        DrainConfig("drain, batch 1", ("1",), one_at_a_time=True),
        DrainConfig("drain, batch 100", ("100",)),
    )
    latency = False  # no worker waits for jobs: a loop that drains and stops
    done_sql = (
        "SELECT count(*), extract(epoch FROM max(finished_at) - min(started_at))::float8 "
        "FROM bare_job WHERE status = 'completed'"
    )
    reset_sql = ("TRUNCATE bare_job",)

    def version(self) -> str | None:
        return f"(PostgreSQL, psycopg {psycopg.__version__})"

    def label(self) -> str:
        return self.name

    def install(self, url: str) -> None:
        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute(SCHEMA)


def pgbench_command(url: str, clients: int, jobs: int, script: Path) -> list[str] | None:
    """``pgbench`` running the claim/complete script (written to ``script``) until ``jobs``
    are drained, batch 100; None when pgbench is not installed."""
    binary = shutil.which("pgbench")
    if binary is None:
        return None
    script.write_text(PGBENCH_SCRIPT)
    runs = math.ceil(jobs / (100 * clients)) + 1  # the last runs find the table empty
    return [
        binary, "-n", "-M", "prepared", "-c", str(clients), "-j", str(clients),
        "-t", str(runs), "-D", "batch=100", "-f", str(script), url,
    ]  # fmt: skip


# -- the driver --------------------------------------------------------------


def drain(conn: psycopg.Connection[Any], batch: int) -> float:
    claim, complete = CLAIM.format(limit="%s"), COMPLETE.format(ids="%s")
    started = time.perf_counter()
    while rows := conn.execute(claim, [batch], prepare=True).fetchall():
        conn.execute(complete, [[row[0] for row in rows]], prepare=True)
    return time.perf_counter() - started


def enqueue_single(conn: psycopg.Connection[Any], n: int) -> float:
    return timed(lambda: [conn.execute(INSERT_ONE, ["{}"], prepare=True) for _ in range(n)])


def enqueue_bulk(conn: psycopg.Connection[Any], n: int) -> float:
    return timed(lambda: conn.execute(INSERT_MANY, [["{}"] * n]).fetchall())


def main() -> None:
    ns = driver_args()
    with psycopg.connect(ns.url, autocommit=True, application_name="bench bare") as conn:
        actions = {
            "enqueue-bulk": lambda: enqueue_bulk(conn, int(ns.args[0])),
            "enqueue-single": lambda: enqueue_single(conn, int(ns.args[0])),
            "drain": lambda: drain(conn, int(ns.args[0])),
        }
        report(actions[ns.action]())


if __name__ == "__main__":
    main()
