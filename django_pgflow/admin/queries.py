"""Read-only queries behind the admin's pages: one statement per page section.

Each returns plain rows for a page, with a cost bounded by what the page
shows (a page of runs, the active jobs, the last hour of finished ones),
never by the history the tables hold. None takes a lock beyond a plain read.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from django.db import connection
from django.db.models import F, IntegerField, QuerySet, TextField
from django.db.models.functions import Cast, Left, Length

from .display import MAX_JSON_CHARS

JOB_JSON_FIELDS = ("args", "kwargs", "result", "errors", "resources", "metadata")


def rows(query: str, params: Sequence[Any] = ()) -> list[dict[str, Any]]:
    with connection.cursor() as cursor:
        cursor.execute(query, params)
        columns = [c.name for c in cursor.description]
        return [dict(zip(columns, row, strict=True)) for row in cursor.fetchall()]


def with_json_text(queryset: QuerySet[Any], fields: Iterable[str]) -> QuerySet[Any]:
    """JSON columns read as text, cut past what a page shows, and their full sizes.

    Decoding happens in the page, where a value Python cannot read (a
    5,000-digit number, nesting 5,000 deep) is shown as stored instead of
    failing the whole page."""
    annotations: dict[str, Any] = {}
    for name in fields:
        text = Cast(F(name), output_field=TextField())
        annotations[f"{name}_text"] = Left(text, MAX_JSON_CHARS + 1)
        annotations[f"{name}_size"] = Length(text, output_field=IntegerField())
    return queryset.annotate(**annotations)


# -- the queues dashboard ---------------------------------------------------------

# Queued jobs fall in exactly one of: ready (claimable now), gated (ready, but
# waiting for a resource, lock key or queue limit), scheduled (run_at ahead,
# never failed) and retrying (run_at ahead after a failure). Active rows only,
# and failures through the finished-rows index: the history is not read.
QUEUE_COUNTS_SQL = """
WITH active AS (
    SELECT queue,
           count(*) FILTER (WHERE status = 'queued' AND run_at <= now() AND NOT gated) AS ready,
           count(*) FILTER (WHERE status = 'queued' AND run_at <= now() AND gated) AS gated,
           count(*) FILTER (WHERE status = 'queued' AND run_at > now() AND failures = 0)
               AS scheduled,
           count(*) FILTER (WHERE status = 'queued' AND run_at > now() AND failures > 0)
               AS retrying,
           count(*) FILTER (WHERE status = 'started') AS running,
           extract(epoch FROM now() - min(run_at) FILTER (WHERE status = 'queued'
                                                          AND run_at <= now()))::float8
               AS oldest_ready
    FROM pgflow_job WHERE status IN ('queued', 'started') GROUP BY queue
), failed AS (
    SELECT queue, count(*) AS failed FROM pgflow_job WHERE status = 'failed' GROUP BY queue
)
SELECT coalesce(a.queue, f.queue) AS queue, coalesce(a.ready, 0) AS ready,
       coalesce(a.gated, 0) AS gated, coalesce(a.scheduled, 0) AS scheduled,
       coalesce(a.retrying, 0) AS retrying, coalesce(a.running, 0) AS running,
       coalesce(f.failed, 0) AS failed, a.oldest_ready
FROM active a FULL JOIN failed f ON f.queue = a.queue
"""

QUEUE_LIMITS_SQL = """
SELECT l.queue, l.concurrency, l.rate_count, l.rate_period,
       CASE WHEN l.rate_count IS NOT NULL THEN django_pgflow.rate_used(l.queue, now()) END
           AS rate_used
FROM pgflow_queue_limit l
"""

# Completed and failed per minute over the last hour (minute 0 is the oldest).
THROUGHPUT_SQL = """
SELECT queue,
       (59 - floor(extract(epoch FROM date_trunc('minute', now())
                                      - date_trunc('minute', finished_at)) / 60))::integer
           AS minute,
       count(*) FILTER (WHERE status = 'completed') AS completed,
       count(*) FILTER (WHERE status = 'failed') AS failed
FROM pgflow_job
WHERE status IN ('completed', 'failed')
  AND finished_at >= date_trunc('minute', now()) - interval '59 minutes'
