"""A ``Job`` row read back as Django's ``TaskResult``."""

from __future__ import annotations

from typing import Any

from ..models import Job
from .compat import Task, TaskError, TaskResult, TaskResultStatus

STATUSES = {
    "queued": TaskResultStatus.READY,  # waiting for its first attempt, or for a retry
    "started": TaskResultStatus.RUNNING,
    "completed": TaskResultStatus.SUCCESSFUL,
    "failed": TaskResultStatus.FAILED,
    "cancelled": TaskResultStatus.FAILED,  # Django has no cancelled: it did not run to success
}


class JobCancelledError(Exception):
    """Stands in a ``TaskResult``'s errors for a job cancelled with ``cancel_job``."""


def _error_path(entry: dict[str, Any]) -> str:
    path = entry.get("error_class")
    if isinstance(path, str) and path:
        return path
    # Errors recorded before error_class existed name the class only.
    return f"builtins.{entry.get('error') or 'Exception'}"


def task_errors(job: Job) -> list[TaskError]:
    errors = [
        TaskError(
            exception_class_path=_error_path(entry),
            traceback=entry.get("traceback") or f"{entry.get('error')}: {entry.get('message')}",
        )
        for entry in job.errors or []
        if isinstance(entry, dict)
    ]
    if job.status == "cancelled":
        path = f"{JobCancelledError.__module__}.{JobCancelledError.__qualname__}"
        errors.append(TaskError(exception_class_path=path, traceback="cancelled"))
    return errors


def worker_ids(job: Job) -> list[str]:
    """One id per attempt: failed attempts name theirs in the error log; the current
    (or last, successful) attempt is the job's worker."""
    ids = [
        str(entry["worker_id"])
        for entry in job.errors or []
        if isinstance(entry, dict) and entry.get("worker_id") is not None
    ]
    if job.status in ("started", "completed") and job.worker_id is not None:
        ids.append(str(job.worker_id))
    while len(ids) < job.attempts:  # an attempt whose worker nothing recorded
        ids.append("unknown")
    return ids


def result_from_job(task: Task, job: Job, backend: str) -> TaskResult:
    result: Any = TaskResult(
        task=task,
        id=str(job.pk),
        status=STATUSES[job.status],
        enqueued_at=job.created_at,
        started_at=job.started_at,
        finished_at=job.finished_at if job.status in ("completed", "failed", "cancelled") else None,
        last_attempted_at=job.started_at,
        args=list(job.args or []),
        kwargs=dict(job.kwargs or {}),
        backend=backend,
        errors=task_errors(job),
        worker_ids=worker_ids(job),
    )
    if job.status == "completed":
        object.__setattr__(result, "_return_value", job.result)
    return result
