"""django-tasks' database backend (django-tasks-db): its ``READY`` task results.

``task_path`` is the Django task's module path, which django-pgflow's workers
run through the Django Tasks adapter (declare ``TASKS`` with PgflowBackend, or
keep the old backend configured: the function is what runs). ``args_kwargs``
gives args and kwargs; ``run_after`` (unless unset) becomes ``run_at``, else
``enqueued_at``, which also becomes ``created_at``. Priorities (-100..100,
higher first) keep their meaning. Handing over deletes the old row: the job
lives on here.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from psycopg import sql

from .common import Waiting, json_value

WAITING = """
SELECT id, task_path, args_kwargs, queue_name, priority, run_after, enqueued_at
FROM {table} WHERE status = 'READY' ORDER BY priority DESC, run_after, enqueued_at
FOR UPDATE SKIP LOCKED
"""

HAND_OVER = "DELETE FROM {table} WHERE id::text = ANY (%s) AND status = 'READY'"

# django-tasks-db stores "no run_after" as the largest date it can.
UNSET_AFTER = dt.datetime(9000, 1, 1, tzinfo=dt.UTC)


class DjangoTasksDbSource:
    name = "django-tasks"

    def __init__(self, table: str = "django_tasks_database_dbtaskresult") -> None:
        self.table = sql.Identifier(table)

    def _query(self, cursor: Any, template: str) -> str:
        return sql.SQL(template).format(table=self.table).as_string(cursor.connection)

    def lock_waiting(self, cursor: Any) -> list[Waiting]:
        cursor.execute(self._query(cursor, WAITING))
        return [self._waiting(row) for row in cursor.fetchall()]

    def _waiting(self, row: tuple[Any, ...]) -> Waiting:
        result_id, task_path, args_kwargs, queue, priority, run_after, enqueued = row
        payload = json_value(args_kwargs) or {}
        return Waiting(
            source_id=str(result_id),
            task_name=task_path,
            args=list(payload.get("args") or []),
            kwargs=dict(payload.get("kwargs") or {}),
            queue=queue,
            priority=int(priority),
            run_at=run_after if run_after and run_after < UNSET_AFTER else enqueued,
            created_at=enqueued,
        )

    def hand_over(self, cursor: Any, source_ids: list[str]) -> int:
        cursor.execute(self._query(cursor, HAND_OVER), [source_ids])
        return int(cursor.rowcount)
