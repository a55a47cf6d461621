"""enqueue(), @task, .using(), .s() and enqueue_many(): what callers rely on."""

from __future__ import annotations

import datetime as dt
import math

import pytest
from django.db import connection, transaction
from django.test import override_settings
from django.utils import timezone

from django_pgflow import (
    InvalidJobError,
    JobContext,
    UnknownTaskError,
    enqueue,
    enqueue_many,
    retry_job,
    task,
)
from django_pgflow.models import Job
from testproject.example.tasks import noop, record, send_digest

pytestmark = pytest.mark.django_db


def test_enqueue_returns_a_queued_job_with_task_defaults():
    job = send_digest.enqueue("a@example.com")
    assert isinstance(job, Job)
    assert job.status == "queued"
    assert job.queue == "emails"
    assert job.task_name == "testproject.example.tasks.send_digest"
    assert job.args == ["a@example.com"]
    assert job.max_attempts == 4
    assert job.attempts == 0
    assert Job.objects.get(pk=job.pk).status == "queued"


def test_using_overrides_options_and_delay_uses_database_time():
    with connection.cursor() as cursor:
        cursor.execute("SELECT now()")
        db_now = cursor.fetchone()[0]
    job = record.using(delay=30, priority=5, unique_key="welcome:42").enqueue("x")
    assert job.priority == 5
    assert job.unique_key == "welcome:42"
    assert dt.timedelta(seconds=29) < job.run_at - db_now < dt.timedelta(seconds=31)


def test_enqueue_by_dotted_name():
    job = enqueue("testproject.example.tasks.record", args=["k"], kwargs={"sleep": 0}, priority=3)
    assert job.kwargs == {"sleep": 0}
    assert job.priority == 3


def test_unknown_task_is_refused_unless_allowed():
    with pytest.raises(UnknownTaskError, match="no_such_task"):
        enqueue("testproject.example.tasks.no_such_task")
    assert Job.objects.count() == 0
    job = enqueue("other_service.tasks.remote", args=[1], allow_unknown=True)
    assert job.queue == "default"


def test_rolled_back_transaction_leaves_no_job():
    with pytest.raises(RuntimeError), transaction.atomic():
        record.enqueue("never")
        raise RuntimeError("the view failed")
    assert not Job.objects.filter(args=["never"]).exists()


def test_unique_key_returns_the_active_job():
    first = record.using(unique_key="report:1").enqueue("a")
    second = record.using(unique_key="report:1").enqueue("b")
    assert second.pk == first.pk
    assert Job.objects.filter(unique_key="report:1").count() == 1
    # Once the holder is finished, the key is free again.
    with connection.cursor() as cursor:
        cursor.execute("SELECT django_pgflow.cancel(%s)", [first.pk])
    third = record.using(unique_key="report:1").enqueue("c")
    assert third.pk != first.pk


def test_calling_a_task_runs_it_inline():
    assert noop() is None

    @task(takes_context=True, name="tests.inline_context")
    def who(context: JobContext, x: int) -> int:
        assert context.is_inline
        return x * 2

    assert who(21) == 42
    assert Job.objects.count() == 0


def test_async_task_is_detected():
    @task(name="tests.async_probe")
    async def probe() -> int:
        return 1

    assert probe.is_async


def test_enqueue_many_returns_ids_in_order():
    specs = [record.s(f"k{i}") for i in range(50)] + [record.using(priority=9).s("last")]
    ids = enqueue_many(specs)
    assert len(ids) == 51
    jobs = Job.objects.in_bulk(ids)
    assert [jobs[i].args[0] for i in ids] == [f"k{i}" for i in range(50)] + ["last"]
    assert jobs[ids[-1]].priority == 9


def test_enqueue_many_with_unique_keys_keeps_positions():
    existing = record.using(unique_key="u").enqueue("held")
    ids = enqueue_many([record.s("a"), record.using(unique_key="u").s("dup"), record.s("b")])
    assert ids[1] == existing.pk
    assert Job.objects.get(pk=ids[0]).args == ["a"]
    assert Job.objects.get(pk=ids[2]).args == ["b"]


def test_enqueue_many_refuses_the_whole_batch_on_one_bad_spec():
    record.enqueue("kept")
    with pytest.raises(InvalidJobError, match="item 1"):
        enqueue_many([record.s("ok"), "not a spec"])  # type: ignore[list-item]
    with pytest.raises(InvalidJobError, match="set"):
        enqueue_many([record.s("ok"), record.s({1, 2})])
    assert list(Job.objects.values_list("args", flat=True)) == [["kept"]]


