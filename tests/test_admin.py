"""The admin: read-only job and worker pages, and retry/cancel through the SQL core."""

from __future__ import annotations

from typing import Any

import pytest
from django.contrib.auth.models import User
from django.db import connection
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from django_pgflow.models import Job, Worker
from testproject.example.tasks import record, send_digest

from .admin_support import drive, register_worker, sql, staff, superuser_client, viewer_client

__all__ = ["superuser_client", "viewer_client"]  # fixtures

pytestmark = pytest.mark.django_db

CHANGELIST = "admin:django_pgflow_job_changelist"


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
    assert f'<span title="{failed.task_name}">record</span>' in content
    assert "failed" in content and "queued" in content
    assert "Retry selected jobs" in content and "Cancel selected jobs" in content
    assert "embeddings" in content  # declared queues offered as filters

    by_status = superuser_client.get(url, {"status__exact": "failed"})
    assert list(by_status.context["cl"].result_list) == [failed]
    by_queue = superuser_client.get(url, {"queue": "emails"})
    assert list(by_queue.context["cl"].result_list) == [queued]
    by_search = superuser_client.get(url, {"q": "send_digest"})
    assert list(by_search.context["cl"].result_list) == [queued]
    by_id = superuser_client.get(url, {"q": str(failed.pk)})
    assert list(by_id.context["cl"].result_list) == [failed]


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
    assert "File &quot;x.py&quot;\nValueError: &lt;boom&gt;</pre>" in content
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


@pytest.mark.parametrize("action", ["retry_selected", "cancel_selected", "run_now_selected"])
def test_view_only_staff_see_no_actions_and_posting_one_is_forbidden(
    viewer_client, no_model_saves, action
):
    failed = drive("failed", "f")
    queued = record.using(delay=3600).enqueue("later")
    before = {j.pk: (j.status, j.run_at) for j in Job.objects.all()}

    page = viewer_client.get(reverse(CHANGELIST))
    assert page.status_code == 200
    content = page.content.decode()
    assert 'name="action"' not in content and "Retry selected jobs" not in content

    posted = run_action(viewer_client, action, [failed, queued])
    assert posted.status_code == 403
    assert {j.pk: (j.status, j.run_at) for j in Job.objects.all()} == before
    detail = viewer_client.get(reverse("admin:django_pgflow_job_change", args=[failed.pk]))
    assert detail.status_code == 200
    assert "/retry/" not in detail.content.decode()


@pytest.mark.parametrize("button", ["retry", "cancel", "run_now"])
def test_view_only_staff_cannot_press_a_detail_button(viewer_client, no_model_saves, button):
    failed = drive("failed", "f")
    running = drive("started", "r")
    later = record.using(delay=3600).enqueue("later")
    target = {"retry": failed, "cancel": running, "run_now": later}[button]
    url = reverse(f"admin:django_pgflow_job_{button}", args=[target.pk])
    assert viewer_client.post(url).status_code == 403
    assert Job.objects.get(pk=target.pk).status == target.status
    assert Job.objects.get(pk=target.pk).run_at == target.run_at


def test_a_staff_user_without_view_permission_sees_no_job_page():
    client = staff("nobody")
    job = drive("failed", "f")
    assert client.get(reverse(CHANGELIST)).status_code == 403
    detail = reverse("admin:django_pgflow_job_change", args=[job.pk])
    assert client.get(detail).status_code == 403
    assert client.post(reverse("admin:django_pgflow_job_retry", args=[job.pk])).status_code == 403
    assert Job.objects.get(pk=job.pk).status == "failed"


def test_detail_buttons_retry_cancel_and_run_now_through_sql(superuser_client, no_model_saves):
    failed = drive("failed", "f")
    running = drive("started", "r")
    later = record.using(delay=3600).enqueue("later")

    def buttons(job: Job) -> list[str]:
        page = superuser_client.get(reverse("admin:django_pgflow_job_change", args=[job.pk]))
        content = page.content.decode()
        return [b for b in ("retry", "cancel", "run-now") if f"/{job.pk}/{b}/" in content]

    assert buttons(failed) == ["retry"]
    assert buttons(running) == ["cancel"]
    assert buttons(later) == ["cancel", "run-now"]

    retry = reverse("admin:django_pgflow_job_retry", args=[failed.pk])
    assert superuser_client.get(retry).status_code == 405  # a button is a POST
    page = superuser_client.post(retry, follow=True)
    assert f"Job {failed.pk} requeued." in page.content.decode()
    assert failed.refresh().status == "queued"

    superuser_client.post(reverse("admin:django_pgflow_job_cancel", args=[running.pk]))
    assert running.refresh().status == "cancelled"

    run_now = reverse("admin:django_pgflow_job_run_now", args=[later.pk])
    superuser_client.post(run_now)
    later.refresh()
    assert later.status == "queued" and later.run_at <= timezone.now()
    again = superuser_client.post(run_now, follow=True)  # already ready: nothing to do
    assert f"Job {later.pk} was not scheduled for later." in again.content.decode()


