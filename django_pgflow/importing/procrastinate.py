"""procrastinate's waiting jobs (status ``todo``), read from its own tables.

procrastinate passes keyword arguments only: they become the job's kwargs.
``scheduled_at`` (or, for a job due at once, the time of its ``deferred``
event) becomes ``run_at``, so the imported backlog keeps its order; the
``deferred`` time becomes ``created_at``. ``priority`` keeps its meaning
(higher first), ``lock`` becomes ``lock_key`` and ``queueing_lock`` the
``unique_key``. Handing over cancels the job in procrastinate.
"""

from __future__ import annotations

from typing import Any

from django.utils import timezone
from psycopg import sql

from .common import Waiting, json_value

WAITING = """
SELECT j.id, j.queue_name, j.task_name, j.priority, j.lock, j.queueing_lock, j.args,
       j.scheduled_at,
       (SELECT min(e.at) FROM {events} e WHERE e.job_id = j.id AND e.type = 'deferred')
FROM {jobs} j WHERE j.status = 'todo' ORDER BY j.id FOR UPDATE OF j SKIP LOCKED
"""

HAND_OVER = "UPDATE {jobs} SET status = 'cancelled' WHERE id = ANY (%s) AND status = 'todo'"


class ProcrastinateSource:
    name = "procrastinate"

    def __init__(self, schema: str = "public") -> None:
        self.schema = schema
        self.jobs = sql.Identifier(schema, "procrastinate_jobs")
        self.events = sql.Identifier(schema, "procrastinate_events")

    def _query(self, cursor: Any, template: str) -> str:
        return (
            sql.SQL(template)
            .format(jobs=self.jobs, events=self.events)
            .as_string(cursor.connection)
        )

    def lock_waiting(self, cursor: Any) -> list[Waiting]:
        cursor.execute(self._query(cursor, WAITING))
        return [self._waiting(row) for row in cursor.fetchall()]

    def _waiting(self, row: tuple[Any, ...]) -> Waiting:
        job_id, queue, task_name, priority, lock, queueing_lock, args, scheduled, deferred = row
        created = deferred or timezone.now()
        return Waiting(
            source_id=str(job_id),
            task_name=task_name,
            args=[],
            kwargs=dict(json_value(args) or {}),
            queue=queue,
            priority=int(priority),
            run_at=scheduled or created,
            created_at=created,
            lock_key=lock,
            unique_key=queueing_lock,
        )

    def hand_over(self, cursor: Any, source_ids: list[str]) -> int:
        # procrastinate's trigger functions name its types without a schema: they
        # need its schema on the search path (for this transaction only).
        cursor.execute(
            "SELECT set_config('search_path', %s || ', ' || current_setting('search_path'), true)",
            [sql.Identifier(self.schema).as_string(cursor.connection)],
        )
        cursor.execute(self._query(cursor, HAND_OVER), [[int(i) for i in source_ids]])
        return int(cursor.rowcount)
