"""Running Django ``@task`` functions on django-pgflow's workers.

A job enqueued through ``PgflowBackend`` names its task by Django's module path
(``myapp.tasks.send_email``). A worker that finds no django-pgflow task under
that name asks here: the name imports to a Django ``Task``, which is wrapped as
a django-pgflow task (registered once per process) and then runs like any other,
with the job's retries, timeout and resources. Django's task signals are sent:
``task_started`` in the task thread before the body, ``task_finished`` once the
outcome is recorded (a failure that will be retried is not finished).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

from django.utils import timezone
from django.utils.module_loading import import_string

from .. import signals
from ..definitions.tasks.task import Task as PgflowTask
from ..job_context import current_job
from ..queue import registry
from ..queue.options import JobOptions
from .compat import (
    Task,
    TaskContext,
    TaskResult,
    TaskResultStatus,
    is_django_task,
    normalize_json,
    task_finished,
    task_started,
)

_adapted: dict[str, Task] = {}


class UnsupportedReturnValue(TypeError):
    """A Django task returned something JSON cannot hold; it would again: no retry."""

    retry = False


def django_task_of(name: str) -> Task | None:
    """The Django ``Task`` that ``name`` imports to, or None."""
    task = _adapted.get(name)
    if task is not None:
        return task
    try:
        value = import_string(name)
    except ImportError:
        return None
    return value if is_django_task(value) else None


def pgflow_task_for(name: str) -> PgflowTask | None:
    """A django-pgflow task running the Django task ``name``; registered on first use."""
    django_task = django_task_of(name)
    if django_task is None:
        return None
    adapter = PgflowTask(_runner(django_task), name=name, options=JobOptions())
    registry.register(adapter)
    _adapted[name] = django_task
    _connect_bridges()
    return adapter


def _backend_class(task: Task) -> type:
    try:
        return type(task.get_backend())
    except Exception:  # noqa: BLE001 - the signal's sender only
        return type(None)


def running_result(task: Task, args: tuple[Any, ...], kwargs: dict[str, Any]) -> TaskResult:
    """The result a running Django task sees (``context.task_result``), from its job."""
    context = current_job()
    attempt = context.attempt if context else 1
    worker = str(context.worker_id) if context and context.worker_id is not None else "inline"
    now = timezone.now()
    return TaskResult(
        task=task,
        id=str(context.job_id) if context and context.job_id is not None else "inline",
        status=TaskResultStatus.RUNNING,
        enqueued_at=None,
        started_at=now,
        finished_at=None,
        last_attempted_at=now,
        args=list(args),
        kwargs=dict(kwargs),
        backend=task.backend,
        errors=[],
        worker_ids=["unknown"] * (attempt - 1) + [worker],
    )


def _begin(task: Task, args: tuple[Any, ...], kwargs: dict[str, Any]) -> tuple[Any, ...]:
    result = running_result(task, args, kwargs)
    task_started.send(sender=_backend_class(task), task_result=result)
    return (TaskContext(task_result=result), *args) if task.takes_context else args


def _returned(value: Any) -> Any:
    try:
        return normalize_json(value)
    except (TypeError, ValueError) as error:
        raise UnsupportedReturnValue(str(error)) from error


def _runner(task: Task) -> Callable[..., Any]:
    func = task.func
    if asyncio.iscoroutinefunction(func):

        async def run_async(*args: Any, **kwargs: Any) -> Any:
            return _returned(await func(*_begin(task, args, kwargs), **kwargs))

        return run_async

    def run(*args: Any, **kwargs: Any) -> Any:
        return _returned(func(*_begin(task, args, kwargs), **kwargs))

    return run


def _finished(sender: Any, job_id: int, task_name: str, **kwargs: Any) -> None:
    """Django's ``task_finished``, with the result read back from the recorded row."""
    task = _adapted.get(task_name)
    if task is None:
        return
    from ..models import Job
    from .results import result_from_job
    from .tasks_backend import PgflowBackend

    job = Job.objects.filter(pk=job_id).first()
    if job is not None:
        result = result_from_job(task, job, task.backend)
        task_finished.send(sender=PgflowBackend, task_result=result)


def _connect_bridges() -> None:
    for signal in (signals.job_completed, signals.job_failed):
        signal.connect(_finished, dispatch_uid=f"django_pgflow.backends.{id(signal)}")
