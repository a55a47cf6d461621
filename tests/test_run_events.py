"""Run and step events: recorded and announced by the transaction that makes the
change, followed by ``run.events()`` and ``run.wait()``, and turned into Django
signals by the process that caused them. Real workers, real notifications."""

from __future__ import annotations

import asyncio
import json
import threading
from collections.abc import Callable, Iterator
from typing import Any

import psycopg
import pytest
from django.db import connection, transaction

from django_pgflow import RunFailedError, cancel_run, resume_run, signals
from django_pgflow.models import Job, RunEvent, Worker, WorkflowRun
from django_pgflow.runs import events as run_events
from django_pgflow.worker.connection import connection_kwargs
from testproject.example.event_flows import EventDiamond
from testproject.example.flows import AlwaysFails, Chain, FailsUntilResumed, SlowMap
from testproject.example.models import Execution

from .conftest import registered, stop, wait_for

pytestmark = pytest.mark.django_db(transaction=True)

CHANNEL = "django_pgflow_events"
PAYLOAD_KEYS = {"id", "run_id", "flow", "step", "status", "at", "origin"}


def table(run: WorkflowRun) -> list[tuple[int, str | None, str]]:
    """The run's events as the database recorded them: (id, step, status), in order."""
    rows = RunEvent.objects.filter(run_id=run.pk).order_by("id")
    return list(rows.values_list("id", "step_slug", "status"))


def steps_of(events: list[Any]) -> list[tuple[str | None, str]]:
    return [(e.step_slug, e.status) for e in events]


class Notifications:
    """A raw LISTEN on the events channel, collected by a thread, in arrival order."""

    def __init__(self) -> None:
        self.conn = psycopg.connect(autocommit=True, **connection_kwargs())
        self.conn.execute(f"LISTEN {CHANNEL}")
        self.payloads: list[dict[str, Any]] = []
        self.done = threading.Event()
        self.thread = threading.Thread(target=self._collect, daemon=True)
        self.thread.start()

    def _collect(self) -> None:
        while not self.done.is_set():
            for notify in self.conn.notifies(timeout=0.2):
                self.payloads.append(json.loads(notify.payload))

    def of(self, run_id: int) -> list[dict[str, Any]]:
        return [p for p in list(self.payloads) if p["run_id"] == run_id]

    def wait_until(self, predicate: Callable[[list[dict[str, Any]]], bool]) -> None:
        wait_for(lambda: predicate(list(self.payloads)), 30)

    def close(self) -> None:
        self.done.set()
        self.thread.join(5)
        self.conn.close()


@pytest.fixture
def notifications() -> Iterator[Notifications]:
    listening = Notifications()
    yield listening
    listening.close()


def final(payload: dict[str, Any], run_id: int) -> bool:
    mine = payload["run_id"] == run_id
    return mine and payload["step"] is None and payload["status"] != "started"


CHAIN_EVENTS = [
    (None, "started"),
    ("first", "started"),
    ("first", "completed"),
    ("second", "started"),
    ("second", "completed"),
    ("third", "started"),
    ("third", "completed"),
    (None, "completed"),
]


# --- the events ----------------------------------------------------------------------


def test_each_status_change_is_recorded_and_announced_in_order(notifications, worker_thread):
    worker = worker_thread()
    run = Chain.start({"n": 1})
    notifications.wait_until(lambda got: any(final(p, run.pk) for p in got))
    received = notifications.of(run.pk)
    assert [(p["step"], p["status"]) for p in received] == CHAIN_EVENTS
    assert [p["id"] for p in received] == [row[0] for row in table(run)]
    assert all(set(p) == PAYLOAD_KEYS and p["flow"] == "linear_chain" for p in received)
    # Who made each change: this process started the run and its root step;
    # the worker's own transactions did the rest.
    origins = [p["origin"] for p in received]
    assert origins == [None, None] + [str(worker.worker.worker_id)] * 6
    at = [p["at"] for p in received]
    assert at == sorted(at)


def test_a_change_that_rolls_back_records_and_announces_nothing(notifications):
    with pytest.raises(RuntimeError), transaction.atomic():
        rolled_back = Chain.start({"n": 1})
        raise RuntimeError("the view failed")
    running = SlowMap.start({"tasks": 1, "seconds": 0})
    with pytest.raises(RuntimeError), transaction.atomic():
        assert cancel_run(running.pk) is True
        raise RuntimeError("changed our mind")
    # A change committed after both: once its event is here, theirs would be too.
    marker = Chain.start({"n": 2})
    notifications.wait_until(lambda got: any(p["run_id"] == marker.pk for p in got))
    assert not notifications.of(rolled_back.pk)
    assert not RunEvent.objects.filter(run_id=rolled_back.pk).exists()
    assert [p["status"] for p in notifications.of(running.pk)] == ["started", "started"]
    assert not RunEvent.objects.filter(status="cancelled").exists()
    assert WorkflowRun.objects.get(pk=running.pk).status == "started"


