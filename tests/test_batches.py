"""Batch tasks: ``@task(batch_size=..., batch_wait=...)`` run by real workers
(threads of this process, and a real process killed with kill -9) against the
test database. Every fact is read back from rows: ``BatchCall`` (one per call
of the function, written by the function) and ``Execution`` (one per item)."""

from __future__ import annotations

import asyncio
import datetime as dt
import os
import signal
from collections import Counter

import pytest

from django_pgflow import BatchItem, BatchResultError, InvalidJobError, enqueue_many, task
from django_pgflow.models import Job
from django_pgflow.models import Worker as WorkerRow
from testproject.example.models import BatchCall, Document, Execution
from testproject.example.tasks import (
    async_batch,
    embed_batch,
    patient_batch,
    record,
    record_batch,
)

from .conftest import wait_for

FAST = {"LEASE_MARGIN": 1, "WORKER_DEAD_AFTER": 3, "HEARTBEAT_INTERVAL": 0.3}


def all_finished(ids: list[int]) -> bool:
    return not Job.objects.filter(pk__in=ids).exclude(status__in=["completed", "failed"]).exists()


def runs_per_job(name: str = "record_batch") -> Counter[int]:
    return Counter(Execution.objects.filter(task=name).values_list("job_id", flat=True))


def call_of(job_id: int, attempt: int) -> BatchCall:
    """The call of the batch function that ran this attempt of this job."""
    (call,) = [c for c in BatchCall.objects.all() if [job_id, attempt] in c.items]
    return call


# --- declaring and calling inline ------------------------------------------


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"batch_size": 0}, "batch_size must be between 1 and 10000, got 0"),
        ({"batch_size": -3}, "batch_size must be between 1 and 10000"),
        ({"batch_size": 2.5}, "batch_size must be an int, got 2.5"),
        ({"batch_size": True}, "batch_size must be an int, got True"),
        ({"batch_size": "16"}, "batch_size must be an int, got '16'"),
        ({"batch_size": 4, "batch_wait": -0.1}, "batch_wait must be >= 0 seconds"),
        ({"batch_size": 4, "batch_wait": float("inf")}, "batch_wait must be a finite number"),
        ({"batch_size": 4, "batch_wait": "1"}, "batch_wait must be a finite number"),
        ({"batch_wait": 1.0}, "batch_wait needs batch_size"),
        ({"batch_size": 4, "takes_context": True}, "A batch task cannot take a context"),
    ],
)
def test_batch_options_are_checked_when_the_decorator_runs(options, message):
    with pytest.raises(InvalidJobError, match=message.replace("(", r"\(")):
        task(name="tests.bad_batch", **options)


def test_batch_wait_defaults_to_one_second_and_zero_is_allowed():
    @task(name="tests.batch_default_wait", batch_size=3)
    def default_wait(items): ...

    @task(name="tests.batch_no_wait", batch_size=1, batch_wait=0)
    def no_wait(items): ...

    assert (default_wait.batch.size, default_wait.batch.wait) == (3, 1.0)
    assert (no_wait.batch.size, no_wait.batch.wait) == (1, 0.0)
    assert record.batch is None


def test_calling_inline_takes_a_list_and_returns_one_result_per_item():
    @task(name="tests.inline_batch", batch_size=4)
    def double(items: list[BatchItem]) -> list[object]:
        return [
            ValueError("odd") if item.args[0] % 2 else item.args[0] * 2 + item.kwargs.get("plus", 0)
            for item in items
        ]

    # Plain values are one argument each; specs and BatchItems say more.
    results = double([2, 3, double.s(4, plus=1), BatchItem(job_id=None, args=(6,))])
    assert results[0] == 4 and results[2] == 9 and results[3] == 12
    assert isinstance(results[1], ValueError)  # a failed item is its exception, not raised
    assert double([]) == []
    with pytest.raises(TypeError, match="called inline with one list of items"):
        double(2)
    with pytest.raises(TypeError, match=r"is not an item of tests\.inline_batch"):
        double([record.s("other task")])


