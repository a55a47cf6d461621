"""Resources, queue limits and lock keys, enforced by the claim across real
worker processes. Every interval is read from the job rows (database time)."""

from __future__ import annotations

import datetime as dt
import os
import signal
import time
from collections.abc import Callable, Iterable
from typing import Any

import pytest
from django.core.management import call_command
from django.db import connection
from django.test import override_settings

from django_pgflow import enqueue_many
from django_pgflow.exceptions import InvalidJobError
from django_pgflow.models import Job
from django_pgflow.status import contention_summary
from testproject.example.models import Execution
from testproject.example.tasks import gpu_hangs_first, record

from .conftest import WorkerProcess, sql_value, wait_for

pytestmark = pytest.mark.django_db(transaction=True)

Interval = tuple[dt.datetime, dt.datetime]


def intervals(ids: Iterable[int]) -> list[Interval]:
    rows = Job.objects.filter(pk__in=list(ids)).values_list("started_at", "finished_at")
    return [(start, end) for start, end in rows]


def max_overlap(spans: list[Interval]) -> int:
    """The most intervals open at one instant (an end and a start at the same
    instant do not overlap)."""
    events = sorted([(s, 1) for s, _ in spans] + [(e, -1) for _, e in spans])
    open_now = peak = 0
    for _, step in events:
        open_now += step
        peak = max(peak, open_now)
    return peak


def makespan(spans: list[Interval]) -> float:
    return (max(e for _, e in spans) - min(s for s, _ in spans)).total_seconds()


def all_completed(ids: list[int]) -> bool:
    return Job.objects.filter(pk__in=ids, status="completed").count() == len(ids)


def stop_all(processes: list[WorkerProcess]) -> None:
    for p in processes:
        p.signal(signal.SIGTERM)
    for p in processes:
        assert p.wait(30) == 0, p.output()


def run_gpu_jobs(
    worker_process: Callable[..., WorkerProcess], capacity: int, count: int = 30
) -> tuple[list[Interval], set[int]]:
    ids = enqueue_many(
        record.using(resources={"gpu": 1}).s(f"gpu{capacity}-{i}", sleep=0.15) for i in range(count)
    )
    # One thread each: a capacity of 2 is then only reached by two processes
    # holding the GPU at once (a process with two threads could take both
    # units and, reclaiming as it reports, keep them).
    workers = [
        worker_process("--concurrency", "1", overrides={"RESOURCES": {"gpu": capacity}})
        for _ in range(3)
    ]
    wait_for(lambda: all_completed(ids), timeout=120)
    stop_all(workers)
    pids = set(Execution.objects.filter(job_id__in=ids).values_list("pid", flat=True))
    return intervals(ids), pids


def test_gpu_jobs_never_overlap_across_processes_and_capacity_two_runs_two(
    worker_process: Callable[..., WorkerProcess],
) -> None:
    one, _ = run_gpu_jobs(worker_process, capacity=1)
    assert max_overlap(one) == 1

    two, pids = run_gpu_jobs(worker_process, capacity=2)
    assert max_overlap(two) == 2
    assert len(pids) >= 2, "the work should have been shared by several processes"
    # Each job holds the GPU 0.15 s: one at a time takes at least 4.5 s, two
    # at a time about half that.
    assert makespan(one) >= 30 * 0.15
    assert makespan(two) < makespan(one)
    # Each gated job recorded how long it waited for the GPU.
    assert Job.objects.filter(resources__gpu=1, waited__isnull=True).count() == 0


def test_killed_holder_frees_the_gpu_after_its_lease_and_the_job_runs_elsewhere(
    worker_process: Callable[..., WorkerProcess],
) -> None:
    tight = {"LEASE_MARGIN": 1.0, "WORKER_DEAD_AFTER": 2.0}
    holder = gpu_hangs_first.using(timeout=60).enqueue("held")
    first = worker_process("--concurrency", "2", overrides=tight)
    wait_for(lambda: Execution.objects.filter(job_id=holder.pk).exists(), timeout=30)
    waiter = record.using(resources={"gpu": 1}).enqueue("waiter")
    # The live worker has a free thread, and is woken by the enqueue, yet
    # the waiter stays queued: the GPU is taken.
    time.sleep(1.5)
    assert Job.objects.get(pk=waiter.pk).status == "queued"
    os.kill(first.pid, signal.SIGKILL)
    first.wait(10)
    row = contention("resource", "gpu")
    assert (row["holders"], row["waiting"]) == ([holder.pk], 1)

    second = worker_process("--concurrency", "2", overrides=tight)
    wait_for(lambda: all_completed([holder.pk, waiter.pk]), timeout=60)
    stop_all([second])
    holder.refresh_from_db()
    assert holder.attempts == 2
    assert holder.errors[0]["error"] == "WorkerLostError"
    pids = (
        Execution.objects.filter(job_id=holder.pk).order_by("attempt").values_list("pid", flat=True)
    )
    assert list(pids) == [first.pid, second.pid]
    assert max_overlap(intervals([holder.pk, waiter.pk])) == 1
    assert contention("resource", "gpu")["in_use"] == 0


