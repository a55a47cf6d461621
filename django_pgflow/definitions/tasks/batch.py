"""Batch tasks: one call of the function handles many jobs of the task.

``@task(batch_size=16, batch_wait=1.0)`` makes the function receive a list of
``BatchItem`` (one per job) and return one result per item, in order. Each
item is still its own job: it completes with its result, or fails and retries
on its own attempts. The worker side (buffering, dispatch) is in
``django_pgflow.worker.batching``.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from ...exceptions import BatchResultError, InvalidJobError

if TYPE_CHECKING:
    from .task import Task

MAX_BATCH_SIZE = 10_000
DEFAULT_BATCH_WAIT = 1.0


@dataclass(frozen=True)
class BatchItem:
    """One job of a batch, as the batch function receives it.

    ``job_id`` is ``None`` when the task is called inline; ``attempt`` counts
    from 1 and is this job's own attempt number, not the batch's.
    """

    job_id: int | None
    args: tuple[Any, ...] = ()
    kwargs: dict[str, Any] = field(default_factory=dict)
    attempt: int = 1


@dataclass(frozen=True)
class BatchOptions:
    """How a worker groups jobs of a batch task: at most ``size`` per call, and a
    call starts at most ``wait`` seconds after its first job was claimed."""

    size: int
    wait: float


def batch_options(batch_size: Any, batch_wait: Any, *, takes_context: bool) -> BatchOptions | None:
    """Validate ``@task``'s batch options; ``None`` for a task that is not a batch task."""
    if batch_size is None:
        if batch_wait is not None:
            raise InvalidJobError(
                "batch_wait needs batch_size: a task without batch_size is not a batch task."
            )
        return None
    if isinstance(batch_size, bool) or not isinstance(batch_size, int):
        raise InvalidJobError(f"batch_size must be an int, got {batch_size!r}.")
    if not 1 <= batch_size <= MAX_BATCH_SIZE:
        raise InvalidJobError(
            f"batch_size must be between 1 and {MAX_BATCH_SIZE}, got {batch_size!r}."
        )
    wait = DEFAULT_BATCH_WAIT if batch_wait is None else batch_wait
    if isinstance(wait, bool) or not isinstance(wait, int | float) or not math.isfinite(wait):
        raise InvalidJobError(f"batch_wait must be a finite number of seconds, got {wait!r}.")
    if wait < 0:
        raise InvalidJobError(f"batch_wait must be >= 0 seconds, got {wait!r}.")
    if takes_context:
        raise InvalidJobError(
            "A batch task cannot take a context: each BatchItem carries its job_id and "
            "attempt. Drop takes_context=True."
        )
    return BatchOptions(size=batch_size, wait=float(wait))


def results_per_item(task_name: str, count: int, value: Any) -> list[Any]:
    """What a batch function returned, as one result per item.

    ``None`` means every item succeeded with no result. Anything else must be a
    list or tuple of ``count`` entries; raises ``BatchResultError`` otherwise.
    """
    if value is None:
        return [None] * count
    if not isinstance(value, list | tuple):
        raise BatchResultError(
            f"Batch task {task_name} returned {type(value).__name__}, not a list: return a "
            f"list with one result per item, in the order of the items (or None)."
        )
    if len(value) != count:
        raise BatchResultError(
            f"Batch task {task_name} returned {len(value)} result(s) for {count} items: return "
            "exactly one result per item, in the order of the items (an Exception instance "
            "fails its item)."
        )
    return list(value)


def inline_items(task: Task, values: Any) -> list[BatchItem]:
    """The items of an inline call: ``BatchItem``s, ``task.s(...)`` specs, or single arguments."""
    if isinstance(values, str | bytes | dict) or not isinstance(values, Iterable):
        raise TypeError(
            f"Batch task {task.name} is called inline with one list of items "
            f"(BatchItem, {task.name.rpartition('.')[2]}.s(...), or one argument per item), "
            f"got {type(values).__name__}."
        )
    return [_inline_item(task, value) for value in values]


def _inline_item(task: Task, value: Any) -> BatchItem:
    from .task import JobSpec

    if isinstance(value, BatchItem):
        return value
    if isinstance(value, JobSpec):
        if value.task_name != task.name:
            raise TypeError(f"A spec of {value.task_name} is not an item of {task.name}.")
        return BatchItem(job_id=None, args=tuple(value.args), kwargs=dict(value.kwargs))
    return BatchItem(job_id=None, args=(value,))
