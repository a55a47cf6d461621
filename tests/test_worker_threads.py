"""The worker loop, run for real in threads of the test process against the
test database: ordering, delays, retries, timeouts, fencing, LISTEN/NOTIFY
wake-ups and reconnects. Every fact is read back from database rows."""

from __future__ import annotations

import datetime as dt
import logging
import time

import pytest
from django.db import connection, transaction
from django.utils import timezone

from django_pgflow import enqueue_many
from django_pgflow.models import Job
from django_pgflow.models import Worker as WorkerRow
from testproject.example.models import Execution
from testproject.example.tasks import always_fails, flaky, noop, record, sleeper

from .conftest import sql_value, wait_for

pytestmark = pytest.mark.django_db(transaction=True)

OTHER_CONNECTIONS = (
    "SELECT count(*) FROM pg_stat_activity "
    "WHERE datname = current_database() AND pid <> pg_backend_pid()"
)
TERMINATE_WORKER_CONNECTIONS = (
    "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
    "WHERE application_name LIKE 'pgflow%%' AND datname = current_database()"
)


def finished(*jobs: Job) -> bool:
    return all(job.refresh().is_finished for job in jobs)


def test_priority_then_run_at_orders_the_work(worker_thread):
    now = timezone.now()
    # (key, priority, run_at age in seconds), enqueued in a scrambled order.
    plan = [
        ("low-old", -1, 400),
        ("p0-mid", 0, 200),
        ("p5-new", 5, 100),
        ("p0-old", 0, 300),
        ("p5-old", 5, 200),
        ("p9", 9, 10),
        ("p0-new", 0, 100),
    ]
    jobs = [
        record.using(priority=p, run_at=now - dt.timedelta(seconds=age)).enqueue(key)
        for key, p, age in plan
    ]
    w = worker_thread(concurrency=1)
    wait_for(lambda: finished(*jobs), 20)

    expected = [key for key, _, _ in sorted(plan, key=lambda x: (-x[1], -x[2]))]
    ran = list(Execution.objects.order_by("id").values_list("key", flat=True))
    assert ran == expected
    by_key = {job.refresh().args[0]: job for job in jobs}
    started = [by_key[key].started_at for key in expected]
    assert started == sorted(started)  # the database agrees with the execution log
    assert all(job.status == "completed" and job.attempts == 1 for job in jobs)
    w.stop()


def test_delayed_job_never_starts_early(worker_thread):
    w = worker_thread(concurrency=1)
    delayed = record.using(delay=1.0, priority=10).enqueue("delayed")
    ready = record.using(priority=0).enqueue("ready")
    wait_for(lambda: finished(delayed, ready), 20)

    delayed.refresh()
    assert delayed.status == "completed"
    # Database time on both sides (invariant 4).
    assert delayed.started_at >= delayed.run_at
    assert delayed.run_at - delayed.created_at >= dt.timedelta(seconds=0.99)
    # Its higher priority did not let it jump ahead while it was not due.
    assert list(Execution.objects.order_by("id").values_list("key", flat=True)) == [
        "ready",
        "delayed",
    ]
    w.stop()


def test_flaky_task_retries_then_completes_with_errors_recorded(worker_thread):
    w = worker_thread(concurrency=2)
    job = flaky.using(max_attempts=3).enqueue("f", failures=2)
    wait_for(lambda: finished(job), 20)

    job.refresh()
    assert job.status == "completed"
    assert job.attempts == 3
    assert job.failures == 2
    assert job.result == "ok after 3"
    assert [e["attempt"] for e in job.errors] == [1, 2]
    for n, error in enumerate(job.errors, start=1):
        assert error["error"] == "RuntimeError"
        assert error["message"] == f"flaky failure {n} of 2"
        assert "Traceback (most recent call last)" in error["traceback"]
        assert f"RuntimeError: flaky failure {n} of 2" in error["traceback"]
        assert error["worker_id"] == w.worker.worker_id
    attempts = Execution.objects.filter(job_id=job.pk).order_by("attempt")
    assert list(attempts.values_list("attempt", flat=True)) == [1, 2, 3]
    w.stop()


