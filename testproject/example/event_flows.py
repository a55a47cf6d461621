"""Flows and tasks for the tests of issue 15: run events, the run input in every
step, ``unless=``, skipped dependencies, compensation and metadata.

Imported by ``flows.py``, so that worker processes know them too.
"""

from __future__ import annotations

import os
from typing import Any

from django.utils import timezone

from django_pgflow import Flow, RunFailure, compensate, current_job, step, task
from django_pgflow.signals import RUN_EVENT_SIGNALS

from .models import Execution


def record(flow: Flow, name: str) -> None:
    Execution.objects.create(
        task=name, key=f"run:{flow.run_id}", pid=os.getpid(), started_at=timezone.now()
    )


class EventDiamond(Flow):
    """``split -> (double, a map || count) -> join``: a diamond with a map step."""

    slug = "event_diamond"

    @step()
    def split(self, input: dict[str, Any]) -> list[int]:
        return list(range(int(input["size"])))

    @step(depends_on=["split"], map=True)
    def double(self, item: int) -> int:
        return item * 2

    @step(depends_on=["split"])
    def count(self, split: list[int]) -> int:
        return len(split)

    @step(depends_on=["double", "count"])
    def join(self, double: list[int], count: int) -> dict[str, int]:
        return {"sum": sum(double), "count": count}


class InputEverywhere(Flow):
    """Every step, the map's tasks and the dependent ones included, takes ``input``."""

    slug = "input_everywhere"

    @step()
    def items(self, input: dict[str, Any]) -> list[int]:
        return list(input["items"])

    @step(depends_on=["items"], map=True)
    def scale(self, item: int, input: dict[str, Any]) -> int:
        return item * int(input["factor"])

    @step(depends_on=["scale"])
    def total(self, scale: list[int], input: dict[str, Any]) -> dict[str, Any]:
        return {"total": sum(scale), "label": input["label"]}


class Unless(Flow):
    """``notify`` runs unless ``classify`` says the account is blocked; ``report``
    then gets its parameter's default, and ``audit`` None, for the skipped step.
    ``announce``, a root step, runs unless the run input says ``quiet``."""

    slug = "unless_blocked"

    @step()
    def classify(self, input: dict[str, Any]) -> dict[str, str]:
        return {"tier": str(input["tier"])}

    @step(unless={"quiet": True})
    def announce(self, input: dict[str, Any]) -> str:
        return "announced"

    @step(depends_on=["classify"], unless={"classify": {"tier": "blocked"}})
    def notify(self, classify: dict[str, str]) -> str:
        record(self, "notify")
        return f"notified {classify['tier']}"

    @step(depends_on=["classify", "notify"])
    def report(self, classify: dict[str, str], notify: str = "not notified") -> str:
        return f"{classify['tier']}: {notify}"

    @step(depends_on=["notify"])
    def audit(self, notify: str | None) -> dict[str, Any]:
        return {"notify": notify}


class RootMap(Flow):
    """A map over the run input itself, which must then be an array."""

    slug = "root_map"

    @step(map=True)
    def each(self, item: int) -> int:
        return item + 1

    @step(depends_on=["each"])
    def total(self, each: list[int]) -> int:
        return sum(each)


class Compensated(Flow):
    """reserve -> charge -> ship, with a compensation handler that reports what it got.

    ``ship`` fails when the input says so; with ``{"park": true}`` it goes to the
    queue ``slow``, which the compensation tests serve with no worker, so that a
    run stays in flight with two steps done until it is cancelled.
    """

    slug = "compensated"
    max_attempts = 1

    @step()
    def reserve(self, input: dict[str, Any]) -> dict[str, str]:
        return {"reservation": f"r-{input['order']}"}

    @step(depends_on=["reserve"])
    def charge(self, reserve: dict[str, str]) -> dict[str, str]:
        return {"charge": f"c-{reserve['reservation']}"}

    @step(depends_on=["charge"], queue="slow")
    def ship(self, charge: dict[str, str], input: dict[str, Any]) -> str:
        if input.get("fail"):
            raise RuntimeError(f"the carrier refused order {input['order']}")
        return "shipped"

    @compensate
    def undo(self, failure: RunFailure) -> dict[str, Any]:
        record(self, "undo")
        job = current_job()
        return {
            "run_id": failure.run_id,
            "flow": failure.flow,
            "status": failure.status,
            "failed_step": failure.failed_step,
            "error": failure.error,
            "outputs": failure.outputs,
            "input": failure.input,
            "metadata": job.metadata if job else None,
        }


class WithMetadata(Flow):
    """Each step returns the metadata its task sees: a root, a map, a dependent."""

    slug = "with_metadata"

    @step()
    def root(self, input: Any) -> list[Any]:
        return [_metadata(), _metadata()]

    @step(depends_on=["root"], map=True)
    def each(self, item: Any) -> Any:
        return _metadata()

    @step(depends_on=["each"])
    def last(self, each: list[Any]) -> dict[str, Any]:
        return {"each": each, "last": _metadata()}


def _metadata() -> Any:
    job = current_job()
    return job.metadata if job is not None else None


@task
def job_metadata() -> Any:
    """Returns the metadata its job carries, as a task sees it."""
    return _metadata()


# --- run and step signals, logged by worker processes ----------------------------


def _log_signal(sender: Any, run_id: int, step_slug: str | None, status: str, **kw: Any) -> None:
    """One Execution row per signal received: which process, for which event."""
    event = kw["event"]
    Execution.objects.create(
        task=f"signal:{status}",
        key=f"run:{run_id}:{step_slug or ''}",
        job_id=event["id"],  # the event's id
        pid=os.getpid(),
        started_at=timezone.now(),
    )


# A worker process started with PGFLOW_TEST_SIGNAL_LOG=1 logs every run and step
# signal it sends (tests/test_run_events.py): connected before the worker
# starts, so that its listener follows the events.
if os.environ.get("PGFLOW_TEST_SIGNAL_LOG"):
    for _signal in RUN_EVENT_SIGNALS.values():
        _signal.connect(_log_signal, weak=False, dispatch_uid=f"test-log-{id(_signal)}")
