"""One worker process: claim, run in threads, report, until told to stop.

The main loop owns the claim-and-report connection; a listener thread wakes
it on NOTIFY; a heartbeat thread keeps leases and the worker row alive; task
threads run the task bodies and hand outcomes back through a queue.
"""

from __future__ import annotations

import collections
import functools
import logging
import os
import queue
import secrets
import signal
import threading
import time
from collections.abc import Set as AbstractSet
from types import FrameType
from typing import Any

import psycopg

from .. import limits, signals
from ..definitions.periodic import declared_schedules
from ..exceptions import JobTimeoutError
from . import sql
from .batching import Batcher, JobBatch, execute_batch
from .connection import ResilientConnection
from .execution import ClaimedJob, Outcome, error_payload, execute, json_or_null
from .heartbeat import Heartbeat
from .listener import Listener
from .options import WorkerOptions
from .pool import TaskPool
from .scheduler import Scheduler
from .start_log import StartLog

logger = logging.getLogger("django_pgflow.worker")

# Jobs claimed per round trip per thread when CLAIM_BATCH_SIZE is unset: the
# claim starts at the first and doubles, up to the second, while claims come
# back full (a backlog), and halves back as they come back less than half full.
AUTO_BATCH_PER_THREAD = 4
AUTO_BATCH_MAX_PER_THREAD = 16
# The most jobs one claim takes (the SQL claim refuses more).
MAX_CLAIM = 10_000
# Mean run time under which a worker holds batches of jobs beyond its threads.
SHORT_JOB = 0.05
# How long a finished job's outcome may wait to be reported with others.
REPORT_DELAY = 0.002

# How long a stopping worker keeps trying to reach a database that went away.
SHUTDOWN_DB_PATIENCE = 10.0
# Seconds a worker whose process has run-signal receivers waits, at start, for
# its listener to LISTEN, so that it sends the signals of its first changes too.
LISTEN_WAIT = 5.0

EXIT_OK = 0
EXIT_TIMEOUT_RESTART = 3