def test_always_failing_task_fails_after_max_attempts_with_every_error(worker_thread):
    w = worker_thread(concurrency=2)
    job = always_fails.using(max_attempts=4).enqueue("never")
    wait_for(lambda: finished(job), 20)

    job.refresh()
    assert job.status == "failed"
    assert job.attempts == 4
    assert job.failures == 4
    assert job.result is None
    assert job.finished_at is not None
    assert [e["attempt"] for e in job.errors] == [1, 2, 3, 4]
    for error in job.errors:
        assert error["error"] == "ValueError"
        assert error["message"] == "always fails (never)"
        assert "ValueError: always fails (never)" in error["traceback"]
    assert Execution.objects.filter(job_id=job.pk).count() == 4
    # Failed for good: it is not picked up again.
    w.stop()
    assert job.refresh().attempts == 4
    assert w.worker.stats["failed"] == 1
    assert w.worker.stats["retried"] == 3


def test_timeout_fails_and_retries_discards_late_result_and_frees_the_slot(worker_thread, caplog):
    caplog.set_level(logging.WARNING, logger="django_pgflow")
    slow = sleeper.using(timeout=0.5, max_attempts=2, retry_delay=0.05, priority=10).enqueue(
        "slow", 2.5
    )
    quick = record.enqueue("quick")
    w = worker_thread(concurrency=1)

    wait_for(lambda: finished(slow, quick), 20)
    slow.refresh()
    assert slow.status == "failed"
    assert slow.attempts == 2
    assert [(e["attempt"], e["error"]) for e in slow.errors] == [
        (1, "JobTimeoutError"),
        (2, "JobTimeoutError"),
    ]
    assert "timeout of 0.5s" in slow.errors[0]["message"]
    assert quick.refresh().status == "completed"

    # The abandoned bodies finish later; what they return is discarded.
    wait_for(
        lambda: Execution.objects.filter(job_id=slow.pk, finished_at__isnull=False).count() == 2,
        10,
    )
    # With one thread, the quick job ran while the timed-out body still slept.
    first = Execution.objects.get(job_id=slow.pk, attempt=1)
    assert Execution.objects.get(job_id=quick.pk).started_at < first.finished_at
    wait_for(lambda: "finished after it was given up on" in caplog.text, 5)
    slow.refresh()
    assert slow.status == "failed"
    assert slow.result is None
    assert len(slow.errors) == 2
    assert w.worker.stats["timed_out"] == 2
    assert w.worker.pool.abandoned == 2
    w.stop()


def test_late_report_with_a_stale_attempt_is_ignored(worker_thread):
    w = worker_thread(concurrency=1)
    job = record.enqueue("fenced")
    wait_for(lambda: finished(job), 10)
    job.refresh()
    before = (job.status, job.result, job.attempts, job.finished_at)

    # A worker still holding attempt 0 (or a replayed attempt 1) cannot write.
    assert (
        sql_value(
            "SELECT django_pgflow.complete(%s, %s, %s, %s::jsonb)",
            [job.worker_id, job.pk, 0, '"stale"'],
        )
        is False
    )
    assert (
        sql_value(
            "SELECT django_pgflow.complete(%s, %s, 1, %s::jsonb)",
            [job.worker_id, job.pk, '"again"'],
        )
        is False
    )
    assert (
        sql_value("SELECT django_pgflow.fail(%s, %s, 1, '{}'::jsonb)", [job.worker_id, job.pk])
        is None
    )
    job.refresh()
    assert (job.status, job.result, job.attempts, job.finished_at) == before
    w.stop()


