"""Job signals, execution hooks and OpenTelemetry spans, with real workers."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest
from django.test import override_settings

from django_pgflow import enqueue_many, hooks, signals
from django_pgflow.definitions.context import JobContext
from django_pgflow.models import Job
from testproject.example.tasks import always_fails, flaky, noop, record

from .conftest import wait_for

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def received() -> Iterator[list[tuple[str, dict[str, Any]]]]:
    seen: list[tuple[str, dict[str, Any]]] = []
    names = ["job_enqueued", "job_started", "job_completed", "job_retried", "job_failed"]

    def make(name: str) -> Callable[..., None]:
        def receive(sender: Any, **kwargs: Any) -> None:
            assert sender is Job
            kwargs.pop("signal")
            seen.append((name, kwargs))

        return receive

    receivers = {name: make(name) for name in names}
    for name, receiver in receivers.items():
        getattr(signals, name).connect(receiver)
    yield seen
    for name, receiver in receivers.items():
        getattr(signals, name).disconnect(receiver)


def of(seen: list[tuple[str, dict[str, Any]]], job_id: int) -> list[str]:
    return [name for name, kw in seen if kw["job_id"] == job_id]


def test_each_job_event_sends_its_signal_once(received, worker_thread):
    ok = record.enqueue("a")
    retried = flaky.enqueue("b", 1)
    failed = always_fails.using(max_attempts=1).enqueue("c")
    [many] = enqueue_many([noop.s()])
    w = worker_thread()
    wait_for(lambda: all(j.refresh().is_finished for j in (ok, retried, failed)), 30)
    wait_for(lambda: Job.objects.get(pk=many).is_finished)
    wait_for(lambda: len([n for n, _ in received if n != "job_enqueued"]) >= 9)
    assert of(received, ok.pk) == ["job_enqueued", "job_started", "job_completed"]
    assert of(received, retried.pk) == [
        "job_enqueued", "job_started", "job_retried", "job_started", "job_completed"
    ]  # fmt: skip
    assert of(received, failed.pk) == ["job_enqueued", "job_started", "job_failed"]
    assert of(received, many) == ["job_enqueued", "job_started", "job_completed"]
    details = {(n, kw["job_id"]): kw for n, kw in received}
    done = details[("job_completed", ok.pk)]
    assert done["result"] == ok.refresh().result and done["worker_id"] == w.worker.worker_id
    assert done["task_name"] == record.name and done["queue"] == "default"
    assert done["attempt"] == 1
    assert details[("job_retried", retried.pk)]["error"]["error"] == "RuntimeError"
    failure = details[("job_failed", failed.pk)]["error"]
    assert (failure["error"], failure["error_class"]) == ("ValueError", "builtins.ValueError")
    assert isinstance(details[("job_started", ok.pk)]["context"], JobContext)
    assert details[("job_enqueued", ok.pk)]["job"].pk == ok.pk


def test_a_raising_receiver_does_not_touch_the_job(worker_thread):
    def broken(sender: Any, **kwargs: Any) -> None:
        raise RuntimeError("receiver bug")

    signals.job_started.connect(broken)
    signals.job_completed.connect(broken)
    try:
        job = record.enqueue("x")
        worker_thread()
        wait_for(lambda: job.refresh().is_finished, 30)
    finally:
        signals.job_started.disconnect(broken)
        signals.job_completed.disconnect(broken)
    assert job.status == "completed" and job.attempts == 1


calls: list[tuple[str, Any]] = []


def outer_hook(context: JobContext, proceed: Callable[[], Any]) -> Any:
    calls.append(("outer-in", context.job_id))
    value = proceed()
    calls.append(("outer-out", value))
    return value


def inner_hook(context: JobContext, proceed: Callable[[], Any]) -> Any:
    calls.append(("inner-in", context.task_name))
    try:
        return proceed()
    except Exception as error:
        calls.append(("inner-saw", type(error).__name__))
        raise


def test_hooks_wrap_each_execution_outermost_first(worker_thread):
    calls.clear()
    hooked = [f"{__name__}.outer_hook", inner_hook]
    with override_settings(PGFLOW={"HOOKS": hooked, "DEFAULT_MAX_ATTEMPTS": 1}):
        job = record.enqueue("hooked")
        bad = always_fails.enqueue("hooked-fail")
        worker_thread(concurrency=1)
        wait_for(lambda: job.refresh().is_finished and bad.refresh().is_finished, 30)
    assert job.status == "completed" and bad.status == "failed"
    mine = calls[: calls.index(("outer-out", job.result)) + 1]
    assert mine == [
        ("outer-in", job.pk), ("inner-in", record.name), ("outer-out", job.result)
    ]  # fmt: skip
    assert ("inner-saw", "ValueError") in calls
    hooks.reset()


def test_a_hook_that_is_not_callable_fails_the_job_with_a_clear_error(worker_thread):
    with override_settings(PGFLOW={"HOOKS": ["django_pgflow.conf.OPTIONS"]}):
        job = record.using(max_attempts=1).enqueue("x")
        worker_thread()
        wait_for(lambda: job.refresh().is_finished, 30)
    hooks.reset()
    assert job.status == "failed"
    assert "is not callable" in job.errors[-1]["message"]