def test_inline_call_checks_the_number_of_results():
    @task(name="tests.short_batch", batch_size=4)
    def short(items):
        return items[1:]

    @task(name="tests.dict_batch", batch_size=4)
    def not_a_list(items):
        return {"a": 1}

    @task(name="tests.none_batch", batch_size=4)
    def nothing(items):
        return None

    with pytest.raises(BatchResultError, match=r"returned 2 result\(s\) for 3 items"):
        short([1, 2, 3])
    with pytest.raises(BatchResultError, match="returned dict, not a list"):
        not_a_list([1])
    assert nothing([1, 2]) == [None, None]  # None: every item done, no result


def test_an_async_batch_task_inline_returns_a_coroutine():
    assert asyncio.run(async_batch(["a", "b"])) == ["async a attempt 1", "async b attempt 1"]


@pytest.mark.django_db
def test_enqueue_queues_one_job_per_item():
    job = record_batch.enqueue("one", fail_until=1)
    assert (job.task_name, job.args, job.kwargs) == (
        "testproject.example.tasks.record_batch",
        ["one"],
        {"fail_until": 1},
    )
    ids = enqueue_many([record_batch.s(f"k{n}") for n in range(3)])
    assert Job.objects.filter(task_name=job.task_name).count() == 4
    assert len(ids) == 3


# --- on a worker ------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_100_jobs_run_in_batches_of_at_most_16(worker_thread):
    ids = enqueue_many([record_batch.s(f"j{n}") for n in range(100)])
    w = worker_thread(concurrency=4)
    wait_for(lambda: all_finished(ids), 60)
    w.stop()

    jobs = Job.objects.filter(pk__in=ids)
    assert jobs.filter(status="completed", attempts=1).count() == 100
    assert sorted(jobs.values_list("result", flat=True)) == sorted(
        f"j{n} attempt 1" for n in range(100)
    )
    sizes = list(BatchCall.objects.filter(task="record_batch").values_list("size", flat=True))
    assert sum(sizes) == 100
    assert max(sizes) <= 16
    assert len(sizes) < 100, "no batching happened"
    assert max(sizes) > 1
    # Each job ran once, in exactly one call.
    assert runs_per_job() == dict.fromkeys(ids, 1)
    items = [tuple(i) for c in BatchCall.objects.all() for i in c.items]
    assert sorted(items) == sorted((pk, 1) for pk in ids)


@pytest.mark.django_db(transaction=True)
def test_an_item_failed_by_the_function_retries_alone(worker_thread):
    ok = enqueue_many([record_batch.s(f"ok{n}") for n in range(10)])
    once = enqueue_many([record_batch.s(f"once{n}", fail_until=1) for n in range(3)])
    never = record_batch.using(max_attempts=2).enqueue("never", fail_until=99).pk
    w = worker_thread(concurrency=2)
    everything = [*ok, *once, never]
    wait_for(lambda: all_finished(everything), 30)
    w.stop()

    runs = runs_per_job()
    for job in Job.objects.filter(pk__in=ok):  # not run again because a neighbour failed
        assert (job.status, job.attempts, job.errors, runs[job.pk]) == ("completed", 1, [], 1)
    for job in Job.objects.filter(pk__in=once):
        assert (job.status, job.attempts, runs[job.pk]) == ("completed", 2, 2)
        assert job.result == f"{job.args[0]} attempt 2"
        assert [(e["error"], e["message"]) for e in job.errors] == [
            ("ValueError", f"{job.args[0]} failed attempt 1")
        ]
        # Its retry ran in a later call, without the items that had succeeded.
        first, second = call_of(job.pk, 1), call_of(job.pk, 2)
        assert second.pk > first.pk
        assert not {pk for pk, _ in second.items} & set(ok)
    # Each call's outcomes were reported in one transaction (one now()): the
    # completions of a call and the failures in it share a timestamp.
    for call in BatchCall.objects.filter(task="record_batch"):
        stamps = set()
        for pk, attempt in call.items:
            job = Job.objects.get(pk=pk)
            failed_here = [e for e in job.errors if e["attempt"] == attempt]
            if failed_here:
                stamps.add(dt.datetime.fromisoformat(failed_here[0]["at"]))
            elif job.attempts == attempt:
                stamps.add(job.finished_at)
        assert len(stamps) == 1, (call.items, stamps)
    job = Job.objects.get(pk=never)  # its own policy: two attempts, then failed for good
    assert (job.status, job.attempts, runs[never]) == ("failed", 2, 2)
    assert [e["message"] for e in job.errors] == [
        "never failed attempt 1",
        "never failed attempt 2",
    ]


