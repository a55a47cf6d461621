"""Read-only summaries of queues and workers, for ``pgflow_status`` and the admin."""

from __future__ import annotations

import json
from typing import Any

from django.db import connection

from .conf import pgflow_settings

QUEUE_SQL = """
SELECT queue,
       count(*) FILTER (WHERE status = 'queued' AND run_at <= now()) AS ready,
       count(*) FILTER (WHERE status = 'queued' AND run_at > now()) AS scheduled,
       count(*) FILTER (WHERE status = 'started') AS running,
       count(*) FILTER (WHERE status = 'completed') AS completed,
       count(*) FILTER (WHERE status = 'failed') AS failed,
       count(*) FILTER (WHERE status = 'cancelled') AS cancelled
FROM pgflow_job GROUP BY queue ORDER BY queue
"""

RUN_SQL = """
SELECT flow_slug,
       count(*) FILTER (WHERE status = 'started') AS running,
       count(*) FILTER (WHERE status = 'completed') AS completed,
       count(*) FILTER (WHERE status = 'failed') AS failed,
       count(*) FILTER (WHERE status = 'cancelled') AS cancelled
FROM pgflow_run GROUP BY flow_slug ORDER BY flow_slug
"""

WORKER_SQL = """
SELECT w.id, w.hostname, w.pid, w.queues, w.concurrency, w.state,
       extract(epoch FROM now() - w.last_heartbeat)::float8 AS heartbeat_age,
       (SELECT count(*) FROM pgflow_job j WHERE j.worker_id = w.id AND j.status = 'started')
FROM pgflow_worker w
WHERE w.state <> 'stopped' OR w.stopped_at > now() - interval '1 hour'
ORDER BY w.id
"""


CONTENTION_SQL = "SELECT * FROM pgflow_contention ORDER BY kind, name"


def _rows(query: str) -> list[dict[str, Any]]:
    with connection.cursor() as cursor:
        cursor.execute(query)
        columns = [c.name for c in cursor.description]
        return [dict(zip(columns, row, strict=True)) for row in cursor.fetchall()]


def queue_summary() -> list[dict[str, Any]]:
    return _rows(QUEUE_SQL)


def run_summary() -> list[dict[str, Any]]:
    return _rows(RUN_SQL)


def contention_summary() -> list[dict[str, Any]]:
    """Resources, limited queues and lock keys: holders, waiters, waits (pgflow_contention)."""
    return _rows(CONTENTION_SQL)


def worker_health(state: str, heartbeat_age: float) -> str:
    """'alive'; 'stale' (silent past WORKER_DEAD_AFTER, not yet reaped); else its state
    ('lost' once a reaper noticed, 'stopping', 'stopped')."""
    if state != "running":
        return state
    return "stale" if heartbeat_age > float(pgflow_settings.WORKER_DEAD_AFTER) else "alive"


def worker_summary() -> list[dict[str, Any]]:
    with connection.cursor() as cursor:
        cursor.execute(WORKER_SQL)
        rows = cursor.fetchall()
    return [
        {
            "id": r[0],
            "hostname": r[1],
            "pid": r[2],
            "queues": (json.loads(r[3]) if isinstance(r[3], str) else r[3]) or [],
            "concurrency": r[4],
            "state": r[5],
            "heartbeat_age": r[6],
            "running": r[7],
            "health": worker_health(r[5], r[6]),
        }
        for r in rows
    ]