class Worker:
    def __init__(self, options: WorkerOptions) -> None:
        self.options = options
        self.worker_id: int | None = None
        self.inflight: dict[int, ClaimedJob] = {}
        # One entry per call: a batch's outcomes travel together, so the main
        # loop reports them in one transaction (never half a batch).
        self.outcomes: queue.SimpleQueue[list[Outcome]] = queue.SimpleQueue()
        self.wake = threading.Event()
        self.stop_event = threading.Event()  # stops the helper threads
        self.stopping = False
        self.immediate = False
        self.exit_code = EXIT_OK
        # Tells this worker's sessions from any other of the same role (see
        # speaks_for.sql): only they may keep it alive or stop it.
        self.secret = secrets.token_hex(16)
        self.db = ResilientConnection(
            "worker",
            alias=options.alias,
            on_reconnect=self._after_reconnect,
            should_stop=self._give_up_on_database,
            on_connect=lambda c: sql.speak_for(c, self.secret, self.worker_id),
        )
        self.start_log = StartLog.from_environment()  # set by a supervisor
        self._auto_batch = min(AUTO_BATCH_PER_THREAD * options.concurrency, MAX_CLAIM)
        self.batcher = Batcher()  # claimed jobs of batch tasks, until their batch is due
        self.pool = TaskPool(
            options.concurrency,
            self._execute,
            self._deliver,
            self._started,
            run_batch=self._execute_batch,
        )
        self._wake_by = 0.0  # time.monotonic() by which the main loop plans to wake
        self.stats = {"completed": 0, "failed": 0, "retried": 0, "timed_out": 0, "late": 0}
        self.ready = threading.Event()
        self._stop_deadline: float | None = None
        self.durations: collections.deque[float] = collections.deque(maxlen=100)

    # -- control ---------------------------------------------------------

    def request_stop(self, immediate: bool = False) -> None:
        """Stop claiming; finish running jobs (unless ``immediate``); then exit."""
        self.immediate = self.immediate or immediate
        self.stopping = True
        self.wake.set()

    def _on_signal(self, signum: int, frame: FrameType | None) -> None:
        # A signal handler may interrupt the main thread while it holds the
        # lock of ``wake``: touch no lock here, hand the signal to a thread.
        os.write(self._signal_pipe[1], bytes([signum]))

    def _relay_signals(self) -> None:
        while True:
            data = os.read(self._signal_pipe[0], 1)
            if not data:
                return
            self._handle_signal(data[0])

    def _handle_signal(self, signum: int) -> None:
        if self.stopping:
            logger.warning("second signal: stopping at once")
            self.request_stop(immediate=True)
        else:
            logger.warning(
                "signal %s: finishing running jobs (up to %.0fs), then stopping",
                signal.Signals(signum).name,
                self.options.shutdown_timeout,
            )
            self.request_stop()

    def _install_signals(self) -> None:
        self._signal_pipe = os.pipe()
        threading.Thread(target=self._relay_signals, name="pgflow-signals", daemon=True).start()
        signal.signal(signal.SIGTERM, self._on_signal)
        signal.signal(signal.SIGINT, self._on_signal)

    # -- task threads ----------------------------------------------------

    def _execute(self, job: ClaimedJob) -> Outcome:
        began = time.monotonic()
        try:
            return execute(job, self.worker_id)
        finally:
            self.durations.append(time.monotonic() - began)

    def _execute_batch(self, batch: JobBatch) -> list[Outcome]:
        began = time.monotonic()
        try:
            return execute_batch(batch)
        finally:
            self.durations.append(time.monotonic() - began)

    def _started(self, job: ClaimedJob) -> None:
        self.start_log.record([(job.id, job.attempt)])
        # A job that waited for a thread gets its deadline only now: wake the
        # main loop if it planned to sleep past it. (The loop sets _wake_by
        # before it reads the deadlines, so one side or the other sees it.)
        if job.deadline < self._wake_by:
            self.wake.set()

    def _deliver(self, outcomes: list[Outcome]) -> None:
        self.outcomes.put(outcomes)
        # While claimed jobs still wait for a thread, report in batches; once
        # the threads are about to run dry, report (and claim) at once. An
        # event already set is not set again: Event.set() takes a lock and
        # notifies, and every thread finishing a batch's tail would do it.
        # (The loop clears the event before it takes the outcomes, and ours
        # is in before we look: one side or the other sees it.)
        if self.wake.is_set():
            return
        if self.pool.waiting() == 0 or self.outcomes.qsize() >= self._report_at():
            self.wake.set()

    # -- main loop -------------------------------------------------------

    def run(self) -> int:
        if self.options.install_signals:
            self._install_signals()
        opts = self.options
        self.worker_id = self.db.run(
            lambda c: sql.register_worker(c, opts.queues, opts.concurrency)
        )
        self._mark_origin(str(self.worker_id))
        wid = self.worker_id
        self.db.run(lambda c: sql.speak_for(c, self.secret, wid))
        self.db.run(limits.sync_limits)
        logger.info("worker %s started (queues=%s)", self.worker_id, opts.queues or "all")
        listener = Listener(opts.queues, self.wake, self.stop_event, opts.alias, self.db.origin)
        helpers: list[threading.Thread] = [
            listener,
            Heartbeat(
                self.worker_id,
                secret=self.secret,
                interval=opts.heartbeat_interval,
                lease_margin=opts.lease_margin,
                dead_after=opts.dead_after,
                prune_interval=opts.prune_interval,
                prune=self._prune,
                stop=self.stop_event,
                alias=opts.alias,
            ),
        ]
        if not opts.burst:  # a burst worker drains the queue and exits: it schedules nothing
            helpers.append(Scheduler(declared_schedules(), stop=self.stop_event, alias=opts.alias))
        for helper in helpers:
            helper.start()
        if listener.origin is not None:
            # Run signals follow this worker's changes from its first claim on.
            listener.listening.wait(LISTEN_WAIT)
        self.pool.start()
        self.ready.set()
        try:
            self._loop()
            self._drain()
        except psycopg.OperationalError as error:
            if not self.stopping:
                raise
            # Told to stop while the database is unreachable: what this worker
            # still holds goes back to the queue when its leases expire.
            logger.error("stopping with the database unreachable (%s)", error)
        finally:
            self._shutdown(helpers)
        return self.exit_code

    def _give_up_on_database(self) -> bool:
        """While stopping, a lost database is waited for only up to the shutdown deadline."""
        if self.immediate:
            return True
        return self._stop_deadline is not None and time.monotonic() > self._stop_deadline

    def _loop(self) -> None:
        opts = self.options
        while not self.stopping:
            self.wake.clear()
            done = self._report_failures()
            # A job whose completion is in hand finished in time, whatever the clock says now.
            self._check_timeouts(finished={o.job.id for o in done})
            if self.stopping:
                if done:
                    self._report_completed(done)
                break
            self._dispatch_batches()
            self.start_log.compact((j.id, j.attempt) for j in self.inflight.values() if j.started)
            # The completions about to be reported free their slots already.
            free = self._held_limit() - self._holding_threads(reported={o.job.id for o in done})
            wanted = min(free, self._batch())
            if wanted > 0:
                wanted = max(wanted, self.batcher.room())  # fill an open batch in one claim
            if wanted < self._min_claim():
                wanted = 0
            claimed = self._report_and_claim(done, wanted)
            self._adapt_batch(wanted, claimed)
            if opts.burst and claimed == 0 and not self.inflight and self._nothing_pending():
                logger.info("burst: nothing ready or running; exiting")
                return
            if claimed and claimed == wanted:
                continue  # probably more ready: claim again before sleeping
            self._wake_by = time.monotonic() + opts.poll_interval
            self.wake.wait(self._sleep_time())

    def _batch(self) -> int:
        # Unset: it adapts to the backlog (see _adapt_batch). Only short jobs
        # are held beyond the threads (see _held_limit), so for long jobs this
        # changes nothing.
        return self.options.batch_size or self._auto_batch

    def _adapt_batch(self, wanted: int, claimed: int) -> None:
        """A full claim of a full batch means more is ready: ask for twice as many next
        time; a claim that comes back less than half full means the backlog is gone."""
        if self.options.batch_size or not wanted:
            return
        concurrency = self.options.concurrency
        if claimed == wanted == self._auto_batch:
            top = min(AUTO_BATCH_MAX_PER_THREAD * concurrency, MAX_CLAIM)
            self._auto_batch = min(self._auto_batch * 2, top)
        elif claimed < wanted // 2:
            bottom = min(AUTO_BATCH_PER_THREAD * concurrency, MAX_CLAIM)
            self._auto_batch = max(self._auto_batch // 2, bottom)

    def _jobs_are_short(self) -> bool:
        durations = list(self.durations)
        return len(durations) >= 10 and sum(durations) / len(durations) < SHORT_JOB

    def _held_limit(self) -> int:
        """How many claimed jobs to hold: the threads, plus two batches waiting for them
        while jobs are short, so that the next claim overlaps the threads running the
        last one (with one batch, database and threads took turns: ~25% slower at
        --batch-size 100). Long jobs are never hoarded while another worker idles."""
        limit = self.options.held_limit
        if self._jobs_are_short():
            limit = max(limit, self.options.concurrency + 2 * self._batch())
        return limit

    def _min_claim(self) -> int:
        # Claim in batches while the threads still have work queued; claim
        # whatever fits as soon as they are about to run dry.
        return 1 if self.pool.waiting() == 0 else max(1, self._batch() // 2)

    def _report_at(self) -> int:
        return max(1, self._batch() // 2)

    def _claim(self, limit: int) -> int:
        assert self.worker_id is not None
        wid = self.worker_id
        jobs = self.db.run(
            lambda c: sql.claim(c, wid, self.options.queues, limit, self.options.lease_margin)
        )
        return self._hold(jobs)

    def _hold(self, jobs: list[ClaimedJob]) -> int:
        for job in jobs:
            self.inflight[job.id] = job
            if not self.batcher.hold(job):
                self.pool.submit(job)
        self._dispatch_batches()
        return len(jobs)

    def _dispatch_batches(self) -> None:
        for batch in self.batcher.due():
            self.pool.submit(batch)

    def _holding_threads(self, reported: set[int] | None = None) -> int:
        """Held jobs that need a thread slot of their own: a batch's jobs share one,
        and jobs buffered for a batch take none until it is due (see batching).
        Jobs in ``reported`` are about to be reported: their slots count as free."""
        held = self.inflight
        if reported:
            held = {k: v for k, v in held.items() if k not in reported}
        return len(held) - self.batcher.threadless(held)

    def _report_and_claim(self, done: list[Outcome], limit: int) -> int:
        """Report ``done`` and claim up to ``limit`` jobs, in one round trip when both."""
        if not done:
            return self._claim(limit) if limit else 0
        if not limit:
            self._report_completed(done)
            return 0
        assert self.worker_id is not None
        wid, opts = self.worker_id, self.options
        completions = self._completions(done)
        try:
            applied, jobs = self.db.run(
                lambda c: sql.complete_and_claim(
                    c, completions, wid, opts.queues, limit, opts.lease_margin
                )
            )
        except psycopg.Error as error:
            # Both halves rolled back: report apart, where one bad row cannot sink the rest.
            logger.warning("combined completion and claim failed (%s); reporting apart", error)
            self._report_completed(done)
            return self._claim(limit)
        self._settle(done, applied)
        return self._hold(jobs)

    def _nothing_pending(self) -> bool:
        return not self.db.run(lambda c: sql.has_pending(c, self.options.queues))

    def _sleep_time(self) -> float:
        timeout = self.options.poll_interval
        if not self.outcomes.empty():
            timeout = REPORT_DELAY  # outcomes wait at most this long to join a batch
        if self.inflight:
            nearest = min(job.deadline for job in self.inflight.values()) - time.monotonic()
            timeout = max(0.0, min(timeout, nearest + 0.001))
        batch_due = self.batcher.next_due() - time.monotonic()
        return max(0.0, min(timeout, batch_due + 0.001))

    def _mark_origin(self, origin: str) -> None:
        """This worker's connections name it (pgflow.origin) in the run events they cause."""
        self.db.origin = origin  # for reconnections
        self.db.run(lambda c: c.execute("SELECT set_config('pgflow.origin', %s, false)", [origin]))

    def _after_reconnect(self, conn: psycopg.Connection[Any]) -> None:
        if self.worker_id is None:
            return
        released = sql.release_unknown(conn, self.worker_id, list(self.inflight))
        if released:
            logger.warning("handed back %d job(s) claimed as the connection broke", released)

    # -- reporting -------------------------------------------------------

    def _take_outcomes(self) -> list[Outcome]:
        outcomes = []
        while True:
            try:
                outcomes.extend(self.outcomes.get_nowait())
            except queue.Empty:
                return outcomes

    def _flush(self) -> None:
        done = self._report_failures()
        if done:
            self._report_completed(done)

    def _report_failures(self) -> list[Outcome]:
        """Take the outcomes in hand, report the failures, return the completions.

        With completions and failures both in hand (a batch whose function failed
        some items, say), all are reported in one transaction, so a crash never
        leaves a batch half reported; nothing is left to return then.
        """
        done: list[Outcome] = []
        failed: list[Outcome] = []
        for outcome in self._take_outcomes():
            if self._still_ours(outcome.job):
                (done if outcome.ok else failed).append(outcome)
        if failed and done and self._report_together(done, failed):
            return []
        for outcome in failed:
            self._report_failed(outcome.job, outcome.error or {}, retry=outcome.retry)
        return done

    def _report_together(self, done: list[Outcome], failed: list[Outcome]) -> bool:
        """Completions and failures in one transaction; False (nothing applied) on error."""
        triples = self._completions(done)

        def report(conn: psycopg.Connection[Any]) -> tuple[set[int], list[str | None]]:
            with conn.transaction():
                statuses = [
                    sql.fail(conn, self._id, o.job.id, o.job.attempt, o.error or {}, o.retry)
                    for o in failed
                ]
                return sql.complete_many(conn, self._id, triples), statuses

        try:
            applied, statuses = self.db.run(report)
        except psycopg.Error as error:
            logger.warning("reporting outcomes together failed (%s); reporting apart", error)
            return False
        for outcome, status in zip(failed, statuses, strict=True):
            self._settle_failure(outcome.job, status, outcome.error)
        self._settle(done, applied)
        return True

    @property
    def _id(self) -> int:
        """This worker's id, which fences every report it makes."""
        assert self.worker_id is not None, "reports come only after register_worker"
        return self.worker_id

    def _still_ours(self, job: ClaimedJob) -> bool:
        held = self.inflight.get(job.id)
        return held is not None and held.attempt == job.attempt and not job.abandoned

    @staticmethod
    def _completions(done: list[Outcome]) -> list[sql.Completion]:
        return [(o.job.id, o.job.attempt, o.result_json or "null", o.job.run_id) for o in done]

    def _report_completed(self, done: list[Outcome]) -> None:
        triples = self._completions(done)
        try:
            applied = self.db.run(lambda c: sql.complete_many(c, self._id, triples))
        except psycopg.Error as error:
            # One bad row must not sink the batch: report each on its own.
            logger.warning("batch completion failed (%s); reporting one by one", error)
            applied = set()
            for triple in triples:
                try:
                    applied |= self.db.run(
                        functools.partial(sql.complete_many, worker_id=self._id, jobs=[triple])
                    )
                except psycopg.Error as single:
                    self._report_failed(
                        self.inflight[triple[0]], error_payload(single), retry=False
                    )
        self._settle(done, applied)

    def _settle(self, done: list[Outcome], applied: set[int]) -> None:
        """Forget reported completions; count the applied ones, log the late ones."""
        for outcome in done:
            job = outcome.job
            if self.inflight.pop(job.id, None) is None:
                continue
            if job.id in applied:
                self.stats["completed"] += 1
                if signals.job_completed.receivers:
                    self._send(signals.job_completed, job, result=json_or_null(outcome.result_json))
            else:
                self.stats["late"] += 1
                logger.warning(
                    "late completion of job %s attempt %s ignored: the attempt no longer "
                    "holds the job (lease expired, cancelled or reaped)",
                    job.id,
                    job.attempt,
                )

    def _report_failed(self, job: ClaimedJob, error: dict[str, Any], retry: bool) -> None:
        status = self.db.run(lambda c: sql.fail(c, self._id, job.id, job.attempt, error, retry))
        self._settle_failure(job, status, error)

    def _settle_failure(
        self, job: ClaimedJob, status: str | None, error: dict[str, Any] | None = None
    ) -> None:
        self.inflight.pop(job.id, None)
        if status is None:
            self.stats["late"] += 1
            logger.warning("late failure of job %s attempt %s ignored", job.id, job.attempt)
            return
        signal = signals.job_retried if status == "queued" else signals.job_failed
        self.stats["retried" if status == "queued" else "failed"] += 1
        if signal.receivers:
            self._send(signal, job, error=error or {})

    def _send(self, signal: Any, job: ClaimedJob, **extra: Any) -> None:
        """A job signal for an outcome the database accepted (see django_pgflow.signals)."""
        signals.send_robust(
            signal,
            job_id=job.id,
            task_name=job.task_name,
            queue=job.queue,
            attempt=job.attempt,
            worker_id=self.worker_id,
            **extra,
        )

    def _check_timeouts(self, finished: AbstractSet[int] = frozenset()) -> None:
        now = time.monotonic()
        for job in [
            j for j in self.inflight.values() if j.deadline <= now and j.id not in finished
        ]:
            self.pool.abandon(job)
            self.stats["timed_out"] += 1
            error = error_payload(
                JobTimeoutError(
                    f"job {job.id} ({job.task_name}) ran past its timeout of {job.timeout:g}s "
                    f"(attempt {job.attempt})"
                ),
                with_traceback=False,
            )
            logger.warning("job %s attempt %s timed out", job.id, job.attempt)
            was_running = job.started
            self._report_failed(job, error, retry=True)
            if was_running and self.options.exit_on_timeout and not self.stopping:
                # Under a supervisor, a process restart is how a stuck thread is killed.
                self.exit_code = EXIT_TIMEOUT_RESTART
                self.request_stop()

    # -- stopping --------------------------------------------------------

    def _release(self, jobs: list[ClaimedJob]) -> None:
        if not jobs or self.worker_id is None:
            return
        wid = self.worker_id
        for job in jobs:
            self.pool.abandon(job)
            self.inflight.pop(job.id, None)
        ids = [j.id for j in jobs]
        try:
            released = self.db.run(
                lambda c: sql.release(c, wid, ids),
                give_up_on_stop=False,
                give_up_after=SHUTDOWN_DB_PATIENCE,
            )
        except psycopg.OperationalError:
            logger.error(
                "could not hand back %d job(s): the database is unreachable; they become "
                "claimable again when their leases expire",
                len(ids),
            )
            return
        logger.info("handed back %d job(s)", released)

    def _drain(self) -> None:
        """Hand back waiting jobs; give running ones the shutdown timeout to finish."""
        deadline = time.monotonic() + self.options.shutdown_timeout
        self._stop_deadline = deadline + SHUTDOWN_DB_PATIENCE
        self._release(self.pool.withdraw(list(self.inflight.values())))
        while self.inflight and not self.immediate and time.monotonic() < deadline:
            self.wake.clear()
            self._flush()
            self._check_timeouts()
            if self.inflight:
                self.wake.wait(min(0.1, max(0.0, deadline - time.monotonic())))
        self._flush()
        self._release(list(self.inflight.values()))

    def _shutdown(self, helpers: list[threading.Thread]) -> None:
        self.stop_event.set()
        self.pool.stop()
        if self.worker_id is not None:
            wid = self.worker_id
            try:
                self.db.run(
                    lambda c: sql.stop_worker(c, wid),
                    give_up_on_stop=False,
                    give_up_after=SHUTDOWN_DB_PATIENCE,
                )
            except psycopg.Error:
                logger.exception("could not mark worker %s stopped", wid)
        for helper in helpers:
            helper.join(timeout=2)
        self.db.close()
        self.start_log.close()
        logger.info("worker %s stopped: %s", self.worker_id, self.stats)

    def _prune(self) -> int:
        from django.db import close_old_connections

        from ..queue.retention import prune_all

        close_old_connections()

        return sum(prune_all(alias=self.options.alias).values())
