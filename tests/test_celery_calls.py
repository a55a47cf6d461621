"""Celery-style calls on our tasks: .delay() and .apply_async(...) with Celery's meaning."""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone

from django_pgflow.exceptions import InvalidJobError
from django_pgflow.expiry import expire_job
from django_pgflow.models import Job
from testproject.example.models import Execution
from testproject.example.tasks import record, sleeper

from .conftest import sql_value, wait_for


@pytest.mark.django_db
def test_delay_enqueues_with_the_tasks_defaults():
    job = record.delay("a", sleep=0.0)
    assert isinstance(job, Job)
    assert (job.task_name, job.args, job.kwargs, job.queue) == (
        record.name, ["a"], {"sleep": 0.0}, "default"
    )  # fmt: skip


@pytest.mark.django_db
def test_apply_async_countdown_eta_queue_priority():
    now = sql_value("SELECT now()")
    counted = record.apply_async(args=["c"], countdown=60, queue="emails", priority=4)
    assert (counted.queue, counted.priority) == ("emails", 4)
    assert dt.timedelta(seconds=59) < counted.run_at - now < dt.timedelta(seconds=120)
    eta = timezone.now() + dt.timedelta(hours=2)
    at = record.apply_async(["e"], {"sleep": 0}, eta=eta)
    assert at.run_at == eta and at.kwargs == {"sleep": 0}
    # Other keywords are django-pgflow options, as in using().
    keyed = record.apply_async(["k"], unique_key="k-1", max_attempts=7)
    assert (keyed.unique_key, keyed.max_attempts) == ("k-1", 7)


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("call", "message"),
    [
        (dict(countdown=5, eta=timezone.now()), "not both"),
        (dict(countdown=-1), "countdown must be a finite number"),
        (dict(eta="tomorrow"), "eta must be a datetime"),
        (dict(expires=0), "expires must be a finite number of seconds > 0"),
        (dict(expires="soon"), "expires must be seconds from now or a datetime"),
        (dict(countdown=60, expires=30), "could never run"),
        (dict(expires=dt.datetime(2030, 1, 1)), "aware datetime"),
        (dict(link="x"), "Unknown job option"),
        (dict(args="ab"), "args must be a list or tuple"),
    ],
)
def test_apply_async_refuses_what_cannot_work(call, message):
    args = call.pop("args", ["x"])
    with pytest.raises((InvalidJobError, TypeError), match=message):
        record.apply_async(args, **call)
    assert not Job.objects.exists()


@pytest.mark.django_db(transaction=True)
def test_a_job_not_started_before_it_expires_is_not_run(worker_thread):
    # One thread, busy with a sleeper: the expiring job waits behind it until it expires.
    sleeper.enqueue("blocker", 5)
    worker = worker_thread(concurrency=1, batch_size=1)
    wait_for(lambda: Execution.objects.filter(task="sleeper").exists(), 30)
    job = record.apply_async(["late"], expires=0.5)
    started_soon = record.apply_async(["in time"], expires=3600)
    wait_for(lambda: job.refresh().is_finished and started_soon.refresh().is_finished, 30)
    assert job.status == "cancelled" and job.attempts == 0
    assert started_soon.status == "completed"
    assert not Execution.objects.filter(key="late").exists()
    companions = {j.args[0]: j for j in Job.objects.filter(task_name=expire_job.name)}
    wait_for(lambda: companions[job.pk].refresh().is_finished, 30)
    assert companions[started_soon.pk].refresh().status == "queued"  # due in an hour
    assert companions[job.pk].result == "expired: cancelled before it started"
    assert companions[job.pk].queue == job.queue
    assert worker.worker.stats["failed"] == 0


@pytest.mark.django_db(transaction=True)
def test_the_expiry_of_a_job_that_ran_leaves_it_alone(worker_thread):
    job = record.apply_async(["quick"], expires=1)
    worker_thread()
    wait_for(lambda: job.refresh().is_finished, 30)
    companion = Job.objects.get(task_name=expire_job.name)
    wait_for(lambda: companion.refresh().is_finished, 30)
    assert job.status == "completed"
    assert companion.result == "started or finished before it expired"
