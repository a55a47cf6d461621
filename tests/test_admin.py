"""The admin: read-only job and worker pages, and retry/cancel through the SQL core."""

from __future__ import annotations

import json
from typing import Any

import pytest
from django.contrib.auth.models import Permission, User
from django.db import connection
from django.test import Client
from django.urls import reverse

from django_pgflow.models import Job, Worker
from testproject.example.tasks import record, send_digest

pytestmark = pytest.mark.django_db

CHANGELIST = "admin:django_pgflow_job_changelist"


@pytest.fixture
def superuser_client() -> Client:
    user = User.objects.create_superuser("admin", "admin@example.com", "pw")
    client = Client()
    client.force_login(user)
    return client


def register_worker(queues: list[str] | None = None) -> int:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT django_pgflow.register_worker('testhost', 4242, %s::jsonb, 4)",
            [json.dumps(queues or [])],
        )
        return int(cursor.fetchone()[0])


def drive(status: str, key: str, worker_id: int | None = None, error: Any = None) -> Job:
    """Enqueue a job and move it to ``status`` through the SQL functions a worker calls."""
    job = record.enqueue(key)
    if status == "queued":
        return job
    worker_id = worker_id or register_worker()
    with connection.cursor() as cursor:
        cursor.execute("SELECT id, attempts FROM django_pgflow.claim(%s, NULL, 1, 30)", [worker_id])
        claimed = cursor.fetchall()
        assert claimed == [(job.pk, 1)], "another queued job was claimed first"
        if status == "completed":
            cursor.execute("SELECT django_pgflow.complete(%s, 1, %s::jsonb)", [job.pk, '"ok"'])
        elif status == "failed":
            payload = error or {"error": "ValueError", "message": "boom", "traceback": None}
            cursor.execute(
                "SELECT django_pgflow.fail(%s, 1, %s::jsonb, false)", [job.pk, json.dumps(payload)]
            )
        elif status == "cancelled":
            cursor.execute("SELECT django_pgflow.cancel(%s)", [job.pk])
        else:
            assert status == "started"
    return job.refresh()


def run_action(client: Client, action: str, jobs: list[Job]) -> Any:
    return client.post(
        reverse(CHANGELIST),
        {"action": action, "_selected_action": [j.pk for j in jobs], "index": 0},
        follow=True,
    )


@pytest.fixture
def no_model_saves(monkeypatch: pytest.MonkeyPatch) -> None:
    """State changes must come from SQL functions: a Job.save() fails the test."""

    def refuse(self: Job, *args: Any, **kwargs: Any) -> None:
        raise AssertionError("the admin saved a Job through the ORM")

    monkeypatch.setattr(Job, "save", refuse)


def test_job_changelist_renders_with_filters_and_search(superuser_client):
    failed = drive("failed", "f")
    queued = send_digest.enqueue("a@example.com")
    url = reverse(CHANGELIST)
    page = superuser_client.get(url)
    assert page.status_code == 200
    content = page.content.decode()
    assert f">{failed.task_name}<" in content
    assert "failed" in content and "queued" in content
    assert "Retry selected jobs" in content and "Cancel selected jobs" in content
    assert "embeddings" in content  # declared queues offered as filters

    by_status = superuser_client.get(url, {"status__exact": "failed"})
    assert list(by_status.context["cl"].result_list) == [failed]
    by_queue = superuser_client.get(url, {"queue": "emails"})
    assert list(by_queue.context["cl"].result_list) == [queued]
    by_search = superuser_client.get(url, {"q": "send_digest"})
    assert list(by_search.context["cl"].result_list) == [queued]
    year = superuser_client.get(url, {"created_at__year": str(failed.created_at.year)})
    assert year.status_code == 200
    assert len(year.context["cl"].result_list) == 2


def test_job_detail_is_read_only_and_pretty_prints_errors(superuser_client):
    traceback = 'Traceback (most recent call last):\n  File "x.py"\nValueError: <boom>'
    job = drive(
        "failed",
        "detail",
        error={"error": "ValueError", "message": "<boom>", "traceback": traceback},
    )
    url = reverse("admin:django_pgflow_job_change", args=[job.pk])
    page = superuser_client.get(url)
    assert page.status_code == 200
    content = page.content.decode()
    assert 'name="task_name"' not in content  # no form fields, only read-only values
    assert "<pre" in content
    # The error as a reader wants it: attempt, error line and traceback, escaped.
    assert "<strong>attempt 1</strong>" in content
    assert "<code>ValueError: &lt;boom&gt;</code>" in content
    assert 'File &quot;x.py&quot;\nValueError: &lt;boom&gt;</pre>' in content
    assert "<boom>" not in content
    assert superuser_client.post(url, {"task_name": "x"}).status_code == 403
    assert Job.objects.get(pk=job.pk).task_name == record.name


def test_jobs_cannot_be_added_or_deleted(superuser_client):
    job = drive("queued", "q")
    assert superuser_client.get(reverse("admin:django_pgflow_job_add")).status_code == 403
    delete = reverse("admin:django_pgflow_job_delete", args=[job.pk])
    assert superuser_client.post(delete, {"post": "yes"}).status_code == 403
    page = superuser_client.get(reverse(CHANGELIST))
    assert "delete_selected" not in page.content.decode()
    assert Job.objects.filter(pk=job.pk).exists()


