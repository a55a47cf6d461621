"""Through PgBouncer in transaction mode (Debian's 1.18, no protocol-level prepared
statements): enqueue, start_flow and the admin work; workers refuse it, naming the
direct connection they need; jobs enqueued through it run on directly connected
workers.

CI starts a PgBouncer (.ci/run) and passes its URL in PGFLOW_PGBOUNCER_URL; when
that one fronts another server, or none is given, the test starts its own in
front of the test database's server. With CI=true, a missing PgBouncer fails."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import textwrap
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from django.db import connection

from django_pgflow.models import Job, WorkflowRun

from . import pgbouncer
from .conftest import ROOT, subprocess_env

pytestmark = pytest.mark.django_db(transaction=True)

SYSTEM_ID = "SELECT system_identifier FROM pg_control_system()"


def _system_id(url: str, dbname: str) -> int | None:
    try:
        with psycopg.connect(url, dbname=dbname, connect_timeout=5) as conn:
            return conn.execute(SYSTEM_ID).fetchone()[0]
    except psycopg.Error:
        return None


@pytest.fixture
def bouncer() -> Iterator[str]:
    """A PgBouncer URL in front of the test database's server."""
    dbname = connection.settings_dict["NAME"]
    with connection.cursor() as cursor:
        cursor.execute(SYSTEM_ID)
        ours = cursor.fetchone()[0]
    given = os.environ.get("PGFLOW_PGBOUNCER_URL")
    if given and _system_id(given, dbname) == ours:
        yield given
        return
    if pgbouncer.binary() is None:
        message = "PgBouncer is not installed: apt-get install pgbouncer (.ci/run does)"
        if os.environ.get("CI") == "true":
            pytest.fail(message)
        pytest.skip(message)
    host = connection.settings_dict.get("HOST") or "127.0.0.1"
    port = int(connection.settings_dict.get("PORT") or 5432)
    # Not pytest's tmp_path: PgBouncer drops root for "postgres", who must reach it.
    directory = Path(tempfile.mkdtemp(prefix="pgflow-pgbouncer-"))
    try:
        try:
            url = pgbouncer.start(directory, host, port)
            reached = _system_id(url, dbname) == ours
        except RuntimeError as error:
            url, reached = str(error), False
        if not reached:
            # CI's PgBouncer fronts 127.0.0.1:5432 (the tox runs); the embedded server of
            # `scripts/dev test`, behind its private socket directory, is not reachable.
            message = f"a PgBouncer in front of {host}:{port} could not reach it ({url})"
            if given:
                pytest.skip(f"PGFLOW_PGBOUNCER_URL fronts another server, and {message}")
            pytest.fail(message)
        yield url
    finally:
        pgbouncer.stop(directory)
        shutil.rmtree(directory, ignore_errors=True)


def manage(*args: str, url: str | None = None, timeout: float = 120):
    env = subprocess_env()
    if url is not None:
        env["DATABASE_URL"] = f"{url}/{connection.settings_dict['NAME']}"
        env.pop("DATABASE_NAME", None)
    return subprocess.run(
        [sys.executable, str(ROOT / "manage.py"), *args],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=timeout,
    )  # fmt: skip


WEB_WORK = textwrap.dedent(
    """
    import json
    from django.contrib.auth.models import User
    from django.db import connection, transaction
    from django.test import Client
    from django_pgflow import enqueue_many
    from django_pgflow.worker.pooler import pooled_pids
    from testproject.example.flows import Chain
    from testproject.example.tasks import record

    connection.ensure_connection()
    pooled = pooled_pids(connection) is not None
    ids = []
    for i in range(3):
        with transaction.atomic():
            ids.append(record.enqueue(f"bounced-{i}").pk)
    try:
        with transaction.atomic():
            record.enqueue("rolled back")
            raise RuntimeError
    except RuntimeError:
        pass
    ids += enqueue_many([record.s("bounced-many-1"), record.s("bounced-many-2")])
    with transaction.atomic():
        run = Chain.start({"n": 1})
    admin = User.objects.create_superuser("bouncer-admin", "admin@example.com", "x")
    client = Client(HTTP_HOST="localhost")
    client.force_login(admin)
    pages = [
        "/admin/django_pgflow/job/",
        f"/admin/django_pgflow/job/{ids[0]}/change/",
        "/admin/django_pgflow/job/?status__exact=queued",
        "/admin/django_pgflow/worker/",
    ]
    status = {page: client.get(page).status_code for page in pages}
    from django.conf import settings
    from django.test import override_settings
    endpoints = {**settings.PGFLOW, "METRICS": True, "HEALTH": True, "ENDPOINT_TOKEN": "t"}
    with override_settings(PGFLOW=endpoints):
        metrics = client.get("/pgflow/metrics", HTTP_AUTHORIZATION="Bearer t")
        health = client.get("/pgflow/health", HTTP_AUTHORIZATION="Bearer t")
    status["metrics"] = metrics.status_code
    print(json.dumps({
        "pooled": pooled, "ids": ids, "run": run.pk, "pages": status,
        "health": [health.status_code, health.json()["checks"]["schema"]["ok"]],
        "ready_default": 'queue="default",state="ready"' in metrics.content.decode(),
    }))
    """
)


def test_web_work_through_pgbouncer_runs_on_direct_workers(bouncer):
    done = manage("shell", "-c", WEB_WORK, url=bouncer)
    assert done.returncode == 0, done.stdout + done.stderr
    report = json.loads(done.stdout.strip().splitlines()[-1])
    assert report["pooled"] is True  # it really went through PgBouncer
    assert set(report["pages"].values()) == {200}, report["pages"]
    # No worker serves the queues yet: 503, with the schema found current through PgBouncer.
    assert report["health"] == [503, True] and report["ready_default"]
    assert Job.objects.filter(pk__in=report["ids"], status="queued").count() == 5
    assert not Job.objects.filter(args=["rolled back"]).exists()

    workers = manage("runworkers", "--burst", "-v", "0")  # a direct connection
    assert workers.returncode == 0, workers.stderr
    assert Job.objects.filter(pk__in=report["ids"], status="completed").count() == 5
    run = WorkflowRun.objects.get(pk=report["run"])
    assert run.status == "completed" and run.output == {"third": "result 4"}


def test_workers_refuse_pgbouncer_and_name_the_direct_connection(bouncer):
    enqueue_one = "from testproject.example.tasks import record; print(record.enqueue('x').pk)"
    job_id = manage("shell", "-c", enqueue_one, url=bouncer).stdout.strip().splitlines()[-1]
    refused = manage("runworkers", "--burst", url=bouncer)
    output = refused.stdout + refused.stderr
    assert refused.returncode != 0
    assert "runworkers needs a direct connection to PostgreSQL" in output
    assert "PgBouncer" in output and "LISTEN" in output and "--database" in output
    assert "Traceback" not in output
    assert Job.objects.get(pk=int(job_id)).status == "queued"
