"""When is a worker dead? Only when it is silent past WORKER_DEAD_AFTER *and* none
of its connections holds its liveness lock (keep_alive). A heartbeat thread that
waits for the CPU on a busy machine must not cost a live worker its jobs; a
killed process, whose connections die with it, is reaped as before. And a live
worker is stopped by itself alone, never by another session that names it."""

from __future__ import annotations

import re
import signal

import psycopg
import pytest
from django.db import connection

from django_pgflow import enqueue_many
from django_pgflow.models import Job
from django_pgflow.models import Worker as WorkerRow
from django_pgflow.worker.connection import connection_kwargs
from testproject.example.models import Execution
from testproject.example.tasks import crash_worker, record, sleeper

from .conftest import all_done, execution_of, registered, wait_for

pytestmark = pytest.mark.django_db(transaction=True)

# What a heartbeat thread starved of CPU looks like to the database: silent for
# twice WORKER_DEAD_AFTER (the reaps below use 60 s), not five times (frozen).
SILENT_TWO_MINUTES = (
    "UPDATE pgflow_worker SET last_heartbeat = now() - interval '2 minutes' WHERE id = %s"
)


def silence(worker_id: int) -> None:
    with connection.cursor() as cursor:
        cursor.execute(SILENT_TWO_MINUTES, [worker_id])


def job_row(job_id: int) -> tuple[str, int, int]:
    with connection.cursor() as cursor:
        cursor.execute("SELECT status, attempts, failures FROM pgflow_job WHERE id = %s", [job_id])
        row = cursor.fetchone()
    assert row is not None
    return row