def test_late_completion_after_the_lease_was_lost_is_ignored(worker_thread):
    # Worker A runs attempt 1; while it runs, the job is reaped (as if A's lease
    # had expired) and worker B completes attempt 2. A's report comes last.
    a = worker_thread(concurrency=1)
    job = record.using(timeout=30).enqueue("contested", sleep=1.5)
    wait_for(lambda: Execution.objects.filter(job_id=job.pk, attempt=1).exists(), 10)
    a.worker.request_stop()  # A claims nothing more, but finishes attempt 1
    # One transaction, so A's heartbeat cannot extend the lease in between.
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(
            "UPDATE pgflow_job SET lease_expires_at = now() - interval '1 second' WHERE id = %s",
            [job.pk],
        )
        cursor.execute("SELECT django_pgflow.reap(3600)")
        # Skip the retry backoff.
        cursor.execute("UPDATE pgflow_job SET run_at = now() WHERE id = %s", [job.pk])
    assert job.refresh().status == "queued"
    b = worker_thread(concurrency=1)
    wait_for(lambda: job.refresh().status == "completed", 10)
    assert job.attempts == 2
    assert job.worker_id == b.worker.worker_id
    finished_at = job.finished_at

    a.thread.join(15)  # A's attempt 1 finishes and reports: ignored.
    assert not a.thread.is_alive()
    assert a.worker.stats["late"] == 1
    assert a.worker.stats["completed"] == 0
    job.refresh()
    assert (job.status, job.attempts, job.worker_id, job.finished_at) == (
        "completed",
        2,
        b.worker.worker_id,
        finished_at,
    )
    assert [e["error"] for e in job.errors] == ["WorkerLostError"]
    assert Execution.objects.filter(job_id=job.pk, finished_at__isnull=False).count() == 2
    b.stop()


def test_idle_worker_starts_a_new_job_on_notify_not_on_poll(worker_thread):
    w = worker_thread(concurrency=1, poll_interval=5.0)
    wait_for(
        lambda: sql_value(
            "SELECT count(*) FROM pg_stat_activity WHERE application_name = 'pgflow listener' "
            "AND datname = current_database() AND query ILIKE 'LISTEN%%'"
        ),
        10,
    )
    for n in range(3):
        # Let the loop go back to its 5 s wait, then enqueue.
        wait_for(lambda: not w.worker.inflight and w.worker.outcomes.empty(), 5)
        time.sleep(0.3)  # setup, not an assertion: the next wake-up is a NOTIFY or a poll
        job = record.enqueue(f"fast-{n}")
        wait_for(lambda job=job: job.refresh().status == "completed", 10)
        assert job.started_at - job.created_at < dt.timedelta(seconds=1), n
    w.stop()


def test_terminated_connections_reconnect_and_work_completes_exactly_once(worker_thread):
    ids = enqueue_many([record.s(f"k{n}", sleep=0.02) for n in range(300)])
    w = worker_thread(concurrency=4)
    kills = 0
    for threshold in (30, 100, 170, 240):
        wait_for(lambda t=threshold: Execution.objects.count() >= t, 30, interval=0.01)
        kills += sql_value(TERMINATE_WORKER_CONNECTIONS)
        # Really mid-run: jobs still to finish (claimed ones count: a worker working
        # through a backlog of short jobs may have claimed all that is left).
        assert Job.objects.filter(pk__in=ids).exclude(status="completed").exists()
    assert kills >= 4
    wait_for(lambda: Job.objects.filter(pk__in=ids, status="completed").count() == 300, 60)

    assert w.worker.db.reconnects >= 1  # the claim/report connection really broke
    ran = sorted(Execution.objects.values_list("job_id", "attempt"))
    # Every job's body ran exactly once, as the attempt that completed it. (A claim
    # cut off mid-flight is handed back unrun: its attempt number stays spent.)
    assert ran == sorted(Job.objects.filter(pk__in=ids).values_list("id", "attempts"))
    w.stop()
    assert WorkerRow.objects.get(pk=w.worker.worker_id).state == "stopped"


