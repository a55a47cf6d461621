"""The work the fault tests push through, and the books they check afterwards.

Three independent witnesses: the job and run rows; an audit table that a
trigger (installed in the fault suite's template database only) appends to
every time a job or a run becomes ``completed``; and the ``Execution`` rows
the task bodies write themselves, one per execution.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

from django.db import OperationalError, connection, connections

from django_pgflow import enqueue_many, start_flow
from django_pgflow.models import Job, WorkflowRun
from testproject.example.models import Document
from testproject.example.tasks import record

# Test-only: every transition to completed, as it is committed.
AUDIT_SQL = """
CREATE TABLE faults_completion (
    kind text NOT NULL, id bigint NOT NULL, attempt integer,
    at timestamptz NOT NULL DEFAULT clock_timestamp()
);
CREATE FUNCTION faults_audit_job() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO faults_completion (kind, id, attempt) VALUES ('job', NEW.id, NEW.attempts);
    RETURN NULL;
END;
$$;
CREATE FUNCTION faults_audit_run() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO faults_completion (kind, id) VALUES ('run', NEW.id);
    RETURN NULL;
END;
$$;
CREATE TRIGGER faults_audit_job AFTER UPDATE ON pgflow_job FOR EACH ROW
    WHEN (NEW.status = 'completed' AND OLD.status IS DISTINCT FROM NEW.status)
    EXECUTE FUNCTION faults_audit_job();
CREATE TRIGGER faults_audit_run AFTER UPDATE ON pgflow_run FOR EACH ROW
    WHEN (NEW.status = 'completed' AND OLD.status IS DISTINCT FROM NEW.status)
    EXECUTE FUNCTION faults_audit_run();
"""

# Tasks whose bodies write an Execution row: the plain jobs, and two map steps.
RECORDING_TASKS = ("record", "square", "embed")
SQUARES = 8  # elements of each square_sum run's map
WORDS = 120  # words per document: three 50-word chunks, so three embed tasks each


@dataclass
class Workload:
    """Plain ``record`` jobs and runs of two example flows with map steps."""

    tag: str
    sleep: float = 0.01
    job_ids: list[int] = field(default_factory=list)
    square_runs: list[int] = field(default_factory=list)
    embed_runs: list[int] = field(default_factory=list)
    documents: dict[int, list[int]] = field(default_factory=dict)  # run id -> document ids

    @property
    def run_ids(self) -> list[int]:
        return self.square_runs + self.embed_runs

    def add(self, jobs: int, runs: int) -> None:
        """Start ``runs`` runs (square_sum and embed_documents in turn) and ``jobs`` jobs."""
        for _ in range(runs):
            n = len(self.run_ids)
            if n % 2 == 0:
                run = start_flow("square_sum", {"numbers": list(range(n, n + SQUARES))})
                self.square_runs.append(run.pk)
            else:
                docs = [
                    Document.objects.create(
                        title=f"{self.tag}-{n}-{d}",
                        text=" ".join(f"w{n}x{d}x{i}" for i in range(WORDS)),
                    ).pk
                    for d in range(2)
                ]
                run = start_flow("embed_documents", {"document_ids": docs})
                self.embed_runs.append(run.pk)
                self.documents[run.pk] = docs
        first = len(self.job_ids)
        calls = [record.s(f"{self.tag}-{n}", sleep=self.sleep) for n in range(first, first + jobs)]
        for start in range(0, len(calls), 1000):
            self.job_ids += enqueue_many(calls[start : start + 1000])

    def in_waves(self, jobs: int, runs: int, waves: int) -> Any:
        """A generator adding the work in ``waves`` parts, one per ``next()``."""
        for wave in range(waves):
            self.add(
                jobs * (wave + 1) // waves - jobs * wave // waves,
                runs * (wave + 1) // waves - runs * wave // waves,
            )
            yield wave

    def executed(self) -> int:
        """Executions the task bodies recorded so far."""
        return _scalar(
            "SELECT count(*) FROM example_execution WHERE task = 'record' AND key LIKE %s",
            [f"{self.tag}-%"],
        )

    def finished(self) -> bool:
        """Every job and run is in a final state (whichever)."""
        return not _scalar(
            "SELECT EXISTS (SELECT 1 FROM pgflow_job WHERE id = ANY(%s) "
            "AND status NOT IN ('completed', 'failed', 'cancelled')) "
            "OR EXISTS (SELECT 1 FROM pgflow_run WHERE id = ANY(%s) AND status = 'started')",
            [self.job_ids, self.run_ids],
        )

    def wait(self, timeout: float) -> bool:
        """Wait for every job and run to finish; False when some are stuck."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                if self.finished():
                    return True
            except OperationalError:  # the database is restarting
                connections.close_all()
            time.sleep(0.25)
        return False


def _scalar(sql: str, params: list[Any] | None = None) -> Any:
    with connection.cursor() as cursor:
        cursor.execute(sql, params or [])
        return cursor.fetchone()[0]


