"""A hypothesis state machine that drives the SQL core directly and checks the
invariants of DESIGN.md after every step.

The rules call the ``django_pgflow.*`` functions on a raw autocommit psycopg
connection to the test database, as a worker or a client in any language
would: enqueue, enqueue_many, claim (by several registered workers, and two
claims at once on two connections), complete, complete_many, fail, cancel,
retry, heartbeat, release, release_unknown, stop_worker, reap, prune,
prune_workers, and for workflows start_flow (a run key included), cancel_run,
resume_run and prune_runs on a three-step flow ``fetch -> each (map) -> save``.
Step tasks are reported through the same complete/fail/cancel/reap calls.

A Python model (``Model``) holds the expected state and is compared, column by
column, with every job, worker, run, step state and step task after each step.
Independently of the model, ``PgflowMachine.check_invariants`` checks:

- a started job holds exactly one lease (a worker and an expiry), other jobs
  none; no (job, attempt) is ever handed out twice; attempts never decrease;
  each attempt is accounted (in ``errors``) at most once;
- finished jobs, and finished runs with their steps and tasks, never change,
  except through the legal transitions: prune deleting them, a manual retry
  moving a failed or cancelled job back to queued, resume_run restarting a run;
- a late report (a stale attempt number) is ignored: it returns false/NULL and
  the model, which predicts that, matches the database row for row;
- every run's counters equal what its rows say (remaining_steps, each step's
  remaining_deps, remaining_tasks, initial_tasks), step tasks mirror their
  jobs, a finished run holds no active job and a started run always has one.

Gated claims. Jobs ask for resources (``gpu`` capacity 2, ``tpu`` 1), a lock
key, or go to a queue with a concurrency cap (``capped``: 2) or a rate limit
(``rated``: 3 starts per 100 s). Which gated jobs a claim takes is the claim's
business (it may take fewer than a job-by-job pass would), so the model does
not predict them; it checks that each one it took was allowed: ready, in the
queues asked for, and its gates free given what runs (capacities never
exceeded by started jobs, a lock-key job only when no started job holds the
key and no earlier one waits for it, no more starts in any window than the
rate allows). Plain jobs follow, in exact order. After every step
(``gates_hold``): started jobs stay within every capacity, a lock key runs one
job at a time, and each pool's held slots are exactly what started jobs need,
so no slot leaks. ``drain`` is a well-behaved worker that completes and claims
while time passes (delays, backoffs and rate windows run out; the reaper frees
what stopped workers held): every job must end, so none waits forever once
its gates free.

Time. ``now()`` cannot be moved, so ``advance_clock`` moves every stored
timestamp of every table back by the same amount, in one transaction. The SQL
functions only ever compare stored timestamps with ``now()`` (or add a duration
to ``now()``), so shifting all of them at once is indistinguishable from the
clock moving forward: no lease or heartbeat is singled out to look expired.
Each call is made as ``SELECT now(), f(...)``, so the model learns the exact
database time of the call; retry backoff carries random jitter, so the model
checks the new ``run_at`` lies within the documented bounds and adopts it
(``setseed`` makes the jitter the same when Hypothesis replays an example).
Rate windows count starts per bucket number, not per timestamp: moving the
clock moves every written bucket back by as many buckets (``SHIFT_RATE_WINDOWS``).

Runtime: the CI form (the default) runs 100 examples of up to 50 steps, about
60-90 seconds on two shared cores (a failure adds up to five minutes of
shrinking). ``PGFLOW_SOAK=1`` raises that to 1000 examples of up
to 100 steps (about 8 minutes) for a long run by hand::

    PGFLOW_SOAK=1 pytest -q tests/test_state_machine.py
"""

from __future__ import annotations

import os
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import psycopg
import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    precondition,
    rule,
    run_state_machine_as_test,
)
from psycopg.rows import dict_row
from psycopg.types.json import Jsonb

from django_pgflow.models import FlowDefinition, StepDefinition, StepDependency
from django_pgflow.worker.connection import connect

SOAK = os.environ.get("PGFLOW_SOAK") == "1"

ACTIVE = ("queued", "started")
FINISHED = ("completed", "failed", "cancelled")
QUEUES = ("default", "emails", "capped", "rated")
MARGIN = 10.0  # the lease margin passed to claim and heartbeat
US = timedelta(microseconds=1)  # make_interval() rounds seconds to microseconds

# The flow every run uses: fetch -> each (a map over fetch's output) -> save.
FLOW = "sm"
FLOW_QUEUE = "flow"
STEPS = ("fetch", "each", "save")  # in index (topological) order
DEPS: dict[str, tuple[str, ...]] = {"fetch": (), "each": ("fetch",), "save": ("each",)}
ON_FAILURE = {"fetch": "fail", "each": "skip", "save": "fail"}
MAP_STEPS = {"each"}
LEAVES = ("save",)
FLOW_MAX_ATTEMPTS = 2
FLOW_TIMEOUT = 100.0

# Gates: what jobs may ask for and what the claim must respect.
RESOURCES = {"gpu": 2, "tpu": 1}
CAPPED = {"capped": 2}  # queue -> concurrency
RATES = {"rated": (3, 100.0)}  # queue -> (starts, per seconds)
# A rate window is 100 buckets of period / 100 seconds: 1 s here, so that a
# clock move of whole seconds moves the windows by whole buckets.
BUCKET = 1.0
LIMITS = {"capped": {"concurrency": 2}, "rated": {"rate_count": 3, "rate_period": 100.0}}


def secs(value: float) -> timedelta:
    return timedelta(seconds=value)


def claim_order(job: MJob) -> tuple[int, datetime, int]:
    return (-job.priority, job.run_at, job.id)


# --- the model -----------------------------------------------------------------


@dataclass(eq=False)
class MJob:
    queue: str
    task_name: str
    args: Any
    kwargs: Any
    priority: int
    run_at: datetime
    max_attempts: int
    retry_delay: float
    max_retry_delay: float
    timeout: float
    unique_key: str | None
    created_at: datetime
    id: int = -1  # a step job's id is learned once the database made it
    status: str = "queued"
    attempts: int = 0
    failures: int = 0
    worker_id: int | None = None
    lease_expires_at: datetime | None = None
    result: Any = None
    errors: list[tuple[int, str, int | None]] = field(default_factory=list)
    started_at: datetime | None = None
    finished_at: datetime | None = None
    run_id: int | None = None
    step_slug: str | None = None
    task_index: int | None = None
    # Gates: resources ({"gpu": 1}), a lock key, a queue with limits.
    resources: Any = None
    lock_key: str | None = None
    waited: float | None = None
    gated: bool = False
    impossible: str | None = None
    # Context carried with the job (a trace carrier, say); nothing here writes it.
    metadata: Any = field(default_factory=dict)
    # Bounds of a jittered backoff, until the database's run_at is observed.
    pending_run_at: tuple[datetime, datetime] | None = None
    # A gated claim records its start at the end of its checks (clock_timestamp()),
    # not at now(): no earlier than this, until the database's is observed.
    pending_start: datetime | None = None

    def row(self) -> dict[str, Any]:
        """The job as ``SELECT * FROM pgflow_job`` shows it (errors abridged)."""
        pending = ("errors", "pending_run_at", "pending_start")
        keys = [f for f in self.__dataclass_fields__ if f not in pending]
        row = {k: getattr(self, k) for k in keys}
        row["errors"] = list(self.errors)
        return row


@dataclass
class MWorker:
    id: int
    state: str
    last_heartbeat: datetime
    stopped_at: datetime | None = None
    deleted: bool = False


@dataclass
class MStep:
    status: str
    remaining_deps: int
    remaining_tasks: int | None = None
    initial_tasks: int | None = None
    output: Any = None


@dataclass
class MTask:
    job: MJob
    status: str = "queued"
    attempts: int = 0
    output: Any = None


@dataclass
class MRun:
    id: int
    input: Any
    run_key: str | None
    steps: dict[str, MStep]
    status: str = "started"
    remaining_steps: int = len(STEPS)
    output: Any = None
    error: tuple[str, str] | None = None  # (step, error name)
    finished_at: datetime | None = None
    tasks: dict[tuple[str, int], MTask] = field(default_factory=dict)


