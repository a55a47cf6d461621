"""Tasks declared with Django's own ``@task`` (django.tasks, or the django-tasks
backport on Django 5.2), run by django-pgflow's workers through PgflowBackend.

django-pgflow's own options (max_attempts, timeout, resources...) pass through
Django's ``@task(**kwargs)`` to PgflowTask; Django's type stubs do not know them."""

from __future__ import annotations

import os
from typing import Any

from django.utils import timezone

from .models import Execution

try:
    from django.tasks import task
except ImportError:  # Django 5.2: the backport
    from django_tasks import task  # type: ignore[no-redef]


@task()
def add(a: int, b: int) -> int:
    return a + b


@task()
def noop() -> None:
    return None


@task()
async def async_add(a: int, b: int) -> int:
    return a + b


@task(takes_context=True)
def own_id(context: Any) -> dict[str, Any]:
    """Returns what the task sees of itself: its result id and attempt."""
    return {"id": context.task_result.id, "attempt": context.attempt}


@task()
def fails(message: str) -> None:
    raise ValueError(message)


@task()
def returns_object() -> Any:
    return object()


@task(max_attempts=3, retry_delay=0.05, max_retry_delay=0.1, takes_context=True)  # type: ignore[call-overload]
def fails_twice(context: Any, key: str) -> str:
    """django-pgflow's retries under Django's API: the first two attempts fail."""
    Execution.objects.create(
        task="fails_twice", key=key, attempt=context.attempt, pid=os.getpid(),
        started_at=timezone.now(),
    )  # fmt: skip
    if context.attempt < 3:
        raise ConnectionError(f"attempt {context.attempt} of {key}")
    return f"done after {context.attempt}"


@task(timeout=0.5, max_attempts=1)  # type: ignore[call-overload]
def too_slow(seconds: float) -> None:
    import time

    time.sleep(seconds)


@task(resources={"gpu": 1})  # type: ignore[call-overload]
def on_gpu(x: int) -> int:
    return x * 2
