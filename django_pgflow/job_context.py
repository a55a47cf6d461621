"""What a running task can know about its own job."""

from __future__ import annotations

import contextvars
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class JobContext:
    """Handed to tasks declared with ``takes_context=True`` as their first argument.

    ``job_id`` is None when the task is called inline (not through a worker).
    """

    job_id: int | None
    attempt: int
    queue: str
    task_name: str
    worker_id: int | None = None
    timeout: float | None = None
    run_id: int | None = None  # the run of a step's (or a compensation's) job
    metadata: dict[str, Any] = field(default_factory=dict)  # travels with the job

    @property
    def is_inline(self) -> bool:
        return self.job_id is None


_current: contextvars.ContextVar[JobContext | None] = contextvars.ContextVar(
    "pgflow_current_job", default=None
)


def current_job() -> JobContext | None:
    """The context of the job this code runs in, or None outside a job."""
    return _current.get()


def set_current_job(context: JobContext | None) -> contextvars.Token[JobContext | None]:
    return _current.set(context)


def reset_current_job(token: contextvars.Token[JobContext | None]) -> None:
    _current.reset(token)
