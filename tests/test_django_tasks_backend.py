"""PgflowBackend under Django's Tasks framework (django.tasks on Django 6, the
django-tasks backport on 5.2).

The first half restates, in our own code, the backend-agnostic behaviour that
Django's tests/tasks (test_tasks.py, test_immediate_backend.py) and the
backport's tests check of any backend: the Task API, validation, results,
signals. The second half runs the enqueued tasks on real workers and reads the
results back with get_result."""

from __future__ import annotations

import dataclasses
import datetime as dt
import pickle
import subprocess
import sys
from typing import Any

import pytest
from asgiref.sync import async_to_sync
from django.db import transaction
from django.test import override_settings
from django.utils import timezone

from django_pgflow.backends import PgflowBackend
from django_pgflow.backends.compat import (
    InvalidTaskError,
    TaskResultDoesNotExist,
    TaskResultStatus,
    task_backends,
    task_enqueued,
    task_finished,
    task_started,
)
from django_pgflow.models import Job
from django_pgflow.models import Worker as WorkerRow
from testproject.example import django_api_tasks as t

from .conftest import ROOT, subprocess_env, wait_for

try:
    from django.tasks import task as django_task
    from django.tasks.exceptions import TaskResultMismatch
except ImportError:
    from django_tasks import task as django_task  # type: ignore[no-redef]
    from django_tasks.exceptions import TaskResultMismatch  # type: ignore[no-redef]


def backend() -> PgflowBackend:
    return task_backends["default"]


@pytest.fixture
def collected() -> Any:
    """Django's task signals, as received."""
    seen: list[tuple[str, Any]] = []

    def receiver(name: str) -> Any:
        def receive(sender: Any, task_result: Any, **kwargs: Any) -> None:
            seen.append((name, task_result))

        return receive

    receivers = {s: receiver(n) for s, n in [
        (task_enqueued, "enqueued"), (task_started, "started"), (task_finished, "finished")
    ]}  # fmt: skip
    for signal, function in receivers.items():
        signal.connect(function)
    yield seen
    for signal, function in receivers.items():
        signal.disconnect(function)


# -- the Task API on this backend -------------------------------------------------


def test_backend_is_the_configured_one_and_supports_everything():
    b = backend()
    assert isinstance(b, PgflowBackend) and b.alias == "default"
    assert (b.supports_defer, b.supports_priority, b.supports_get_result) == (True, True, True)
    assert b.supports_async_task is True


@pytest.mark.django_db
def test_enqueue_returns_a_ready_result_backed_by_a_job(collected):
    result = t.add.using(priority=7, queue_name="emails").enqueue(2, b=3)
    assert result.status == TaskResultStatus.READY and not result.is_finished
    assert (result.args, result.kwargs, result.task) == (
        [2],
        {"b": 3},
        t.add.using(priority=7, queue_name="emails"),
    )
    job = Job.objects.get(pk=int(result.id))
    assert (job.task_name, job.queue, job.priority) == (t.add.module_path, "emails", 7)
    assert (job.args, job.kwargs, job.status) == ([2], {"b": 3}, "queued")
    assert result.enqueued_at == job.created_at
    assert [name for name, _ in collected] == ["enqueued"] and collected[0][1].id == result.id
    with pytest.raises(ValueError, match="not finished"):
        _ = result.return_value


@pytest.mark.django_db(transaction=True)
def test_aenqueue_and_aget_result():
    result = async_to_sync(t.noop.aenqueue)()
    again = async_to_sync(t.noop.aget_result)(result.id)
    assert again == result and again.status == TaskResultStatus.READY


@pytest.mark.django_db
def test_a_value_json_cannot_hold_is_refused_before_anything_is_stored():
    with pytest.raises(TypeError, match="Unsupported type"):
        t.add.enqueue(dt.datetime.now(), 1)
    assert not Job.objects.exists()