def test_a_failed_run_ends_with_its_final_event(worker_thread):
    worker_thread()
    run = AlwaysFails.start(None)
    seen = steps_of(list(run.events(timeout=30)))
    # The step that failed, and the one cancelled because of it, come before
    # the run's own failure: an iterator stopping there misses none of them.
    assert seen == [
        (None, "started"),
        ("boom", "started"),
        ("boom", "failed"),
        ("never", "cancelled"),
        (None, "failed"),
    ]
    assert [(step, status) for _id, step, status in table(run)] == seen


def test_a_cancelled_run_ends_with_its_final_event():
    run = SlowMap.start({"tasks": 2, "seconds": 0})
    assert cancel_run(run.pk) is True
    seen = steps_of(list(run.events(timeout=30)))
    assert seen[-1] == (None, "cancelled")
    cancelled = [("done", "cancelled"), ("plan", "cancelled"), ("work", "cancelled")]
    assert sorted(seen[2:-1]) == cancelled


# --- run.events() ------------------------------------------------------------------


def test_run_events_follows_a_run_to_its_end(worker_thread):
    worker_thread()
    run = EventDiamond.start({"size": 3})
    seen = list(run.events(timeout=30))
    assert [e.id for e in seen] == [row[0] for row in table(run)]
    assert steps_of(seen)[0] == (None, "started") and steps_of(seen)[-1] == (None, "completed")
    assert len(seen) == 10  # run 2, split 2, double 2, count 2, join 2
    assert all(e.run_id == run.pk and e.flow_slug == "event_diamond" for e in seen)


def test_run_events_async_follows_a_run_to_its_end(worker_thread):
    worker_thread()
    run = EventDiamond.start({"size": 2})

    async def follow() -> list[RunEvent]:
        return [event async for event in run.events(timeout=30)]

    seen = asyncio.run(follow())
    assert [e.id for e in seen] == [row[0] for row in table(run)]
    assert steps_of(seen)[-1] == (None, "completed")


def test_run_events_after_an_id_starts_after_it(worker_thread):
    worker_thread()
    run = Chain.start({"n": 1}).wait(30)
    ids = [row[0] for row in table(run)]
    assert [e.id for e in run.events(after=ids[3], timeout=30)] == ids[4:]


def test_a_listener_that_loses_its_connection_catches_up_from_the_table(worker_thread):
    run = Chain.start({"n": 1})
    events = iter(run.events(timeout=60))
    assert steps_of([next(events), next(events)]) == CHAIN_EVENTS[:2]
    killed = _terminate_event_listeners()
    assert killed == 1
    # Everything else happens while it is cut off: no notification reaches it.
    worker_thread()
    wait_for(lambda: WorkflowRun.objects.get(pk=run.pk).status == "completed", 30)
    rest = list(events)
    assert steps_of(rest) == CHAIN_EVENTS[2:]
    assert [e.id for e in rest] == [row[0] for row in table(run)][2:]


def _terminate_event_listeners() -> int:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FILTER (WHERE pg_terminate_backend(pid)) FROM pg_stat_activity "
            "WHERE application_name = 'pgflow events' AND datname = current_database()"
        )
        return int(cursor.fetchone()[0])


# --- run.wait() --------------------------------------------------------------------


def test_wait_is_woken_by_the_final_event_not_by_polling(worker_thread, monkeypatch):
    # With no look at the table but on a notification, only the events can
    # end the wait before its timeout.
    monkeypatch.setattr(run_events, "POLL", 3600.0)
    worker_thread()
    run = EventDiamond.start({"size": 2})
    assert run.wait(timeout=60).status == "completed"
    assert run.output == {"join": {"sum": 2, "count": 2}}


def test_wait_raises_run_failed_error_with_the_failure(worker_thread):
    worker_thread()
    run = AlwaysFails.start({"why": "test"})
    with pytest.raises(RunFailedError) as raised:
        run.wait(30)
    failure = raised.value.failure
    assert (failure.run_id, failure.flow, failure.status) == (run.pk, "always_fails", "failed")
    assert failure.failed_step == "boom"
    assert failure.error["error"] == "ValueError"
    assert failure.error["message"] == "boom always fails (simulated)"
    assert failure.outputs == {} and failure.input == {"why": "test"}
    assert str(raised.value) == (
        f"run {run.pk} of 'always_fails' failed at step 'boom': boom always fails (simulated)"
    )
    assert run.wait(30, raise_on_failure=False).status == "failed"


