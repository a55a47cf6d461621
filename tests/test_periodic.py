"""Periodic tasks: one job per tick across workers, the missed-tick policy, DST,
the decorator and the PERIODIC setting with its system checks."""

from __future__ import annotations

import datetime as dt
import json
import os
import signal
import subprocess
import sys
import threading
from collections.abc import Iterator
from typing import Any

import pytest
from django.conf import settings
from django.test import override_settings

from django_pgflow import InvalidScheduleError, periodic, task
from django_pgflow.checks import check_settings
from django_pgflow.definitions import periodic as periodic_module
from django_pgflow.definitions.periodic import Schedule, declared_schedules
from django_pgflow.definitions.task import Task
from django_pgflow.models import Job, PeriodicSchedule
from django_pgflow.worker.connection import connect
from django_pgflow.worker.scheduler import Scheduler

from .conftest import ROOT, sql_value, wait_for

NOOP = "testproject.example.tasks.noop"
UTC = dt.UTC


def with_periodic(schedules: dict[str, Any]) -> override_settings:
    return override_settings(PGFLOW={**settings.PGFLOW, "PERIODIC": schedules})


def tick_key(name: str, tick: dt.datetime) -> str:
    return f"periodic:{name}:{tick.astimezone(UTC):%Y-%m-%dT%H:%M:%SZ}"


@pytest.fixture
def scheduler() -> Iterator[Any]:
    """Schedulers driven by hand (``sync()``, ``tick()``), closed after the test."""
    made: list[Scheduler] = []

    def make() -> Scheduler:
        made.append(Scheduler(declared_schedules(), stop=threading.Event()))
        return made[-1]

    yield make
    for s in made:
        s.db.close()


# --- many workers, one job per tick -------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_two_worker_processes_enqueue_exactly_one_job_per_tick(worker_process, monkeypatch):
    monkeypatch.setenv("PGFLOW_LOG", "INFO")
    every_second = {"every-second": {"task": NOOP, "cron": "* * * * * *"}}
    workers = [
        worker_process("--concurrency", "2", overrides={"PERIODIC": every_second}) for _ in range(2)
    ]
    wait_for(lambda: all("1 periodic schedule(s)" in w.output() for w in workers))
    wait_for(lambda: Job.objects.filter(task_name=NOOP).exists())

    start = sql_value("SELECT now()").replace(microsecond=0)
    ticks = [start + dt.timedelta(seconds=n) for n in (1, 2, 3)]
    window = Job.objects.filter(task_name=NOOP, run_at__range=(ticks[0], ticks[-1]))
    wait_for(lambda: Job.objects.filter(task_name=NOOP, run_at__gt=ticks[-1]).exists())
    wait_for(lambda: not window.exclude(status="completed").exists())
    for w in workers:
        w.signal(signal.SIGTERM)
    for w in workers:
        assert w.wait(30) == 0, w.output()

    assert sorted(j.run_at for j in window) == ticks
    assert {j.unique_key for j in window} == {tick_key("every-second", t) for t in ticks}
    # Over the whole run, never two jobs for one tick.
    run_ats = list(Job.objects.filter(task_name=NOOP).values_list("run_at", flat=True))
    assert len(run_ats) == len(set(run_ats)) >= 4


@pytest.mark.django_db(transaction=True)
def test_concurrent_claims_of_one_tick_enqueue_one_job():
    """The row lock serialises callers; the loser re-checks last_tick and gets NULL."""
    with with_periodic({"hourly": {"task": NOOP, "cron": "0 * * * *"}}):
        s = Scheduler(declared_schedules(), stop=threading.Event())
        s.sync()
        s.db.close()
    tick = sql_value("SELECT date_trunc('hour', now())")
    sql_value("UPDATE pgflow_periodic SET last_tick = last_tick - interval '1 day' RETURNING 1")
    claim = "SELECT django_pgflow.enqueue_periodic('hourly', %s)"
    with connect("test-a") as a, connect("test-b") as b:
        a.autocommit = False
        first = a.execute(claim, [tick]).fetchone()
        results: list[Any] = []
        loser = threading.Thread(target=lambda: results.append(b.execute(claim, [tick]).fetchone()))
        loser.start()
        loser.join(0.5)
        assert loser.is_alive(), "the second claim should wait for the first transaction"
        a.commit()
        loser.join(10)
    assert first and first[0] is not None
    assert results == [(None,)]
    assert Job.objects.filter(unique_key=tick_key("hourly", tick)).count() == 1


@pytest.mark.django_db(transaction=True)
def test_enqueue_periodic_refuses_a_tick_in_the_future_or_before_the_last():
    with with_periodic({"hourly": {"task": NOOP, "cron": "0 * * * *"}}):
        s = Scheduler(declared_schedules(), stop=threading.Event())
        s.sync()
        s.db.close()
    last = PeriodicSchedule.objects.get(name="hourly").last_tick
    future = sql_value("SELECT django_pgflow.enqueue_periodic('hourly', now() + interval '1 hour')")
    older = sql_value(
        "SELECT django_pgflow.enqueue_periodic('hourly', %s)", [last - dt.timedelta(hours=1)]
    )
    same = sql_value("SELECT django_pgflow.enqueue_periodic('hourly', %s)", [last])
    assert (future, older, same) == (None, None, None)
    assert not Job.objects.exists()