class Model:
    """The expected state, moved by the documented semantics of each function."""

    def __init__(self) -> None:
        self.jobs: dict[int, MJob] = {}
        self.fresh: list[MJob] = []  # step jobs made by a cascade, ids not known yet
        self.workers: dict[int, MWorker] = {}
        self.runs: dict[int, MRun] = {}
        self.now = datetime.min
        self.starts: dict[str, list[datetime]] = {q: [] for q in RATES}  # of rated queues

    def all_jobs(self) -> Iterator[MJob]:
        yield from self.jobs.values()
        yield from self.fresh

    def holder(self, unique_key: str) -> MJob | None:
        for job in self.jobs.values():
            if job.unique_key == unique_key and job.status in ACTIVE:
                return job
        return None

    def shift(self, delta: timedelta) -> None:
        for job in self.jobs.values():
            for name in (*TIMESTAMPS["pgflow_job"], "pending_start"):
                if getattr(job, name) is not None:
                    setattr(job, name, getattr(job, name) - delta)
        for worker in self.workers.values():
            worker.last_heartbeat -= delta
            if worker.stopped_at is not None:
                worker.stopped_at -= delta
        for run in self.runs.values():
            if run.finished_at is not None:
                run.finished_at -= delta
        for queue, starts in self.starts.items():
            self.starts[queue] = [t - delta for t in starts]

    # --- jobs ---

    def ready(self, queues: list[str] | None, now: datetime) -> list[MJob]:
        ready = [
            j
            for j in self.jobs.values()
            if j.status == "queued" and j.run_at <= now and (not queues or j.queue in queues)
        ]
        return sorted(ready, key=claim_order)

    def claim(self, job: MJob, worker_id: int) -> None:
        job.status, job.attempts, job.worker_id = "started", job.attempts + 1, worker_id
        job.started_at = self.now
        if job.gated:
            job.pending_start, job.started_at, job.waited = self.now, None, None
            if job.queue in RATES:
                self.starts[job.queue].append(self.now)
        job.lease_expires_at = self.now + secs(job.timeout + MARGIN)
        self.job_changed(job)

    # --- gates ---

    def started(self) -> list[MJob]:
        return [j for j in self.jobs.values() if j.status == "started"]

    def gate_refusal(self, job: MJob) -> str | None:
        """Why ``job`` may not start now (what the jobs started so far hold), or None."""
        started = self.started()
        for name, amount in (job.resources or {}).items():
            held = sum((j.resources or {}).get(name, 0) for j in started)
            if held + amount > RESOURCES[name]:
                return f"{name}: {held} of {RESOURCES[name]} held, {amount} more asked"
        if job.queue in CAPPED and sum(j.queue == job.queue for j in started) >= CAPPED[job.queue]:
            return f"queue {job.queue} already runs {CAPPED[job.queue]} jobs"
        if job.lock_key is not None:
            before = [
                j.id
                for j in self.jobs.values()
                if j.lock_key == job.lock_key
                and j.id != job.id
                and (j.status == "started" or (j.status == "queued" and j.id < job.id))
            ]
            if before:
                return f"lock key {job.lock_key} is held or queued earlier by {before}"
        if job.queue in RATES:
            count, period = RATES[job.queue]
            recent = [t for t in self.starts[job.queue] if t > self.now - secs(period)]
            if len(recent) >= count:
                return f"queue {job.queue} started {len(recent)} jobs in the last {period:.0f}s"
        return None

    def holds(self, job: MJob, attempt: int) -> bool:
        return job.id in self.jobs and job.status == "started" and job.attempts == attempt

    def complete(self, job: MJob, result: Any) -> None:
        job.status, job.result, job.finished_at = "completed", result, self.now
        job.lease_expires_at = None
        self.job_changed(job)

    def fail(self, job: MJob, error: str, retry: bool = True) -> str:
        job.errors.append((job.attempts, error, job.worker_id))
        job.failures += 1
        job.lease_expires_at = None
        if retry and job.failures < job.max_attempts:
            delay = min(job.max_retry_delay, job.retry_delay * 2 ** max(job.failures - 1, 0))
            job.status, job.worker_id = "queued", None
            if delay == 0:
                job.run_at = self.now
            else:  # equal jitter: somewhere in [delay / 2, delay]
                job.pending_run_at = (self.now + secs(delay / 2) - US, self.now + secs(delay) + US)
        else:
            job.status, job.finished_at = "failed", self.now
        self.job_changed(job)
        return job.status

    def cancel(self, job: MJob) -> None:
        job.status, job.finished_at, job.lease_expires_at = "cancelled", self.now, None
        self.job_changed(job)

    def release(self, job: MJob) -> None:
        job.status, job.worker_id, job.lease_expires_at, job.run_at = "queued", None, None, self.now
        self.job_changed(job)

    def retry(self, job: MJob, delay: float) -> None:
        job.status, job.failures, job.run_at = "queued", 0, self.now + secs(delay)
        job.finished_at = job.worker_id = job.lease_expires_at = job.result = None

    def reap_candidates(self, dead_after: float) -> list[MJob]:
        def lost(job: MJob) -> bool:
            worker = self.workers.get(job.worker_id or -1)
            return (
                (job.lease_expires_at is not None and job.lease_expires_at < self.now)
                or worker is None
                or worker.deleted
                or worker.state == "stopped"
                or worker.last_heartbeat < self.now - secs(dead_after)
            )

        found = [j for j in self.jobs.values() if j.status == "started" and lost(j)]
        return sorted(found, key=lambda j: (j.run_id is not None, j.run_id or 0, j.id))

    # --- workflow cascade (sql/schema/flows/) ---

    def job_changed(self, job: MJob) -> None:
        """What the trigger pgflow_job_step_cascade does after a step job's status changed."""
        if job.run_id is None:
            return
        run = self.runs.get(job.run_id)
        assert job.step_slug is not None and job.task_index is not None
        key = (job.step_slug, job.task_index)
        task = run.tasks.get(key) if run else None
        if job.status in ACTIVE:
            if task is not None and task.job is job and task.status in ACTIVE:
                task.status, task.attempts = job.status, job.attempts
            return
        if run is None or run.status != "started":
            return
        if job.status == "completed":
            self.complete_task(run, key, job.result)
        elif job.status == "failed":
            self.fail_task(run, key, job.errors[-1][1])
        else:
            self.fail_task(run, key, "Cancelled")

    def complete_task(self, run: MRun, key: tuple[str, int], output: Any) -> None:
        task = run.tasks.get(key)
        if task is None or task.status not in ACTIVE:
            return
        task.status, task.output = "completed", output
        step = run.steps[key[0]]
        if step.status != "started":
            return
        assert step.remaining_tasks is not None
        step.remaining_tasks -= 1
        if step.remaining_tasks > 0:
            return
        if key[0] in MAP_STEPS:
            outputs = sorted((i, t.output) for (s, i), t in run.tasks.items() if s == key[0])
            output = [o for _, o in outputs]
        self.complete_step(run, key[0], output)

    def complete_step(self, run: MRun, slug: str, output: Any) -> None:
        step = run.steps[slug]
        step.status, step.output, step.remaining_tasks = "completed", output, 0
        self.release_dependents(run, slug)

    def release_dependents(self, run: MRun, slug: str) -> None:
        for other in STEPS:
            if slug in DEPS[other] and run.steps[other].status == "created":
                run.steps[other].remaining_deps -= 1
        run.remaining_steps -= 1
        self.start_ready_steps(run)
        self.maybe_complete_run(run)

    def start_ready_steps(self, run: MRun) -> None:
        while run.status == "started":
            ready = [
                s
                for s in STEPS
                if run.steps[s].status == "created" and run.steps[s].remaining_deps == 0
            ]
            if not ready:
                return
            self.start_step(run, ready[0])

    def step_input(self, run: MRun, slug: str) -> Any:
        if not DEPS[slug]:
            return run.input
        # A skipped dependency is left out: the step's parameter takes its default.
        return {d: run.steps[d].output for d in DEPS[slug] if run.steps[d].status != "skipped"}

    def start_step(self, run: MRun, slug: str) -> None:
        step, step_input = run.steps[slug], self.step_input(run, slug)
        if slug in MAP_STEPS:
            items = step_input.get(DEPS[slug][0]) if DEPS[slug] else step_input
            if not isinstance(items, list):
                self.fail_run(run, slug, "TypeViolation")
                return
            if not items:
                step.status, step.remaining_tasks, step.initial_tasks = "started", 0, 0
                self.complete_step(run, slug, [])
                return
            calls = [([item], {}) for item in items]
        elif DEPS[slug]:
            calls = [([], step_input)]
        else:
            calls = [([step_input], {})]
        step.status = "started"
        step.remaining_tasks = step.initial_tasks = len(calls)
        for index, (args, kwargs) in enumerate(calls):
            job = MJob(
                queue=FLOW_QUEUE,
                task_name=f"pgflow.step.{FLOW}.{slug}",
                args=args,
                kwargs=kwargs,
                priority=0,
                run_at=self.now,
                max_attempts=FLOW_MAX_ATTEMPTS,
                retry_delay=0.0,
                max_retry_delay=3600.0,
                timeout=FLOW_TIMEOUT,
                unique_key=None,
                created_at=self.now,
                run_id=run.id,
                step_slug=slug,
                task_index=index,
            )
            self.fresh.append(job)
            run.tasks[(slug, index)] = MTask(job=job)

    def maybe_complete_run(self, run: MRun) -> None:
        if run.status == "started" and run.remaining_steps == 0:
            run.status, run.finished_at = "completed", self.now
            run.output = {leaf: run.steps[leaf].output for leaf in LEAVES}

    def fail_task(self, run: MRun, key: tuple[str, int], error: str) -> None:
        task = run.tasks.get(key)
        if task is None or task.status not in ACTIVE:
            return
        task.status = "failed"
        if run.steps[key[0]].status != "started":
            return
        if ON_FAILURE[key[0]] == "skip":
            self.skip_step(run, key[0])
        else:
            self.fail_run(run, key[0], error)

    def skip_step(self, run: MRun, slug: str) -> None:
        run.steps[slug].status, run.steps[slug].output = "skipped", None
        self.cancel_step_jobs(run, [slug])
        self.release_dependents(run, slug)

    def fail_run(self, run: MRun, slug: str, error: str) -> None:
        if run.status != "started":
            return
        run.status, run.finished_at, run.error = "failed", self.now, (slug, error)
        if run.steps[slug].status in ("created", "started"):
            run.steps[slug].status = "failed"
        for step in run.steps.values():
            if step.status in ("created", "started"):
                step.status = "cancelled"
        self.cancel_step_jobs(run, None)

    def cancel_step_jobs(self, run: MRun, slugs: list[str] | None) -> None:
        for (slug, _), task in run.tasks.items():
            if task.status in ACTIVE and (slugs is None or slug in slugs):
                task.status = "cancelled"
        for job in list(self.all_jobs()):
            mine = job.run_id == run.id and (slugs is None or job.step_slug in slugs)
            if mine and job.status in ACTIVE:
                self.cancel(job)

    def start_run(self, run_id: int, value: Any, run_key: str | None) -> None:
        steps = {s: MStep(status="created", remaining_deps=len(DEPS[s])) for s in STEPS}
        run = self.runs[run_id] = MRun(id=run_id, input=value, run_key=run_key, steps=steps)
        self.start_ready_steps(run)

    def cancel_run(self, run: MRun) -> None:
        run.status, run.finished_at = "cancelled", self.now
        for step in run.steps.values():
            if step.status in ("created", "started"):
                step.status = "cancelled"
        self.cancel_step_jobs(run, None)

    def resume_run(self, run: MRun) -> None:
        run.status, run.finished_at, run.error, run.output = "started", None, None, None
        again = {s for s, step in run.steps.items() if step.status in ("failed", "cancelled")}
        run.tasks = {k: t for k, t in run.tasks.items() if k[0] not in again}
        for slug in again:
            run.steps[slug] = MStep(status="created", remaining_deps=0)
        done = {s for s, step in run.steps.items() if step.status in ("completed", "skipped")}
        for slug, step in run.steps.items():
            if step.status == "created":
                step.remaining_deps = len([d for d in DEPS[slug] if d not in done])
        run.remaining_steps = len(STEPS) - len(done)
        self.start_ready_steps(run)
        self.maybe_complete_run(run)


