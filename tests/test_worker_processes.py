"""``manage.py runworkers`` as real processes against the test database:
draining in parallel, kill -9, SIGSTOP, signals, reconnects, NOTIFY latency,
timeouts under the supervisor and --burst. Every fact is read back from rows
the database or the tasks themselves wrote; sleeps are never assertions."""

from __future__ import annotations

import datetime as dt
import os
import signal
import time
from collections import Counter

import pytest

from django_pgflow import enqueue_many
from django_pgflow.models import Job
from django_pgflow.models import Worker as WorkerRow
from testproject.example.models import Execution
from testproject.example.tasks import flaky, record, sleeper

from .conftest import all_done, execution_of, running_workers, sql_value, stop, wait_for

pytestmark = pytest.mark.django_db(transaction=True)

# Fast failure detection: a lease is timeout + 1 s, a silent worker is dead after 3 s.
FAST = {"LEASE_MARGIN": 1, "WORKER_DEAD_AFTER": 3, "HEARTBEAT_INTERVAL": 0.3}

TERMINATE_WORKER_CONNECTIONS = (
    "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
    "WHERE application_name LIKE 'pgflow%%' AND datname = current_database()"
)


def test_four_processes_drain_5000_jobs_each_exactly_once(worker_process):
    ids = enqueue_many([record.s(f"j{n}") for n in range(5000)])
    assert len(set(ids)) == 5000
    sup = worker_process("--processes", "4", "--concurrency", "8", "--burst")
    assert sup.wait(150) == 0, sup.output()

    # Every job completed, on its first attempt.
    jobs = Job.objects.filter(pk__in=ids)
    assert jobs.filter(status="completed", attempts=1).count() == 5000
    assert sorted(jobs.values_list("result", flat=True)) == sorted(f"j{n}" for n in range(5000))
    # The task bodies' own log: each job ran exactly once.
    ran = Counter(Execution.objects.filter(task="record").values_list("job_id", flat=True))
    assert set(ran) == set(ids)
    assert set(ran.values()) == {1}
    # By four worker processes, each of which stopped cleanly.
    workers = list(WorkerRow.objects.all())
    assert len(workers) == 4
    assert len({w.pid for w in workers}) == 4
    assert {w.state for w in workers} == {"stopped"}
    pids = set(Execution.objects.values_list("pid", flat=True))
    assert pids <= {w.pid for w in workers}
    assert len(pids) >= 2, "the work was not shared between processes"


def test_kill_9_mid_job_another_worker_completes_it(worker_process):
    a = worker_process("--concurrency", "3", overrides=FAST)
    long = record.using(timeout=5, priority=10, retry_delay=0.1).enqueue("long", sleep=2.0)
    short = enqueue_many([record.using(retry_delay=0.1).s(f"s{n}", sleep=0.3) for n in range(12)])
    first = execution_of(long, 1)
    assert first.pid == a.pid
    os.kill(a.pid, signal.SIGKILL)  # mid-job: the body sleeps 2 s
    assert a.wait(10) == -signal.SIGKILL
    dead = WorkerRow.objects.get(pid=a.pid)
    assert dead.state == "running"  # it never said goodbye
    held = set(Job.objects.filter(status="started", worker_id=dead.pk).values_list("id", flat=True))
    assert long.pk in held

    b = worker_process("--concurrency", "3", overrides=FAST)
    everything = [long.pk, *short]
    wait_for(lambda: all_done(everything), 40)
    survivor = WorkerRow.objects.exclude(pk=dead.pk).get()

    # Nothing lost: every job completed, the ones A held after a reported failure.
    for job in Job.objects.filter(pk__in=everything):
        assert job.status == "completed", job
        last = Execution.objects.get(job_id=job.pk, attempt=job.attempts)
        assert last.finished_at is not None
        if job.pk in held:
            assert job.attempts == 2
            assert job.worker_id == survivor.pk
            assert last.pid == b.pid
            assert [e["error"] for e in job.errors] == ["WorkerLostError"]
            assert f"worker {dead.pk} lost job {job.pk}" in job.errors[0]["message"]
        else:
            assert job.attempts == 1
            assert job.errors == []
    long.refresh()
    assert Execution.objects.get(job_id=long.pk, attempt=1).finished_at is None
    stop(b)


