"""What no part of the system could read back never gets in, and what got in
anyway fails its own job, never a worker or a page.

Issue: an integer of 5,000 digits or arrays nested 5,000 deep, enqueued
through the SQL functions the web role may call, made every worker that
claimed them exit (ValueError, RecursionError while decoding the claim), and
the admin's job list answer 500.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.db import DatabaseError, connection, transaction
from django.test import Client

from django_pgflow import enqueue, enqueue_many
from django_pgflow.exceptions import InvalidJobError
from django_pgflow.models import Job, WorkflowRun
from django_pgflow.validation import to_json
from testproject.example.tasks import record

from .conftest import WorkerProcess

HUGE_INT = "[" + "9" * 5000 + "]"
HUGE_EXP = "[1e400]"
DEEP = "[" * 5000 + "]" * 5000
JUST_DEEP = "[" * 101 + "1" + "]" * 101  # a value at depth 101
DEEPEST_OK = "[" * 100 + "1" + "]" * 100  # ... and at depth 100
UNREADABLE = {"an integer of 5,000 digits": HUGE_INT, "1e400": HUGE_EXP, "5,000 deep": DEEP}


def sql(query: str, *params: Any) -> Any:
    with connection.cursor() as cursor:
        cursor.execute(query, list(params))
        return cursor.fetchone()[0]


ENTRY_POINTS = {
    "enqueue args": "SELECT (django_pgflow.enqueue('default', 't.x', %s::jsonb)).id",
    "enqueue kwargs": (
        "SELECT (django_pgflow.enqueue('default', 't.x', '[]',"
        " jsonb_build_object('k', %s::jsonb))).id"
    ),
    "enqueue_many": (
        "SELECT count(*) FROM django_pgflow.enqueue_many(jsonb_build_array("
        '\'{"queue": "default", "task_name": "t.ok"}\'::jsonb,'
        " jsonb_build_object('queue', 'default', 'task_name', 't.x', 'args', %s::jsonb)))"
    ),
    "start_flow": (
        "SELECT django_pgflow.start_flow('linear_chain', jsonb_build_object('n', %s::jsonb))"
    ),
}


@pytest.mark.django_db
@pytest.mark.parametrize("payload", UNREADABLE.values(), ids=UNREADABLE.keys())
@pytest.mark.parametrize("entry", ENTRY_POINTS.values(), ids=ENTRY_POINTS.keys())
def test_sql_entry_points_refuse_json_python_cannot_read(entry: str, payload: str) -> None:
    kept = record.enqueue("kept")
    with pytest.raises(DatabaseError, match=r"nested deeper than 100|beyond"), transaction.atomic():
        sql(entry, payload)
    assert list(Job.objects.values_list("pk", flat=True)) == [kept.pk]
    assert not WorkflowRun.objects.exists()


@pytest.mark.django_db
def test_sql_and_python_draw_the_depth_line_at_the_same_place() -> None:
    sql("SELECT (django_pgflow.enqueue('default', 't.x', %s::jsonb)).id", DEEPEST_OK)
    with pytest.raises(DatabaseError, match="nested deeper than 100"), transaction.atomic():
        sql("SELECT (django_pgflow.enqueue('default', 't.x', %s::jsonb)).id", JUST_DEEP)
    to_json(json.loads(DEEPEST_OK), "args")
    with pytest.raises(InvalidJobError, match="nested deeper than 100"):
        to_json(json.loads(JUST_DEEP), "args")
    with pytest.raises(InvalidJobError, match="beyond"):
        record.enqueue(10**400)


@pytest.mark.django_db
def test_sql_refuses_payloads_over_the_stored_limit_and_python_names_the_setting() -> None:
    sql("SELECT django_pgflow.sync_limits('{}', '{}', '{\"max_payload_bytes\": 1000}')")
    big = json.dumps(["x" * 2000])
    with pytest.raises(DatabaseError, match="over the limit of 1000 bytes"), transaction.atomic():
        sql("SELECT (django_pgflow.enqueue('default', 't.x', %s::jsonb)).id", big)
    with pytest.raises(DatabaseError, match=r"input is .* over the limit"), transaction.atomic():
        sql("SELECT django_pgflow.start_flow('linear_chain', %s::jsonb)", big)
    # The Python API checks its own setting first; the database refuses what
    # slips past a process whose settings were not synced, with the same error.
    with pytest.raises(InvalidJobError, match="over the limit of 1000 bytes"), transaction.atomic():
        enqueue_many([record.s("x" * 2000)])
    assert not Job.objects.exists()


def _insert_unreadable(args: str, key: str = "bad") -> int:
    """As the owner, past every check: rows from before the checks, or typed by hand."""
    return sql(
        "INSERT INTO pgflow_job (queue, task_name, args, kwargs, status, priority, run_at, "
        "attempts, failures, max_attempts, retry_delay, max_retry_delay, timeout, errors, "
        "created_at) VALUES ('default', 'testproject.example.tasks.record', %s::jsonb, "
        "jsonb_build_object('key', %s), 'queued', 1, now(), 0, 0, 3, 1, 60, 60, '[]', now()) "
        "RETURNING id",
        args,
        key,
    )


@pytest.mark.django_db(transaction=True)
def test_an_unreadable_row_fails_alone_and_the_worker_process_lives_on(
    worker_process: Any,
) -> None:
    bad = [_insert_unreadable(HUGE_INT), _insert_unreadable(DEEP)]
    good = enqueue_many([record.s(f"good-{i}") for i in range(6)])
    proc: WorkerProcess = worker_process("--burst", "--concurrency", "2")
    assert proc.wait(120) == 0, proc.output()
    for job in Job.objects.filter(pk__in=bad):
        assert (job.status, job.attempts) == ("failed", 1)
        assert job.errors[-1]["error"] == "UndecodableJobError"
    assert set(Job.objects.filter(pk__in=good).values_list("status", flat=True)) == {"completed"}


@pytest.mark.django_db
def test_the_admin_lists_and_shows_an_unreadable_row(client: Client) -> None:
    bad = _insert_unreadable(HUGE_INT)
    admin = User.objects.create_superuser("root", "root@example.com", "pw")
    client.force_login(admin)
    listing = client.get("/admin/django_pgflow/job/")
    assert listing.status_code == 200
    page = client.get(f"/admin/django_pgflow/job/{bad}/change/")
    assert page.status_code == 200
    assert "9999999999" in page.content.decode()


@pytest.mark.django_db(transaction=True)
def test_a_result_nothing_could_read_fails_its_job_instead_of_completing_it() -> None:
    job = enqueue("testproject.example.tasks.noop")
    worker = sql("SELECT django_pgflow.register_worker('h', 1, '[]', 1)")
    sql("SELECT count(*) FROM django_pgflow.claim(%s, NULL, 1)", worker)
    applied = sql(
        "SELECT count(*) FROM django_pgflow.complete_many(%s, %s, '{1}', ARRAY[%s::jsonb])",
        worker,
        [job.pk],
        DEEP,
    )
    assert applied == 0
    job.refresh_from_db()
    assert (job.status, job.result) == ("failed", None)
    assert job.errors[-1]["error"] == "InvalidResultError"
    assert "nested deeper" in job.errors[-1]["message"]
