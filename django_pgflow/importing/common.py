"""The import loop shared by every source: lock the waiting jobs, enqueue them here
keeping their times and priorities, hand them over, all in one transaction.

Idempotent: each imported job carries ``metadata["imported"] = "<source>:<id>"``,
and a source job already imported is never imported again (with
``--keep-source`` the old rows stay; running the command twice still imports
each once). Handing over (the default) takes the job away from the old system
in the same transaction, so it runs in exactly one of the two.
"""

from __future__ import annotations

import datetime as dt
import json
from collections import Counter
from dataclasses import dataclass, field
from typing import Any, Protocol

from django.db import connections, transaction

from ..exceptions import PgflowError
from ..queue.api import enqueue
from ..validation import QUEUE_NAME_RE
from ..worker.execution import find_task

SMALLINT = 32767


@dataclass
class Waiting:
    """One job the old system has not started yet."""

    source_id: str
    task_name: str
    args: list[Any]
    kwargs: dict[str, Any]
    queue: str
    priority: int
    run_at: dt.datetime
    created_at: dt.datetime
    lock_key: str | None = None
    unique_key: str | None = None


class Source(Protocol):
    name: str

    def lock_waiting(self, cursor: Any) -> list[Waiting]: ...

    def hand_over(self, cursor: Any, source_ids: list[str]) -> int: ...


@dataclass
class Mapping:
    tasks: dict[str, str] = field(default_factory=dict)
    queues: dict[str, str] = field(default_factory=dict)


@dataclass
class Report:
    imported: list[int] = field(default_factory=list)  # our job ids
    already: int = 0
    handed_over: int = 0
    skipped: Counter[str] = field(default_factory=Counter)  # reason -> count


def json_value(value: Any) -> Any:
    """A jsonb column as Django's cursor returns it (text) or as psycopg does (parsed)."""
    return json.loads(value) if isinstance(value, str | bytes) else value


def imported_keys(cursor: Any, source: str) -> dict[str, int]:
    cursor.execute(
        "SELECT metadata ->> 'imported', id FROM pgflow_job WHERE metadata ->> 'imported' LIKE %s",
        [f"{source}:%"],
    )
    return dict(cursor.fetchall())


def _why_not(waiting: Waiting, task_name: str, queue: str) -> str | None:
    try:
        find_task(task_name)
    except PgflowError:
        return f"unknown task {task_name!r} (declare it with @task, or --task-map OLD=NEW)"
    if not QUEUE_NAME_RE.fullmatch(queue):
        return f"queue name {queue!r} is not valid here (--queue-map OLD=NEW)"
    return None


def _enqueue(cursor: Any, source: str, waiting: Waiting, task_name: str, queue: str) -> int:
    job = enqueue(
        task_name,
        args=waiting.args,
        kwargs=waiting.kwargs,
        allow_unknown=True,  # found above, perhaps as a Django task
        queue=queue,
        priority=max(-SMALLINT - 1, min(SMALLINT, waiting.priority)),
        run_at=waiting.run_at,
        lock_key=waiting.lock_key,
        unique_key=waiting.unique_key,
    )
    # The original enqueue time, and where the job came from (which makes it idempotent).
    cursor.execute(
        "UPDATE pgflow_job SET created_at = %s, "
        "metadata = jsonb_set(metadata, '{imported}', %s::jsonb) WHERE id = %s",
        [waiting.created_at, json.dumps(f"{source}:{waiting.source_id}"), job.pk],
    )
    return int(job.pk)


def import_waiting(
    source: Source,
    mapping: Mapping,
    *,
    keep_source: bool = False,
    dry_run: bool = False,
    using: str = "default",
) -> Report:
    report = Report()
    with transaction.atomic(using=using), connections[using].cursor() as cursor:
        done = imported_keys(cursor, source.name)
        handed: list[str] = []
        for waiting in source.lock_waiting(cursor):
            if f"{source.name}:{waiting.source_id}" in done:
                report.already += 1
                handed.append(waiting.source_id)
                continue
            task_name = mapping.tasks.get(waiting.task_name, waiting.task_name)
            queue = mapping.queues.get(waiting.queue, waiting.queue)
            reason = _why_not(waiting, task_name, queue)
            if reason is not None:
                report.skipped[reason] += 1
                continue
            report.imported.append(_enqueue(cursor, source.name, waiting, task_name, queue))
            handed.append(waiting.source_id)
        if not keep_source and handed:
            report.handed_over = source.hand_over(cursor, handed)
        if dry_run:
            transaction.set_rollback(True, using=using)
    return report
