"""Moving over one task at a time: the router, and shadow mode.

The "old system" here is a stand-in with the two entry points a real one
(Celery's send_task and AsyncResult, say) offers: send a call by task name and
get an id; ask for that id's outcome. It runs the function at once."""

from __future__ import annotations

import itertools
import logging
from typing import Any

import pytest
from django.core.exceptions import ImproperlyConfigured
from django.test import override_settings

from django_pgflow import task
from django_pgflow.metadata import job_metadata
from django_pgflow.models import Job
from django_pgflow.router import route_for
from django_pgflow.shadow import compare_outcomes

from .conftest import wait_for


@task
def double(x: int) -> int:
    return 2 * x


@task
def other(x: int) -> int:
    return x


LEGACY_CALLS: dict[str, tuple[str, list[Any], dict[str, Any], dict[str, Any]]] = {}
LEGACY_RESULTS: dict[str, Any] = {}
_ids = itertools.count(1)
WRONG_BY = 0  # the old system's answers are off by this much (a behaviour change)


def legacy_send(task_name: str, args: list[Any], kwargs: dict[str, Any], options: dict) -> str:
    legacy_id = f"legacy-{next(_ids)}"
    LEGACY_CALLS[legacy_id] = (task_name, args, kwargs, options)
    LEGACY_RESULTS[legacy_id] = 2 * args[0] + WRONG_BY if task_name == double.name else args[0]
    return legacy_id


def legacy_result(legacy_id: str) -> tuple[bool, Any]:
    return (legacy_id in LEGACY_RESULTS, LEGACY_RESULTS.get(legacy_id))


FLAG: dict[str, str] = {}


def flag_router(task_name: str) -> str | None:
    return FLAG.get(task_name)


LEGACY = {
    "LEGACY_ENQUEUE": f"{__name__}.legacy_send",
    "LEGACY_RESULT": f"{__name__}.legacy_result",
}


def routes(table: dict[str, str], **more: Any) -> Any:
    return override_settings(PGFLOW={**LEGACY, "ROUTES": table, **more})


@pytest.fixture(autouse=True)
def clean() -> None:
    LEGACY_CALLS.clear()
    LEGACY_RESULTS.clear()
    FLAG.clear()


@pytest.mark.django_db(transaction=True)
def test_one_task_moves_over_and_back_and_nothing_is_lost(worker_thread):
    with routes({"*": "legacy"}):
        first = double.delay(1)
        other.delay(10)
    with routes({double.name: "pgflow", "*": "legacy"}):
        moved = double.apply_async([2], countdown=0)
        still_legacy = other.delay(11)
    with routes({"*": "legacy"}):  # switched back
        back = double.delay(3)
    assert isinstance(moved, Job) and moved.args == [2]
    assert {first, still_legacy, back} <= set(LEGACY_CALLS)
    assert [c[1] for c in LEGACY_CALLS.values() if c[0] == double.name] == [[1], [3]]
    assert [c[1] for c in LEGACY_CALLS.values() if c[0] == other.name] == [[10], [11]]
    # The job queued while the route pointed here still runs after the switch back.
    worker_thread()
    wait_for(lambda: moved.refresh().is_finished, 30)
    assert moved.status == "completed" and moved.result == 4
    assert Job.objects.count() == 1


@pytest.mark.django_db
def test_a_router_callable_switches_without_touching_settings():
    with override_settings(PGFLOW={**LEGACY, "ROUTER": f"{__name__}.flag_router"}):
        assert route_for(double.name) == "pgflow"  # None from the callable: ROUTES, default
        FLAG[double.name] = "legacy"
        assert isinstance(double.delay(5), str)
        FLAG[double.name] = "pgflow"
        assert isinstance(double.delay(5), Job)


@pytest.mark.django_db
def test_legacy_calls_get_celery_style_options():
    with routes({"*": "legacy"}):
        legacy_id = double.apply_async([1], countdown=30, queue="emails", priority=3, expires=60)
    options = LEGACY_CALLS[legacy_id][3]
    assert (options["queue"], options["priority"]) == ("emails", 3)
    assert options["eta"] < options["expires"]


@pytest.mark.django_db
def test_bad_routes_are_named():
    with routes({double.name: "celery"}), pytest.raises(ImproperlyConfigured, match="'celery'"):
        double.delay(1)
    with (
        override_settings(PGFLOW={"ROUTES": {"*": "legacy"}}),
        pytest.raises(ImproperlyConfigured, match="LEGACY_ENQUEUE"),
    ):
        double.delay(1)
    assert not Job.objects.exists()


@pytest.mark.django_db(transaction=True)
def test_shadow_mode_runs_both_and_compares(worker_thread):
    with routes({double.name: "shadow"}):
        legacy_id = double.delay(21)
    assert LEGACY_RESULTS[legacy_id] == 42  # the old system's call is the one returned
    copy = Job.objects.get(task_name=double.name)
    compare = Job.objects.get(task_name=compare_outcomes.name)
    assert compare.args == [copy.pk, legacy_id]
    with routes({double.name: "shadow"}):
        worker_thread()
        wait_for(lambda: compare.refresh().is_finished, 30)
    assert compare.result == {"match": True, "ours": 42, "theirs": 42}
    assert job_metadata(copy.pk, "shadow") == {"legacy_id": legacy_id}


@pytest.mark.django_db(transaction=True)
def test_shadow_mode_reports_a_mismatch(worker_thread, caplog, monkeypatch):
    monkeypatch.setattr(f"{__name__}.WRONG_BY", 1)
    with routes({double.name: "shadow"}):
        legacy_id = double.delay(5)
        caplog.set_level(logging.WARNING, logger="django_pgflow.shadow")
        worker_thread()
        compare = Job.objects.get(task_name=compare_outcomes.name)
        wait_for(lambda: compare.refresh().is_finished, 30)
    assert compare.result == {"match": False, "ours": 10, "theirs": 11}
    assert f"the old system's {legacy_id} returned 11" in caplog.text


def test_system_checks_name_bad_routes_and_missing_doors():
    from django_pgflow.checks import check_routes

    with override_settings(PGFLOW={"ROUTES": {"a.b": "celery"}}):
        assert [e.id for e in check_routes()] == ["pgflow.E014"]
    with override_settings(PGFLOW={"ROUTES": {"*": "shadow"}}):
        messages = [e.msg for e in check_routes()]
        assert any("LEGACY_ENQUEUE" in m for m in messages)
        assert any("LEGACY_RESULT" in m for m in messages)
    with override_settings(PGFLOW={**LEGACY, "ROUTES": {"*": "shadow"}}):
        assert check_routes() == []
