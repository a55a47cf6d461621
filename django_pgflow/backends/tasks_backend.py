"""``PgflowBackend``: Django's Tasks framework, queued in PostgreSQL and run by ``runworkers``.

::

    TASKS = {"default": {"BACKEND": "django_pgflow.backends.PgflowBackend",
                         "QUEUES": ["default", "emails"]}}

``Task.enqueue()`` inserts a job in the caller's transaction (as ``enqueue()``
does); ``get_result()`` reads its row back. Tasks declared with this backend's
``@task`` also take django-pgflow's options: ``@task(max_attempts=5,
timeout=60, resources={"gpu": 1}, lock_key=..., retry_delay=..., max_retry_delay=...)``.
"""

from __future__ import annotations

from dataclasses import dataclass, fields, replace
from typing import Any

from django.apps import apps
from django.core import checks
from django.utils.module_loading import import_string

from ..exceptions import InvalidJobError
from ..models import Job
from ..queue.api import enqueue
from ..validation import validate_resources
from .compat import (
    BaseTaskBackend,
    InvalidTaskError,
    Task,
    TaskResult,
    TaskResultDoesNotExist,
    normalize_json,
    task_enqueued,
)
from .results import result_from_job

# Options of a django-pgflow job that a Django task may carry.
JOB_OPTION_FIELDS = (
    "max_attempts",
    "timeout",
    "retry_delay",
    "max_retry_delay",
    "resources",
    "lock_key",
)


@dataclass(frozen=True, slots=True, kw_only=True)
class PgflowTask(Task):
    """Django's ``Task`` plus django-pgflow's retries, timeouts and gates."""

    max_attempts: int | None = None
    timeout: float | None = None
    retry_delay: float | None = None
    max_retry_delay: float | None = None
    resources: tuple[tuple[str, int], ...] | None = None
    lock_key: str | None = None

    def __post_init__(self) -> None:
        if isinstance(self.resources, dict):  # frozen and hashable: sorted pairs
            try:
                object.__setattr__(self, "resources", validate_resources(self.resources))
            except InvalidJobError as error:
                raise InvalidTaskError(str(error)) from error
        Task.__post_init__(self)  # zero-argument super() fails in a slots dataclass

    def __reduce__(self) -> tuple[Any, ...]:
        # By module path, as Django 6's Task does (the 5.2 backport cannot pickle one).
        values = {f.name: getattr(self, f.name) for f in fields(self) if f.name != "func"}
        return (_reconstruct, (self.module_path, values))


def _reconstruct(module_path: str, values: dict[str, Any]) -> Task:
    task = import_string(module_path)
    if not isinstance(task, Task):
        raise ValueError(f"Expected {module_path!r} to point to a Task instance.")
    return replace(task, **values)


def job_options(task: Task) -> dict[str, Any]:
    """The django-pgflow options of ``task``: those it declares, for any Task class."""
    options: dict[str, Any] = {
        "queue": task.queue_name,
        "priority": task.priority,
        "run_at": task.run_after,
    }
    for name in JOB_OPTION_FIELDS:
        value = getattr(task, name, None)
        if value is not None:
            options[name] = dict(value) if name == "resources" else value
    return options


class PgflowBackend(BaseTaskBackend):
    """Django Tasks backend over django-pgflow's queue. ``OPTIONS``: ``DATABASE`` (alias)."""

    task_class = PgflowTask
    supports_defer = True
    supports_async_task = True
    supports_get_result = True
    supports_priority = True

    def __init__(self, alias: str, params: dict[str, Any]) -> None:
        super().__init__(alias, params)
        self.database = self.options.get("DATABASE", "default")

    def enqueue(self, task: Task, args: Any, kwargs: Any) -> TaskResult:
        self.validate_task(task)
        # Django's own normalisation first: a value JSON cannot hold is its TypeError.
        args, kwargs = normalize_json(list(args)), normalize_json(dict(kwargs))
        try:
            job = enqueue(
                task.module_path,
                args=args,
                kwargs=kwargs,
                allow_unknown=True,  # Django's tasks are not in django-pgflow's registry
                using=self.database,
                **job_options(task),
            )
        except InvalidJobError as error:
            raise InvalidTaskError(str(error)) from error
        result = result_from_job(task, job, self.alias)
        task_enqueued.send(type(self), task_result=result)
        return result

    def get_result(self, result_id: str) -> TaskResult:
        job = self._job(result_id)
        from .adapter import django_task_of

        task = django_task_of(job.task_name)
        if task is None:
            raise TaskResultDoesNotExist(
                f"Job {result_id} runs {job.task_name!r}, which is not a Django task."
            )
        return result_from_job(task, job, self.alias)

    def _job(self, result_id: str) -> Job:
        try:
            pk = int(str(result_id))
        except ValueError:
            raise TaskResultDoesNotExist(result_id) from None
        job = Job.objects.using(self.database).filter(pk=pk).first()
        if job is None:
            raise TaskResultDoesNotExist(result_id)
        return job

    def check(self, **kwargs: Any) -> list[checks.CheckMessage]:
        if apps.is_installed("django_pgflow"):
            return []
        return [
            checks.Error(
                f"TASKS[{self.alias!r}] uses django_pgflow.backends.PgflowBackend, but "
                "'django_pgflow' is not in INSTALLED_APPS.",
                hint="Add 'pgtrigger' and 'django_pgflow' to INSTALLED_APPS.",
                id="pgflow.E020",
            )
        ]
