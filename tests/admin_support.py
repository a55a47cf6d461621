"""What the admin tests share: logged-in clients, and jobs and runs moved through
the SQL functions a worker calls (never through model saves)."""

from __future__ import annotations

import json
from typing import Any

import pytest
from django.contrib.auth.models import Permission, User
from django.db import connection
from django.test import Client

from django_pgflow.limit_sync import declared_queue_limits, declared_resources
from django_pgflow.models import Job, WorkflowRun
from testproject.example.tasks import record


def client_for(user: User) -> Client:
    client = Client()
    client.force_login(user)
    return client


def staff(name: str, *codenames: str) -> Client:
    """A staff user holding exactly the given permissions of django_pgflow."""
    user = User.objects.create_user(name, password="pw", is_staff=True)
    perms = Permission.objects.filter(
        content_type__app_label="django_pgflow", codename__in=codenames
    )
    assert perms.count() == len(codenames), f"unknown permission among {codenames}"
    user.user_permissions.add(*perms)
    return client_for(user)


@pytest.fixture
def superuser_client() -> Client:
    return client_for(User.objects.create_superuser("admin", "admin@example.com", "pw"))


@pytest.fixture
def viewer_client() -> Client:
    """Staff allowed to look at every page of django_pgflow, and to change nothing."""
    return staff("viewer", "view_job", "view_worker", "view_workflowrun", "view_periodicschedule")


def sql(query: str, params: list[Any] | None = None) -> list[tuple[Any, ...]]:
    with connection.cursor() as cursor:
        cursor.execute(query, params or [])
        return cursor.fetchall() if cursor.description else []


def register_worker(queues: list[str] | None = None) -> int:
    """Start as a worker does: write the declared resources and queue limits, register."""
    sql(
        "SELECT django_pgflow.sync_limits(%s::jsonb, %s::jsonb)",
        [json.dumps(declared_resources()), json.dumps(declared_queue_limits())],
    )
    return int(
        sql(
            "SELECT django_pgflow.register_worker('testhost', 4242, %s::jsonb, 4)",
            [json.dumps(queues or [])],
        )[0][0]
    )


def claim(worker_id: int, limit: int = 1, queues: list[str] | None = None) -> list[tuple[int, int]]:
    """Claim as a worker does (plain and gated jobs); (job id, attempt) pairs."""
    return sql(
        "SELECT id, attempts FROM django_pgflow.claim(%s, %s, %s, 30)", [worker_id, queues, limit]
    )


# Reports come from the worker holding the job (the SQL fences by worker).
HOLDER = "(SELECT worker_id FROM pgflow_job WHERE id = %s)"


def complete(job_id: int, attempt: int, result: Any = "ok") -> None:
    sql(
        f"SELECT django_pgflow.complete({HOLDER}, %s, %s, %s::jsonb)",
        [job_id, job_id, attempt, json.dumps(result)],
    )


def fail(job_id: int, attempt: int, error: Any = None, retry: bool = False) -> None:
    payload = error or {"error": "ValueError", "message": "boom", "traceback": None}
    sql(
        f"SELECT django_pgflow.fail({HOLDER}, %s, %s, %s::jsonb, %s)",
        [job_id, job_id, attempt, json.dumps(payload), retry],
    )


def drive(
    status: str, key: str, worker_id: int | None = None, error: Any = None, queue: str = "default"
) -> Job:
    """Enqueue a job and move it to ``status`` through the SQL functions a worker calls."""
    job = record.using(queue=queue).enqueue(key)
    if status == "queued":
        return job
    worker_id = worker_id or register_worker()
    claimed = claim(worker_id, queues=[queue])
    assert claimed == [(job.pk, 1)], "another queued job was claimed first"
    if status == "completed":
        complete(job.pk, 1)
    elif status == "failed":
        fail(job.pk, 1, error)
    elif status == "cancelled":
        sql("SELECT django_pgflow.cancel(%s)", [job.pk])
    else:
        assert status == "started"
    return job.refresh()


def run_ready_steps(run: WorkflowRun, outputs: dict[str, Any], worker_id: int) -> int:
    """Claim and complete the ready tasks of ``run``'s steps named in ``outputs``, with
    ``outputs[step]``, until none is left; how many. (No other job may be queued.)"""
    done = 0
    while True:
        ready = sql(
            "SELECT id FROM pgflow_job WHERE run_id = %s AND status = 'queued'"
            " AND step_slug = ANY(%s) ORDER BY id",
            [run.pk, list(outputs)],
        )
        if not ready:
            return done
        # The run's jobs are the oldest queued ones: the claim takes them first.
        for job_id, attempt in claim(worker_id, limit=len(ready)):
            step = Job.objects.get(pk=job_id).step_slug
            assert step is not None
            complete(job_id, attempt, outputs[step])
            done += 1