def account(workload: Workload) -> dict[str, Any]:
    """The books: what was processed, lost, completed twice, and executed again."""
    jobs = Job.objects.filter(pk__in=workload.job_ids)
    runs = WorkflowRun.objects.filter(pk__in=workload.run_ids)
    step_jobs = Job.objects.filter(run_id__in=workload.run_ids)
    all_ids = workload.job_ids + list(step_jobs.values_list("id", flat=True))
    executions = _scalar(
        "SELECT count(*) FROM example_execution WHERE job_id = ANY(%s) AND task = ANY(%s)",
        [all_ids, list(RECORDING_TASKS)],
    )
    executed_jobs = _scalar(
        "SELECT count(DISTINCT job_id) FROM example_execution "
        "WHERE job_id = ANY(%s) AND task = ANY(%s)",
        [all_ids, list(RECORDING_TASKS)],
    )
    return {
        "jobs": len(workload.job_ids),
        "runs": len(workload.run_ids),
        "step_tasks": step_jobs.count(),
        "jobs_completed": jobs.filter(status="completed").count(),
        "runs_completed": runs.filter(status="completed").count(),
        "lost": jobs.exclude(status="completed").count() + runs.exclude(status="completed").count(),
        "duplicated": _scalar(
            "SELECT coalesce(sum(n - 1), 0)::bigint FROM (SELECT count(*) AS n "
            "FROM faults_completion GROUP BY kind, id HAVING count(*) > 1) d"
        ),
        # A completion applied for an attempt other than the job's last.
        "stale_completions": _scalar(
            "SELECT count(*) FROM faults_completion a JOIN pgflow_job j ON j.id = a.id "
            "WHERE a.kind = 'job' AND a.attempt <> j.attempts"
        ),
        # A completed job whose completing attempt never ran its body.
        "phantom_completions": _phantoms(all_ids),
        "wrong_results": _wrong_results(workload),
        "executions": executions,
        "repeated_executions": executions - executed_jobs,
        "repeats_by_cause": _repeat_causes(all_ids),
        "max_attempts_used": _scalar(
            "SELECT coalesce(max(attempts), 0) FROM pgflow_job WHERE id = ANY(%s)", [all_ids]
        ),
    }


# Why a job ran again: the error its earlier attempt was given up with.
CAUSES_SQL = """
SELECT CASE
    WHEN e->>'message' LIKE '%%lease expired%%' THEN 'lease expired'
    WHEN e->>'message' LIKE '%%stopped heartbeating%%' THEN 'worker silent, lock gone'
    WHEN e->>'message' LIKE '%%exited with%%' OR e->>'message' LIKE '%%killed by signal%%'
        THEN 'process died'
    ELSE coalesce(e->>'error', 'no error recorded')
END AS cause, count(*)
FROM pgflow_job j
CROSS JOIN LATERAL jsonb_array_elements(coalesce(j.errors, '[]'::jsonb)) e
WHERE j.id = ANY(%s)
  AND (SELECT count(*) FROM example_execution x WHERE x.job_id = j.id) > 1
GROUP BY 1 ORDER BY 1
"""


def _repeat_causes(ids: list[int]) -> dict[str, int]:
    """Each given-up attempt of a job that ran more than once, by why it was given up."""
    with connection.cursor() as cursor:
        cursor.execute(CAUSES_SQL, [ids])
        return dict(cursor.fetchall())


def in_flight(pid: int | None = None) -> int:
    """Jobs started and not yet reported (by the worker process ``pid``, or by all):
    what a fault striking now can cost."""
    return int(
        _scalar(
            "SELECT count(*) FROM pgflow_job j WHERE j.status = 'started' AND (%s::int IS NULL"
            " OR j.worker_id IN (SELECT w.id FROM pgflow_worker w WHERE w.pid = %s::int))",
            [pid, pid],
        )
    )


def _phantoms(ids: list[int]) -> int:
    return _scalar(
        "SELECT count(*) FROM pgflow_job j WHERE j.id = ANY(%s) AND j.status = 'completed' "
        "AND (j.task_name = %s OR j.step_slug = ANY(%s)) AND NOT EXISTS ("
        "SELECT 1 FROM example_execution e WHERE e.job_id = j.id AND e.attempt = j.attempts)",
        [ids, "testproject.example.tasks.record", ["square", "embed"]],
    )


def _wrong_results(workload: Workload) -> int:
    wrong = 0
    for args, result in Job.objects.filter(pk__in=workload.job_ids, status="completed").values_list(
        "args", "result"
    ):
        wrong += result != args[0]
    for run in WorkflowRun.objects.filter(pk__in=workload.square_runs, status="completed"):
        start = run.input["numbers"][0]
        squares = [n * n for n in range(start, start + SQUARES)]
        wrong += run.output != {"total": {"squares": squares, "total": sum(squares)}}
    for run in WorkflowRun.objects.filter(pk__in=workload.embed_runs, status="completed"):
        wrong += run.output != {"save": {"saved": 2}}
        wrong += Document.objects.filter(
            pk__in=workload.documents[run.pk], embedding__isnull=True
        ).count()
    return wrong


def failures(workload: Workload, limit: int = 5) -> list[Any]:
    """A few of the errors of jobs and runs that did not complete, for assertion messages."""
    jobs = Job.objects.filter(pk__in=workload.job_ids) | Job.objects.filter(
        run_id__in=workload.run_ids
    )
    return [
        (j.pk, j.task_name, j.status, j.attempts, [str(e["message"])[:200] for e in j.errors][-2:])
        for j in jobs.exclude(status="completed")[:limit]
    ]


def check(books: dict[str, Any], failed: Any = None) -> None:
    """Nothing lost, nothing completed twice or from a stale attempt, every result right."""
    books = {**books, "failures": failed} if failed else books
    assert books["lost"] == 0, books
    assert books["jobs_completed"] == books["jobs"], books
    assert books["runs_completed"] == books["runs"], books
    assert books["duplicated"] == 0, books
    assert books["stale_completions"] == 0, books
    assert books["phantom_completions"] == 0, books
    assert books["wrong_results"] == 0, books