def test_wait_raises_for_a_cancelled_run():
    run = SlowMap.start({"tasks": 1, "seconds": 0})
    cancel_run(run.pk)
    with pytest.raises(RunFailedError, match="cancelled") as raised:
        run.wait(5)
    assert raised.value.failure.status == "cancelled"


# --- signals -----------------------------------------------------------------------


@pytest.fixture
def run_signals() -> Iterator[list[dict[str, Any]]]:
    """Every run and step signal this process sends: which, where, for which event."""
    seen: list[dict[str, Any]] = []
    lock = threading.Lock()

    def receive(sender: Any, signal: Any, **kwargs: Any) -> None:
        assert sender is WorkflowRun
        with lock:
            seen.append({**kwargs, "thread": threading.current_thread().name})

    for sig in signals.RUN_SIGNALS:
        sig.connect(receive)
    yield seen
    for sig in signals.RUN_SIGNALS:
        sig.disconnect(receive)


def test_signals_are_sent_once_by_the_worker_that_caused_them(run_signals, worker_thread):
    a, b = worker_thread(concurrency=2), worker_thread(concurrency=2)
    runs = [EventDiamond.start({"size": 4}) for _ in range(3)]
    for run in runs:
        run.wait(30)
    events = {e.id: e for e in RunEvent.objects.filter(run_id__in=[r.pk for r in runs])}
    wait_for(lambda: len(run_signals) >= len(events), 30)
    assert sorted(s["event"]["id"] for s in run_signals) == sorted(events)  # each one once
    workers = {str(a.worker.worker_id), str(b.worker.worker_id)}
    for sent in run_signals:
        event = events[sent["event"]["id"]]
        assert (sent["run_id"], sent["step_slug"], sent["status"]) == (
            event.run_id, event.step_slug, event.status
        )  # fmt: skip
        if event.origin is None:  # start_flow's, sent by this thread after its commit
            assert sent["thread"] == threading.current_thread().name
        else:  # a worker's, sent by its listener
            assert event.origin in workers and sent["thread"] == "pgflow-listener"
            assert sent["event"]["origin"] == event.origin
    # Step completions came from the workers that completed the steps' jobs.
    for event in events.values():
        if event.step_slug == "split" and event.status == "completed":
            job = Job.objects.get(run_id=event.run_id, step_slug="split")
            assert event.origin == str(job.worker_id)


def test_start_cancel_and_resume_send_their_signals_after_commit(run_signals, worker_thread):
    with transaction.atomic():
        run = SlowMap.start({"tasks": 1, "seconds": 0})
        assert run_signals == []  # not before the commit: it might roll back
    assert [(s["step_slug"], s["status"]) for s in run_signals] == [
        (None, "started"), ("plan", "started")
    ]  # fmt: skip
    del run_signals[:]
    with transaction.atomic():
        cancel_run(run.pk)
        assert run_signals == []
    assert [(s["step_slug"], s["status"]) for s in run_signals][-1] == (None, "cancelled")
    assert {s["status"] for s in run_signals} == {"cancelled"}

    worker_thread()
    failed = FailsUntilResumed.start(None).wait(30, raise_on_failure=False)
    wait_for(lambda: any(s["run_id"] == failed.pk and s["status"] == "failed" for s in run_signals))
    del run_signals[:]
    with transaction.atomic():
        assert resume_run(failed.pk) is True
        assert run_signals == []
    mine = [(s["step_slug"], s["status"]) for s in run_signals if s["thread"] != "pgflow-listener"]
    assert mine == [(None, "started"), ("shaky", "started")]


def test_worker_processes_send_the_signals_of_their_own_changes(worker_process):
    env = {"PGFLOW_TEST_SIGNAL_LOG": "1"}
    procs = registered([worker_process("--concurrency", "2", env=env) for _ in range(2)])
    runs = [EventDiamond.start({"size": 3}) for _ in range(4)]
    for run in runs:
        run.wait(60)
    events = RunEvent.objects.filter(run_id__in=[r.pk for r in runs])
    by_worker = {e.id: e.origin for e in events if e.origin is not None}
    logged = Execution.objects.filter(task__startswith="signal:")
    wait_for(lambda: logged.count() >= len(by_worker), 30)
    stop(*procs)
    pids = dict(Worker.objects.values_list("id", "pid"))
    assert sorted(logged.values_list("job_id", flat=True)) == sorted(by_worker)  # once each
    for event_id, pid in logged.values_list("job_id", "pid"):
        assert pid == pids[int(by_worker[event_id])]  # by the process whose worker made it
