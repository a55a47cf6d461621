"""How one job is queued: its options, a call ready to enqueue, and their defaults.

The queue layer owns these, so that ``enqueue`` by name needs nothing from the
``@task`` DSL above it, and ``Task`` builds its calls from them.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from .. import validation
from ..conf import pgflow_settings

if TYPE_CHECKING:
    from ..models import Job

OPTION_NAMES = (
    "queue",
    "priority",
    "run_at",
    "delay",
    "unique_key",
    "max_attempts",
    "retry_delay",
    "max_retry_delay",
    "timeout",
    "resources",
    "lock_key",
)


@dataclass(frozen=True)
class JobOptions:
    """How one job is queued. ``None`` means: the task's default, else the setting's."""

    queue: str | None = None
    priority: int | None = None
    run_at: dt.datetime | None = None
    delay: float | None = None
    unique_key: str | None = None
    max_attempts: int | None = None
    retry_delay: float | None = None
    max_retry_delay: float | None = None
    timeout: float | None = None
    # Gates: capacity held while running ({"gpu": 1}), and a key that jobs
    # run under one at a time, in enqueue order. Resources are kept as sorted
    # pairs so that options stay hashable (enqueue_many caches by them).
    resources: tuple[tuple[str, int], ...] | None = None
    lock_key: str | None = None

    def __post_init__(self) -> None:
        if self.resources is not None:
            object.__setattr__(self, "resources", validation.validate_resources(self.resources))

    def merged_over(self, defaults: JobOptions) -> JobOptions:
        """These options, with ``defaults`` filling what they leave unset."""
        values = {
            name: getattr(self, name)
            if getattr(self, name) is not None
            else getattr(defaults, name)
            for name in OPTION_NAMES
        }
        return JobOptions(**values)


def options_from(kwargs: dict[str, Any]) -> JobOptions:
    unknown = set(kwargs) - set(OPTION_NAMES)
    if unknown:
        raise TypeError(
            f"Unknown job option(s) {', '.join(sorted(unknown))}; known: {', '.join(OPTION_NAMES)}."
        )
    return JobOptions(**kwargs)


@dataclass(frozen=True)
class JobSpec:
    """A call of a task, ready to enqueue: ``send_welcome.s(42)`` or ``.using(...).s(42)``.

    Option names are checked when it is made; values when it is enqueued, before
    anything is written.
    """

    task_name: str
    args: tuple[Any, ...] = ()
    kwargs: dict[str, Any] = field(default_factory=dict)
    options: JobOptions = field(default_factory=JobOptions)
    # Travels with the job, never passed to the task (trace ids, tenant, ...).
    metadata: dict[str, Any] | None = None

    def enqueue(self, *, using: str = "default") -> Job:
        # queue.api imports this module: the call needs it only when it runs.
        from .api import enqueue_spec

        return enqueue_spec(self, using=using)


QUEUE_OPTION_NAMES = ("priority", "max_attempts", "retry_delay", "max_retry_delay", "timeout")
# Queue options that are limits enforced by the claim rather than job defaults.
QUEUE_LIMIT_NAMES = ("concurrency", "rate_limit")


def queue_defaults(queue: str) -> JobOptions:
    """Defaults a queue declares in ``PGFLOW["QUEUES"]`` (e.g. a longer timeout)."""
    declared = pgflow_settings.QUEUES.get(queue) or {}
    return JobOptions(**{k: v for k, v in declared.items() if k in QUEUE_OPTION_NAMES})


def settings_defaults() -> JobOptions:
    s = pgflow_settings
    return JobOptions(
        queue=s.DEFAULT_QUEUE,
        priority=s.DEFAULT_PRIORITY,
        max_attempts=s.DEFAULT_MAX_ATTEMPTS,
        retry_delay=float(s.DEFAULT_RETRY_DELAY),
        max_retry_delay=float(s.DEFAULT_MAX_RETRY_DELAY),
        timeout=float(s.DEFAULT_TIMEOUT),
    )