# --- database access --------------------------------------------------------------

TIMESTAMPS = {
    "pgflow_job": ("run_at", "lease_expires_at", "created_at", "started_at", "finished_at"),
    "pgflow_worker": ("started_at", "last_heartbeat", "stopped_at"),
    "pgflow_run": ("created_at", "finished_at"),
    "pgflow_step_state": ("created_at", "started_at", "finished_at"),
    "pgflow_step_task": ("created_at", "finished_at"),
}
RUNTIME_TABLES = (
    "pgflow_step_task",
    "pgflow_step_state",
    "pgflow_run",
    "pgflow_job",
    "pgflow_worker",
)
ERROR = Jsonb({"error": "Boom", "message": "raised by the state machine"})
# A rate window counts the starts of each bucket (floor(epoch / BUCKET)) at
# position bucket % 101 of counts, up to last_bucket. Moving the clock k
# buckets ahead is moving every written bucket k back: last_bucket with it,
# and each count to the position its new bucket number has.
SHIFT_RATE_WINDOWS = (
    "UPDATE pgflow_queue_rate_shard SET last_bucket = last_bucket - %(k)s,"
    " counts = ARRAY(SELECT counts[((i + %(k)s) %% 101) + 1] FROM generate_series(0, 100) i"
    "                ORDER BY i),"
    " full_until = full_until - %(d)s"
    " WHERE last_bucket > 0"
)


def define_flow() -> None:
    flow = FlowDefinition.objects.create(
        slug=FLOW,
        version=1,
        shape_hash="state-machine",
        max_attempts=FLOW_MAX_ATTEMPTS,
        base_delay=0,
        timeout=FLOW_TIMEOUT,
    )
    for index, slug in enumerate(STEPS):
        StepDefinition.objects.create(
            flow=flow,
            slug=slug,
            index=index,
            step_type="map" if slug in MAP_STEPS else "single",
            dep_count=len(DEPS[slug]),
            is_leaf=slug in LEAVES,
            on_failure=ON_FAILURE[slug],
            queue=FLOW_QUEUE,
        )
        for dep in DEPS[slug]:
            StepDependency.objects.create(flow=flow, step_slug=slug, dep_slug=dep)


def shifted(row: dict[str, Any], table: str, delta: timedelta) -> dict[str, Any]:
    return {
        k: (v - delta if k in TIMESTAMPS[table] and v is not None else v) for k, v in row.items()
    }


# --- the machine ---------------------------------------------------------------

job_options = st.fixed_dictionaries(
    {
        "queue": st.sampled_from(QUEUES),
        "priority": st.sampled_from([0, 0, 5]),
        "delay": st.sampled_from([0.0, 0.0, 1000.0]),
        "max_attempts": st.integers(1, 3),
        "retry_delay": st.sampled_from([0.0, 100.0]),
        "timeout": st.sampled_from([50.0, 500.0]),
        "unique_key": st.sampled_from([None, None, None, "k1", "k2"]),
        "resources": st.sampled_from(
            [None, None, None, {"gpu": 1}, {"gpu": 2}, {"tpu": 1}, {"gpu": 1, "tpu": 1}]
        ),
        "lock_key": st.sampled_from([None, None, None, "a", "b"]),
    }
)
queue_filters = st.sampled_from(
    [
        None,
        [],
        ["default"],
        ["emails"],
        [FLOW_QUEUE],
        ["default", FLOW_QUEUE],
        ["default", "emails"],
        ["capped"],
        ["rated", "capped"],
    ]
)
run_inputs = st.one_of(st.lists(st.integers(0, 9), max_size=3), st.just({"not": "a list"}))
outputs = st.one_of(st.lists(st.integers(0, 9), max_size=3), st.integers(0, 99))


