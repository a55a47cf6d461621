"""``manage.py pgflow_demo`` end to end: a real subprocess, real workers, the test database."""

from __future__ import annotations

import subprocess
import sys

import pytest

from django_pgflow.models import Job, Worker
from testproject.example.demo import EmbeddingCheck
from testproject.example.management.commands.pgflow_demo import Command, TaskSummary
from testproject.example.models import Document
from testproject.example.tasks import embed_document, embed_text, noop, send_digest

from .conftest import ROOT, subprocess_env

SMALL = ["--documents", "12", "--digests", "3", "--noop", "60", "--processes", "2"]


def run_demo(*args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(ROOT / "manage.py"), "pgflow_demo", *args],
        cwd=ROOT,
        env=subprocess_env(),
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def jobs_by_task() -> dict[str, list[Job]]:
    jobs: dict[str, list[Job]] = {}
    for job in Job.objects.order_by("id"):
        jobs.setdefault(job.task_name, []).append(job)
    return jobs


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_demo_runs_real_workers_to_completion():
    result = run_demo(*SMALL)
    assert result.returncode == 0, result.stdout + result.stderr

    jobs = jobs_by_task()
    assert {name: len(rows) for name, rows in jobs.items()} == {
        embed_document.name: 12,
        send_digest.name: 3,
        noop.name: 60,
    }
    assert all(j.status == "completed" for rows in jobs.values() for j in rows)
    for digest in jobs[send_digest.name]:  # each failed once, then a worker retried it
        assert digest.attempts == 2
        assert [e["error"] for e in digest.errors] == ["ConnectionError"]
        assert str(digest.result).startswith("sent to reader")
    assert all(j.attempts == 1 for j in jobs[noop.name] + jobs[embed_document.name])
    documents = list(Document.objects.all())
    assert len(documents) == 12
    assert all(d.embedding == embed_text(d.text) for d in documents)
    # Two worker processes registered, and both stopped when the queues ran dry.
    workers = list(Worker.objects.all())
    assert len(workers) == 2 and all(w.state == "stopped" for w in workers)
    assert {j.worker_id for rows in jobs.values() for j in rows} <= {w.pk for w in workers}

    out = result.stdout
    assert "Created 12 documents and enqueued 75 jobs" in out
    assert "What the workers recorded" in out
    assert "75 jobs completed" in out and "jobs/s" in out
    assert "Documents: 12/12 embedded, 12 vectors equal to embed_text(text)" in out
    assert "python manage.py createsuperuser" in out
    assert "http://127.0.0.1:8000/admin/" in out
    assert "Demo finished: every job completed." in out
    # The table's send_digest row: 3 jobs, 3 completed, 0 failed, 0 unfinished, 3 retried.
    row = next(line for line in out.splitlines() if "send_digest" in line and "emails" in line)
    assert [cell.strip() for cell in row.strip("│ ").split("│")][2:8] == [
        "3", "3", "0", "0", "3", "3"
    ]  # fmt: skip


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_demo_run_twice_counts_only_its_own_jobs():
    assert run_demo(*SMALL).returncode == 0
    second = run_demo("--documents", "5", "--digests", "1", "--noop", "10", "--processes", "1")
    assert second.returncode == 0, second.stdout + second.stderr
    assert "Created 5 documents and enqueued 16 jobs" in second.stdout
    assert "16 jobs completed" in second.stdout
    assert "Documents: 5/5 embedded" in second.stdout
    assert Document.objects.count() == 17
    assert Job.objects.filter(status="completed").count() == 75 + 16


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_demo_fails_when_workers_leave_jobs_unfinished():
    # One second is not enough to start a supervisor, two workers and run 2,000
    # jobs: the demo stops them and must say so with a non-zero exit.
    result = run_demo("--documents", "0", "--digests", "0", "--noop", "5000", "--timeout", "1")
    assert result.returncode == 1, result.stdout
    assert "did not finish in time" in result.stderr
    assert "Workers still busy after 1s: stopped them." in result.stdout
    assert "Demo finished" not in result.stdout
    # How far the workers got in that second depends on the machine; what is
    # left over must be named.
    if Job.objects.exclude(status="completed").exists():
        assert "did not complete" in result.stderr


def summary(**counts: int) -> TaskSummary:
    values = {
        "jobs": 1,
        "completed": 0,
        "failed": 0,
        "cancelled": 0,
        "unfinished": 0,
        "retried": 0,
        "failed_attempts": 0,
    }
    values.update(counts)
    return TaskSummary(
        task_name="t.x",
        queue="default",
        mean_run=None,
        first_start=None,
        last_finish=None,
        **values,
    )


def test_demo_verdict_names_every_problem():
    good = EmbeddingCheck(documents=2, embedded=2, correct=2)
    assert Command()._problems([summary(completed=1)], good, 0) == []
    problems = Command()._problems(
        [summary(failed=1), summary(unfinished=2, cancelled=1)],
        EmbeddingCheck(documents=2, embedded=1, correct=1),
        None,
    )
    assert [p.split(" (")[0] for p in problems] == [
        "the workers did not finish in time",
        "1 job(s) failed",
        "3 job(s) did not complete",
        "1 document(s) lack a correct embedding",
    ]