def test_validation_of_priority_run_after_and_functions():
    with pytest.raises(InvalidTaskError, match="priority must be a whole number"):
        t.add.using(priority=101)
    with pytest.raises(InvalidTaskError, match="priority must be a whole number"):
        t.add.using(priority=3.5)
    with pytest.raises(InvalidTaskError, match="aware datetime"):
        t.add.using(run_after=dt.datetime.now())

    def local_function() -> None: ...

    with pytest.raises(InvalidTaskError, match="module level"):
        django_task()(local_function)
    with pytest.raises(InvalidTaskError, match="first argument of 'context'"):
        django_task(takes_context=True)(t.add.func)
    with pytest.raises(InvalidTaskError, match="gpu"):
        django_task(resources={"gpu": -1})(t.add.func)


@pytest.mark.django_db
def test_queues_are_checked_against_the_backend_and_pgflow_settings():
    only_default = {"BACKEND": "django_pgflow.backends.PgflowBackend", "QUEUES": ["default"]}
    with (
        override_settings(TASKS={"default": only_default}),
        pytest.raises(InvalidTaskError, match="Queue 'emails' is not valid"),
    ):
        t.noop.using(queue_name="emails").enqueue()
    with pytest.raises(InvalidTaskError, match=r"Unknown queue 'undeclared'"):
        t.noop.using(queue_name="undeclared").enqueue()
    assert not Job.objects.exists()


@pytest.mark.django_db
def test_using_keeps_the_original_and_defers_with_run_after():
    later = timezone.now() + dt.timedelta(hours=1)
    deferred = t.noop.using(run_after=later, priority=-5)
    assert t.noop.run_after is None and t.noop.priority == 0
    job = Job.objects.get(pk=int(deferred.enqueue().id))
    assert job.run_at == later and job.priority == -5


@pytest.mark.django_db
def test_get_result_equals_the_enqueued_one_and_refresh_changes_nothing():
    result = t.add.enqueue(1, 2)
    assert t.add.get_result(result.id) == result
    before = dataclasses.asdict(result)
    result.refresh()
    async_to_sync(result.arefresh)()
    assert dataclasses.asdict(result) == before


@pytest.mark.django_db
def test_missing_and_mismatched_results():
    for missing in ["123456789", "not-a-number"]:
        with pytest.raises(TaskResultDoesNotExist):
            backend().get_result(missing)
    result = t.noop.enqueue()
    with pytest.raises(TaskResultMismatch):
        t.add.get_result(result.id)


@pytest.mark.django_db
def test_results_of_non_django_jobs_do_not_exist_for_the_backend():
    from testproject.example.tasks import noop

    job = noop.enqueue()
    with pytest.raises(TaskResultDoesNotExist, match="not a Django task"):
        backend().get_result(str(job.pk))


@pytest.mark.django_db
def test_tasks_and_results_pickle():
    assert pickle.loads(pickle.dumps(t.add)) == t.add
    result = t.add.enqueue(1, 1)
    assert pickle.loads(pickle.dumps(result)) == result


@pytest.mark.django_db(transaction=True)
def test_a_rolled_back_enqueue_leaves_no_job():
    with pytest.raises(RuntimeError), transaction.atomic():
        t.noop.enqueue()
        raise RuntimeError("roll back")
    assert not Job.objects.exists()


def test_pgflow_options_ride_on_django_tasks():
    assert (t.fails_twice.max_attempts, t.too_slow.timeout) == (3, 0.5)
    assert t.on_gpu.resources == (("gpu", 1),)
    assert t.on_gpu.using(priority=3).resources == (("gpu", 1),)


# -- run by workers ------------------------------------------------------------


def finished(result: Any) -> bool:
    result.refresh()
    return result.is_finished