def test_late_completion_from_a_worker_that_lost_its_lease_is_ignored(worker_process):
    a = worker_process("--concurrency", "1", overrides=FAST)
    job = record.using(timeout=30, retry_delay=0.1).enqueue("contested", sleep=1.0)
    assert execution_of(job, 1).pid == a.pid
    os.kill(a.pid, signal.SIGSTOP)  # frozen mid-job, heartbeats included
    try:
        b = worker_process("--concurrency", "1", overrides=FAST)
        wait_for(lambda: job.refresh().status == "completed", 30)
        survivor = WorkerRow.objects.exclude(pid=a.pid).get()
        assert (job.attempts, job.worker_id) == (2, survivor.pk)
        assert execution_of(job, 2).pid == b.pid
        assert [e["error"] for e in job.errors] == ["WorkerLostError"]
        won = (job.status, job.attempts, job.worker_id, job.result, job.finished_at, job.errors)
    finally:
        os.kill(a.pid, signal.SIGCONT)

    # A wakes up, its body finishes, it reports attempt 1: refused, logged.
    wait_for(lambda: f"late completion of job {job.pk} attempt 1 ignored" in a.output(), 20)
    assert Execution.objects.get(job_id=job.pk, attempt=1).finished_at is not None
    job.refresh()
    assert (job.status, job.attempts, job.worker_id, job.result, job.finished_at, job.errors) == won
    stop(a, b)


def test_sigterm_lets_a_running_job_finish_within_the_shutdown_timeout(worker_process):
    w = worker_process("--concurrency", "1", "--shutdown-timeout", "20")
    job = sleeper.enqueue("finish-me", 1.5)
    execution_of(job, 1)
    waiting = record.enqueue("never-claimed")
    w.signal(signal.SIGTERM)
    assert w.wait(20) == 0, w.output()

    job.refresh()
    assert (job.status, job.attempts, job.result) == ("completed", 1, "finish-me")
    waiting.refresh()
    assert (waiting.status, waiting.attempts) == ("queued", 0)  # nothing claimed after SIGTERM
    row = WorkerRow.objects.get(pid=w.pid)
    assert row.state == "stopped" and row.stopped_at is not None


def test_sigterm_hands_back_claimed_jobs_no_thread_has_started(worker_process):
    w = worker_process("--concurrency", "1", "--batch-size", "3", "--shutdown-timeout", "20")
    job = sleeper.using(priority=5).enqueue("running", 1.5)
    waiting = [record.enqueue(f"waiting-{n}") for n in range(2)]
    execution_of(job, 1)
    wait_for(lambda: all(j.refresh().status == "started" for j in waiting), 10)
    w.signal(signal.SIGTERM)
    assert w.wait(20) == 0, w.output()

    assert (job.refresh().status, job.result) == ("completed", "running")
    for j in waiting:  # handed back at once, unrun, no failure counted
        j.refresh()
        assert (j.status, j.worker_id, j.failures, j.errors) == ("queued", None, 0, [])
    assert not Execution.objects.filter(key__startswith="waiting").exists()


def test_sigterm_hands_back_a_job_longer_than_the_shutdown_timeout(worker_process):
    w = worker_process("--concurrency", "1", "--shutdown-timeout", "0.5")
    job = sleeper.enqueue("too-long", 60)
    execution_of(job, 1)
    started = time.monotonic()
    w.signal(signal.SIGTERM)
    assert w.wait(15) == 0, w.output()
    assert time.monotonic() - started < 10  # it did not wait for the 60 s body

    job.refresh()
    assert job.status == "queued"
    assert job.worker_id is None and job.lease_expires_at is None
    assert (job.attempts, job.failures, job.errors) == (1, 0, [])  # handed back, not failed
    assert WorkerRow.objects.get(pid=w.pid).state == "stopped"


def test_second_signal_stops_at_once(worker_process):
    w = worker_process("--concurrency", "1", "--shutdown-timeout", "120")
    job = sleeper.enqueue("interrupted", 60)
    execution_of(job, 1)
    w.signal(signal.SIGTERM)
    wait_for(lambda: "finishing running jobs" in w.output(), 10)
    assert w.proc.poll() is None  # still waiting for the job
    w.signal(signal.SIGINT)
    assert w.wait(10) == 0, w.output()

    job.refresh()
    assert (job.status, job.worker_id, job.failures) == ("queued", None, 0)
    assert WorkerRow.objects.get(pid=w.pid).state == "stopped"


def test_terminated_connections_reconnect_and_every_job_completes_once(worker_process):
    ids = enqueue_many([record.s(f"c{n}", sleep=0.02) for n in range(400)])
    workers = [worker_process("--concurrency", "4") for _ in range(2)]
    running_workers(2)
    for threshold in (40, 150, 260):
        wait_for(lambda t=threshold: Execution.objects.count() >= t, 60, interval=0.01)
        assert sql_value(TERMINATE_WORKER_CONNECTIONS) >= 2
        # Really mid-run: jobs still to finish (claimed ones count: a worker working
        # through a backlog of short jobs may have claimed all that is left).
        assert Job.objects.filter(pk__in=ids).exclude(status="completed").exists()
    wait_for(lambda: Job.objects.filter(pk__in=ids, status="completed").count() == 400, 60)

    ran = sorted(Execution.objects.values_list("job_id", "attempt"))
    assert ran == sorted(Job.objects.filter(pk__in=ids).values_list("id", "attempts"))
    assert any("connection lost" in w.output() for w in workers)
    stop(*workers)
    assert set(WorkerRow.objects.values_list("state", flat=True)) == {"stopped"}


