"""Celery's ``expires``: a job that has not started by then is not run.

``apply_async(expires=...)`` enqueues, beside the job, a companion job of
``expire_job`` on the same queue, due at the expiry time with the highest
priority. When a worker runs it, it cancels the job if it is still queued
(row locked, so a claim cannot take it in between) and leaves it alone if it
has started or finished. No column, no SQL change: the expiry is an ordinary
job, visible in the admin. The guarantee is "cancelled once a worker serving
that queue reaches the expiry job": with workers down, nothing runs, and the
expired job is cancelled before anything else once they are back.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.db import transaction

from .definitions.tasks.task import task
from .models import Job
from .queue.api import cancel_job, enqueue

HIGHEST_PRIORITY = 32767


@task(priority=HIGHEST_PRIORITY, max_attempts=5)
def expire_job(job_id: int) -> str:
    """Cancel job ``job_id`` if it is still queued; say what was found."""
    with transaction.atomic():
        waiting = Job.objects.select_for_update().filter(pk=job_id, status="queued").first()
        if waiting is None:
            return "started or finished before it expired"
        cancel_job(job_id)
        return "expired: cancelled before it started"


def enqueue_expiring(
    task_name: str,
    args: list[Any],
    kwargs: dict[str, Any],
    expires: dt.datetime | None,
    *,
    using: str = "default",
    **options: Any,
) -> Job:
    """Enqueue the job and, with ``expires``, its expiry companion, in one transaction."""
    with transaction.atomic(using=using):
        job = enqueue(task_name, args=args, kwargs=kwargs, using=using, **options)
        if expires is not None:
            expire_job.using(queue=job.queue, run_at=expires).s(job.pk).enqueue(using=using)
    return job
