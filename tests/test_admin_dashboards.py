"""The queues dashboard, the lock contention page and periodic schedules."""

from __future__ import annotations

import json
import re
import threading
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.urls import reverse

from django_pgflow.worker.connection import connect
from testproject.example.tasks import record

from .admin_support import (
    claim,
    client_for,
    drive,
    fail,
    register_worker,
    sql,
    staff,
    superuser_client,
    viewer_client,
)
from .conftest import wait_for

__all__ = ["superuser_client", "viewer_client"]  # fixtures

pytestmark = pytest.mark.django_db

QUEUES = "admin:django_pgflow_queueoverview_changelist"
CONTENTION = "admin:django_pgflow_lockcontention_changelist"
PERIODIC = "admin:django_pgflow_periodicschedule_changelist"


def queue_row(content: str, queue: str) -> dict[str, str]:
    row = content[content.index(f'data-queue="{queue}"') :]
    row = row[: row.index("</tr>")]
    return dict(re.findall(r'<td class="(\w+)">(?:<a [^>]*>)?([^<]*)', row))


def test_the_dashboards_are_linked_from_the_admin_index(viewer_client):
    index = viewer_client.get(reverse("admin:index")).content.decode()
    for page in (QUEUES, CONTENTION, PERIODIC, "admin:django_pgflow_workflowrun_changelist"):
        assert f'href="{reverse(page)}"' in index


def test_queues_dashboard_counts_each_kind_of_waiting_apart(superuser_client):
    worker = register_worker()
    holder = record.using(resources={"gpu": 1}).enqueue("holder")
    assert claim(worker) == [(holder.pk, 1)]
    retrying = record.enqueue("retrying")
    assert claim(worker) == [(retrying.pk, 1)]
    fail(retrying.pk, 1, retry=True)  # back after its backoff
    drive("failed", "failed", worker)
    drive("completed", "done", worker)
    drive("started", "running", worker)
    record.using(resources={"gpu": 1}).enqueue("gated")  # the GPU is taken
    ready = record.enqueue("ready")
    sql("UPDATE pgflow_job SET run_at = now() - interval '90 seconds' WHERE id = %s", [ready.pk])
    record.using(delay=3600).enqueue("scheduled")

    content = superuser_client.get(reverse(QUEUES)).content.decode()
    row = queue_row(content, "default")
    assert row == {
        "ready": "1",
        "gated": "1",
        "scheduled": "1",
        "retrying": "1",
        "running": "2",
        "failed": "1",
        "limits": "-",
    }
    assert "1m 30s" in content  # the oldest ready job's age
    assert "1 completed, 1 failed" in content  # the last hour, under the chart
    limited = queue_row(content, "limited")
    assert limited["limits"] == "0/2 running"
    assert queue_row(content, "rated")["limits"] == "0/10 started per 1s"
    assert 'aria-label="1 completed, 1 failed in the last hour"' in content


def test_contention_shows_holders_waiters_and_wait_percentiles(superuser_client):
    worker = register_worker()
    first = record.using(resources={"gpu": 1}).enqueue("first")
    second = record.using(resources={"gpu": 1}).enqueue("second")
    assert claim(worker, limit=2) == [(first.pk, 1)]  # the second waits for the GPU
    sql("UPDATE pgflow_job SET waited = 4.0 WHERE id = %s", [first.pk])
    sql("UPDATE pgflow_job SET run_at = now() - interval '40 seconds' WHERE id = %s", [second.pk])

    page = superuser_client.get(reverse(CONTENTION))
    assert page.status_code == 200
    content = page.content.decode()
    row = content[content.index('data-gate="resource:gpu"') :]
    row = row[: row.index("</tr>")]
    holders = row[row.index('class="holders"') : row.index('class="waiting"')]
    waiters = row[row.index('class="waiters"') :]
    assert f"job {first.pk}</a>" in holders and f"worker {worker}</a>" in holders
    assert "(testhost:4242)" in holders
    assert f"job {second.pk}</a>" in waiters and "(40s)" in waiters
    assert "<td>1/1</td>" in row
    assert "4s / 4s" in row  # p50 / p95 of the one start in the last hour


def test_contention_lists_postgres_lock_waits_between_sessions(superuser_client):
    # Another session waits for an advisory lock this test's connection holds.
    sql("SELECT pg_advisory_lock(4242)")
    waiter = connect("lock test")
    try:
        waiter.execute("SET lock_timeout = '30s'")
        blocked = threading.Thread(
            target=lambda: _try(waiter, "SELECT pg_advisory_lock(4242)"), daemon=True
        )
        blocked.start()
        wait_for(lambda: sql("SELECT count(*) FROM pg_locks WHERE NOT granted")[0][0] > 0)
        content = superuser_client.get(reverse(CONTENTION)).content.decode()
        table = content[content.index('id="pg-locks"') :]
        assert "pgflow lock test" in table and "waiting" in table and "advisory 0/4242" in table
        backend = sql("SELECT pg_backend_pid()")[0][0]
        assert f"<td>{backend}</td>" in table  # the blocker, named in 'blocked by'
    finally:
        sql("SELECT pg_advisory_unlock(4242)")
        blocked.join(10)
        waiter.close()


def _try(conn: Any, query: str) -> None:
    try:
        conn.execute(query)
        conn.execute("SELECT pg_advisory_unlock_all()")
    except Exception:  # noqa: BLE001 - the test's assertions say what went wrong
        pass


def test_periodic_schedules_show_ticks_and_the_last_job(superuser_client):
    job = json.dumps({"queue": "default", "task_name": "testproject.example.tasks.noop"})
    sql(
        "SELECT django_pgflow.sync_periodic('nightly', 'testproject.example.tasks.noop',"
        " '0 3 * * *', 'UTC', %s::jsonb, now() - interval '1 day', now() + interval '1 hour')",
        [job],
    )
    [(job_id,)] = sql("SELECT django_pgflow.enqueue_periodic('nightly', now())")
    content = superuser_client.get(reverse(PERIODIC)).content.decode()
    assert "<code>0 3 * * *</code> (UTC)" in content
    assert f"/admin/django_pgflow/job/{job_id}/change/" in content


def test_dashboards_need_the_view_permission_of_jobs():
    nobody = staff("nobody", "view_worker")
    for page in (QUEUES, CONTENTION):
        assert nobody.get(reverse(page)).status_code == 403
    viewer = staff("jobs_viewer", "view_job")
    for page in (QUEUES, CONTENTION):
        assert viewer.get(reverse(page)).status_code == 200
    assert viewer.get(reverse(PERIODIC)).status_code == 403
    assert (
        client_for(User.objects.create_user("plain", password="pw"))
        .get(reverse(QUEUES))
        .status_code
        == 302
    )  # not staff: to the login page