def reap_while_started(job_id: int) -> tuple[int, str]:
    """reap(60 s), and the job's status in the same snapshot, as the reap saw it."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT (SELECT status FROM pgflow_job WHERE id = %s), django_pgflow.reap(60)",
            [job_id],
        )
        status, reaped = cursor.fetchone()
    return reaped, status


def sessions(worker_id: int) -> tuple[bool, bool]:
    with connection.cursor() as cursor:
        cursor.execute("SELECT own, others FROM django_pgflow.worker_sessions(%s)", [worker_id])
        return cursor.fetchone()


def test_a_live_worker_whose_heartbeats_are_late_keeps_its_jobs(worker_thread):
    # Its heartbeat thread never beats during the test: as if it waited for the CPU.
    w = worker_thread(heartbeat_interval=3600, dead_after=1)
    job = sleeper.enqueue(key="starved", seconds=5)
    execution_of(job, 1)
    wid = w.worker.worker_id
    assert sessions(wid) == (False, True)  # its connections hold the lock, not ours

    silence(wid)
    reaped, status = reap_while_started(job.pk)
    assert (reaped, status) == (0, "started")
    assert WorkerRow.objects.get(pk=wid).state == "running"

    wait_for(lambda: job_row(job.pk)[0] == "completed")
    assert job_row(job.pk) == ("completed", 1, 0)


def test_a_frozen_worker_is_reaped_when_silent_five_times_as_long(worker_thread):
    # A SIGSTOPped process keeps its connections (and lock) but never beats again.
    w = worker_thread(heartbeat_interval=3600)
    job = sleeper.enqueue(key="frozen", seconds=5)
    execution_of(job, 1)
    with connection.cursor() as cursor:
        cursor.execute(
            "UPDATE pgflow_worker SET last_heartbeat = now() - interval '301 seconds'"
            " WHERE id = %s",
            [w.worker.worker_id],
        )
    assert reap_while_started(job.pk) == (1, "started")
    assert job_row(job.pk)[2] == 1
    # Its retry runs on the same worker; no thread is left behind for later tests.
    wait_for(lambda: job_row(job.pk)[0] == "completed", 60)


def test_a_silent_worker_without_a_live_session_is_reaped():
    # The same silence, from a worker whose connections are gone (registered
    # here, holding no lock): that one is lost, and its job fails once.
    job = record.enqueue(key="orphan")
    with connection.cursor() as cursor:
        cursor.execute("SELECT django_pgflow.register_worker('gone', 1, '[]', 1)")
        (wid,) = cursor.fetchone()
        cursor.execute("SELECT count(*) FROM django_pgflow.claim(%s, NULL, 10, 30)", [wid])
        assert cursor.fetchone() == (1,)
    silence(wid)
    assert reap_while_started(job.pk) == (1, "started")
    assert job_row(job.pk)[2] == 1
    assert WorkerRow.objects.get(pk=wid).state == "lost"


def test_a_killed_worker_process_loses_its_lock_and_is_reaped(worker_process):
    proc = worker_process("--concurrency", "1", overrides={"HEARTBEAT_INTERVAL": 3600})
    registered([proc])
    job = sleeper.enqueue(key="killed", seconds=120)
    execution_of(job, 1)
    wid = Job.objects.get(pk=job.pk).worker_id
    assert sessions(wid)[1], "the worker process holds no liveness lock"

    proc.signal(signal.SIGKILL)
    assert proc.wait(10) == -signal.SIGKILL
    # Its backends end once they see the closed sockets: then the lock is gone.
    wait_for(lambda: not sessions(wid)[1])
    silence(wid)
    assert reap_while_started(job.pk) == (1, "started")
    status, attempts, failures = job_row(job.pk)
    assert (status, attempts, failures) == ("queued", 1, 1)


def test_stop_worker_from_another_session_is_refused_and_the_worker_carries_on(worker_thread):
    w = worker_thread()
    wid = w.worker.worker_id
    refused = pytest.raises(psycopg.errors.ObjectInUse, match="only it may stop itself")
    with psycopg.connect(**connection_kwargs(), autocommit=True) as other, refused:
        other.execute("SELECT django_pgflow.stop_worker(%s)", [wid])
    assert WorkerRow.objects.get(pk=wid).state == "running"

    job = record.enqueue(key="after the refusal")
    wait_for(lambda: job_row(job.pk)[0] == "completed")

    w.stop()  # the worker stops itself, from its own session
    assert WorkerRow.objects.get(pk=wid).state == "stopped"


def test_a_crash_charges_the_job_that_ran_not_the_jobs_that_only_waited(worker_process):
    # One thread per process, ten jobs per claim: the poison runs first (its
    # priority) and the jobs claimed with it wait in the process it kills.
    poison = crash_worker.using(max_attempts=1, priority=10).enqueue("poison")
    waiting = enqueue_many([record.s(f"bystander-{n}") for n in range(9)])
    sup = worker_process("--processes", "2", "--concurrency", "1", "--batch-size", "10")

    wait_for(lambda: poison.refresh().status == "failed", 60)
    assert (poison.attempts, poison.failures) == (1, 1)
    assert "while running job" in poison.errors[0]["message"]
    wait_for(lambda: all_done(waiting), 60)

    # The jobs that waited in the dead process went back untouched: each ran
    # once, elsewhere, with no failure spent.
    first_pid = Execution.objects.get(task="crash_worker").pid
    said = re.search(
        rf"worker process {first_pid} exited with code 1: failed the 1 job\(s\) it had"
        r" started; handed back the (\d+) it held",
        sup.output(),
    )
    assert said, sup.output()
    rows = list(Job.objects.filter(pk__in=waiting).values_list("status", "attempts", "failures"))
    assert {(status, failures) for status, _, failures in rows} == {("completed", 0)}
    assert sum(attempts == 2 for _, attempts, _ in rows) == int(said.group(1)) >= 1
    ran = list(Execution.objects.filter(task="record").values_list("pid", flat=True))
    assert len(ran) == 9 and first_pid not in ran
    sup.signal(signal.SIGTERM)
    assert sup.wait(30) == 0, sup.output()
