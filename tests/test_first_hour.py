"""The rough edges a new user met in their first hour, one test each."""

from __future__ import annotations

import re
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from django.db import connection, transaction
from django.test import override_settings

from django_pgflow import enqueue_many
from django_pgflow.models import Job
from django_pgflow.setup_errors import NotMigratedError, unreachable_database_message
from testproject.example.tasks import noop, sleeper

from .conftest import ROOT, subprocess_env, wait_for

DOCS = ROOT / "docs"


def manage(*args: str, env: dict[str, str] | None = None, timeout: float = 120):
    return subprocess.run(
        [sys.executable, str(ROOT / "manage.py"), *args],
        cwd=ROOT, env=env or subprocess_env(), capture_output=True, text=True, timeout=timeout,
    )  # fmt: skip


@pytest.mark.django_db(transaction=True)
def test_runworkers_prints_a_banner_and_what_it_did():
    enqueue_many([noop.s() for _ in range(5)])
    done = manage("runworkers", "--burst", "--queues", "default", "--concurrency", "2")
    assert done.returncode == 0, done.stderr
    out = done.stdout
    assert "django-pgflow 0.1.0 workers: 1 process(es) x 2 thread(s) on default" in out
    name = connection.settings_dict["NAME"]
    assert re.search(rf"database: {name} on \S+:\d+ as ", out)
    assert re.search(r"worker \d+: 5 completed in \d+s", out)
    assert re.search(r"worker \d+ stopped: 5 completed, 0 failed", out)


@pytest.mark.django_db(transaction=True)
def test_runworkers_reports_each_interval_while_running(worker_process):
    proc = worker_process("--report-interval", "0.2", "--concurrency", "2")

    def reported() -> int:
        """Jobs the interval lines have counted so far (each line counts its interval's)."""
        return sum(int(n) for n in re.findall(r"worker \d+: (\d+) completed in", proc.output()))

    ids = enqueue_many([noop.s() for _ in range(3)])
    wait_for(lambda: Job.objects.filter(pk__in=ids, status="completed").count() == 3, 30)
    ran_by = set(Job.objects.filter(pk__in=ids).values_list("worker__pid", flat=True))
    assert ran_by == {proc.pid}, f"run by {ran_by}, not {proc.pid}:\n{proc.output()}"
    wait_for(lambda: reported() >= 3, 30)
    job = sleeper.using(max_attempts=1).enqueue("s", 0.05)
    wait_for(lambda: job.refresh().status == "completed", 30)
    wait_for(lambda: reported() >= 4, 30)


@pytest.mark.django_db(transaction=True)
def test_verbosity_zero_is_quiet():
    noop.enqueue()
    done = manage("runworkers", "--burst", "-v", "0")
    assert done.returncode == 0 and done.stdout == ""


def settings_module(tmp_path: Path, body: str) -> dict[str, str]:
    """An environment whose DJANGO_SETTINGS_MODULE is the test project's, changed by ``body``."""
    (tmp_path / "first_hour_settings.py").write_text(
        "from testproject.settings import *  # noqa\n" + textwrap.dedent(body)
    )
    env = subprocess_env()
    env["PYTHONPATH"] = f"{tmp_path}:{ROOT}"
    env["DJANGO_SETTINGS_MODULE"] = "first_hour_settings"
    return env


@pytest.mark.django_db(transaction=True)
def test_verbosity_two_shows_logs_without_any_logging_configured(tmp_path):
    env = settings_module(tmp_path, "LOGGING = {}\n")
    done = manage("runworkers", "--burst", "-v", "2", env=env)
    assert done.returncode == 0, done.stderr
    assert re.search(r"INFO django_pgflow.worker: worker \d+ started", done.stderr)


def test_help_shows_defaults_and_hides_internal_options():
    done = manage("runworkers", "--help")
    assert "--supervised" not in done.stdout
    for flag in ("--concurrency", "--batch-size", "--poll-interval", "--shutdown-timeout"):
        assert flag in done.stdout
    assert "(default: PGFLOW['CONCURRENCY'], now 8)" in " ".join(done.stdout.split())
    assert done.stdout.count("(default") >= 7


@pytest.mark.django_db
def test_enqueue_before_migrate_names_the_fix():
    with connection.cursor() as cursor:  # undone with the test's transaction
        cursor.execute("DROP SCHEMA django_pgflow CASCADE")
    for call in (noop.enqueue, lambda: enqueue_many([noop.s()])):
        with (
            pytest.raises(NotMigratedError, match=r"python manage.py migrate") as caught,
            transaction.atomic(),
        ):
            call()
        assert 'schema "django_pgflow" does not exist' in str(caught.value)


def test_pgtrigger_left_out_is_a_system_check_error_naming_the_fix(tmp_path):
    env = settings_module(
        tmp_path, 'INSTALLED_APPS = [a for a in INSTALLED_APPS if a != "pgtrigger"]\n'
    )
    done = manage("check", env=env)
    output = done.stdout + done.stderr
    assert done.returncode != 0
    assert "pgflow.E013" in output and "'pgtrigger' is not in INSTALLED_APPS" in output
    assert "INSTALLED_APPS = [..., 'pgtrigger', 'django_pgflow']" in output
    assert "TypeError" not in output and "Traceback" not in output


def test_database_advice_outside_this_repository(monkeypatch):
    error = OSError("connection refused")
    where = {"HOST": "db.internal", "PORT": "5432", "NAME": "shop", "USER": "shop"}
    monkeypatch.delenv("DATABASE_URL", raising=False)
    with override_settings(SETTINGS_MODULE="shop.settings"):
        message = unreachable_database_message(where, error)
    assert "embedded" not in message and "example project" not in message
    assert "settings.DATABASES" in message and "DATABASE_URL" not in message
    monkeypatch.setenv("DATABASE_URL", "postgres://shop@db.internal/shop")
    with override_settings(SETTINGS_MODULE="shop.settings"):
        assert "DATABASE_URL" in unreachable_database_message(where, error)
    with override_settings(SETTINGS_MODULE="testproject.settings"):
        assert "embedded PostgreSQL" in unreachable_database_message(where, error)


def doc_text() -> str:
    return (
        "\n".join(p.read_text() for p in sorted(DOCS.rglob("*.md")))
        + (ROOT / "README.md").read_text()
    )


def test_docs_name_the_schema_and_channel_that_exist():
    text = doc_text()
    assert not re.search(r"`pgflow` schema|schema of functions `pgflow`", text)
    assert "NOTIFY pgflow," not in text and "channel `pgflow`" not in text
    assert "NOTIFY django_pgflow" in text


def test_docs_no_longer_ask_to_turn_jit_off():
    text = doc_text()
    advice = r"turn JIT off for (the workers|django-pgflow's)|-c jit=off|ALTER ROLE \w+ SET jit"
    assert not re.search(advice, text)


def test_docs_say_retrying_a_step_job_is_refused():
    text = doc_text()
    assert "runs the step's code again" not in text
    assert "resume the run" in text


def test_the_view_example_mentions_csrf():
    quickstart = (DOCS / "quickstart.md").read_text()
    assert "csrf_token" in quickstart and "X-CSRFToken" in quickstart
