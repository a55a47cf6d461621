"""The worker's calls into the SQL core, one function each, on its own connections."""

from __future__ import annotations

import json
import os
import socket
from collections.abc import Iterable
from typing import Any

import psycopg
from psycopg.types.json import Jsonb

from .execution import ClaimedJob

Conn = psycopg.Connection[Any]


def register_worker(conn: Conn, queues: list[str], concurrency: int) -> int:
    row = conn.execute(
        "SELECT django_pgflow.register_worker(%s, %s, %s, %s)",
        [socket.gethostname(), os.getpid(), Jsonb(queues), concurrency],
    ).fetchone()
    assert row is not None
    return int(row[0])


def speak_for(conn: Conn, secret: str, worker_id: int | None = None) -> None:
    """Make ``conn`` one of the worker's own sessions: set its secret (a bound
    parameter, never in the query text others can see) and, once the worker
    is registered, hold its liveness lock for as long as ``conn`` lives."""
    conn.execute("SELECT set_config('pgflow.worker_secret', %s, false)", [secret])
    if worker_id is not None:
        conn.execute("SELECT django_pgflow.keep_alive(%s)", [worker_id])


def claim(
    conn: Conn, worker_id: int, queues: list[str], limit: int, lease_margin: float
) -> list[ClaimedJob]:
    rows = conn.execute(
        "SELECT id, queue, task_name, args::text, kwargs::text, attempts, priority, timeout, "
        "run_id, task_index, metadata::text "
        "FROM django_pgflow.claim(%s, %s, %s, %s)",
        [worker_id, queues or None, limit, lease_margin],
        prepare=True,
    ).fetchall()
    return [_claimed(r) for r in rows]


def _claimed(r: tuple[Any, ...]) -> ClaimedJob:
    # Arguments come as text and are parsed job by job: a row that Python's
    # json cannot read (written before the SQL checks existed, or by hand)
    # fails that job alone, never the claim, its batch or the process.
    try:
        args, kwargs, metadata = json.loads(r[3]), json.loads(r[4]), json.loads(r[10])
        problem = None
    except (ValueError, RecursionError) as error:
        args, kwargs, metadata = [], {}, {}
        problem = f"the job's args or kwargs cannot be read back: {type(error).__name__}: {error}"
    return ClaimedJob(
        id=r[0],
        queue=r[1],
        task_name=r[2],
        args=args,
        kwargs=kwargs,
        attempt=r[5],
        priority=r[6],
        timeout=r[7],
        run_id=r[8],
        task_index=r[9],
        metadata=metadata,
        payload_problem=problem,
    )


Completion = tuple[int, int, str, int | None]  # job id, attempt, result JSON, run id


def _int_array(values: Iterable[int]) -> str:
    """An array literal: a tenth of the cost of psycopg's list dumper, element by element."""
    return "{" + ",".join(map(str, values)) + "}"


def _completion_params(jobs: list[Completion]) -> list[str]:
    """ids, attempts, results (one JSON array) and the runs these jobs cascade into,
    so that the SQL can lock them without looking."""
    return [
        _int_array(j[0] for j in jobs),
        _int_array(j[1] for j in jobs),
        "[" + ",".join(j[2] for j in jobs) + "]",
        _int_array(sorted({j[3] for j in jobs if j[3] is not None})),
    ]


def complete_many(conn: Conn, worker_id: int, jobs: list[Completion]) -> set[int]:
    """Report completions; returns the ids that were applied (the rest were late)."""
    rows = conn.execute(
        "SELECT django_pgflow.complete_many(%s, %s::bigint[], %s::integer[], "
        "ARRAY(SELECT value FROM jsonb_array_elements(%s::jsonb)), %s::bigint[])",
        [worker_id, *_completion_params(jobs)],
        prepare=True,
    ).fetchall()
    return {r[0] for r in rows}


def complete_and_claim(
    conn: Conn,
    jobs: list[Completion],
    worker_id: int,
    queues: list[str],
    limit: int,
    lease_margin: float,
) -> tuple[set[int], list[ClaimedJob]]:
    """complete_many() then claim() in one round trip and one transaction.

    Returns the ids that were applied and the claimed jobs.
    """
    rows = conn.execute(
        "SELECT late_id, id, queue, task_name, args::text, kwargs::text, attempts, priority, "
        "timeout, run_id, task_index, metadata::text "
        "FROM django_pgflow.complete_and_claim(%s, %s, %s, %s, %s::bigint[], %s::integer[], "
        "ARRAY(SELECT value FROM jsonb_array_elements(%s::jsonb)), %s::bigint[])",
        [worker_id, queues or None, limit, lease_margin, *_completion_params(jobs)],
        prepare=True,
    ).fetchall()
    if rows and rows[0][0] is not None:  # late reports come first
        late = {r[0] for r in rows if r[0] is not None}
        return {j[0] for j in jobs} - late, [_claimed(r[1:]) for r in rows if r[0] is None]
    return {j[0] for j in jobs}, [_claimed(r[1:]) for r in rows]


def fail(
    conn: Conn, worker_id: int, job_id: int, attempt: int, error: dict[str, Any], retry: bool = True
) -> str | None:
    row = conn.execute(
        "SELECT django_pgflow.fail(%s, %s, %s, %s::jsonb, %s)",
        [worker_id, job_id, attempt, json.dumps(error, default=str), retry],
    ).fetchone()
    return row[0] if row else None


def release(conn: Conn, worker_id: int, job_ids: list[int] | None = None) -> int:
    row = conn.execute("SELECT django_pgflow.release(%s, %s)", [worker_id, job_ids]).fetchone()
    return int(row[0]) if row else 0


def release_unknown(conn: Conn, worker_id: int, known: list[int]) -> int:
    row = conn.execute(
        "SELECT django_pgflow.release_unknown(%s, %s)", [worker_id, known]
    ).fetchone()
    return int(row[0]) if row else 0


def heartbeat(conn: Conn, worker_id: int, lease_margin: float) -> int:
    row = conn.execute(
        "SELECT django_pgflow.heartbeat(%s, %s)", [worker_id, lease_margin]
    ).fetchone()
    return int(row[0]) if row else -1


def reap(conn: Conn, dead_after: float) -> int:
    row = conn.execute("SELECT django_pgflow.reap(%s)", [dead_after]).fetchone()
    return int(row[0]) if row else 0


def stop_worker(conn: Conn, worker_id: int) -> int:
    row = conn.execute("SELECT django_pgflow.stop_worker(%s)", [worker_id]).fetchone()
    return int(row[0]) if row else 0


def has_pending(conn: Conn, queues: list[str]) -> bool:
    """Is any job of these queues ready now, waiting to retry, or running anywhere?"""
    row = conn.execute(
        "SELECT EXISTS (SELECT 1 FROM pgflow_job WHERE status = 'queued' "
        "AND (run_at <= now() OR failures > 0) AND impossible IS NULL "
        "AND (%(q)s::text[] IS NULL OR queue = ANY (%(q)s::text[]))) "
        "OR EXISTS (SELECT 1 FROM pgflow_job WHERE status = 'started' "
        "AND (%(q)s::text[] IS NULL OR queue = ANY (%(q)s::text[])))",
        {"q": queues or None},
    ).fetchone()
    return bool(row and row[0])