GROUP BY 1, 2
"""


def queue_counts() -> list[dict[str, Any]]:
    return rows(QUEUE_COUNTS_SQL)


def queue_limits() -> dict[str, dict[str, Any]]:
    return {row["queue"]: row for row in rows(QUEUE_LIMITS_SQL)}


def throughput() -> dict[str, list[tuple[int, int]]]:
    """Per queue, 60 (completed, failed) pairs, one a minute, oldest first."""
    series: dict[str, list[tuple[int, int]]] = {}
    for row in rows(THROUGHPUT_SQL):
        minutes = series.setdefault(row["queue"], [(0, 0)] * 60)
        if 0 <= row["minute"] < 60:
            minutes[row["minute"]] = (row["completed"], row["failed"])
    return series


# -- lock contention ---------------------------------------------------------------

CONTENTION_SQL = "SELECT * FROM pgflow_contention ORDER BY kind, name"

# The jobs holding a resource, queue slot or lock key: who runs them, since when.
HOLDERS_SQL = """
SELECT j.id, j.task_name, j.worker_id, j.started_at, w.hostname, w.pid
FROM pgflow_job j LEFT JOIN pgflow_worker w ON w.id = j.worker_id
WHERE j.id = ANY(%s) AND j.status = 'started'
"""

# The first ready gated jobs in line for each resource, limited queue and lock
# key, in the claim's order, with how long each has been ready.
WAITERS_SQL = """
WITH waiting AS (
    SELECT j.id, j.task_name, j.queue, j.lock_key, j.resources, j.run_at, j.priority
    FROM pgflow_job j WHERE j.status = 'queued' AND j.gated AND j.run_at <= now()
), lined AS (
    SELECT 'resource'::text AS kind, e.key::text AS name, w.*
    FROM waiting w CROSS JOIN LATERAL jsonb_object_keys(w.resources) AS e(key)
    WHERE jsonb_typeof(w.resources) = 'object'
    UNION ALL
    SELECT 'queue', w.queue::text, w.* FROM waiting w
    WHERE EXISTS (SELECT 1 FROM pgflow_queue_limit l WHERE l.queue = w.queue)
    UNION ALL
    SELECT 'lock_key', w.lock_key::text, w.* FROM waiting w WHERE w.lock_key IS NOT NULL
), ranked AS (
    SELECT l.*, row_number() OVER (PARTITION BY kind, name ORDER BY priority DESC, run_at, id) AS n
    FROM lined l
)
SELECT kind, name, id, task_name, run_at,
       extract(epoch FROM now() - run_at)::float8 AS waiting_for
FROM ranked WHERE n <= %s ORDER BY kind, name, n
"""

# Wait before start, per gate, of the jobs that started in the last hour.
WAIT_PERCENTILES_SQL = """
WITH recent AS (
    SELECT j.waited, j.resources, j.queue, j.lock_key FROM pgflow_job j
    WHERE j.waited IS NOT NULL AND j.status IN ('completed', 'failed', 'cancelled')
      AND j.finished_at > now() - interval '1 hour' AND j.started_at > now() - interval '1 hour'
    UNION ALL
    SELECT j.waited, j.resources, j.queue, j.lock_key FROM pgflow_job j
    WHERE j.waited IS NOT NULL AND j.status = 'started' AND j.started_at > now() - interval '1 hour'
), gates AS (
    SELECT 'resource'::text AS kind, e.key::text AS name, r.waited
    FROM recent r CROSS JOIN LATERAL jsonb_object_keys(r.resources) AS e(key)
    WHERE jsonb_typeof(r.resources) = 'object'
    UNION ALL
    SELECT 'queue', r.queue::text, r.waited FROM recent r
    WHERE EXISTS (SELECT 1 FROM pgflow_queue_limit l WHERE l.queue = r.queue)
    UNION ALL
    SELECT 'lock_key', r.lock_key::text, r.waited FROM recent r WHERE r.lock_key IS NOT NULL
)
SELECT kind, name, count(*) AS started,
       percentile_cont(0.5) WITHIN GROUP (ORDER BY waited) AS p50,
       percentile_cont(0.95) WITHIN GROUP (ORDER BY waited) AS p95
FROM gates GROUP BY kind, name
"""

# PostgreSQL's own locks in this database: every lock a session waits for,
# advisory locks (resource_lock() holds one per name), and the locks of the
# sessions that block another. pg_blocking_pids() is asked only for sessions
# that wait on a lock.
PG_LOCKS_SQL = """
WITH sessions AS (
    SELECT a.pid, a.application_name, a.state, a.wait_event_type, a.wait_event,
           CASE WHEN a.wait_event_type = 'Lock' THEN pg_blocking_pids(a.pid) END AS blocked_by,
           left(a.query, 160) AS query
    FROM pg_stat_activity a
    WHERE a.datname = current_database() AND a.pid <> pg_backend_pid()
), blockers AS (
    SELECT DISTINCT unnest(blocked_by) AS pid FROM sessions
)
SELECT s.pid, s.application_name, s.state, s.wait_event_type, s.wait_event, s.blocked_by,
       s.query, l.locktype, l.mode, l.granted,
       extract(epoch FROM clock_timestamp() - l.waitstart)::float8 AS waiting_for,
       CASE l.locktype
           WHEN 'relation' THEN l.relation::regclass::text
           WHEN 'tuple' THEN format('row (%%s,%%s) of %%s', l.page, l.tuple, l.relation::regclass)
           WHEN 'advisory' THEN format('advisory %%s/%%s', l.classid, l.objid)
           WHEN 'transactionid' THEN format('transaction %%s', l.transactionid)
           ELSE l.locktype
       END AS target
FROM sessions s JOIN pg_locks l ON l.pid = s.pid
WHERE l.locktype <> 'virtualxid'
  AND (NOT l.granted OR l.locktype = 'advisory' OR s.pid IN (SELECT pid FROM blockers))
ORDER BY l.granted, s.pid, l.locktype
LIMIT %s
"""


def contention() -> list[dict[str, Any]]:
    return rows(CONTENTION_SQL)


def holders(ids: list[int]) -> dict[int, dict[str, Any]]:
    return {row["id"]: row for row in rows(HOLDERS_SQL, [ids])} if ids else {}


def waiters(per_gate: int) -> list[dict[str, Any]]:
    return rows(WAITERS_SQL, [per_gate])


def wait_percentiles() -> dict[tuple[str, str], dict[str, Any]]:
    return {(row["kind"], row["name"]): row for row in rows(WAIT_PERCENTILES_SQL)}


def pg_locks(limit: int) -> list[dict[str, Any]]:
    return rows(PG_LOCKS_SQL, [limit])
