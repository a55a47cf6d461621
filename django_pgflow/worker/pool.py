"""A pool of task threads whose stuck members can be abandoned and replaced.

A Python thread cannot be killed. When a job times out, the worker reports
it failed and frees its slot; the thread running it is marked abandoned and
a fresh thread takes its place, so one stuck task never shrinks the pool.
"""

from __future__ import annotations

import itertools
import logging
import queue
import threading
import time
from collections.abc import Callable

from django.db import connections

from .batching import JobBatch
from .execution import ClaimedJob, Outcome

logger = logging.getLogger("django_pgflow.worker")

_STOP = object()


class TaskPool:
    def __init__(
        self,
        size: int,
        run: Callable[[ClaimedJob], Outcome],
        on_outcome: Callable[[list[Outcome]], None],
        on_start: Callable[[ClaimedJob], None] | None = None,
        run_batch: Callable[[JobBatch], list[Outcome]] | None = None,
    ) -> None:
        self.size = size
        self._run = run
        self._run_batch = run_batch
        self._on_outcome = on_outcome
        self._on_start = on_start
        self._inbox: queue.SimpleQueue[object] = queue.SimpleQueue()
        self._names = itertools.count(1)
        self._lock = threading.Lock()
        self._threads: dict[str, threading.Thread] = {}
        self.abandoned = 0

    def start(self) -> None:
        for _ in range(self.size):
            self._spawn()

    def _spawn(self) -> None:
        name = f"pgflow-task-{next(self._names)}"
        thread = threading.Thread(target=self._loop, name=name, daemon=True)
        with self._lock:
            self._threads[name] = thread
        thread.start()

    def submit(self, job: ClaimedJob | JobBatch) -> None:
        """Queue a job, or a batch of jobs that one thread runs in one call."""
        self._inbox.put(job)

    def waiting(self) -> int:
        """Jobs handed to the pool that no thread has picked up yet (approximately)."""
        return self._inbox.qsize()

    def abandon(self, job: ClaimedJob) -> None:
        """Give up on a running job's thread and start a replacement."""
        with self._lock:
            job.abandoned = True
            if job.thread_name and self._threads.pop(job.thread_name, None) is not None:
                self.abandoned += 1
                replace = True
            else:
                replace = False
        if replace:
            self._spawn()

    def withdraw(self, jobs: list[ClaimedJob]) -> list[ClaimedJob]:
        """Take back the jobs of ``jobs`` that no thread has started: none ever will."""
        with self._lock:
            taken = [job for job in jobs if not job.started and not job.abandoned]
            for job in taken:
                job.abandoned = True
        return taken

    def stop(self) -> None:
        with self._lock:
            count = len(self._threads)
        for _ in range(count):
            self._inbox.put(_STOP)

    def _loop(self) -> None:
        try:
            self._serve()
        finally:
            # Task bodies keep Django connections open between jobs (CONN_MAX_AGE);
            # a thread that ends (stop, or replaced after a timeout) closes its own.
            connections.close_all()

    def _serve(self) -> None:
        me = threading.current_thread().name
        while True:
            item = self._inbox.get()
            if item is _STOP:
                return
            assert isinstance(item, ClaimedJob | JobBatch)
            jobs = self._begin(item, me)
            if not jobs:
                continue
            if self._on_start is not None:
                for job in jobs:
                    self._on_start(job)
            if isinstance(item, JobBatch):
                assert self._run_batch is not None
                outcomes = self._run_batch(JobBatch(item.task, jobs))
            else:
                outcomes = [self._run(item)]
            with self._lock:
                replaced = me not in self._threads
            if replaced or any(job.abandoned for job in jobs):
                for job in jobs:
                    logger.warning(
                        "job %s attempt %s finished after it was given up on; its result is "
                        "discarded",
                        job.id,
                        job.attempt,
                    )
                return  # a fresh thread took this one's place
            self._on_outcome(outcomes)

    def _begin(self, item: ClaimedJob | JobBatch, me: str) -> list[ClaimedJob]:
        """Mark the jobs of ``item`` that were not withdrawn as started by this thread.

        The jobs of a batch share one deadline: their shortest timeout.
        """
        jobs = item.jobs if isinstance(item, JobBatch) else [item]
        with self._lock:
            jobs = [job for job in jobs if not job.abandoned]
            if jobs:
                deadline = time.monotonic() + min(job.timeout for job in jobs)
            for job in jobs:
                job.thread_name = me
                job.deadline = deadline
                job.started = True
        return jobs