def test_buttons_need_the_csrf_token(no_model_saves):
    user = User.objects.create_superuser("csrf", "c@example.com", "pw")
    client = Client(enforce_csrf_checks=True)
    client.force_login(user)
    failed = drive("failed", "f")
    response = client.post(reverse("admin:django_pgflow_job_retry", args=[failed.pk]))
    assert response.status_code == 403
    assert failed.refresh().status == "failed"


def test_run_now_action_readies_scheduled_jobs_and_skips_the_others(superuser_client):
    later = record.using(delay=3600).enqueue("later")
    ready = record.enqueue("now")
    page = run_action(superuser_client, "run_now_selected", [later, ready])
    assert "1 job(s) made ready now. 1 skipped" in page.content.decode()
    assert later.refresh().run_at <= timezone.now()
    assert sql("SELECT count(*) FROM pgflow_job WHERE run_at > now()") == [(0,)]


def test_job_pages_show_timing_gates_and_the_run_of_a_step_job(superuser_client):
    gated = record.using(resources={"gpu": 1}, lock_key="doc:1").enqueue("g")
    sql("UPDATE pgflow_job SET run_at = now() - interval '40 seconds' WHERE id = %s", [gated.pk])
    page = superuser_client.get(reverse("admin:django_pgflow_job_change", args=[gated.pk]))
    content = page.content.decode()
    assert "&quot;gpu&quot;: 1" in content and "doc:1" in content
    assert "waiting for 40s so far" in content or "waiting for 41s so far" in content

    done = drive("completed", "timed", queue="slow")
    sql(
        "UPDATE pgflow_job SET run_at = started_at - interval '65 seconds',"
        " finished_at = started_at + interval '2 hours 3 minutes', waited = 12.4 WHERE id = %s",
        [done.pk],
    )
    page = superuser_client.get(reverse("admin:django_pgflow_job_change", args=[done.pk]))
    content = page.content.decode()
    assert "1m 05s" in content and "2h 03m" in content and "12s" in content
    listed = superuser_client.get(reverse(CHANGELIST)).content.decode()
    assert "1m 05s" in listed and "2h 03m" in listed


def test_a_payload_python_cannot_read_does_not_break_the_job_pages(superuser_client):
    job = drive("failed", "bad")
    # Stored by PostgreSQL, refused by Python's json: a 5,000-digit number.
    sql(
        "UPDATE pgflow_job SET args = ('[' || repeat('9', 5000) || ']')::jsonb,"
        " errors = ('[' || repeat('9', 5000) || ']')::jsonb WHERE id = %s",
        [job.pk],
    )
    assert superuser_client.get(reverse(CHANGELIST)).status_code == 200
    page = superuser_client.get(reverse("admin:django_pgflow_job_change", args=[job.pk]))
    assert page.status_code == 200
    assert "9" * 5000 in page.content.decode()


def test_a_huge_result_is_cut_on_the_job_page(superuser_client):
    job = drive("completed", "big")
    sql("UPDATE pgflow_job SET result = to_jsonb(repeat('x', 100000)) WHERE id = %s", [job.pk])
    page = superuser_client.get(reverse("admin:django_pgflow_job_change", args=[job.pk]))
    content = page.content.decode()
    assert "Cut at 20000 of 100002 characters." in content
    assert "x" * 19999 in content and "x" * 20000 not in content  # the quote counts


def test_filters_for_errors_task_and_flow(superuser_client):
    failed = drive("failed", "f")
    plain = record.enqueue("p")
    digest = send_digest.enqueue("a@example.com")
    from django_pgflow import start_flow

    run = start_flow("linear_chain", {"n": 1})
    step_job = Job.objects.get(run_id=run.pk)
    url = reverse(CHANGELIST)

    def listed(**params: str) -> set[int]:
        page = superuser_client.get(url, params)
        assert page.status_code == 200
        return {j.pk for j in page.context["cl"].result_list}

    assert listed(errors="yes") == {failed.pk}
    assert listed(errors="no") == {plain.pk, digest.pk, step_job.pk}
    assert listed(task=send_digest.name) == {digest.pk}
    assert listed(flow="linear_chain") == {step_job.pk}
    content = superuser_client.get(url).content.decode()
    assert f"run {run.pk} · task 0" in content


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
    # The filter speaks the words of the column.
    by_state = superuser_client.get(
        reverse("admin:django_pgflow_worker_changelist"), {"state": "stale"}
    )
    assert [w.pk for w in by_state.context["cl"].result_list] == [stale]
    by_state = superuser_client.get(
        reverse("admin:django_pgflow_worker_changelist"), {"state": "alive"}
    )
    assert [w.pk for w in by_state.context["cl"].result_list] == [alive]
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
    assert detail.content.decode().count("State:") == 1  # one state row, in the list's words
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
