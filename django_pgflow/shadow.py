"""Shadow mode: the old system runs a call for real, django-pgflow runs a copy, outcomes compared.

For idempotent tasks routed ``"shadow"`` (``django_pgflow.router``). Beside the
copy, a ``compare_outcomes`` job waits (retrying with backoff) until both have
finished, then compares django-pgflow's result with what
``PGFLOW["LEGACY_RESULT"](legacy_id)`` reports as ``(finished, value)``. The
verdict is the comparison job's result (``{"match": ..., "ours": ..., "theirs":
...}``), a mismatch is logged as a warning, and the ``shadow_compared`` signal
is sent. The copy carries ``metadata["shadow"] = {"legacy_id": ...}``.

A failed copy compares as ``{"error": "<class name>"}``: let ``LEGACY_RESULT``
report a failure the same way for the two to match.
"""

from __future__ import annotations

import logging
from typing import Any

from django.dispatch import Signal
from django.utils.module_loading import import_string

from .conf import pgflow_settings
from .definitions.tasks.task import task
from .models import FINISHED, Job
from .queue.api import enqueue

logger = logging.getLogger("django_pgflow.shadow")

# sender=Job; job_id, legacy_id, task_name, match, ours, theirs.
shadow_compared = Signal()

FIRST_LOOK = 1.0  # seconds after the copy is queued


class OutcomePending(Exception):
    """One of the two has not finished: the comparison is tried again later."""


def enqueue_shadow(
    task_name: str,
    args: list[Any],
    kwargs: dict[str, Any],
    legacy_id: Any,
    *,
    using: str = "default",
    **options: Any,
) -> Job:
    """Queue django-pgflow's copy of a call the old system runs, and its comparison."""
    shadow = {"shadow": {"legacy_id": str(legacy_id)}}
    job = enqueue(task_name, args=args, kwargs=kwargs, using=using, metadata=shadow, **options)
    compare_outcomes.using(queue=job.queue, delay=FIRST_LOOK).s(job.pk, str(legacy_id)).enqueue(
        using=using
    )
    return job


def our_outcome(job: Job) -> Any:
    if job.status == "completed":
        return job.result
    last = (job.errors or [{}])[-1] if job.errors else {}
    return {"error": last.get("error", job.status)}


@task(max_attempts=30, retry_delay=1.0, max_retry_delay=300.0)
def compare_outcomes(job_id: int, legacy_id: str) -> dict[str, Any]:
    job = Job.objects.get(pk=job_id)
    if job.status not in FINISHED:
        raise OutcomePending(f"django-pgflow's copy (job {job_id}) is {job.status}")
    finished, theirs = import_string(pgflow_settings.LEGACY_RESULT)(legacy_id)
    if not finished:
        raise OutcomePending(f"the old system's call {legacy_id} has not finished")
    ours = our_outcome(job)
    verdict = {"match": ours == theirs, "ours": ours, "theirs": theirs}
    if not verdict["match"]:
        logger.warning(
            "shadow mismatch for %s: job %s returned %r, the old system's %s returned %r",
            job.task_name, job_id, ours, legacy_id, theirs,
        )  # fmt: skip
    shadow_compared.send(
        sender=Job, job_id=job_id, legacy_id=legacy_id, task_name=job.task_name, **verdict
    )
    return verdict