def contention(kind: str, name: str) -> dict[str, Any]:
    rows = [r for r in contention_summary() if (r["kind"], r["name"]) == (kind, name)]
    assert rows, f"no contention row for {kind} {name}"
    return rows[0]


def test_queue_concurrency_holds_across_three_processes(
    worker_process: Callable[..., WorkerProcess],
) -> None:
    ids = enqueue_many(
        record.using(queue="limited").s(f"limited-{i}", sleep=0.2) for i in range(16)
    )
    workers = [worker_process("--concurrency", "4") for _ in range(3)]
    wait_for(lambda: all_completed(ids), timeout=90)
    stop_all(workers)
    assert max_overlap(intervals(ids)) == 2


def test_rate_limit_holds_over_any_window(worker_process: Callable[..., WorkerProcess]) -> None:
    ids = enqueue_many(record.using(queue="rated").s(f"rated-{i}") for i in range(45))
    workers = [worker_process("--concurrency", "4") for _ in range(3)]
    wait_for(lambda: all_completed(ids), timeout=90)
    stop_all(workers)
    starts = sorted(s for s, _ in intervals(ids))
    for window, allowed in ((1.0, 10), (3.0, 30)):
        busiest = max(
            sum(1 for t in starts if first <= t < first + dt.timedelta(seconds=window))
            for first in starts
        )
        assert busiest <= allowed, f"{busiest} starts in a {window:g}s window"
    # 45 starts at 10 per second need at least 4 whole windows after the first.
    assert (starts[-1] - starts[0]).total_seconds() >= 4.0


def test_lock_key_runs_jobs_one_at_a_time_in_enqueue_order(
    worker_process: Callable[..., WorkerProcess],
) -> None:
    by_key = {
        key: enqueue_many(record.using(lock_key=key).s(f"{key}-{i}", sleep=0.05) for i in range(8))
        for key in ("doc-1", "doc-2")
    }
    workers = [worker_process("--concurrency", "4") for _ in range(2)]
    wait_for(lambda: all(all_completed(ids) for ids in by_key.values()), timeout=90)
    stop_all(workers)
    for ids in by_key.values():
        spans = intervals(ids)
        assert max_overlap(spans) == 1
        started = Job.objects.filter(pk__in=ids).order_by("started_at").values_list("pk", flat=True)
        assert list(started) == sorted(ids)
    # The two keys do not wait for each other.
    assert max_overlap(intervals(by_key["doc-1"] + by_key["doc-2"])) == 2


def test_contention_view_and_status_show_holders_waiters_and_waits(worker_thread: Any) -> None:
    first = record.using(resources={"gpu": 1}).enqueue("hold", sleep=1.0)
    second = record.using(resources={"gpu": 1}).enqueue("wait")
    worker = worker_thread(concurrency=2)
    wait_for(lambda: Job.objects.get(pk=first.pk).status == "started")
    row = contention("resource", "gpu")
    assert (row["capacity"], row["in_use"], row["holders"], row["waiting"]) == (1, 1, [first.pk], 1)
    assert row["longest_wait"] > 0

    from io import StringIO

    out = StringIO()
    call_command("pgflow_status", stdout=out)
    assert "gpu" in out.getvalue()

    wait_for(lambda: all_completed([first.pk, second.pk]))
    worker.stop()
    row = contention("resource", "gpu")
    assert (row["in_use"], row["waiting"]) == (0, 0)
    # The second job waited for the first to finish: about a second.
    assert Job.objects.get(pk=second.pk).waited >= 0.5
    assert row["max_wait"] >= 0.5


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"resources": {"tpu": 1}}, "Unknown resource 'tpu'"),
        ({"resources": {"gpu": 2}}, "could never run"),
        ({"resources": {"gpu": 0}}, "whole amount >= 1"),
        ({"resources": {"gpu": True}}, "whole amount >= 1"),
        ({"resources": ["gpu"]}, "must be a dict"),
        ({"resources": {"GPU!": 1}}, "Invalid resource name"),
        ({"lock_key": ""}, "lock_key must be a non-empty string"),
        ({"lock_key": "a\x00b"}, "lock_key must not contain a NUL character"),
        ({"lock_key": "\ud800"}, "lock_key must be valid UTF-8 text"),
    ],
)
def test_bad_gates_are_refused_at_the_call_site(options: dict[str, Any], message: str) -> None:
    record.enqueue("kept")
    before = list(Job.objects.values_list("pk", "status"))
    with pytest.raises(InvalidJobError, match=message):
        record.using(**options).enqueue("refused")
    assert list(Job.objects.values_list("pk", "status")) == before


