"""``@task``: a function that can run inline, or later on a worker as a job."""

from __future__ import annotations

import datetime as dt
import functools
import inspect
from collections.abc import Callable
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from ... import validation
from ...conf import pgflow_settings
from ...job_context import JobContext, reset_current_job, set_current_job
from ...queue import registry
from ...queue.options import (
    OPTION_NAMES,
    QUEUE_LIMIT_NAMES,
    QUEUE_OPTION_NAMES,
    JobOptions,
    JobSpec,
    options_from,
    queue_defaults,
    settings_defaults,
)
from .batch import BatchOptions, batch_options, inline_items, results_per_item

if TYPE_CHECKING:
    from ...models import Job


class Task:
    """A registered task. Call it to run inline; ``enqueue`` it to run on a worker."""

    def __init__(
        self,
        func: Callable[..., Any],
        *,
        name: str | None = None,
        takes_context: bool = False,
        options: JobOptions,
        batch: BatchOptions | None = None,
    ) -> None:
        self.func = func
        self.name = name or f"{func.__module__}.{func.__qualname__}"
        validation.validate_task_name(self.name)
        self.takes_context = takes_context
        self.is_async = inspect.iscoroutinefunction(func)
        self.options = options
        self.batch = batch
        functools.update_wrapper(self, func)

    def __repr__(self) -> str:
        return f"<Task {self.name}>"

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        """Run the task inline, in this process, as a plain function call."""
        if self.batch is not None:
            return self._call_batch(*args, **kwargs)
        queue = self.options.queue or pgflow_settings.DEFAULT_QUEUE
        context = JobContext(job_id=None, attempt=1, queue=queue, task_name=self.name)
        token = set_current_job(context)
        try:
            if self.takes_context:
                return self.func(context, *args, **kwargs)
            return self.func(*args, **kwargs)
        finally:
            reset_current_job(token)

    def _call_batch(self, items: Any) -> Any:
        """Run a batch task inline on a list of items; returns one result per item.

        An item that failed is an exception instance in the returned list. (The
        result of an ``async`` batch task is a coroutine to await.)
        """
        batch = inline_items(self, items)
        token = set_current_job(None)  # a batch is not one job, as on a worker
        try:
            value = self.func(batch)
        finally:
            reset_current_job(token)
        if self.is_async:
            return self._await_batch(value, len(batch))
        return results_per_item(self.name, len(batch), value)

    async def _await_batch(self, coroutine: Any, count: int) -> list[Any]:
        return results_per_item(self.name, count, await coroutine)

    def s(self, *args: Any, **kwargs: Any) -> JobSpec:
        """A call of this task to enqueue later, alone or in ``enqueue_many``."""
        return TaskCall(self, JobOptions()).s(*args, **kwargs)

    def using(self, *, metadata: dict[str, Any] | None = None, **options: Any) -> TaskCall:
        """This task with some options overridden for the next enqueue; ``metadata``
        (a dict) travels with the job, never passed to the task."""
        return TaskCall(self, options_from(options), metadata)

    def enqueue(self, *args: Any, **kwargs: Any) -> Job:
        """Queue one call of this task in the current transaction; returns the ``Job``."""
        return self.s(*args, **kwargs).enqueue()

    # -- Celery-style calls (docs/migrating/from-celery.md) ----------------

    def delay(self, *args: Any, **kwargs: Any) -> Any:
        """Celery's ``task.delay(*args, **kwargs)``: ``apply_async(args, kwargs)``."""
        return self.apply_async(args, kwargs)

    def apply_async(
        self,
        args: list[Any] | tuple[Any, ...] | None = None,
        kwargs: dict[str, Any] | None = None,
        *,
        countdown: float | None = None,
        eta: dt.datetime | None = None,
        expires: float | dt.datetime | None = None,
        queue: str | None = None,
        priority: int | None = None,
        **options: Any,
    ) -> Any:
        """Celery's ``apply_async``: ``countdown`` seconds or an ``eta`` datetime delay
        the job; ``expires`` (seconds or a datetime) cancels it if it has not started by
        then; ``queue`` and ``priority`` (higher runs first) as in ``using()``; other
        keywords are ``using()`` options. Returns the ``Job`` (or, when
        ``PGFLOW["ROUTES"]`` sends this task to the old system, what that returned).
        """
        from ...celery_compat import apply_async

        return apply_async(
            self, args, kwargs, countdown=countdown, eta=eta, expires=expires,
            queue=queue, priority=priority, **options,
        )  # fmt: skip


