"""Admin pages cost a bounded number of queries, and read without locking anything.

Each page is loaded at two sizes of data; the number of queries must be the
same (no query per row: the page of 100 rows costs what a page of 2 does).
"""

from __future__ import annotations

import json
from typing import Any

import psycopg
import pytest
from django.db import DatabaseError, connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from django_pgflow import start_flow
from django_pgflow.admin.readonly import read_only
from django_pgflow.models import Job, WorkflowRun
from testproject.example.tasks import record

from .admin_support import claim, drive, register_worker, sql, superuser_client
from .test_admin_runs import square_sum, square_sums

__all__ = ["superuser_client"]  # fixtures

# Queries a page may make, whatever the data: session, user, the page's own.
MAX_QUERIES = 12
LIST_PAGES = [
    "admin:django_pgflow_job_changelist",
    "admin:django_pgflow_workflowrun_changelist",
    "admin:django_pgflow_worker_changelist",
    "admin:django_pgflow_periodicschedule_changelist",
    "admin:django_pgflow_queueoverview_changelist",
    "admin:django_pgflow_lockcontention_changelist",
]


def seed(n: int, tag: str) -> None:
    """Jobs in every state, runs, workers, schedules and held lock keys: n of each."""
    # Claimed work runs on the "slow" queue: the jobs left queued elsewhere
    # (and the runs' first tasks) are never in the way of the next claim.
    worker = register_worker()
    for i in range(n):
        for status in ("started", "completed", "failed"):
            drive(status, f"{tag}{status}{i}", worker, queue="slow")
        holder = record.using(queue="slow", lock_key=f"{tag}key{i}").enqueue(f"{tag}holder{i}")
        assert claim(worker, queues=["slow"]) == [(holder.pk, 1)]
        record.using(queue="slow", lock_key=f"{tag}key{i}").enqueue(f"{tag}waiter{i}")
        drive("queued", f"{tag}queued{i}")
        start_flow("linear_chain", {"n": i})
        job = json.dumps({"queue": "default", "task_name": "testproject.example.tasks.noop"})
        sql(
            "SELECT django_pgflow.sync_periodic(%s, 'testproject.example.tasks.noop', '* * * * *',"
            " 'UTC', %s::jsonb, now() - interval '1 minute', now() + interval '1 minute')",
            [f"{tag}schedule{i}", job],
        )
        sql("SELECT django_pgflow.enqueue_periodic(%s, now())", [f"{tag}schedule{i}"])


def count_queries(client: Client, url: str, **params: Any) -> int:
    with CaptureQueriesContext(connection) as captured:
        page = client.get(url, params)
        assert page.status_code == 200, url
    return len(captured)


@pytest.mark.django_db
def test_list_pages_cost_the_same_queries_for_2_rows_and_for_30(superuser_client):
    seed(2, "a")
    small = {page: count_queries(superuser_client, reverse(page)) for page in LIST_PAGES}
    seed(28, "b")
    assert WorkflowRun.objects.count() == 30 and Job.objects.count() > 200
    large = {page: count_queries(superuser_client, reverse(page)) for page in LIST_PAGES}
    assert large == small
    assert max(large.values()) <= MAX_QUERIES, large


@pytest.mark.django_db
def test_a_run_page_costs_the_same_for_a_map_of_3_and_of_120(superuser_client):
    small, large = square_sums(3, 120)

    def cost(run: WorkflowRun, **params: str) -> int:
        url = reverse("admin:django_pgflow_workflowrun_change", args=[run.pk])
        return count_queries(superuser_client, url, **params)

    assert cost(small, step="square") == cost(large, step="square") == cost(large, page="3")
    assert cost(large) <= MAX_QUERIES


@pytest.mark.django_db
def test_a_job_page_costs_the_same_for_one_error_and_for_thirty(superuser_client):
    once, often = drive("failed", "once"), drive("failed", "often")
    error = json.dumps({"error": "ValueError", "message": "boom", "traceback": "Traceback"})
    sql(
        "UPDATE pgflow_job SET errors = (SELECT jsonb_agg(%s::jsonb) FROM generate_series(1, 30))"
        " WHERE id = %s",
        [error, often.pk],
    )

    def cost(job: Job) -> int:
        url = reverse("admin:django_pgflow_job_change", args=[job.pk])
        return count_queries(superuser_client, url)

    cost(once)  # the first page of a session also loads what Django caches after it
    assert cost(once) == cost(often) <= MAX_QUERIES


@pytest.mark.django_db
def test_read_only_refuses_locks_and_writes_and_ends_with_its_block():
    job = record.enqueue("x")
    with pytest.raises(DatabaseError, match="read-only transaction"), read_only():
        sql("SELECT id FROM pgflow_job WHERE id = %s FOR UPDATE", [job.pk])
    with pytest.raises(DatabaseError, match="read-only transaction"), read_only():
        sql("SELECT django_pgflow.cancel(%s)", [job.pk])
    assert record.enqueue("after").pk > job.pk  # the caller's transaction writes again
    assert Job.objects.get(pk=job.pk).status == "queued"


LOCKED_TABLES = (
    "pgflow_job",
    "pgflow_run",
    "pgflow_step_state",
    "pgflow_step_task",
    "pgflow_worker",
    "pgflow_slot",
    "pgflow_resource",
    "pgflow_queue_limit",
    "pgflow_queue_rate_shard",
    "pgflow_periodic",
)


@pytest.mark.django_db(transaction=True)
def test_every_page_loads_while_other_sessions_hold_every_row(superuser_client):
    run = square_sum(5)  # first: its tasks are the oldest queued jobs
    seed(2, "a")
    job = Job.objects.filter(status="failed").first()
    assert job is not None
    settings = connection.settings_dict
    holder = psycopg.connect(
        dbname=settings["NAME"],
        user=settings["USER"] or None,
        password=settings["PASSWORD"] or None,
        host=settings["HOST"] or None,
        port=settings["PORT"] or None,
    )
    try:
        for table in LOCKED_TABLES:  # as claims and completions would, all at once
            holder.execute(f"SELECT 1 FROM {table} FOR UPDATE")
        urls = [reverse(page) for page in LIST_PAGES]
        urls += [
            reverse("admin:django_pgflow_workflowrun_change", args=[run.pk]),
            reverse("admin:django_pgflow_job_change", args=[job.pk]),
            reverse("admin:django_pgflow_worker_change", args=[job.worker_id]),
        ]
        for url in urls:
            assert superuser_client.get(url).status_code == 200, url
    finally:
        holder.rollback()
        holder.close()