class PgflowMachine(RuleBasedStateMachine):
    conn: psycopg.Connection[Any]
    conn2: psycopg.Connection[Any]

    def __init__(self) -> None:
        super().__init__()
        # Every example starts from empty tables (the flow definition stays).
        # (DELETE: a TRUNCATE per example costs more than the example.)
        for table in RUNTIME_TABLES:
            self.conn.execute(f"DELETE FROM {table}")
        # Fresh rate windows (the slots of deleted jobs are freed by a trigger).
        self.conn.execute("DELETE FROM pgflow_queue_rate_shard")
        self.conn.execute(
            "SELECT django_pgflow.sync_limits(%s, %s)", [Jsonb(RESOURCES), Jsonb(LIMITS)]
        )
        # The backoff jitter comes from random(): seeded, a replayed example
        # (Hypothesis replays to shrink) sees the same run_at values, so the
        # same jobs are ready after the same clock moves.
        self.conn.execute("SELECT setseed(0.42)")
        self.model = Model()
        self.tokens: list[tuple[int, int]] = []  # every (job, attempt) ever claimed
        self.claimer: dict[tuple[int, int], int] = {}  # ... and the worker it went to
        self.prev_jobs: dict[int, dict[str, Any]] = {}
        self.prev_runs: dict[int, Any] = {}
        # Legal changes of finished rows made by the current step.
        self.reopened: set[int] = set()
        self.pruned_jobs: set[int] = set()
        self.resumed: set[int] = set()
        self.pruned_runs: set[int] = set()

    def call(self, sql: str, *params: Any) -> Any:
        """Run ``SELECT now(), <expr>`` and remember the time of the call."""
        now, value = self.conn.execute(f"SELECT now(), {sql}", params).fetchone()
        self.model.now = now
        return value

    # --- workers ---

    @initialize(count=st.integers(2, 3))
    def register_workers(self, count: int) -> None:
        for n in range(count):
            wid = self.call("django_pgflow.register_worker('sm', %s, '[]', 4)", n)
            self.model.workers[wid] = MWorker(wid, "running", self.model.now)

    def pick_worker(self, data: st.DataObject) -> int:
        return data.draw(st.sampled_from(sorted(self.model.workers)), label="worker")

    def claimants(self) -> list[int]:
        """Workers a claim accepts: registered and not stopped."""
        return sorted(
            w.id for w in self.model.workers.values() if not w.deleted and w.state != "stopped"
        )

    def pick_claimant(self, data: st.DataObject) -> int:
        return data.draw(st.sampled_from(self.claimants()), label="claimant")

    def holder(self, token: tuple[int, int]) -> int:
        """The worker the attempt was given to: the one whose report counts."""
        return self.claimer[token]

    @precondition(lambda self: len(self.claimants()) < len(self.model.workers))
    @rule(data=st.data())
    def claim_as_a_stopped_worker(self, data: st.DataObject) -> None:
        """A worker that stopped (or was pruned) claims nothing: it is refused."""
        gone = [w for w in sorted(self.model.workers) if w not in self.claimants()]
        wid = data.draw(st.sampled_from(gone), label="stopped worker")
        with pytest.raises(psycopg.errors.InvalidParameterValue, match="not registered"):
            self.call(self.CLAIM, wid, None, 4, MARGIN)

    @rule(data=st.data(), margin=st.sampled_from([MARGIN, 1000.0]))
    def heartbeat(self, data: st.DataObject, margin: float) -> None:
        wid = self.pick_worker(data)
        extended = self.call("django_pgflow.heartbeat(%s, %s)", wid, margin)
        worker = self.model.workers[wid]
        if worker.deleted:
            assert extended == -1
            return
        worker.last_heartbeat = self.model.now
        if worker.state == "lost":
            worker.state, worker.stopped_at = "running", None
        held = [j for j in self.model.jobs.values() if j.worker_id == wid and j.status == "started"]
        for job in held:
            assert job.lease_expires_at is not None
            job.lease_expires_at = max(job.lease_expires_at, self.model.now + secs(margin))
        assert extended == len(held)

    def stop_worker(self, wid: int) -> None:
        released = self.call("django_pgflow.stop_worker(%s)", wid)
        assert released == self.release_in_model(wid, lambda _: True)
        worker = self.model.workers[wid]
        if not worker.deleted:
            worker.state, worker.stopped_at = "stopped", self.model.now
            worker.last_heartbeat = self.model.now

    def prune_workers(self, older_than: float) -> None:
        count = self.call("django_pgflow.prune_workers(%s)", older_than)
        model, gone = self.model, []
        for worker in model.workers.values():
            holding = any(
                j.worker_id == worker.id and j.status == "started" for j in model.jobs.values()
            )
            if (
                not worker.deleted
                and worker.state in ("stopped", "lost")
                and worker.stopped_at is not None
                and worker.stopped_at < model.now - secs(older_than)
                and not holding
            ):
                gone.append(worker)
        for worker in gone:
            worker.deleted = True
        assert count == len(gone)

    # --- enqueue ---

    def new_job(self, opts: dict[str, Any], job_id: int, args: Any) -> MJob:
        job = MJob(
            id=job_id,
            queue=opts["queue"],
            task_name="sm.task",
            args=args,
            kwargs={},
            priority=opts["priority"],
            run_at=self.model.now + secs(opts["delay"]),
            max_attempts=opts["max_attempts"],
            retry_delay=opts["retry_delay"],
            max_retry_delay=150.0,
            timeout=opts["timeout"],
            unique_key=opts["unique_key"],
            created_at=self.model.now,
            resources=opts["resources"],
            lock_key=opts["lock_key"],
            gated=bool(opts["resources"] or opts["lock_key"] or opts["queue"] in LIMITS),
        )
        self.model.jobs[job_id] = job
        return job

    @rule(opts=job_options, n=st.integers(0, 99))
    def enqueue(self, opts: dict[str, Any], n: int) -> None:
        row = self.call(
            "(django_pgflow.enqueue(%s, 'sm.task', %s, '{}', %s, NULL, %s, %s, %s, 150, %s, "
            "%s, %s::jsonb, %s)).id",
            opts["queue"],
            Jsonb([n]),
            opts["priority"],
            opts["delay"],
            opts["max_attempts"],
            opts["retry_delay"],
            opts["timeout"],
            opts["unique_key"],
            opts["resources"] and Jsonb(opts["resources"]),
            opts["lock_key"],
        )
        holder = opts["unique_key"] and self.model.holder(opts["unique_key"])
        if holder:
            assert row == holder.id  # the active job of that key, nothing inserted
        else:
            assert row not in self.model.jobs
            self.new_job(opts, row, [n])

    @rule(batch=st.lists(job_options, min_size=1, max_size=4))
    def enqueue_many(self, batch: list[dict[str, Any]]) -> None:
        items = [
            {
                "queue": o["queue"],
                "task_name": "sm.task",
                "args": [i],
                "priority": o["priority"],
                "delay": o["delay"],
                "max_attempts": o["max_attempts"],
                "retry_delay": o["retry_delay"],
                "max_retry_delay": 150.0,
                "timeout": o["timeout"],
                "unique_key": o["unique_key"],
                "resources": o["resources"],
                "lock_key": o["lock_key"],
            }
            for i, o in enumerate(batch)
        ]
        pairs = self.call(
            "(SELECT coalesce(jsonb_agg(jsonb_build_array(e.ord, e.id) ORDER BY e.ord), '[]') "
            "FROM django_pgflow.enqueue_many(%s) e)",
            Jsonb(items),
        )
        ids = {ord_: job_id for ord_, job_id in pairs}
        assert sorted(ids) == list(range(1, len(batch) + 1))
        # Keyed jobs go first, one by one; the rest in one insert, ids in order.
        for i, opts in enumerate(batch):
            if opts["unique_key"] is not None:
                holder = self.model.holder(opts["unique_key"])
                if holder:
                    assert ids[i + 1] == holder.id
                else:
                    self.new_job(opts, ids[i + 1], [i])
        plain = [ids[i + 1] for i, o in enumerate(batch) if o["unique_key"] is None]
        assert plain == sorted(plain)
        for i, opts in enumerate(batch):
            if opts["unique_key"] is None:
                assert ids[i + 1] not in self.model.jobs
                self.new_job(opts, ids[i + 1], [i])

    # --- claim ---

    def expect_claim(self, wid: int, queues: list[str] | None, limit: int, rows: Any) -> None:
        """Gated jobs first, each one allowed by its gates (which of them the
        claim takes is its own business); then plain jobs, exactly in order."""
        jobs = self.model.jobs
        gated = [r for r in rows if r[0] in jobs and jobs[r[0]].gated]
        assert rows[: len(gated)] == gated, "gated jobs come first"
        taken = [jobs[r[0]] for r in gated]
        assert taken == sorted(taken, key=claim_order), "gated claim order"
        for row, job in zip(gated, taken, strict=True):
            self.expect_gated_claim(job, queues)
            self.take(wid, row, job)
        ready = [j for j in self.model.ready(queues, self.model.now) if not j.gated]
        expected = ready[: limit - len(gated)]
        plain = rows[len(gated) :]
        assert [r[0] for r in plain] == [j.id for j in expected], "claim order"
        for row, job in zip(plain, expected, strict=True):
            self.take(wid, row, job)

    def expect_gated_claim(self, job: MJob, queues: list[str] | None) -> None:
        assert job.status == "queued" and job.run_at <= self.model.now, f"job {job.id} not ready"
        assert not queues or job.queue in queues, f"job {job.id} of queue {job.queue}"
        refusal = self.model.gate_refusal(job)
        assert refusal is None, f"gated job {job.id} started although {refusal}"

    def take(self, wid: int, row: Any, job: MJob) -> None:
        self.model.claim(job, wid)
        token = (job.id, job.attempts)
        assert token not in self.tokens, f"attempt {token} claimed twice"
        self.tokens.append(token)
        self.claimer[token] = wid
        assert row[1:] == [job.attempts, job.args, job.kwargs, job.run_id, job.task_index]

    CLAIM = (
        "(SELECT coalesce(jsonb_agg(jsonb_build_array(c.id, c.attempts, c.args, c.kwargs, "
        "c.run_id, c.task_index) ORDER BY c.ordinality), '[]') "
        "FROM django_pgflow.claim(%s, %s::text[], %s, %s) WITH ORDINALITY AS c)"
    )

    @precondition(lambda self: self.claimants())
    @rule(data=st.data(), queues=queue_filters, limit=st.integers(1, 4))
    def claim(self, data: st.DataObject, queues: list[str] | None, limit: int) -> None:
        wid = self.pick_claimant(data)
        rows = self.call(self.CLAIM, wid, queues, limit, MARGIN)
        self.expect_claim(wid, queues, limit, rows)

    @precondition(lambda self: self.claimants())
    @rule(data=st.data(), first=st.integers(1, 3), second=st.integers(1, 3))
    def claim_concurrently(self, data: st.DataObject, first: int, second: int) -> None:
        """Two claims at once: the first one's transaction stays open while the
        second claims on another connection; SKIP LOCKED keeps them apart."""
        a, b = self.pick_claimant(data), self.pick_claimant(data)
        with self.conn2.transaction():
            now_a, rows_a = self.conn2.execute(
                f"SELECT now(), {self.CLAIM}", (a, None, first, MARGIN)
            ).fetchone()
            try:
                now_b, rows_b = self.conn.execute(
                    f"SELECT now(), {self.CLAIM}", (b, None, second, MARGIN)
                ).fetchone()
            except psycopg.errors.LockNotAvailable as error:
                raise AssertionError(
                    f"a claim waited for another claim's transaction: {error}; {error.diag.context}"
                ) from None
        taken_by_a = {r[0] for r in rows_a}
        assert not taken_by_a & {r[0] for r in rows_b}, "one job claimed by two workers"
        self.model.now = now_a
        self.expect_claim(a, None, first, rows_a)
        # The second claim saw the first one's rows as still queued, but
        # locked: it skipped them and took the next ready ones.
        self.model.now = now_b
        self.expect_claim(b, None, second, rows_b)

    @precondition(lambda self: self.claimants())
    @rule(data=st.data(), output=outputs, rounds=st.integers(1, 4))
    def work_the_flow_queue(self, data: st.DataObject, output: Any, rounds: int) -> None:
        """A well-behaved worker: claims step tasks and completes them, for a
        few rounds. (Without it, runs would rarely get as far as completing.)"""
        wid = self.pick_claimant(data)
        for _ in range(rounds):
            self.adopt_step_jobs()
            rows = self.call(self.CLAIM, wid, [FLOW_QUEUE], 4, MARGIN)
            self.expect_claim(wid, [FLOW_QUEUE], 4, rows)
            for job_id, attempt, *_ in rows:
                applied = self.call(
                    "django_pgflow.complete(%s, %s, %s, %s)", wid, job_id, attempt, Jsonb(output)
                )
                job = self.model.jobs[job_id]
                # An earlier completion's cascade may have ended the run meanwhile.
                assert applied is self.model.holds(job, attempt)
                if applied:
                    self.model.complete(job, output)

    # --- reports ---

    def live_tokens(self) -> list[tuple[int, int]]:
        jobs = self.model.jobs
        return [t for t in self.tokens if t[0] in jobs and self.model.holds(jobs[t[0]], t[1])]

    def draw_tokens(self, data: st.DataObject) -> list[tuple[int, int]]:
        """Where reports come from: a worker that still holds its attempt, one
        whose job was claimed again since (the late report fencing exists
        for), or any attempt ever claimed."""
        kinds = [k for k in (self.live_tokens(), self.overtaken_tokens()) if k] + [self.tokens]
        return data.draw(st.sampled_from(kinds), label="kind of report")

    def pick_token(self, data: st.DataObject) -> tuple[MJob | None, int, int]:
        job_id, attempt = data.draw(st.sampled_from(self.draw_tokens(data)), label="token")
        return self.model.jobs.get(job_id), job_id, attempt

    @precondition(lambda self: self.tokens)
    @rule(data=st.data(), result=outputs, many=st.booleans())
    def complete(self, data: st.DataObject, result: Any, many: bool) -> None:
        if many:
            self.complete_many(data)
            return
        job, job_id, attempt = self.pick_token(data)
        applied = self.call(
            "django_pgflow.complete(%s, %s, %s, %s)",
            self.holder((job_id, attempt)),
            job_id,
            attempt,
            Jsonb(result),
        )
        expected = job is not None and self.model.holds(job, attempt)
        assert applied is expected, "late completion must be ignored"
        if job is not None and expected:
            self.model.complete(job, result)

    def complete_many(self, data: st.DataObject) -> None:
        picks = data.draw(
            st.lists(
                st.sampled_from(self.draw_tokens(data)),
                min_size=1,
                max_size=4,
                unique_by=lambda t: t[0],
            ),
            label="tokens",
        )
        results = [Jsonb(job_id * 10) for job_id, _ in picks]
        # One worker reports them all: those another worker was given are
        # reports on someone else's job, ignored like late ones.
        wid = self.holder(picks[0])
        applied = self.call(
            "ARRAY(SELECT django_pgflow.complete_many("
            "%s, %s::bigint[], %s::integer[], %s::jsonb[]))",
            wid,
            [p[0] for p in picks],
            [p[1] for p in picks],
            results,
        )
        expected = set()
        # Row triggers cascade in update order; completions of one run do not
        # interfere with each other's applicability (all were started).
        for job_id, attempt in picks:
            job = self.model.jobs.get(job_id)
            mine = self.holder((job_id, attempt)) == wid
            if job is not None and mine and self.model.holds(job, attempt):
                expected.add(job_id)
        for job_id, _ in sorted(picks):
            if job_id in expected:
                self.model.complete(self.model.jobs[job_id], job_id * 10)
        assert set(applied) == expected, "late completions must be ignored"

    @precondition(lambda self: self.tokens)
    @rule(data=st.data(), retry=st.booleans())
    def fail(self, data: st.DataObject, retry: bool) -> None:
        job, job_id, attempt = self.pick_token(data)
        outcome = self.call(
            "django_pgflow.fail(%s, %s, %s, %s, %s)",
            self.holder((job_id, attempt)),
            job_id,
            attempt,
            ERROR,
            retry,
        )
        if job is None or not self.model.holds(job, attempt):
            assert outcome is None, "late failure must be ignored"
            return
        assert outcome == self.model.fail(job, "Boom", retry)

    def overtaken_tokens(self) -> list[tuple[int, int]]:
        jobs, live = self.model.jobs, self.live_tokens()
        return [
            t
            for t in self.tokens
            if t[0] in jobs and jobs[t[0]].status == "started" and t not in live
        ]

    @precondition(lambda self: self.overtaken_tokens())
    @rule(data=st.data(), report=st.sampled_from(["complete", "fail", "complete_many"]))
    def late_report(self, data: st.DataObject, report: str) -> None:
        """Invariant 1: a worker whose job was claimed again since reports on
        its old attempt; the report is ignored and the new holder keeps it."""
        job_id, attempt = data.draw(st.sampled_from(self.overtaken_tokens()), label="token")
        wid = self.holder((job_id, attempt))
        if report == "complete":
            applied = self.call("django_pgflow.complete(%s, %s, %s, '1')", wid, job_id, attempt)
            assert applied is False
        elif report == "fail":
            outcome = self.call("django_pgflow.fail(%s, %s, %s, %s)", wid, job_id, attempt, ERROR)
            assert outcome is None
        else:
            applied = self.call(
                "ARRAY(SELECT django_pgflow.complete_many(%s, %s, %s, ARRAY['1'::jsonb]))",
                wid,
                [job_id],
                [attempt],
            )
            assert applied == []

    @precondition(lambda self: self.live_tokens() and len(self.model.workers) > 1)
    @rule(data=st.data(), report=st.sampled_from(["complete", "fail"]))
    def report_for_another_worker(self, data: st.DataObject, report: str) -> None:
        """Reports are fenced by worker as well as attempt: a worker cannot
        complete or fail a job another worker holds, even with its attempt."""
        job_id, attempt = data.draw(st.sampled_from(self.live_tokens()), label="token")
        others = [w for w in sorted(self.model.workers) if w != self.holder((job_id, attempt))]
        wid = data.draw(st.sampled_from(others), label="impostor")
        if report == "complete":
            applied = self.call("django_pgflow.complete(%s, %s, %s, '1')", wid, job_id, attempt)
            assert applied is False
        else:
            outcome = self.call("django_pgflow.fail(%s, %s, %s, %s)", wid, job_id, attempt, ERROR)
            assert outcome is None

    def pick_job(self, data: st.DataObject) -> int:
        return data.draw(st.sampled_from(sorted(self.model.jobs)), label="job")

    @precondition(lambda self: self.model.jobs)
    @rule(data=st.data())
    def cancel(self, data: st.DataObject) -> None:
        job_id = self.pick_job(data)
        cancelled = self.call("django_pgflow.cancel(%s)", job_id)
        job = self.model.jobs[job_id]
        assert cancelled is (job.status in ACTIVE)
        if cancelled:
            self.model.cancel(job)

    @precondition(lambda self: self.model.jobs)
    @rule(data=st.data(), delay=st.sampled_from([0.0, 1000.0]))
    def retry(self, data: st.DataObject, delay: float) -> None:
        job_id = self.pick_job(data)
        job = self.model.jobs[job_id]
        holder = job.unique_key and self.model.holder(job.unique_key)
        refused = job.status in ("failed", "cancelled") and (job.run_id is not None or holder)
        try:
            moved = self.call("django_pgflow.retry(%s, %s)", job_id, delay)
        except psycopg.errors.InvalidParameterValue as error:
            assert refused and job.run_id is not None, error
            return
        except psycopg.errors.UniqueViolation as error:
            assert refused and holder, error
            return
        assert not refused
        assert moved is (job.status in ("failed", "cancelled"))
        if moved:
            self.model.retry(job, delay)
            self.reopened.add(job_id)

    def release_in_model(self, wid: int, chosen: Any) -> int:
        held = [
            j
            for j in self.model.jobs.values()
            if j.worker_id == wid and j.status == "started" and chosen(j.id)
        ]
        for job in held:
            self.model.release(job)
        return len(held)

    def release(self, wid: int, ids: list[int] | None) -> None:
        count = self.call("django_pgflow.release(%s, %s::bigint[])", wid, ids)
        assert count == self.release_in_model(wid, lambda i: ids is None or i in ids)

    def release_unknown(self, wid: int, known: list[int]) -> None:
        count = self.call("django_pgflow.release_unknown(%s, %s::bigint[])", wid, known)
        assert count == self.release_in_model(wid, lambda i: i not in known)

    @rule(data=st.data(), how=st.sampled_from(["all", "some", "unknown", "stop"]))
    def hand_back(self, data: st.DataObject, how: str) -> None:
        """A worker gives work back: release (all or some), release_unknown
        after a reconnect, or stop_worker."""
        wid = self.pick_worker(data)
        ids = data.draw(st.lists(st.sampled_from(sorted(self.model.jobs) or [0]), max_size=3))
        if how == "all":
            self.release(wid, None)
        elif how == "some":
            self.release(wid, ids)
        elif how == "unknown":
            self.release_unknown(wid, ids)
        else:
            self.stop_worker(wid)

    # --- time and the reaper ---

    @rule(seconds=st.sampled_from([5.0, 30.0, 120.0, 1000.0, 5000.0]))
    def advance_clock(self, seconds: float) -> None:
        delta = secs(seconds)
        with self.conn.transaction():
            for table, columns in TIMESTAMPS.items():
                assignments = ", ".join(f"{c} = {c} - %(d)s" for c in columns)
                self.conn.execute(f"UPDATE {table} SET {assignments}", {"d": delta})
            self.conn.execute(SHIFT_RATE_WINDOWS, {"k": round(seconds / BUCKET), "d": delta})
        self.model.shift(delta)
        self.prev_jobs = {i: shifted(r, "pgflow_job", delta) for i, r in self.prev_jobs.items()}
        self.prev_runs = {i: self.shift_run_snapshot(s, delta) for i, s in self.prev_runs.items()}

    # --- every gated job starts, once its gates free ---

    def active(self) -> list[MJob]:
        return [j for j in self.model.jobs.values() if j.status in ACTIVE]

    @precondition(lambda self: self.claimants() and any(j.gated for j in self.active()))
    @rule(data=st.data())
    def drain(self, data: st.DataObject) -> None:
        """A well-behaved worker completes what it holds and claims more; when
        nothing can start, time passes (delays, backoffs and rate windows run
        out, the reaper frees what stopped workers held). Every job must end:
        one that waits forever behind a gate that freed, or a slot that
        leaked, fails this."""
        wid = self.pick_claimant(data)
        for _ in range(100):
            self.finish_started()
            self.adopt_step_jobs()  # the steps those completions started
            rows = self.call(self.CLAIM, wid, None, 8, MARGIN)
            self.expect_claim(wid, None, 8, rows)
            if not self.active():
                return
            if not rows:
                self.advance_clock(1000.0)
                self.reap(60.0)
        stuck = [(j.id, j.queue, j.resources, j.lock_key, j.status) for j in self.active()]
        raise AssertionError(f"jobs never started although their gates freed: {stuck}")

    def finish_started(self) -> None:
        """Complete every started job whose worker may still report."""
        for job in list(self.model.jobs.values()):
            if job.status != "started":
                continue  # (a completion's cascade may have cancelled it meanwhile)
            holder = self.claimer[(job.id, job.attempts)]
            worker = self.model.workers[holder]
            if worker.deleted or worker.state == "stopped":
                continue  # left to the reaper
            applied = self.call(
                "django_pgflow.complete(%s, %s, %s, %s)", holder, job.id, job.attempts, Jsonb([1])
            )
            assert applied is True, f"job {job.id} attempt {job.attempts}"
            self.model.complete(job, [1])

    @rule(dead_after=st.sampled_from([60.0, 100000.0]))
    def reap(self, dead_after: float) -> None:
        count = self.call("django_pgflow.reap(%s)", dead_after)
        model = self.model
        candidates = model.reap_candidates(dead_after)
        applied = 0
        for job in candidates:
            # A cascade of an earlier one may have cancelled it: then fail() ignores it.
            if job.status == "started":
                model.fail(job, "WorkerLostError")
                applied += 1
        # The reaper counts what it visited; a row its own cascade changed
        # after the loop's snapshot may be skipped without being counted.
        assert applied <= count <= len(candidates)
        for worker in model.workers.values():
            if (
                not worker.deleted
                and worker.state == "running"
                and worker.last_heartbeat < model.now - secs(dead_after)
            ):
                worker.state, worker.stopped_at = "lost", model.now

    @rule(
        what=st.sampled_from(["jobs", "runs", "workers"]),
        status=st.sampled_from(FINISHED),
        older_than=st.sampled_from([0.0, 100.0]),
    )
    def retention(self, what: str, status: str, older_than: float) -> None:
        """Pruning: finished jobs or runs of one status, or stopped workers."""
        if what == "jobs":
            self.prune(status, older_than)
        elif what == "runs":
            self.prune_runs(status, older_than)
        else:
            self.prune_workers(older_than)

    def prune(self, status: str, older_than: float) -> None:
        count = self.call("django_pgflow.prune(%s, %s, 10000)", status, older_than)
        gone = [
            j.id
            for j in self.model.jobs.values()
            if j.status == status
            and j.finished_at is not None
            and j.finished_at <= self.model.now - secs(older_than)
        ]
        for job_id in gone:
            del self.model.jobs[job_id]
        self.pruned_jobs.update(gone)
        assert count == len(gone)

    # --- workflows ---

    @initialize(value=run_inputs)
    def start_first_run(self, value: Any) -> None:
        self.start_flow(value, None)

    @rule(value=run_inputs, run_key=st.sampled_from([None, None, "r1"]))
    def start_flow(self, value: Any, run_key: str | None) -> None:
        run_id = self.call("django_pgflow.start_flow(%s, %s, %s)", FLOW, Jsonb(value), run_key)
        existing = [r for r in self.model.runs.values() if run_key and r.run_key == run_key]
        if existing:
            assert run_id == existing[0].id  # the same run key: that run, unchanged
            return
        assert run_id not in self.model.runs
        self.model.start_run(run_id, value, run_key)

    def pick_run(self, data: st.DataObject) -> MRun:
        return self.model.runs[data.draw(st.sampled_from(sorted(self.model.runs)), label="run")]

    @precondition(lambda self: self.model.runs)
    @rule(data=st.data())
    def cancel_run(self, data: st.DataObject) -> None:
        run = self.pick_run(data)
        cancelled = self.call("django_pgflow.cancel_run(%s)", run.id)
        assert cancelled is (run.status == "started")
        if cancelled:
            self.model.cancel_run(run)

    @precondition(lambda self: self.model.runs)
    @rule(data=st.data())
    def resume_run(self, data: st.DataObject) -> None:
        run = self.pick_run(data)
        resumed = self.call("django_pgflow.resume_run(%s)", run.id)
        assert resumed is (run.status in ("failed", "cancelled"))
        if resumed:
            self.model.resume_run(run)
            self.resumed.add(run.id)

    def prune_runs(self, status: str, older_than: float) -> None:
        count = self.call("django_pgflow.prune_runs(%s, %s, 1000)", status, older_than)
        gone = [
            r.id
            for r in self.model.runs.values()
            if r.status == status
            and r.finished_at is not None
            and r.finished_at <= self.model.now - secs(older_than)
        ]
        for run_id in gone:
            del self.model.runs[run_id]
        self.pruned_runs.update(gone)
        assert count == len(gone)

    # --- after every step ---

    def adopt_step_jobs(self, rows: list[dict[str, Any]] | None = None) -> None:
        """Learn the ids the database gave the step jobs the model expects."""
        if rows is None:
            rows = self.read("SELECT * FROM pgflow_job")[0]
        made = {
            (r["run_id"], r["step_slug"], r["task_index"]): r["id"]
            for r in rows
            if r["id"] not in self.model.jobs
        }
        fresh = {(j.run_id, j.step_slug, j.task_index): j for j in self.model.fresh}
        assert made.keys() == fresh.keys(), "step jobs made by the cascade"
        for key, job in fresh.items():
            job.id = made[key]
            self.model.jobs[job.id] = job
        self.model.fresh.clear()

    def adopt_backoffs(self, jobs: dict[int, dict[str, Any]]) -> None:
        """Learn the jittered run_at of each retry, after checking its bounds."""
        for job in self.model.jobs.values():
            if job.pending_run_at is not None:
                low, high = job.pending_run_at
                assert low <= jobs[job.id]["run_at"] <= high, "backoff outside its bounds"
                job.run_at, job.pending_run_at = jobs[job.id]["run_at"], None

    def adopt_starts(self, jobs: dict[int, dict[str, Any]]) -> None:
        """Learn when each gated claim recorded its start, after checking it
        is no earlier than the claim and that the wait is measured from run_at."""
        for job in self.model.jobs.values():
            if job.pending_start is None:
                continue
            row = jobs[job.id]
            assert row["started_at"] >= job.pending_start, f"job {job.id} started before its claim"
            waited = max(0.0, (row["started_at"] - job.run_at).total_seconds())
            assert row["waited"] is not None and abs(row["waited"] - waited) < 1e-3, "waited"
            job.started_at, job.waited, job.pending_start = row["started_at"], row["waited"], None

    @invariant()
    def gates_hold(self) -> None:
        """Capacities are never exceeded; a lock key runs one job at a time; a
        slot is held exactly while a started job needs it (none leak)."""
        started, slots = self.read(
            "SELECT id, queue, resources, lock_key, attempts FROM pgflow_job"
            " WHERE status = 'started'",
            "SELECT kind, name, job_id, attempt FROM pgflow_slot_state WHERE held",
        )
        need: Counter[tuple[str, str]] = Counter()
        for job in started:
            for name, amount in (job["resources"] or {}).items():
                need["resource", name] += amount
            if job["queue"] in CAPPED:
                need["queue", job["queue"]] += 1
        capacity = {("resource", k): v for k, v in RESOURCES.items()}
        capacity |= {("queue", k): v for k, v in CAPPED.items()}
        for pool, amount in need.items():
            assert amount <= capacity[pool], f"{pool} runs {amount}, over its capacity"
        held = Counter((s["kind"], s["name"]) for s in slots)
        assert held == need, f"held slots {dict(held)} but started jobs need {dict(need)}"
        attempts = {j["id"]: j["attempts"] for j in started}
        assert all(attempts.get(s["job_id"]) == s["attempt"] for s in slots), "a slot's holder"
        keys = Counter(j["lock_key"] for j in started if j["lock_key"] is not None)
        assert all(n == 1 for n in keys.values()), f"lock keys running twice: {keys}"

    def read(self, *queries: str) -> list[list[dict[str, Any]]]:
        """Rows of each query, all sent in one round trip."""
        with self.conn.cursor(row_factory=dict_row) as cursor:
            cursor.execute(";".join(queries))
            results = [cursor.fetchall()]
            while cursor.nextset():
                results.append(cursor.fetchall())
        assert len(results) == len(queries)
        return results

    @invariant()
    def database_matches_model_and_invariants(self) -> None:
        job_rows, workers, runs, steps, tasks = self.read(
            "SELECT * FROM pgflow_job ORDER BY id",
            "SELECT id, state, last_heartbeat, stopped_at FROM pgflow_worker",
            "SELECT * FROM pgflow_run ORDER BY id",
            "SELECT * FROM pgflow_step_state ORDER BY run_id, step_slug",
            "SELECT * FROM pgflow_step_task ORDER BY run_id, step_slug, task_index",
        )
        self.adopt_step_jobs(job_rows)
        jobs = {r["id"]: r for r in job_rows}
        self.adopt_backoffs(jobs)
        self.adopt_starts(jobs)
        self.check_jobs(jobs)
        self.compare_workers(workers)
        self.check_runs(jobs, self.run_snapshot(runs, steps, tasks))
        self.reopened.clear()
        self.pruned_jobs.clear()
        self.resumed.clear()
        self.pruned_runs.clear()

    def check_jobs(self, jobs: dict[int, dict[str, Any]]) -> None:
        for job_id, row in jobs.items():
            if row["status"] == "started":
                assert row["worker_id"] is not None and row["lease_expires_at"] is not None
            else:
                assert row["lease_expires_at"] is None, f"job {job_id} keeps a lease"
            if job_id in self.prev_jobs:
                assert row["attempts"] >= self.prev_jobs[job_id]["attempts"], "attempts decreased"
            accounted = [e["attempt"] for e in row["errors"]]
            assert accounted == sorted(set(accounted)), "an attempt accounted twice"
            assert all(0 < a <= row["attempts"] for a in accounted)
            observed = {
                **row,
                "errors": [(e["attempt"], e["error"], e["worker_id"]) for e in row["errors"]],
            }
            assert observed == self.model.jobs[job_id].row(), f"job {job_id}"
        assert jobs.keys() == self.model.jobs.keys()
        for job_id, before in self.prev_jobs.items():
            if before["status"] not in FINISHED:
                continue
            if job_id not in jobs:
                assert job_id in self.pruned_jobs, f"finished job {job_id} vanished"
            elif jobs[job_id] != before:
                assert job_id in self.reopened, f"finished job {job_id} changed"
                assert jobs[job_id]["status"] == "queued"
        self.prev_jobs = jobs

    def compare_workers(self, rows: list[dict[str, Any]]) -> None:
        live = {w.id: w for w in self.model.workers.values() if not w.deleted}
        assert {r["id"] for r in rows} == live.keys()
        for row in rows:
            worker = live[row["id"]]
            assert (row["state"], row["last_heartbeat"], row["stopped_at"]) == (
                worker.state,
                worker.last_heartbeat,
                worker.stopped_at,
            ), f"worker {row['id']}"

    @staticmethod
    def run_snapshot(runs: list[Any], steps: list[Any], tasks: list[Any]) -> dict[int, Any]:
        return {
            run["id"]: (
                run,
                [s for s in steps if s["run_id"] == run["id"]],
                [t for t in tasks if t["run_id"] == run["id"]],
            )
            for run in runs
        }

    @staticmethod
    def shift_run_snapshot(snapshot: Any, delta: timedelta) -> Any:
        run, steps, tasks = snapshot
        return (
            shifted(run, "pgflow_run", delta),
            [shifted(s, "pgflow_step_state", delta) for s in steps],
            [shifted(t, "pgflow_step_task", delta) for t in tasks],
        )

    def check_runs(self, jobs: dict[int, dict[str, Any]], snapshot: dict[int, Any]) -> None:
        assert snapshot.keys() == self.model.runs.keys()
        for run_id, (run, steps, tasks) in snapshot.items():
            self.compare_run(self.model.runs[run_id], run, steps, tasks)
            self.check_counters(run, steps, tasks)
            self.check_tasks_mirror_jobs(run, tasks, jobs)
        for run_id, before in self.prev_runs.items():
            if before[0]["status"] not in FINISHED:
                continue
            if run_id not in snapshot:
                assert run_id in self.pruned_runs, f"finished run {run_id} vanished"
            elif snapshot[run_id] != before:
                assert run_id in self.resumed, f"finished run {run_id} changed"
        self.prev_runs = snapshot

    @staticmethod
    def compare_run(model: MRun, run: dict[str, Any], steps: list[Any], tasks: list[Any]) -> None:
        error = run["error"] and (run["error"]["step"], run["error"]["error"])
        assert (run["status"], run["input"], run["output"], run["remaining_steps"]) == (
            model.status,
            model.input,
            model.output,
            model.remaining_steps,
        ), f"run {model.id}"
        assert (error, run["finished_at"], run["run_key"]) == (
            model.error,
            model.finished_at,
            model.run_key,
        ), f"run {model.id}"
        observed_steps = {
            s["step_slug"]: MStep(
                s["status"],
                s["remaining_deps"],
                s["remaining_tasks"],
                s["initial_tasks"],
                s["output"],
            )
            for s in steps
        }
        assert observed_steps == model.steps, f"steps of run {model.id}"
        observed_tasks = {
            (t["step_slug"], t["task_index"]): (
                t["status"],
                t["job_id"],
                t["attempts"],
                t["output"],
            )
            for t in tasks
        }
        expected_tasks = {
            k: (t.status, t.job.id, t.attempts, t.output) for k, t in model.tasks.items()
        }
        assert observed_tasks == expected_tasks, f"tasks of run {model.id}"

    @staticmethod
    def check_counters(run: dict[str, Any], steps: list[Any], tasks: list[Any]) -> None:
        done = {s["step_slug"] for s in steps if s["status"] in ("completed", "skipped")}
        assert run["remaining_steps"] == len(steps) - len(done), f"run {run['id']} remaining_steps"
        for step in steps:
            mine = [t for t in tasks if t["step_slug"] == step["step_slug"]]
            if step["status"] == "created":
                waiting = [d for d in DEPS[step["step_slug"]] if d not in done]
                assert step["remaining_deps"] == len(waiting), f"{step['step_slug']} remaining_deps"
            if step["status"] == "started":
                assert step["initial_tasks"] == len(mine)
                open_tasks = [t for t in mine if t["status"] != "completed"]
                assert step["remaining_tasks"] == len(open_tasks), (
                    f"{step['step_slug']} remaining_tasks"
                )
            if step["status"] == "completed":
                assert step["remaining_tasks"] == 0 and step["initial_tasks"] == len(mine)
                assert all(t["status"] == "completed" for t in mine)

    @staticmethod
    def check_tasks_mirror_jobs(
        run: dict[str, Any], tasks: list[Any], jobs: dict[int, dict[str, Any]]
    ) -> None:
        for task in tasks:
            job = jobs.get(task["job_id"])
            if task["status"] in ACTIVE:
                assert job is not None and (job["status"], job["attempts"]) == (
                    task["status"],
                    task["attempts"],
                ), f"task {task['step_slug']}/{task['task_index']} of run {run['id']}"
            elif job is not None:
                assert job["status"] in FINISHED
        active = [j for j in jobs.values() if j["run_id"] == run["id"] and j["status"] in ACTIVE]
        if run["status"] == "started":
            assert active, f"run {run['id']} is started but nothing can move it on"
        else:
            assert not active, f"{run['status']} run {run['id']} still has active jobs"
        task_jobs = {t["job_id"] for t in tasks if t["status"] in ACTIVE}
        assert {j["id"] for j in active} == task_jobs


