"""/metrics (Prometheus) and /health, served by django_pgflow.urls from a seeded database."""

from __future__ import annotations

from typing import Any

import pytest
from django.contrib.auth.models import User
from django.db import connection
from django.test import Client, override_settings
from prometheus_client.parser import text_string_to_metric_families

from django_pgflow.monitoring.health import expected_migration
from testproject.example.tasks import record

from .conftest import wait_for

TOKEN = "s3cret-scrape-token"
ON = {"METRICS": True, "HEALTH": True, "ENDPOINT_TOKEN": TOKEN}
BEARER = {"HTTP_AUTHORIZATION": f"Bearer {TOKEN}"}


def samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    found = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            found[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return found


def value(found: dict, name: str, **labels: str) -> Any:
    return found.get((name, tuple(sorted(labels.items()))))


def allow_all(request: Any) -> bool:
    return request.headers.get("X-Probe") == "yes"


@pytest.mark.django_db(transaction=True)
def test_metrics_parse_and_show_the_seeded_queue_depths(worker_thread):
    done = [record.using(queue="embeddings").enqueue(f"done-{i}") for i in range(2)]
    w = worker_thread(queues=["embeddings"])
    wait_for(lambda: all(j.refresh().is_finished for j in done), 30)
    w.stop()
    for i in range(3):
        record.enqueue(f"ready-{i}")
    for i in range(2):
        record.using(queue="emails", delay=3600).enqueue(f"later-{i}")
    with override_settings(PGFLOW={**ON, "RESOURCES": {"gpu": 1}}):
        response = Client().get("/pgflow/metrics", **BEARER)
    assert response.status_code == 200, response.content
    assert response["Content-Type"].startswith("text/plain")
    found = samples(response.content.decode())
    assert value(found, "pgflow_queue_jobs", queue="default", state="ready") == 3
    assert value(found, "pgflow_queue_jobs", queue="emails", state="scheduled") == 2
    assert value(found, "pgflow_queue_jobs", queue="emails", state="ready") == 0
    assert value(found, "pgflow_window_jobs", task=record.name, status="completed") == 2
    assert value(found, "pgflow_window_retries", task=record.name) == 0
    assert value(found, "pgflow_job_duration_seconds_gcount", task=record.name) == 2
    assert value(found, "pgflow_job_duration_seconds_bucket", task=record.name, le="+Inf") == 2
    assert value(found, "pgflow_workers", state="alive") == 0
    assert value(found, "pgflow_metrics_window_seconds") == 3600


@pytest.mark.django_db
def test_the_views_are_off_until_a_setting_turns_them_on():
    for path in ("/pgflow/metrics", "/pgflow/health"):
        assert Client().get(path, **BEARER).status_code == 404


@pytest.mark.django_db
def test_access_needs_the_token_a_callable_or_a_staff_user():
    client = Client()
    with override_settings(PGFLOW=ON):
        assert client.get("/pgflow/metrics").status_code == 403
        assert client.get("/pgflow/metrics", HTTP_AUTHORIZATION="Bearer wrong").status_code == 403
        assert client.get(f"/pgflow/health?token={TOKEN}").status_code in (200, 503)
    with override_settings(PGFLOW={"METRICS": True, "ENDPOINT_ACCESS": f"{__name__}.allow_all"}):
        assert client.get("/pgflow/metrics").status_code == 403
        assert client.get("/pgflow/metrics", HTTP_X_PROBE="yes").status_code == 200
    with override_settings(PGFLOW={"METRICS": True}):
        assert client.get("/pgflow/metrics").status_code == 403
        staff = User.objects.create_user("ops", password="x", is_staff=True)
        client.force_login(staff)
        assert client.get("/pgflow/metrics").status_code == 200
    assert client.post("/pgflow/metrics").status_code in (403, 405)


def health(**extra: Any) -> tuple[int, dict[str, Any]]:
    with override_settings(PGFLOW={**ON, **extra}):
        response = Client().get("/pgflow/health", **BEARER)
    return response.status_code, response.json()


@pytest.mark.django_db(transaction=True)
def test_health_is_200_when_every_queue_in_use_has_a_live_worker(worker_thread):
    code, body = health()
    assert code == 200 and body["status"] == "ok"  # nothing in use, nothing to serve
    assert body["checks"]["schema"]["detail"] == f"django_pgflow.{expected_migration()}"
    worker_thread(queues=["default"])
    record.using(queue="default", delay=0).enqueue("x")
    code, body = health()
    assert code == 200, body
    assert body["checks"]["workers"]["ok"] is True


@pytest.mark.django_db(transaction=True)
def test_health_is_503_when_a_queue_in_use_has_no_live_worker(worker_thread):
    worker_thread(queues=["default"])
    record.using(queue="emails").enqueue("nobody serves this")
    code, body = health()
    assert code == 503 and body["status"] == "unavailable"
    assert body["checks"]["workers"]["detail"]["unserved"] == ["emails"]
    assert body["checks"]["database"]["ok"] is True


@pytest.mark.django_db
def test_health_is_503_when_the_schema_is_behind():
    with connection.cursor() as cursor:  # rolled back with the test's transaction
        cursor.execute(
            "DELETE FROM django_migrations WHERE app = 'django_pgflow' AND name = %s",
            [expected_migration()],
        )
    code, body = health()
    assert code == 503
    assert "run migrate" in body["checks"]["schema"]["detail"]