def test_retry_action_requeues_failed_and_cancelled_jobs_through_sql(
    superuser_client, no_model_saves, monkeypatch
):
    from django_pgflow.admin import jobs as job_admin

    calls: list[int] = []
    real_retry = job_admin.retry_job

    def spy(job_id: int, **kwargs: Any) -> bool:
        calls.append(job_id)
        return real_retry(job_id, **kwargs)

    monkeypatch.setattr(job_admin, "retry_job", spy)
    failed = drive("failed", "f")
    cancelled = drive("cancelled", "c")
    completed = drive("completed", "ok")

    page = run_action(superuser_client, "retry_selected", [failed, cancelled, completed])
    assert page.status_code == 200
    assert sorted(calls) == sorted([failed.pk, cancelled.pk, completed.pk])
    failed.refresh()
    assert (failed.status, failed.failures, failed.finished_at) == ("queued", 0, None)
    assert len(failed.errors) == 1  # the record of the failed attempt stays
    assert cancelled.refresh().status == "queued"
    assert completed.refresh().status == "completed"
    content = page.content.decode()
    assert "2 job(s) requeued. 1 skipped" in content


def test_cancel_action_cancels_queued_and_running_jobs_through_sql(
    superuser_client, no_model_saves
):
    completed = drive("completed", "done")
    running = drive("started", "running")
    queued = drive("queued", "waiting")

    page = run_action(superuser_client, "cancel_selected", [queued, running, completed])
    assert page.status_code == 200
    assert queued.refresh().status == "cancelled"
    assert running.refresh().status == "cancelled"
    assert running.finished_at is not None
    assert completed.refresh().status == "completed"
    assert "2 job(s) cancelled. 1 skipped" in page.content.decode()


def test_actions_need_the_change_permission(no_model_saves):
    viewer = User.objects.create_user("viewer", password="pw", is_staff=True)
    viewer.user_permissions.add(
        Permission.objects.get(codename="view_job"), Permission.objects.get(codename="view_worker")
    )
    client = Client()
    client.force_login(viewer)
    failed = drive("failed", "f")

    page = client.get(reverse(CHANGELIST))
    assert page.status_code == 200
    assert "Retry selected jobs" not in page.content.decode()
    run_action(client, "retry_selected", [failed])
    assert failed.refresh().status == "failed"
    detail = client.get(reverse("admin:django_pgflow_job_change", args=[failed.pk]))
    assert detail.status_code == 200


def test_worker_pages_show_health_by_database_clock_and_running_jobs(superuser_client):
    alive = register_worker(["embeddings"])
    running = drive("started", "r", worker_id=alive)
    stale = register_worker()
    with connection.cursor() as cursor:  # test setup: a worker that stopped beating
        cursor.execute(
            "UPDATE pgflow_worker SET last_heartbeat = now() - interval '1 hour' WHERE id = %s",
            [stale],
        )

    page = superuser_client.get(reverse("admin:django_pgflow_worker_changelist"))
    assert page.status_code == 200
    rows = {w.pk: w for w in page.context["cl"].result_list}
    assert set(rows) == {alive, stale}
    content = page.content.decode()
    assert ">alive<" in content and ">stale<" in content
    link = f"?worker__id__exact={alive}&amp;status__exact=started"
    assert link in content

    jobs = superuser_client.get(
        reverse(CHANGELIST), {"worker__id__exact": alive, "status__exact": "started"}
    )
    assert jobs.status_code == 200
    assert list(jobs.context["cl"].result_list) == [running]

    detail = superuser_client.get(reverse("admin:django_pgflow_worker_change", args=[alive]))
    assert detail.status_code == 200
    assert "embeddings" in detail.content.decode()
    job_page = superuser_client.get(reverse("admin:django_pgflow_job_change", args=[running.pk]))
    assert f"/admin/django_pgflow/worker/{alive}/change/" in job_page.content.decode()
    assert superuser_client.get(reverse("admin:django_pgflow_worker_add")).status_code == 403
    assert Worker.objects.count() == 2


@pytest.mark.django_db
def test_retry_action_reports_a_refused_job_and_keeps_the_others(admin_client):
    first = record.using(unique_key="held").enqueue("a")
    other = record.enqueue("b")
    with connection.cursor() as cursor:
        cursor.execute("SELECT django_pgflow.cancel(%s)", [first.pk])
        cursor.execute("SELECT django_pgflow.cancel(%s)", [other.pk])
    holder = record.using(unique_key="held").enqueue("c")
    response = admin_client.post(
        reverse("admin:django_pgflow_job_changelist"),
        {"action": "retry_selected", "_selected_action": [first.pk, other.pk]},
        follow=True,
    )
    text = response.content.decode()
    assert "1 job(s) requeued." in text
    assert f"job {holder.pk} already holds" in text
    assert Job.objects.get(pk=other.pk).status == "queued"
    assert Job.objects.get(pk=first.pk).status == "cancelled"