@pytest.mark.django_db(transaction=True)
def test_worker_runs_django_tasks_and_get_result_reads_them(worker_thread, collected):
    results = [t.add.enqueue(2, 3), t.async_add.enqueue(4, b=5), t.own_id.enqueue()]
    w = worker_thread()
    for result in results:
        wait_for(lambda r=result: finished(r), 30)
    assert [r.status for r in results] == [TaskResultStatus.SUCCESSFUL] * 3
    assert [r.return_value for r in results[:2]] == [5, 9]
    assert results[2].return_value == {"id": results[2].id, "attempt": 1}
    for result in results:
        assert result.attempts == 1 and result.worker_ids == [str(w.worker.worker_id)]
        assert result.enqueued_at <= result.started_at <= result.finished_at
        assert result.errors == []
    wait_for(lambda: sum(name == "finished" for name, _ in collected) == 3)
    by_id: dict[str, list[str]] = {}
    for name, result in collected:
        by_id.setdefault(result.id, []).append(name)
    assert all(names == ["enqueued", "started", "finished"] for names in by_id.values())
    assert {r.status for name, r in collected if name == "finished"} == {
        TaskResultStatus.SUCCESSFUL
    }


@pytest.mark.django_db(transaction=True)
def test_a_failing_task_is_failed_with_its_error(worker_thread, collected):
    with override_settings(PGFLOW={"DEFAULT_MAX_ATTEMPTS": 1}):
        result = t.fails.enqueue("this task failed")
        bad_value = t.returns_object.enqueue()
        worker_thread()
        wait_for(lambda: finished(result) and finished(bad_value), 30)
    assert result.status == TaskResultStatus.FAILED
    with pytest.raises(ValueError, match="Task failed"):
        _ = result.return_value
    [error] = result.errors
    assert error.exception_class is ValueError
    assert error.traceback.endswith("ValueError: this task failed\n")
    # A return value JSON cannot hold fails at once: the same value would come back.
    assert bad_value.status == TaskResultStatus.FAILED and bad_value.attempts == 1
    assert issubclass(bad_value.errors[0].exception_class, TypeError)
    finishes = [r for name, r in collected if name == "finished" and r.id == result.id]
    assert [r.status for r in finishes] == [TaskResultStatus.FAILED]


@pytest.mark.django_db(transaction=True)
def test_pgflow_retries_timeouts_and_resources_apply(worker_thread, collected):
    from testproject.example.models import Execution

    retried = t.fails_twice.enqueue("k")
    slow = t.too_slow.enqueue(30)
    gpu = t.on_gpu.enqueue(21)
    worker_thread()
    for result in (retried, slow, gpu):
        wait_for(lambda r=result: finished(r), 30)
    assert retried.status == TaskResultStatus.SUCCESSFUL
    assert retried.return_value == "done after 3" and retried.attempts == 3
    assert [e.exception_class for e in retried.errors] == [ConnectionError, ConnectionError]
    assert list(Execution.objects.filter(task="fails_twice").values_list("attempt", flat=True)) == [
        1,
        2,
        3,
    ]
    # Retried attempts are not finished: one task_finished, for the last.
    assert [n for n, r in collected if r.id == retried.id].count("finished") == 1
    assert slow.status == TaskResultStatus.FAILED and slow.attempts == 1
    assert slow.errors[0].exception_class.__name__ == "JobTimeoutError"
    assert gpu.return_value == 42
    assert Job.objects.get(pk=int(gpu.id)).resources == {"gpu": 1}


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_enqueue_with_djangos_api_run_under_runworkers_read_with_get_result():
    result = t.add.enqueue(40, 2)
    done = subprocess.run(
        [sys.executable, str(ROOT / "manage.py"), "runworkers", "--burst", "-v", "0"],
        cwd=ROOT, env=subprocess_env(), capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    fresh = t.add.get_result(result.id)
    assert fresh.status == TaskResultStatus.SUCCESSFUL and fresh.return_value == 42
    assert fresh.worker_ids == [str(WorkerRow.objects.get().pk)]