# --- the missed-tick policy -------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_new_schedule_enqueues_nothing_for_ticks_before_it_was_declared(scheduler):
    with with_periodic({"hourly": {"task": NOOP, "cron": "0 * * * *"}}):
        s = scheduler()
        s.sync()
        s.tick()
    row = PeriodicSchedule.objects.get(name="hourly")
    assert row.last_tick == sql_value("SELECT date_trunc('hour', now())")
    assert row.next_tick == row.last_tick + dt.timedelta(hours=1)
    assert not Job.objects.exists()


@pytest.mark.django_db(transaction=True)
def test_ticks_missed_while_no_worker_ran_enqueue_only_the_latest_once(scheduler):
    with with_periodic({"hourly": {"task": NOOP, "cron": "0 * * * *", "kwargs": {}}}):
        scheduler().sync()
        # Every worker was down for five hours: five ticks were missed.
        sql_value(
            "UPDATE pgflow_periodic SET last_tick = last_tick - interval '5 hours' RETURNING 1"
        )
        first, second = scheduler(), scheduler()
        first.sync()  # a restarted worker syncs an unchanged schedule: last_tick stays
        first.tick()
        second.tick()
        first.tick()
    latest = sql_value("SELECT date_trunc('hour', now())")
    jobs = list(Job.objects.all())
    assert [(j.task_name, j.run_at, j.unique_key) for j in jobs] == [
        (NOOP, latest, tick_key("hourly", latest))
    ]
    row = PeriodicSchedule.objects.get(name="hourly")
    assert (row.last_tick, row.last_job_id) == (latest, jobs[0].pk)
    assert first.enqueued + second.enqueued == 1


@pytest.mark.django_db(transaction=True)
def test_a_changed_cron_starts_at_its_own_next_tick(scheduler):
    with with_periodic({"report": {"task": NOOP, "cron": "0 * * * *"}}):
        scheduler().sync()
    sql_value("UPDATE pgflow_periodic SET last_tick = last_tick - interval '5 hours' RETURNING 1")
    with with_periodic({"report": {"task": NOOP, "cron": "*/30 * * * *", "timezone": "UTC"}}):
        s = scheduler()
        s.sync()
        s.tick()
    row = PeriodicSchedule.objects.get(name="report")
    assert row.cron == "*/30 * * * *"
    assert row.last_tick >= sql_value("SELECT now() - interval '30 minutes'")
    assert not Job.objects.exists()


@pytest.mark.django_db(transaction=True)
def test_a_schedule_that_cannot_be_enqueued_is_disabled_and_the_others_still_run(caplog):
    good = Schedule(name="good", task_name=NOOP, cron="0 * * * *")
    unknown = Schedule(name="bad", task_name="tests.no_such_task", cron="0 * * * *")
    s = Scheduler({"good": good, "bad": unknown}, stop=threading.Event())
    try:
        s.sync()
    finally:
        s.db.close()
    assert list(s.schedules) == ["good"]
    assert list(PeriodicSchedule.objects.values_list("name", flat=True)) == ["good"]
    assert "periodic schedule 'bad' disabled: Unknown task 'tests.no_such_task'" in caplog.text


# --- the decorator, a worker thread, ticks ----------------------------------


@pytest.fixture
def forget_schedules() -> Iterator[list[str]]:
    names: list[str] = []
    yield names
    for name in names:
        periodic_module.unregister_schedule(name)


def test_periodic_on_a_plain_function_registers_a_task_and_a_schedule(forget_schedules):
    forget_schedules.append("test-plain")

    def plain(x: int) -> int:
        return x + 1

    plain.__qualname__ = "plain"  # a module-level name, as in a tasks.py
    plain = periodic("*/5 * * * *", timezone="Europe/Paris", name="test-plain", args=[1])(plain)

    assert isinstance(plain, Task)
    assert plain(1) == 2
    schedule = declared_schedules()["test-plain"]
    assert (schedule.task_name, schedule.cron, schedule.timezone, schedule.args) == (
        plain.name,
        "*/5 * * * *",
        "Europe/Paris",
        (1,),
    )


def test_periodic_above_task_keeps_the_task_and_its_options(forget_schedules):
    @task(name="tests.report", queue="emails", max_attempts=7)
    def report() -> None: ...

    forget_schedules.append(report.name)
    decorated = periodic("0 3 * * *", priority=5)(report)
    assert decorated is report
    schedule = declared_schedules()[report.name]
    assert schedule.options.priority == 5
    assert report.options.queue == "emails"


def test_the_setting_overrides_a_decorated_schedule_of_the_same_name(forget_schedules):
    forget_schedules.append("test-override")
    periodic("0 3 * * *", name="test-override")(task(lambda: None, name="tests.override"))
    with with_periodic({"test-override": {"task": NOOP, "cron": "0 4 * * *"}}):
        assert declared_schedules()["test-override"].cron == "0 4 * * *"


