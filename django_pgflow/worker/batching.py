"""Batch tasks on the worker: claimed jobs held per task, then run as one call.

Jobs of a task declared with ``batch_size`` are not handed to a thread one by
one. The ``Batcher`` holds them, per task, until ``batch_size`` of them are
waiting or the oldest has waited ``batch_wait`` seconds; then they go to one
thread slot together as a ``JobBatch``. While held they are ``started`` rows of
this worker, so the heartbeat keeps their leases alive, and a stopping worker
hands them back like any job no thread has started.

Each job of a batch keeps its own fate: ``execute_batch`` turns what the
function returned into one ``Outcome`` per job, reported as if the jobs had
run alone. If the function raises, every job of the batch fails with that
error; if the process dies, all their leases expire together.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field

from django.db import close_old_connections

from ..definitions import registry, step_runner
from ..definitions.batch import BatchItem, results_per_item
from ..definitions.context import reset_current_job, set_current_job
from ..definitions.task import Task
from ..validation import to_json
from .execution import (
    IDLE_RECHECK,
    ClaimedJob,
    Outcome,
    _event_loop,
    _loops,
    error_payload,
    execute,
)


@dataclass
class JobBatch:
    """Jobs of one batch task, run by one thread in one call."""

    task: Task
    jobs: list[ClaimedJob]


@dataclass
class _Buffer:
    task: Task
    # (time.monotonic() when it was held, the job), oldest first
    entries: list[tuple[float, ClaimedJob]] = field(default_factory=list)

    @property
    def size(self) -> int:
        assert self.task.batch is not None
        return self.task.batch.size

    def due_at(self) -> float:
        assert self.task.batch is not None
        return self.entries[0][0] + self.task.batch.wait if self.entries else math.inf

    def take(self) -> JobBatch:
        batch = JobBatch(self.task, [job for _, job in self.entries[: self.size]])
        del self.entries[: self.size]
        return batch


class Batcher:
    """Claimed jobs of batch tasks, waiting for their batch to fill or to time out."""

    def __init__(self) -> None:
        self._buffers: dict[str, _Buffer] = {}
        self._dispatched: list[JobBatch] = []

    def hold(self, job: ClaimedJob) -> bool:
        """Keep ``job`` for a batch if its task is a batch task; ``False`` otherwise."""
        task = _batch_task(job.task_name)
        if task is None:
            return False
        buffer = self._buffers.setdefault(job.task_name, _Buffer(task))
        buffer.entries.append((time.monotonic(), job))
        return True

    def due(self) -> list[JobBatch]:
        """Take the batches ready to run: full ones, and those whose wait is over."""
        now = time.monotonic()
        batches = []
        for buffer in self._buffers.values():
            # A job handed back (worker stopping, connection lost) is no longer ours.
            buffer.entries = [(t, job) for t, job in buffer.entries if not job.abandoned]
            while len(buffer.entries) >= buffer.size or buffer.due_at() <= now:
                batches.append(buffer.take())
        self._dispatched.extend(batches)
        return batches

    def next_due(self) -> float:
        """``time.monotonic()`` by which a partial batch will have waited long enough."""
        return min((buffer.due_at() for buffer in self._buffers.values()), default=math.inf)

    def room(self) -> int:
        """How many more jobs would fill the emptiest open batch."""
        open_ = [b for b in self._buffers.values() if b.entries]
        return max((b.size - len(b.entries) for b in open_), default=0)

    def threadless(self, inflight: dict[int, ClaimedJob]) -> int:
        """How many of the jobs held (``inflight``) take no thread slot of their own:
        the buffered ones, and all but one job of each dispatched batch."""
        buffered = sum(
            1 for b in self._buffers.values() for _, job in b.entries if inflight.get(job.id) is job
        )
        sharing = 0
        live = []
        for batch in self._dispatched:
            held = sum(1 for job in batch.jobs if inflight.get(job.id) is job)
            if held:
                live.append(batch)
                sharing += held - 1
        self._dispatched = live
        return buffered + sharing


def _batch_task(task_name: str) -> Task | None:
    if step_runner.is_step_task(task_name):
        return None
    try:
        task = registry.get_task(task_name)
    except Exception:  # noqa: BLE001 - unknown, or its module fails to import:
        return None  # a thread reports that as the job's error, as for any job
    return task if task.batch is not None else None


def execute_batch(batch: JobBatch) -> list[Outcome]:
    """Run a batch task's function on ``batch`` in this thread; one outcome per job."""
    task = batch.task
    # A job whose arguments could not be decoded fails alone, outside the call.
    unreadable = [execute(j, None) for j in batch.jobs if j.payload_problem is not None]
    jobs = [j for j in batch.jobs if j.payload_problem is None]
    if not jobs:
        return unreadable
    return unreadable + _call(task, jobs)


def _call(task: Task, jobs: list[ClaimedJob]) -> list[Outcome]:
    items = [
        BatchItem(job_id=j.id, args=tuple(j.args), kwargs=dict(j.kwargs), attempt=j.attempt)
        for j in jobs
    ]
    token = set_current_job(None)  # many jobs: current_job() names none of them
    if time.monotonic() - getattr(_loops, "last_job_end", 0.0) > IDLE_RECHECK:
        close_old_connections()
    try:
        value = task.func(items)
        if task.is_async:
            value = _event_loop().run_until_complete(value)
        results = results_per_item(task.name, len(items), value)
    except Exception as exc:  # noqa: BLE001 - the error of every job of the batch
        retry = getattr(exc, "retry", True) is not False
        error = error_payload(exc)
        return [Outcome(job, ok=False, error=error, retry=retry) for job in jobs]
    finally:
        reset_current_job(token)
        close_old_connections()
        _loops.last_job_end = time.monotonic()
    return [_outcome(job, result) for job, result in zip(jobs, results, strict=True)]


def _outcome(job: ClaimedJob, result: object) -> Outcome:
    if isinstance(result, BaseException):
        retry = getattr(result, "retry", True) is not False
        return Outcome(job, ok=False, error=error_payload(result), retry=retry)
    try:
        result_json = to_json(result, "result") if result is not None else "null"
    except ValueError as exc:
        return Outcome(job, ok=False, error=error_payload(exc, with_traceback=False), retry=False)
    return Outcome(job, ok=True, result_json=result_json)