BAD_INPUT = [
    (lambda: record.enqueue(object()), r"args\[0\] is <object object .*> of type object"),
    (lambda: record.enqueue(b"bytes"), "of type bytes"),
    (lambda: record.enqueue(math.nan), "nan"),
    (lambda: record.enqueue(math.inf), "inf"),
    (lambda: record.enqueue("nul\x00byte"), "NUL"),
    (lambda: record.enqueue({1: "x"}), "keys must be str"),
    (lambda: record.enqueue("\udcff"), "not valid UTF-8"),
    (lambda: record.using(queue="Bad Queue").enqueue("x"), "Invalid queue name"),
    (lambda: record.using(queue="x'; drop table pgflow_job; --").enqueue("x"), "Invalid queue"),
    (lambda: record.using(queue="nowhere").enqueue("x"), "Unknown queue 'nowhere'"),
    (lambda: record.using(priority=40000).enqueue("x"), "between -32768 and 32767"),
    (lambda: record.using(priority=1.5).enqueue("x"), "must be an int"),
    (lambda: record.using(priority=True).enqueue("x"), "must be an int"),
    (lambda: record.using(delay=-1).enqueue("x"), "delay must be a finite number"),
    (lambda: record.using(delay=math.nan).enqueue("x"), "delay must be a number"),
    (lambda: record.using(run_at=dt.datetime(2030, 1, 1)).enqueue("x"), "no time zone"),
    (lambda: record.using(run_at="tomorrow").enqueue("x"), "must be a datetime"),
    (
        lambda: record.using(run_at=timezone.now(), delay=1).enqueue("x"),
        "run_at or delay, not both",
    ),
    (lambda: record.using(max_attempts=0).enqueue("x"), "max_attempts must be an int >= 1"),
    (lambda: record.using(timeout=0).enqueue("x"), "timeout must be"),
    (lambda: record.using(unique_key="").enqueue("x"), "unique_key"),
    (lambda: enqueue("not a dotted path!"), "Invalid task name"),
    (lambda: enqueue("testproject.example.tasks.record", args="abc"), "args must be a list"),
    (lambda: enqueue("testproject.example.tasks.record", kwargs=[1]), "kwargs must be a dict"),
]


@pytest.mark.parametrize(("call", "message"), BAD_INPUT)
def test_bad_input_is_refused_at_the_call_site_and_stores_nothing(call, message):
    kept = record.enqueue("kept")
    with pytest.raises(InvalidJobError, match=message):
        call()
    assert list(Job.objects.values_list("pk", flat=True)) == [kept.pk]
    assert Job.objects.get(pk=kept.pk).status == "queued"


def test_unknown_option_is_a_type_error():
    with pytest.raises(TypeError, match="Unknown job option"):
        record.using(retries=3)


def test_deep_nesting_is_refused():
    value: list = []
    for _ in range(150):
        value = [value]
    with pytest.raises(InvalidJobError, match="nested deeper"):
        record.enqueue(value)


@override_settings(PGFLOW={"MAX_PAYLOAD_BYTES": 1000})
def test_payload_over_the_limit_is_refused():
    record.enqueue("x" * 900)
    with pytest.raises(InvalidJobError, match="over the limit of 1000 bytes"):
        record.enqueue("x" * 1001)
    assert Job.objects.count() == 1


def test_ten_megabyte_payload_is_refused_by_default():
    with pytest.raises(InvalidJobError, match="MAX_PAYLOAD_BYTES"):
        record.enqueue("x" * 10_000_000)
    assert Job.objects.count() == 0


def test_task_declaration_is_validated():
    with pytest.raises(InvalidJobError, match="max_attempts"):
        task(max_attempts=0)
    with pytest.raises(InvalidJobError, match="Invalid queue"):
        task(queue="UPPER")


@override_settings(PGFLOW={"QUEUES": {"default": {}, "slow": {"timeout": 3600, "max_attempts": 9}}})
def test_queue_defaults_sit_between_the_task_and_the_settings():
    job = record.using(queue="slow").enqueue("x")
    assert (job.timeout, job.max_attempts) == (3600, 9)
    job = record.using(queue="slow", timeout=5).enqueue("y")
    assert (job.timeout, job.max_attempts) == (5, 9)
    assert send_digest.using(queue="default").enqueue("z").max_attempts == 4  # the task's


def test_manual_retry_refuses_while_another_job_holds_the_unique_key():
    first = record.using(unique_key="k").enqueue("a")
    with connection.cursor() as cursor:
        cursor.execute("SELECT django_pgflow.cancel(%s)", [first.pk])
    holder = record.using(unique_key="k").enqueue("b")
    with pytest.raises(Exception, match=f"job {holder.pk} already holds"), transaction.atomic():
        retry_job(first.pk)
    assert Job.objects.get(pk=first.pk).status == "cancelled"