@pytest.mark.django_db(transaction=True)
def test_a_function_that_raises_fails_every_item_and_each_retries_by_its_policy(worker_thread):
    retried = enqueue_many([record_batch.s(f"r{n}", raise_until=1) for n in range(5)])
    single = record_batch.using(max_attempts=1).enqueue("single").pk
    # One claim takes all six: they share the first call.
    w = worker_thread(concurrency=2, batch_size=32)
    everything = [*retried, single]
    wait_for(lambda: all_finished(everything), 30)
    w.stop()

    first = call_of(single, 1)
    assert sorted(pk for pk, _ in first.items) == sorted(everything)
    assert first.finished_at is None  # it raised before the end
    for job in Job.objects.filter(pk__in=retried):
        assert (job.status, job.attempts, job.result) == (
            "completed",
            2,
            f"{job.args[0]} attempt 2",
        )
        assert [(e["error"], e["message"]) for e in job.errors] == [
            ("RuntimeError", "the whole batch of 6 failed")
        ]
        assert "Traceback" in job.errors[0]["traceback"]
    job = Job.objects.get(pk=single)
    assert (job.status, job.attempts) == ("failed", 1)
    assert [e["error"] for e in job.errors] == ["RuntimeError"]


@pytest.mark.django_db(transaction=True)
def test_wrong_number_of_results_fails_every_item_for_good(worker_thread):
    ids = enqueue_many([record_batch.s(f"s{n}", short=True) for n in range(3)])
    w = worker_thread(concurrency=1, batch_size=32)
    wait_for(lambda: all_finished(ids), 30)
    w.stop()

    for job in Job.objects.filter(pk__in=ids):
        assert (job.status, job.attempts) == ("failed", 1)  # retrying cannot help
        (error,) = job.errors
        assert error["error"] == "BatchResultError"
        assert "returned 2 result(s) for 3 items" in error["message"]


@pytest.mark.django_db(transaction=True)
def test_a_result_that_is_not_json_fails_only_its_item(worker_thread):
    good = record_batch.enqueue("good").pk
    bad = record_batch.enqueue("bad", bad_result=True).pk
    w = worker_thread(concurrency=1, batch_size=32)
    wait_for(lambda: all_finished([good, bad]), 30)
    w.stop()

    assert call_of(good, 1).pk == call_of(bad, 1).pk
    assert Job.objects.get(pk=good).status == "completed"
    job = Job.objects.get(pk=bad)
    assert (job.status, job.attempts, job.errors[0]["error"]) == ("failed", 1, "InvalidJobError")


@pytest.mark.django_db(transaction=True)
def test_a_batch_past_its_timeout_fails_every_item_and_they_retry(worker_thread):
    ids = enqueue_many(
        [record_batch.using(timeout=3).s(f"t{n}", sleep=8, sleep_until=1) for n in range(3)]
    )
    w = worker_thread(concurrency=1, batch_size=32)
    wait_for(lambda: all_finished(ids), 30)
    w.stop()

    for job in Job.objects.filter(pk__in=ids):
        assert (job.status, job.attempts) == ("completed", 2)
        assert [e["error"] for e in job.errors] == ["JobTimeoutError"]
    assert w.worker.pool.abandoned == 1  # one thread for the whole batch


@pytest.mark.django_db(transaction=True)
def test_buffered_jobs_do_not_stall_other_work_and_are_handed_back_on_stop(worker_thread):
    waiting = enqueue_many([patient_batch.using(priority=5).s(f"p{n}") for n in range(3)])
    w = worker_thread(concurrency=1)
    # Claimed, held for their batch (which waits a minute to fill)...
    wait_for(lambda: Job.objects.filter(pk__in=waiting, status="started").count() == 3, 10)
    # ...while a plain job still gets the only thread.
    plain = record.enqueue("plain")
    wait_for(lambda: plain.refresh().status == "completed", 10)
    w.stop()

    assert not BatchCall.objects.filter(task="patient_batch").exists()
    for job in Job.objects.filter(pk__in=waiting):  # unrun, no failure counted
        assert (job.status, job.worker_id, job.failures, job.errors) == ("queued", None, 0, [])


