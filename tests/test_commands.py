"""pgflow_status, pgflow_prune and runworkers' option checking."""

from __future__ import annotations

import io
import subprocess
import sys

import pytest
from django.core.management import call_command
from django.db import connection
from django.test import override_settings

from django_pgflow.models import Job
from testproject.example.tasks import record

from .conftest import ROOT


def run(sql: str, *params):
    with connection.cursor() as cursor:
        cursor.execute(sql, list(params))


@pytest.mark.django_db
def test_pgflow_status_shows_queues_and_stale_workers():
    record.enqueue("ready")
    record.using(delay=600).enqueue("later")
    record.using(queue="emails").enqueue("mail")
    with connection.cursor() as cursor:
        cursor.execute("SELECT django_pgflow.register_worker('alive-host', 11, '[]'::jsonb, 2)")
        cursor.execute("SELECT django_pgflow.register_worker('stale-host', 12, '[\"emails\"]', 2)")
        stale = cursor.fetchone()[0]
    run("UPDATE pgflow_worker SET last_heartbeat = now() - interval '1 hour' WHERE id = %s", stale)
    out = io.StringIO()
    call_command("pgflow_status", stdout=out)
    text = out.getvalue()
    default_row = next(line for line in text.splitlines() if " default " in line)
    assert default_row.split("│")[2:4] == ["     1 ", "         1 "]
    assert "emails" in text
    alive_row = next(line for line in text.splitlines() if "alive-host" in line)
    stale_row = next(line for line in text.splitlines() if "stale-host" in line)
    assert "alive" in alive_row and "all" in alive_row
    assert "stale" in stale_row and "emails" in stale_row


@pytest.mark.django_db
def test_pgflow_prune_removes_only_old_finished_jobs():
    old, recent, active = record.enqueue("old"), record.enqueue("recent"), record.enqueue("active")
    run("SELECT django_pgflow.cancel(%s)", old.pk)
    run("SELECT django_pgflow.cancel(%s)", recent.pk)
    run("UPDATE pgflow_job SET finished_at = now() - interval '30 days' WHERE id = %s", old.pk)
    out = io.StringIO()
    call_command("pgflow_prune", stdout=out)
    assert "1 cancelled" in out.getvalue()
    assert set(Job.objects.values_list("pk", flat=True)) == {recent.pk, active.pk}
    call_command("pgflow_prune", "--older-than", "0", stdout=out)
    assert set(Job.objects.values_list("pk", flat=True)) == {active.pk}


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--queues", "Bad Name"], "Invalid queue name"),
        (["--concurrency", "0"], "must be at least 1"),
        (["--processes", "two"], "not a whole number"),
        (["--poll-interval", "-1"], "finite number of seconds > 0"),
        (["--shutdown-timeout", "nan"], "finite number of seconds >= 0"),
    ],
)
def test_runworkers_refuses_bad_options(args, message):
    done = subprocess.run(
        [sys.executable, "manage.py", "runworkers", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 2
    assert message in done.stderr
    assert "Traceback" not in done.stderr


def test_pgflow_prune_refuses_a_negative_age():
    done = subprocess.run(
        [sys.executable, "manage.py", "pgflow_prune", "--older-than", "-5"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 2
    assert ">= 0" in done.stderr


@pytest.mark.django_db
@override_settings(PGFLOW={"RETENTION": {"cancelled": None}})
def test_retention_none_keeps_forever_and_other_statuses_keep_defaults():
    job = record.enqueue("kept")
    run("SELECT django_pgflow.cancel(%s)", job.pk)
    run("UPDATE pgflow_job SET finished_at = now() - interval '3000 days' WHERE id = %s", job.pk)
    out = io.StringIO()
    call_command("pgflow_prune", stdout=out)
    assert Job.objects.filter(pk=job.pk).exists()
    assert "completed" in out.getvalue()  # the default retention still applies to it