def test_sql_enqueue_refuses_bad_resources() -> None:
    for bad, message in (
        ("[1]", "JSON object"),
        ('{"gpu": 1.5}', "whole amount"),
        ('{"a b": 1}', "invalid resource name"),
    ):
        with pytest.raises(Exception, match=message), connection.cursor() as cursor:
            cursor.execute(
                "SELECT django_pgflow.enqueue('default', 'x.y', p_resources => %s::jsonb)", [bad]
            )
    assert sql_value("SELECT count(*) FROM pgflow_job") == 0


@pytest.mark.parametrize(
    ("pgflow", "code", "message"),
    [
        ({"QUEUES": {"q": {"rate_limit": "fast"}}}, "pgflow.E006", "Invalid rate limit"),
        ({"QUEUES": {"q": {"rate_limit": "0/s"}}}, "pgflow.E006", "Invalid rate limit"),
        ({"QUEUES": {"q": {"concurrency": 0}}}, "pgflow.E006", "concurrency must be an int"),
        ({"RESOURCES": {"gpu": -1}}, "pgflow.E011", "whole capacity"),
        ({"RESOURCES": {"GPU": 1}}, "pgflow.E011", "invalid resource name"),
        ({"RESOURCES": {}}, "pgflow.E012", "Unknown resource 'gpu'"),
    ],
)
def test_bad_limit_settings_are_system_check_errors(
    pgflow: dict[str, Any], code: str, message: str
) -> None:
    from django.core.checks import run_checks

    with override_settings(PGFLOW=pgflow):
        errors = [e for e in run_checks() if e.id == code]
    assert errors and message in errors[0].msg


def test_a_map_step_holding_the_gpu_runs_its_tasks_one_at_a_time(worker_thread: Any) -> None:
    from django_pgflow import start_flow
    from testproject.example.models import Document

    for n in range(6):
        Document.objects.create(title=f"d{n}", text=" ".join(["word"] * 120))  # 3 chunks each
    run = start_flow("embed_documents", {})
    worker = worker_thread(concurrency=4)
    wait_for(lambda: Job.objects.filter(run_id=run.pk, step_slug="save", status="completed"))
    worker.stop()
    embeds = list(Job.objects.filter(run_id=run.pk, step_slug="embed"))
    assert len(embeds) == 18
    assert all(job.resources == {"gpu": 1} for job in embeds)
    assert max_overlap(intervals(job.pk for job in embeds)) == 1
    assert Document.objects.filter(embedding__isnull=True).count() == 0


def test_queued_jobs_follow_their_queue_gaining_and_losing_limits() -> None:
    plain = [record.enqueue(f"d{i}").pk for i in range(3)]  # the default queue: no limits
    with_gpu = record.using(resources={"gpu": 1}).enqueue("g").pk
    limited = record.using(queue="limited").enqueue("l").pk  # declared with a limit

    def gated() -> set[int]:
        return set(Job.objects.filter(gated=True).values_list("pk", flat=True))

    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT django_pgflow.sync_limits('{}', '{\"limited\": {\"concurrency\": 2}}')"
        )
        assert gated() == {with_gpu, limited}
        cursor.execute(
            "SELECT django_pgflow.sync_limits('{}', '{\"default\": {\"concurrency\": 1}}')"
        )
        assert gated() == {with_gpu, *plain}  # its own resources keep the gpu job gated
        cursor.execute("SELECT django_pgflow.sync_limits('{}', '{}')")
        assert gated() == {with_gpu}