def test_timeout_counts_from_start_not_from_claim_when_jobs_wait_for_a_thread(worker_thread):
    # One thread, three jobs claimed at once: two wait behind the first.
    first = sleeper.using(timeout=10, priority=5).enqueue("first", 1.0)
    stuck = sleeper.using(timeout=0.5, max_attempts=1).enqueue("stuck", 1.2)
    quick = record.using(timeout=0.5).enqueue("quick")
    w = worker_thread(concurrency=1, batch_size=3, poll_interval=5.0)
    wait_for(lambda: finished(first, stuck, quick), 20)

    # Waiting for a thread did not eat into the timeouts...
    assert (first.refresh().status, first.attempts) == ("completed", 1)
    assert (quick.refresh().status, quick.attempts, quick.errors) == ("completed", 1, [])
    # ...but running past it still fails the job, about 0.5 s after it started,
    # even though the worker's poll interval is 5 s.
    stuck.refresh()
    assert (stuck.status, [e["error"] for e in stuck.errors]) == ("failed", ["JobTimeoutError"])
    ran = Execution.objects.get(job_id=stuck.pk).started_at
    assert dt.timedelta(seconds=0.4) < stuck.finished_at - ran < dt.timedelta(seconds=2)
    # The quick job ran on the thread that replaced the stuck one.
    assert Execution.objects.get(job_id=quick.pk).started_at - ran > dt.timedelta(seconds=0.4)
    w.stop()
    wait_for(lambda: Execution.objects.get(job_id=stuck.pk).finished_at, 10)
    assert stuck.refresh().status == "failed"  # its late end changed nothing


# Connections opened since a moment: this test's worker's, not those of a task
# thread an earlier test gave up on (it keeps its connection until its code ends).
OPENED_SINCE = OTHER_CONNECTIONS + " AND backend_start >= %s"


def test_a_stopped_worker_leaves_no_connection_open(worker_thread):
    since = sql_value("SELECT clock_timestamp()")
    ids = enqueue_many([record.s(f"n{n}") for n in range(20)])
    w = worker_thread(concurrency=4)
    wait_for(lambda: Job.objects.filter(pk__in=ids, status="completed").count() == 20, 20)
    assert sql_value(OPENED_SINCE, [since]) > 0
    w.stop()
    # Claim, heartbeat and listener connections, and the task threads' own
    # Django connections (kept between jobs by CONN_MAX_AGE), all closed.
    wait_for(lambda: sql_value(OPENED_SINCE, [since]) == 0, 10)


def test_a_batch_larger_than_the_pool_runs_in_run_at_order(worker_thread):
    now = timezone.now()
    # Same priority; the later a job was enqueued, the earlier its run_at.
    jobs = [
        record.using(run_at=now - dt.timedelta(seconds=10 * n)).enqueue(f"b{n}") for n in range(4)
    ]
    w = worker_thread(concurrency=1, batch_size=4)
    wait_for(lambda: finished(*jobs), 20)
    ran = list(Execution.objects.order_by("id").values_list("key", flat=True))
    assert ran == ["b3", "b2", "b1", "b0"]
    w.stop()


@pytest.mark.django_db
def test_worker_connections_have_tcp_timeouts_unless_settings_set_them() -> None:
    from django.db import connections

    from django_pgflow.worker.connection import connect

    with connect("test") as conn:
        params = conn.info.get_parameters()
    assert (params["keepalives_idle"], params["tcp_user_timeout"]) == ("10", "30000")

    options = connections["default"].settings_dict.setdefault("OPTIONS", {})
    options["keepalives_idle"] = 60
    try:
        with connect("test") as conn:
            assert conn.info.get_parameters()["keepalives_idle"] == "60"
    finally:
        del options["keepalives_idle"]


def test_the_default_claim_grows_with_a_backlog_and_shrinks_after_it(worker_thread):
    # No CLAIM_BATCH_SIZE: the claim starts at 4 per thread and doubles while
    # claims come back full, up to 16 per thread; then the backlog is gone.
    jobs = enqueue_many([noop.s() for _ in range(5000)])
    w = worker_thread(concurrency=4)
    grown = wait_for(
        lambda: (
            w.worker._auto_batch == 64
            or not Job.objects.filter(pk__in=jobs, status="queued").exists()
        )
    )
    assert grown and w.worker._auto_batch == 64, "the claim never grew to 16 per thread"
    wait_for(lambda: not Job.objects.filter(pk__in=jobs).exclude(status="completed").exists())
    for n in range(4):  # claims that come back short, one job each
        job = record.enqueue(f"after-{n}")
        wait_for(lambda job=job: job.refresh().status == "completed")
    assert w.worker._auto_batch == 16
