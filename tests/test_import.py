"""pgflow_import: the waiting jobs of procrastinate and of django-tasks' database
backend, enqueued with their own APIs into their real tables, brought over and run."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from io import StringIO
from typing import Any

import pytest
from django.core.management import call_command
from django.db import connection
from psycopg.conninfo import make_conninfo

from django_pgflow.metadata import job_metadata
from django_pgflow.models import Job
from testproject.example import django_api_tasks as dj
from testproject.example.tasks import record

from .conftest import wait_for

procrastinate = pytest.importorskip("procrastinate")
pytestmark = pytest.mark.django_db(transaction=True)

SCHEMA = "pgflow_import_procrastinate"


def run_import(*args: str) -> tuple[str, str]:
    out, err = StringIO(), StringIO()
    call_command("pgflow_import", *args, stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


@pytest.fixture
def procrastinate_app() -> Iterator[Any]:
    """procrastinate installed by its own schema manager, in a schema of its own."""
    settings = connection.settings_dict
    with connection.cursor() as cursor:
        cursor.execute(f"DROP SCHEMA IF EXISTS {SCHEMA} CASCADE; CREATE SCHEMA {SCHEMA}")
    conninfo = make_conninfo(
        host=settings["HOST"] or None, port=settings["PORT"] or None,
        dbname=settings["NAME"], user=settings["USER"] or None,
        password=settings["PASSWORD"] or None, options=f"-c search_path={SCHEMA}",
    )  # fmt: skip
    connector = procrastinate.SyncPsycopgConnector(conninfo=conninfo)
    app = procrastinate.App(connector=connector)
    with app.open():
        app.schema_manager.apply_schema()
        yield app
    with connection.cursor() as cursor:
        cursor.execute(f"DROP SCHEMA {SCHEMA} CASCADE")


def procrastinate_rows() -> dict[int, tuple[Any, ...]]:
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT j.id, j.status, j.priority, j.scheduled_at, "
            f"(SELECT min(at) FROM {SCHEMA}.procrastinate_events e "
            f" WHERE e.job_id = j.id AND e.type = 'deferred') "
            f"FROM {SCHEMA}.procrastinate_jobs j ORDER BY j.id"
        )
        return {row[0]: row[1:] for row in cursor.fetchall()}


def test_procrastinate_jobs_come_over_once_with_their_times_and_run(
    procrastinate_app, worker_thread
):
    app = procrastinate_app

    @app.task(name=record.name, queue="default")
    def same_task(key: str) -> None: ...

    @app.task(name="old_app.tasks.gone")
    def gone() -> None: ...

    later = dt.datetime.now(dt.UTC) + dt.timedelta(hours=1)
    now_id = same_task.configure(priority=5, lock="user-1").defer(key="p-now")
    later_id = same_task.configure(schedule_at=later).defer(key="p-later")
    gone.defer()
    before = procrastinate_rows()

    out, err = run_import("procrastinate", "--schema", SCHEMA)
    assert "Imported 2 job(s) from procrastinate; 0 already imported; 2 handed over." in out
    assert "Skipped 1 job(s): unknown task 'old_app.tasks.gone'" in err
    jobs = {job_metadata(j.pk, "imported"): j for j in Job.objects.all()}
    now_job, later_job = jobs[f"procrastinate:{now_id}"], jobs[f"procrastinate:{later_id}"]
    assert (now_job.kwargs, now_job.priority, now_job.lock_key) == ({"key": "p-now"}, 5, "user-1")
    assert now_job.created_at == before[now_id][3] == now_job.run_at  # deferred at
    assert later_job.run_at == later and later_job.created_at == before[later_id][3]
    after = procrastinate_rows()
    assert [after[i][0] for i in (now_id, later_id)] == ["cancelled", "cancelled"]
    assert len([r for r in after.values() if r[0] == "todo"]) == 1  # the unknown one stays

    again, _ = run_import("procrastinate", "--schema", SCHEMA)
    assert "Imported 0 job(s)" in again and Job.objects.count() == 2

    worker_thread()
    wait_for(lambda: now_job.refresh().is_finished, 30)
    assert now_job.status == "completed" and later_job.refresh().status == "queued"


def test_keep_source_copies_and_a_second_run_imports_nothing_twice(procrastinate_app):
    @procrastinate_app.task(name=record.name)
    def same_task(key: str) -> None: ...

    ids = [same_task.defer(key=f"k{i}") for i in range(3)]
    out, _ = run_import("procrastinate", "--schema", SCHEMA, "--keep-source")
    assert "Imported 3 job(s)" in out and "0 handed over" in out
    out, _ = run_import("procrastinate", "--schema", SCHEMA, "--keep-source")
    assert "Imported 0 job(s) from procrastinate; 3 already imported" in out
    assert Job.objects.count() == 3
    assert {r[0] for r in procrastinate_rows().values()} == {"todo"}
    dry, _ = run_import("procrastinate", "--schema", SCHEMA, "--dry-run")
    assert "Would import 0 job(s)" in dry and "3 handed over" in dry
    assert {r[0] for r in procrastinate_rows().values()} == {"todo"}  # dry run: nothing
    assert sorted(ids) == sorted(procrastinate_rows())


def test_django_tasks_database_backend_jobs_come_over_and_run(worker_thread):
    pytest.importorskip("django_tasks_db")
    from django_tasks_db.models import DBTaskResult

    legacy = dj.add.using(backend="legacy")
    first = legacy.using(priority=9).enqueue(2, b=3)
    later = dt.datetime.now(dt.UTC) + dt.timedelta(hours=2)
    deferred = legacy.using(run_after=later).enqueue(1, 1)
    enqueued = {str(r.id): r.enqueued_at for r in DBTaskResult.objects.all()}

    out, err = run_import("django-tasks")
    assert "Imported 2 job(s) from django-tasks; 0 already imported; 2 handed over." in out, err
    assert not DBTaskResult.objects.exists()
    jobs = {job_metadata(j.pk, "imported"): j for j in Job.objects.all()}
    now_job = jobs[f"django-tasks:{first.id}"]
    later_job = jobs[f"django-tasks:{deferred.id}"]
    assert (now_job.task_name, now_job.args, now_job.kwargs) == (dj.add.module_path, [2], {"b": 3})
    assert now_job.priority == 9 and now_job.created_at == enqueued[str(first.id)]
    assert now_job.run_at == enqueued[str(first.id)] and later_job.run_at == later
    assert run_import("django-tasks")[0].startswith("Imported 0 job(s)")

    worker_thread()
    wait_for(lambda: now_job.refresh().is_finished, 30)
    assert now_job.status == "completed" and now_job.result == 5
