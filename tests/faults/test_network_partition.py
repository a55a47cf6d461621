"""A worker on a second "host" (its own network namespace) is cut off mid-job."""

from __future__ import annotations

import time

import pytest
from django.db import connections

from django_pgflow.models import Job
from django_pgflow.models import Worker as WorkerRow
from testproject.example.models import Execution
from testproject.example.tasks import hold, record

from ..conftest import execution_of, registered, sql_value, stop, wait_for
from . import netns

# --soak sizes run for many minutes.
pytestmark = pytest.mark.timeout(1800)

# What a worker across a network should set (in DATABASE_URL or DATABASES OPTIONS):
# libpq timeouts, so a silent partition breaks its connections in seconds
# instead of after the kernel's retransmission limit (about 15 minutes).
PARTITION_OPTIONS = {
    "connect_timeout": 2,
    "keepalives": 1,
    "keepalives_idle": 1,
    "keepalives_interval": 1,
    "keepalives_count": 2,
    "tcp_user_timeout": 3000,
}
HOLD = 6.0  # seconds the contested job runs: past the cut worker's death sentence (3 s)


@pytest.fixture
def namespace(fault_db):
    reason = netns.unavailable()
    if reason:
        pytest.skip(f"no second host for the partition test: {reason}")
    ns = netns.Namespace().create()
    connections.close_all()
    try:
        fault_db.server.listen_also(ns.host_ip)
        yield ns
    finally:
        for w in fault_db.workers:
            if w.alive():
                w.kill_group()
        ns.destroy()
        connections.close_all()
        fault_db.server.listen_also()


def test_worker_cut_off_mid_job_is_taken_over_and_its_late_report_ignored(
    fault_db, namespace, report
):
    url = fault_db.url(namespace.host_ip, **PARTITION_OPTIONS)
    remote = fault_db.worker("--concurrency", "2", url=url, prefix=namespace.prefix)
    registered([remote])
    remote_row = WorkerRow.objects.get(pid=remote.pid)
    assert remote_row.hostname  # registered over the veth link
    job = hold.using(timeout=30, retry_delay=0.1).enqueue("contested", HOLD)
    assert execution_of(job, 1).pid == remote.pid

    namespace.cut()
    cut_at = time.monotonic()
    try:
        local = registered([fault_db.worker("--concurrency", "2")])[0]
        wait_for(lambda: job.refresh().status == "completed", 60)
        taken_over_after = time.monotonic() - cut_at
        won = (job.attempts, job.worker_id, job.result, job.finished_at)
        assert job.attempts == 2 and job.worker_id != remote_row.pk
        assert job.result["pid"] == local.pid
        assert [e["error"] for e in job.errors] == ["WorkerLostError"]
        # Its body ended while cut off (no database needed): its report is stuck.
        time.sleep(max(0.0, HOLD + 1 - (time.monotonic() - cut_at)))
        assert "late completion" not in remote.output()
    finally:
        namespace.restore()
    restored_at = time.monotonic()

    wait_for(lambda: f"late completion of job {job.pk} attempt 1 ignored" in remote.output(), 60)
    late_after = time.monotonic() - restored_at
    job.refresh()
    assert (job.attempts, job.worker_id, job.result, job.finished_at) == won
    assert Execution.objects.filter(job_id=job.pk).count() == 2

    # It carries on: back to running, and alone now, it completes new work.
    wait_for(lambda: WorkerRow.objects.get(pk=remote_row.pk).state == "running", 30)
    stop(local)
    after = [record.enqueue(f"after-cut-{n}") for n in range(5)]
    wait_for(lambda: all(j.refresh().status == "completed" for j in after), 60)
    assert {j.worker_id for j in after} == {remote_row.pk}
    assert remote.alive()
    stop(remote)
    ids = [job.pk, *(j.pk for j in after)]
    report(
        jobs=len(ids),
        lost=Job.objects.filter(pk__in=ids).exclude(status="completed").count(),
        duplicated=sql_value(
            "SELECT count(*) - count(DISTINCT id) FROM faults_completion WHERE id = ANY(%s)",
            [ids],
        ),
        repeated_executions=Execution.objects.filter(job_id__in=ids).count() - len(ids),
        taken_over_after_s=round(taken_over_after, 1),
        late_report_after_restore_s=round(late_after, 1),
        connection_errors_logged=remote.output().count("connection lost"),
    )