@pytest.mark.parametrize(
    ("kwargs", "needle"),
    [
        ({"cron": "61 * * * *"}, "Invalid cron expression"),
        ({"cron": "* * * * *", "timezone": "Mars/Olympus"}, "Unknown time zone"),
        ({"cron": "* * * * *", "name": "bad name"}, "Invalid schedule name"),
    ],
)
def test_periodic_refuses_a_bad_schedule_when_it_is_declared(kwargs, needle):
    with pytest.raises(InvalidScheduleError, match=needle):
        periodic(**kwargs)(task(lambda: None, name="tests.refused"))


@pytest.mark.django_db(transaction=True)
def test_a_worker_thread_runs_a_decorated_schedule(worker_thread, forget_schedules):
    forget_schedules.append("test-every-second")
    periodic("* * * * * *", name="test-every-second")(task(lambda: "tick", name="tests.tick"))
    w = worker_thread()
    done = wait_for(lambda: Job.objects.filter(task_name="tests.tick", status="completed").first())
    w.stop()
    assert done.result == "tick"
    assert done.unique_key == tick_key("test-every-second", done.run_at)


def test_ticks_follow_the_schedule_time_zone_across_dst():
    paris = Schedule(name="paris", task_name=NOOP, cron="0 3 * * *", timezone="Europe/Paris")
    winter, _ = paris.ticks_around(dt.datetime(2024, 1, 15, 12, tzinfo=UTC))
    summer, _ = paris.ticks_around(dt.datetime(2024, 7, 15, 12, tzinfo=UTC))
    assert winter == dt.datetime(2024, 1, 15, 2, tzinfo=UTC)  # 03:00 CET
    assert summer == dt.datetime(2024, 7, 15, 1, tzinfo=UTC)  # 03:00 CEST
    # The night clocks go forward (02:00 -> 03:00), 03:00 still comes once.
    _, upcoming = paris.ticks_around(dt.datetime(2024, 3, 30, 12, tzinfo=UTC))
    assert upcoming == dt.datetime(2024, 3, 31, 1, tzinfo=UTC)


def test_a_sixth_field_counts_seconds():
    every_ten = Schedule(name="s", task_name=NOOP, cron="* * * * * */10")
    latest, upcoming = every_ten.ticks_around(dt.datetime(2024, 1, 1, 0, 0, 25, tzinfo=UTC))
    assert latest == dt.datetime(2024, 1, 1, 0, 0, 20, tzinfo=UTC)
    assert upcoming == dt.datetime(2024, 1, 1, 0, 0, 30, tzinfo=UTC)
    on_tick, _ = every_ten.ticks_around(dt.datetime(2024, 1, 1, 0, 0, 30, tzinfo=UTC))
    assert on_tick == dt.datetime(2024, 1, 1, 0, 0, 30, tzinfo=UTC)


# --- PGFLOW["PERIODIC"] and its system checks -------------------------------


def test_a_valid_periodic_setting_passes_the_checks():
    entry = {"task": NOOP, "cron": "0 3 * * *", "timezone": "Europe/Paris", "args": []}
    with with_periodic({"nightly-report": {**entry, "kwargs": {}, "queue": "slow"}}):
        assert [e for e in check_settings() if e.id.startswith("pgflow.E0")] == []


@pytest.mark.parametrize(
    ("entry", "expected", "text"),
    [
        ({"task": NOOP, "cron": "0 25 * * *"}, "pgflow.E007", "Invalid cron expression"),
        ({"task": NOOP, "cron": "0 3 * * *", "timezone": "Europe/Pariss"}, "pgflow.E008", "Pariss"),
        ({"task": "testproject.example.tasks.nope", "cron": "0 3 * * *"}, "pgflow.E009", "nope"),
        ({"task": NOOP}, "pgflow.E010", "lacks cron"),
        ({"task": NOOP, "cron": "0 3 * * *", "every": 5}, "pgflow.E010", "unknown key"),
        ({"task": NOOP, "cron": "0 3 * * *", "priority": "high"}, "pgflow.E010", "priority"),
        ({"task": NOOP, "cron": "0 3 * * *", "args": {"a": 1}}, "pgflow.E010", "args"),
        ({"task": NOOP, "cron": "0 3 * * *", "queue": "nowhere"}, "pgflow.E010", "nowhere"),
        ("0 3 * * *", "pgflow.E010", "must be a dict"),
    ],
)
def test_bad_periodic_settings_are_reported(entry, expected, text):
    with with_periodic({"nightly": entry}):
        errors = check_settings()
    assert [e.id for e in errors] == [expected]
    assert text in errors[0].msg


def test_manage_py_check_reports_a_bad_cron():
    bad = {"PERIODIC": {"nightly": {"task": NOOP, "cron": "every night"}}}
    env = dict(os.environ, PGFLOW_OVERRIDES=json.dumps(bad))
    done = subprocess.run(
        [sys.executable, "manage.py", "check"], cwd=ROOT, env=env, capture_output=True, text=True
    )
    assert done.returncode == 1
    assert "pgflow.E007" in done.stderr and "every night" in done.stderr