class TaskCall:
    """A task with per-call option overrides (``task.using(delay=30)``)."""

    def __init__(
        self, task: Task, options: JobOptions, metadata: dict[str, Any] | None = None
    ) -> None:
        self.task = task
        self.options = options
        self.metadata = metadata

    def using(self, *, metadata: dict[str, Any] | None = None, **options: Any) -> TaskCall:
        merged = replace(self.options, **vars(options_from(options)))
        return TaskCall(self.task, merged, metadata if metadata is not None else self.metadata)

    def s(self, *args: Any, **kwargs: Any) -> JobSpec:
        return JobSpec(
            task_name=self.task.name,
            args=args,
            kwargs=kwargs,
            options=self.options.merged_over(self.task.options),
            metadata=self.metadata,
        )

    def enqueue(self, *args: Any, **kwargs: Any) -> Job:
        return self.s(*args, **kwargs).enqueue()


def task(
    func: Callable[..., Any] | None = None,
    *,
    name: str | None = None,
    queue: str | None = None,
    priority: int | None = None,
    max_attempts: int | None = None,
    retry_delay: float | None = None,
    max_retry_delay: float | None = None,
    timeout: float | None = None,
    resources: dict[str, int] | None = None,
    lock_key: str | None = None,
    takes_context: bool = False,
    batch_size: int | None = None,
    batch_wait: float | None = None,
) -> Any:
    """Declare a task: ``@task`` or ``@task(queue="emails", max_attempts=5, ...)``.

    Options left unset fall back to ``PGFLOW`` settings when the job is enqueued.
    With ``batch_size``, the function receives a list of ``BatchItem`` (up to
    ``batch_size`` jobs, gathered for at most ``batch_wait`` seconds) and returns
    one result per item; see ``django_pgflow.definitions.tasks.batch``.
    """
    options = JobOptions(
        queue=queue,
        priority=priority,
        max_attempts=max_attempts,
        retry_delay=retry_delay,
        max_retry_delay=max_retry_delay,
        timeout=timeout,
        resources=validation.validate_resources(resources) if resources is not None else None,
        lock_key=lock_key,
    )
    validation.validate_options(options, check_queue_declared=False)
    batch = batch_options(batch_size, batch_wait, takes_context=takes_context)
    if batch is not None and options.resources:
        # Each job of a batch would hold its own share, so a batch of 16 on one
        # GPU could never gather: say so now rather than run batches of one.
        raise validation.InvalidJobError(
            "A batch task cannot declare resources: each of its jobs would hold them, "
            "so a batch could never fill. Hold the resource around the batch instead, "
            "with `with resource_lock(name):` in the function."
        )

    def decorate(f: Callable[..., Any]) -> Task:
        t = Task(f, name=name, takes_context=takes_context, options=options, batch=batch)
        registry.register(t)
        return t

    return decorate(func) if func is not None else decorate


# The job options live in queue.options; their names stay importable from here.
__all__ = [
    "OPTION_NAMES",
    "QUEUE_LIMIT_NAMES",
    "QUEUE_OPTION_NAMES",
    "JobOptions",
    "JobSpec",
    "Task",
    "TaskCall",
    "options_from",
    "queue_defaults",
    "settings_defaults",
    "task",
]
