"""Issue 15's event-ordering proof: 200 runs of a diamond with a map step, run by two
``runworkers`` processes. Every listener gets, per run, every event in the order
of the database's changes, none missing, and none from a transaction that
rolled back (a start and some cancellations are rolled back on purpose)."""

from __future__ import annotations

import asyncio
import threading
from collections import defaultdict
from typing import Any

import pytest
from django.db import transaction

from django_pgflow import cancel_run
from django_pgflow.models import RunEvent, WorkflowRun
from testproject.example.event_flows import EventDiamond

from .conftest import registered, stop, wait_for
from .test_run_events import Notifications

pytestmark = pytest.mark.django_db(transaction=True)

RUNS = 200
SIZE = 3  # map tasks per run
EVENTS_PER_RUN = 10  # the run, split, double, count and join: started and completed each


def follow(runs: list[WorkflowRun], into: dict[int, list[int]]) -> threading.Thread:
    """``async for`` over each run's events, all at once, in a thread of their own."""

    async def one(run: WorkflowRun) -> None:
        async for event in run.events(timeout=120):
            into[run.pk].append(event.id)

    async def every() -> None:
        await asyncio.gather(*(one(run) for run in runs))

    thread = threading.Thread(target=asyncio.run, args=(every(),), daemon=True)
    thread.start()
    return thread


def run_completed(payload: dict[str, Any]) -> bool:
    return payload["step"] is None and payload["status"] == "completed"


def causal(events: list[tuple[str | None, str]]) -> bool:
    """A run's events read as an execution of the diamond can happen."""
    at = {event: index for index, event in enumerate(events)}
    before = [
        ((None, "started"), ("split", "started")),
        (("split", "completed"), ("double", "started")),
        (("split", "completed"), ("count", "started")),
        (("double", "completed"), ("join", "started")),
        (("count", "completed"), ("join", "started")),
        (("join", "completed"), (None, "completed")),
    ] + [((s, "started"), (s, "completed")) for s in ("split", "double", "count", "join")]
    return len(at) == len(events) and all(at[a] < at[b] for a, b in before)


def test_every_listener_gets_every_event_of_each_run_in_the_order_of_the_changes(
    worker_process,
):
    listener = Notifications()
    try:
        _run_and_check(worker_process, listener)
    finally:
        listener.close()


def _run_and_check(worker_process: Any, listener: Notifications) -> None:
    runs = [EventDiamond.start({"size": SIZE}) for _ in range(RUNS // 2)]
    with pytest.raises(RuntimeError), transaction.atomic():
        ghost = EventDiamond.start({"size": SIZE})
        raise RuntimeError("rolled back: no event of it may reach anyone")
    runs += [EventDiamond.start({"size": SIZE}) for _ in range(RUNS - len(runs))]
    for run in runs[7::50]:
        with pytest.raises(RuntimeError), transaction.atomic():
            assert cancel_run(run.pk) is True
            raise RuntimeError("rolled back: these runs go on")
    followed: dict[int, list[int]] = defaultdict(list)
    sample = runs[::40]
    followers = follow(sample, followed)
    procs = registered([worker_process("--concurrency", "4") for _ in range(2)])

    ids = [run.pk for run in runs]
    finished = WorkflowRun.objects.filter(pk__in=ids).exclude(status="started")
    wait_for(lambda: finished.count() == RUNS, 90)
    stop(*procs)
    table: dict[int, list[RunEvent]] = defaultdict(list)
    for event in RunEvent.objects.filter(run_id__in=ids).order_by("id"):
        table[event.run_id].append(event)
    done = {run_id for run_id, events in table.items() if events[-1].status == "completed"}
    assert done == set(ids), "every run completed, and its last event says so"
    listener.wait_until(lambda got: sum(map(run_completed, got)) >= RUNS)
    followers.join(30)
    assert not followers.is_alive()

    heard: dict[int, list[int]] = defaultdict(list)
    for payload in listener.payloads:
        heard[payload["run_id"]].append(payload["id"])
    assert set(heard) == set(ids), "nothing heard of the rolled-back start, or of any other run"
    assert ghost.pk not in heard and not RunEvent.objects.filter(run_id=ghost.pk).exists()
    assert not RunEvent.objects.filter(status="cancelled").exists()
    for run in runs:
        events = table[run.pk]
        assert len(events) == EVENTS_PER_RUN, (run.pk, events)
        assert causal([(e.step_slug, e.status) for e in events]), (run.pk, events)
        assert heard[run.pk] == [e.id for e in events], run.pk  # all, once, in order
    for run in sample:
        assert followed[run.pk] == [e.id for e in table[run.pk]], run.pk
    origins = {e.origin for events in table.values() for e in events if e.origin is not None}
    assert len(origins) == 2, "both worker processes made changes"
    outputs = WorkflowRun.objects.filter(pk__in=ids).values_list("output", flat=True)
    assert all(output == {"join": {"sum": 6, "count": 3}} for output in outputs)
