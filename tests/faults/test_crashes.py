"""Worker processes that die (kill -9) or freeze (SIGSTOP) in the middle of work."""

from __future__ import annotations

import os
import random
import signal
import time

import pytest

from django_pgflow.models import Job
from django_pgflow.models import Worker as WorkerRow
from testproject.example.models import Execution
from testproject.example.tasks import record

from ..conftest import execution_of, registered, stop, wait_for
from .accounting import Workload, account, check, failures, in_flight

# --soak sizes run for many minutes.
pytestmark = pytest.mark.timeout(1800)

WORKERS = 3
CONCURRENCY = "4"


def test_kill_9_random_workers_every_few_seconds(fault_db, size, report):
    """Jobs and map-step runs under a steady rain of kill -9: every one completes, once."""
    rng = random.Random(os.getpid())
    workload = Workload("kill", sleep=0.03)
    waves = workload.in_waves(size.jobs, size.runs, waves=5)
    next(waves)
    for _ in range(WORKERS):
        fault_db.worker("--concurrency", CONCURRENCY)
    kills = struck = 0
    began = time.monotonic()
    deadline = began + (1800 if size.soak else 150)
    while time.monotonic() < deadline:
        next(waves, None)
        time.sleep(rng.uniform(0.5, 2.0))
        if workload.finished():
            break
        victim = rng.choice(fault_db.alive())
        struck += in_flight(victim.pid)
        os.kill(victim.pid, signal.SIGKILL)
        assert victim.wait(10) == -signal.SIGKILL
        kills += 1
        fault_db.worker("--concurrency", CONCURRENCY)
    settled = workload.wait(60)
    elapsed = time.monotonic() - began
    stop(*registered(fault_db.alive()))

    books = account(workload)
    report(kills=kills, in_flight_in_victims=struck, seconds=round(elapsed, 1), **books)
    assert settled, f"stuck: {books} {failures(workload)}"
    check(books, failures(workload))
    assert kills >= 3, "the work finished before the faults began"
    assert books["repeated_executions"] > 0, "no kill landed mid-job"


def test_frozen_worker_loses_its_jobs_and_its_late_reports_are_ignored(fault_db, report):
    """The fault-suite form of test_worker_processes' SIGSTOP test: under load, with a
    map-step run going, and the frozen worker carrying on once it is resumed."""
    frozen = fault_db.worker("--concurrency", "2")
    long = [
        record.using(timeout=30, priority=10, retry_delay=0.1).enqueue(f"long-{n}", sleep=2.0)
        for n in range(2)
    ]
    for job in long:
        assert execution_of(job, 1).pid == frozen.pid
    os.kill(frozen.pid, signal.SIGSTOP)  # mid-job, heartbeats included
    try:
        workload = Workload("stop")
        workload.add(jobs=300, runs=4)
        others = [fault_db.worker("--concurrency", CONCURRENCY) for _ in range(2)]
        wait_for(lambda: all(j.refresh().status == "completed" for j in long), 60)
        assert workload.wait(90), account(workload)
        won = {j.pk: (j.attempts, j.worker_id, j.result, j.finished_at) for j in long}
    finally:
        os.kill(frozen.pid, signal.SIGCONT)

    # Resumed, its bodies finish and it reports attempt 1 of each: refused, logged.
    for job in long:
        wait_for(
            lambda job=job: f"late completion of job {job.pk} attempt 1 ignored" in frozen.output(),
            30,
        )
    frozen_row = WorkerRow.objects.get(pid=frozen.pid)
    for job in long:
        job.refresh()
        assert (job.attempts, job.worker_id, job.result, job.finished_at) == won[job.pk]
        assert job.attempts == 2 and job.worker_id != frozen_row.pk
        assert execution_of(job, 2).pid in {w.pid for w in others}
        assert Execution.objects.get(job_id=job.pk, attempt=1).finished_at is not None
        assert [e["error"] for e in job.errors] == ["WorkerLostError"]

    # It carries on: alone now, it completes new work.
    stop(*others)
    wait_for(lambda: WorkerRow.objects.get(pk=frozen_row.pk).state == "running", 10)
    after = [record.enqueue(f"after-{n}") for n in range(5)]
    wait_for(lambda: all(j.refresh().status == "completed" for j in after), 30)
    assert {j.worker_id for j in after} == {frozen_row.pk}
    stop(frozen)

    books = account(workload)
    late = frozen.output().count("late completion of job")
    report(late_reports_ignored=late, **books)
    check(books)
    assert Job.objects.filter(pk__in=[j.pk for j in long], status="completed").count() == 2