@pytest.mark.django_db(transaction=True)
def test_an_async_batch_task_runs_on_the_worker(worker_thread):
    ids = enqueue_many([async_batch.s(f"a{n}") for n in range(5)])
    w = worker_thread(concurrency=1)
    wait_for(lambda: all_finished(ids), 20)
    w.stop()
    results = Job.objects.filter(pk__in=ids).values_list("status", "result")
    assert sorted(results) == [("completed", f"async a{n} attempt 1") for n in range(5)]


@pytest.mark.django_db(transaction=True)
def test_embed_batch_embeds_documents_in_one_call(worker_thread):
    docs = [Document.objects.create(title=f"d{n}", text=f"text number {n}") for n in range(20)]
    jobs = enqueue_many([embed_batch.s(d.pk) for d in docs] + [embed_batch.s(0)])
    w = worker_thread(concurrency=2, queues=["embeddings"])
    wait_for(lambda: all_finished(jobs), 30)
    w.stop()

    assert all(d.embedding and d.embedded_at for d in Document.objects.all())
    sizes = list(BatchCall.objects.filter(task="embed_batch").values_list("size", flat=True))
    assert sum(sizes) == 21 and max(sizes) <= 16
    missing = Job.objects.get(pk=jobs[-1])
    assert (missing.status, missing.attempts) == ("failed", 1)  # MissingDocument.retry = False
    assert missing.errors[0]["message"] == "no document 0"


# --- kill -9 --------------------------------------------------------------------


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_kill_9_mid_batch_every_item_is_reaped_and_completed_elsewhere(worker_process):
    ids = enqueue_many(
        [record_batch.using(retry_delay=0.1).s(f"k{n}", sleep=60, sleep_until=1) for n in range(8)]
    )
    a = worker_process("--concurrency", "2", overrides=FAST)

    def a_runs_everything() -> bool:
        # The call records itself, then each item's Execution: wait for both,
        # or a kill between the two would leave attempt 1 unrecorded.
        calls = sum(BatchCall.objects.filter(pid=a.pid).values_list("size", flat=True))
        return calls == 8 and Execution.objects.filter(pid=a.pid).count() == 8

    wait_for(a_runs_everything, 30)
    os.kill(a.pid, signal.SIGKILL)  # mid-call: the function sleeps a minute on attempt 1
    assert a.wait(10) == -signal.SIGKILL
    dead = WorkerRow.objects.get(pid=a.pid)
    assert Job.objects.filter(pk__in=ids, status="started", worker_id=dead.pk).count() == 8

    b = worker_process("--concurrency", "2", overrides=FAST)
    wait_for(lambda: all_finished(ids), 40)
    survivor = WorkerRow.objects.get(pid=b.pid)

    # Nothing half-acknowledged: no item kept a result from A; all were reaped.
    for job in Job.objects.filter(pk__in=ids):
        assert (job.status, job.attempts, job.worker_id) == ("completed", 2, survivor.pk)
        assert job.result == f"{job.args[0]} attempt 2"
        assert [e["error"] for e in job.errors] == ["WorkerLostError"]
    assert not BatchCall.objects.filter(pid=a.pid, finished_at__isnull=False).exists()
    assert set(BatchCall.objects.filter(pid=b.pid).values_list("finished_at", flat=True)) != {None}
    assert runs_per_job() == dict.fromkeys(ids, 2)
    b.signal(signal.SIGTERM)
    assert b.wait(20) == 0, b.output()


def test_a_batch_task_cannot_declare_resources() -> None:
    with pytest.raises(InvalidJobError, match="cannot declare resources"):

        @task(batch_size=4, resources={"gpu": 1})
        def gpu_batch(items: list[BatchItem]) -> list[None]:
            return [None] * len(items)