# A failure shrinks for up to five minutes (Hypothesis' own limit) on top of the run.
@pytest.mark.timeout(1200)
@pytest.mark.django_db(transaction=True)
def test_sql_core_state_machine() -> None:
    define_flow()
    with connect("state-machine") as conn, connect("state-machine-2") as conn2:
        conn.execute("SET lock_timeout = '5s'")
        conn2.autocommit = False
        PgflowMachine.conn, PgflowMachine.conn2 = conn, conn2
        run_state_machine_as_test(
            PgflowMachine,
            settings=settings(
                max_examples=1000 if SOAK else 100,
                stateful_step_count=100 if SOAK else 50,
                deadline=None,
                suppress_health_check=[HealthCheck.too_slow],
            ),
        )


@pytest.mark.django_db(transaction=True)
def test_a_gated_claim_never_waits_for_another_claims_transaction() -> None:
    """Found by the machine: every gate is taken FOR UPDATE SKIP LOCKED, so one
    claim must not wait for another. Here claim A gives a free GPU slot that
    still names job 1 (from its released attempt) to job 3 and keeps its
    transaction open; claim B turns job 1 down (the TPU is busy) and must not
    wait to clear the slots that name it."""
    with connect("gated-a") as a, connect("gated-b") as b:
        a.execute("SELECT django_pgflow.sync_limits(%s, '{}')", [Jsonb({"gpu": 1, "tpu": 1})])
        (wid,) = a.execute("SELECT django_pgflow.register_worker('h', 1, '[]', 4)").fetchall()[0]
        enqueue = (
            "SELECT (django_pgflow.enqueue('q', 'sm.task', p_priority => %s, p_resources => %s)).id"
        )
        claim = "SELECT id FROM django_pgflow.claim(%s, NULL, %s, 10)"
        ((first,),) = a.execute(enqueue, [0, Jsonb({"gpu": 1, "tpu": 1})]).fetchall()
        assert a.execute(claim, [wid, 1]).fetchall() == [(first,)]
        a.execute("SELECT django_pgflow.release(%s)", [wid])  # its slots still name it
        a.execute(enqueue, [9, Jsonb({"tpu": 1})])
        assert len(a.execute(claim, [wid, 1]).fetchall()) == 1  # the TPU is taken
        ((third,),) = a.execute(enqueue, [5, Jsonb({"gpu": 1})]).fetchall()
        b.execute("SET lock_timeout = '5s'")
        with a.transaction():
            assert a.execute(claim, [wid, 1]).fetchall() == [(third,)]
            try:
                taken = b.execute(claim, [wid, 5]).fetchall()
            except psycopg.errors.LockNotAvailable as error:
                raise AssertionError(f"claim B waited for claim A: {error.diag.context}") from None
        assert taken == []  # job 1 waits for the TPU; the GPU is job 3's