def test_idle_worker_starts_a_new_job_on_notify_within_a_second(worker_process):
    w = worker_process("--concurrency", "1", "--poll-interval", "5")
    running_workers(1)
    wait_for(
        lambda: sql_value(
            "SELECT count(*) FROM pg_stat_activity WHERE application_name = 'pgflow listener' "
            "AND datname = current_database() AND query ILIKE 'LISTEN%%'"
        ),
        20,
    )
    for n in range(2):
        time.sleep(0.5)  # setup, not an assertion: let the worker settle into its 5 s wait
        job = record.enqueue(f"notify-{n}")
        wait_for(lambda job=job: job.refresh().status == "completed", 10)
        assert job.started_at - job.created_at < dt.timedelta(seconds=1), n
    stop(w)


def test_supervised_child_exits_3_on_a_timeout_and_is_restarted(worker_process):
    sup = worker_process("--processes", "2", "--concurrency", "1", overrides=FAST)
    first_pids = {w.pid for w in running_workers(2)}
    job = sleeper.using(timeout=0.5, max_attempts=1).enqueue("stuck", 5)
    wait_for(lambda: job.refresh().status == "failed", 20)
    assert [e["error"] for e in job.errors] == ["JobTimeoutError"]
    victim = execution_of(job, 1).pid
    assert victim in first_pids

    # The child that held the stuck thread stops cleanly with exit code 3...
    wait_for(lambda: WorkerRow.objects.get(pid=victim).state == "stopped", 10)
    wait_for(lambda: f"worker process {victim} exited with 3; restarting" in sup.output(), 10)
    # ...and the supervisor starts a replacement, which works.
    replacement = wait_for(
        lambda: WorkerRow.objects.filter(state="running").exclude(pid__in=first_pids).first(), 20
    )
    assert sup.proc.poll() is None
    after = record.enqueue("after-restart")
    wait_for(lambda: after.refresh().status == "completed", 20)
    assert replacement.pid != victim
    assert job.refresh().status == "failed"  # the stuck body's late end changed nothing
    stop(sup)


def test_supervisor_restarts_a_child_killed_with_sigkill(worker_process):
    sup = worker_process("--processes", "2", "--concurrency", "2", overrides=FAST)
    first = running_workers(2)
    victim = first[0].pid
    os.kill(victim, signal.SIGKILL)
    replacement = wait_for(
        lambda: (
            WorkerRow.objects.filter(state="running")
            .exclude(pid__in=[w.pid for w in first])
            .first()
        ),
        20,
    )
    assert f"worker process {victim} exited with -9; restarting" in sup.output()
    ids = enqueue_many([record.s(f"r{n}") for n in range(20)])
    wait_for(lambda: all_done(ids), 20)
    assert Job.objects.filter(pk__in=ids, status="completed").count() == 20
    pids = set(Execution.objects.values_list("pid", flat=True))
    assert victim not in pids and pids <= {first[1].pid, replacement.pid}
    stop(sup)
    # Both live children stopped cleanly; the killed one never said goodbye.
    assert WorkerRow.objects.get(pid=first[1].pid).state == "stopped"
    assert WorkerRow.objects.get(pid=replacement.pid).state == "stopped"


def test_burst_exits_0_once_nothing_is_ready_or_running(worker_process):
    ids = enqueue_many([record.s(f"b{n}", sleep=0.05) for n in range(10)])
    retrying = flaky.using(max_attempts=3).enqueue("b-flaky", failures=2)
    later = record.using(delay=3600).enqueue("b-later")
    w = worker_process("--burst", "--concurrency", "2")
    assert w.wait(30) == 0, w.output()

    assert Job.objects.filter(pk__in=ids, status="completed").count() == 10
    retrying.refresh()  # waiting for a retry counts as pending: it ran to the end
    assert (retrying.status, retrying.attempts) == ("completed", 3)
    later.refresh()  # a job that is not due yet does not keep a burst worker alive
    assert (later.status, later.attempts) == ("queued", 0)
    assert WorkerRow.objects.get(pid=w.pid).state == "stopped"


def test_burst_under_the_supervisor_exits_0_without_restarts(worker_process):
    ids = enqueue_many([record.s(f"sb{n}") for n in range(30)])
    sup = worker_process("--processes", "2", "--concurrency", "2", "--burst")
    assert sup.wait(30) == 0, sup.output()
    assert Job.objects.filter(pk__in=ids, status="completed").count() == 30
    assert "restarting" not in sup.output()
    workers = list(WorkerRow.objects.all())
    assert len(workers) == 2 and {w.state for w in workers} == {"stopped"}
