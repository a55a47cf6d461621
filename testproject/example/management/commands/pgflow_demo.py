"""``python manage.py pgflow_demo``: real workers on real example work, then the numbers.

A command of the example app (not of django_pgflow, which ships no example code):
it runs wherever this example project runs, against an installed django-pgflow.

Migrates, loads the example app's work (documents to embed, flaky digests, a
burst of no-ops), runs ``runworkers --burst`` as a subprocess until the queues
are empty, and summarises what the workers wrote into the job rows. Only the
jobs enqueued by this run are counted, so it can run again on the same database.
"""

from __future__ import annotations

import datetime as dt
import os
import signal
import subprocess
import sys
import tempfile
import time
from argparse import ArgumentParser
from dataclasses import dataclass
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any, cast

from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError
from django.db import OperationalError, connection
from psycopg import sql
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TaskID, TimeElapsedColumn
from rich.table import Table

from django_pgflow.management.arguments import checked_options, count, positive_int
from django_pgflow.models import FINISHED

from ... import demo

if TYPE_CHECKING:
    from ...demo import DemoWork, EmbeddingCheck
POLL_SECONDS = 0.25
STOP_GRACE_SECONDS = 30.0

PROGRESS_SQL = """
SELECT task_name, count(*) FILTER (WHERE status = ANY (%s))
FROM pgflow_job WHERE id = ANY (%s) GROUP BY task_name
"""

SUMMARY_SQL = """
SELECT task_name,
       min(queue),
       count(*),
       count(*) FILTER (WHERE status = 'completed'),
       count(*) FILTER (WHERE status = 'failed'),
       count(*) FILTER (WHERE status = 'cancelled'),
       count(*) FILTER (WHERE status IN ('queued', 'started')),
       count(*) FILTER (WHERE attempts > 1),
       coalesce(sum(jsonb_array_length(errors)), 0),
       avg(extract(epoch FROM finished_at - started_at)::float8)
           FILTER (WHERE status = 'completed'),
       min(started_at),
       max(finished_at)
FROM pgflow_job WHERE id = ANY (%s)
GROUP BY task_name ORDER BY task_name
"""


OTHERS_SQL = """
SELECT count(*) FROM pgflow_job
WHERE status IN ('queued', 'started') AND NOT (id = ANY (%s))
"""


@dataclass(frozen=True)
class TaskSummary:
    """One task's jobs of this run, as the workers left them in ``pgflow_job``."""

    task_name: str
    queue: str
    jobs: int
    completed: int
    failed: int
    cancelled: int
    unfinished: int
    retried: int  # jobs that needed more than one attempt
    failed_attempts: int  # entries in the jobs' error logs
    mean_run: float | None  # seconds from started_at to finished_at, completed jobs
    first_start: dt.datetime | None
    last_finish: dt.datetime | None

    @property
    def short_name(self) -> str:
        return self.task_name.rsplit(".", 1)[-1]


def summarize(job_ids: list[int]) -> list[TaskSummary]:
    with connection.cursor() as cursor:
        cursor.execute(SUMMARY_SQL, [job_ids])
        return [TaskSummary(*row) for row in cursor.fetchall()]


def waiting_elsewhere(job_ids: list[int]) -> int:
    """Jobs waiting or running that this run did not enqueue (an earlier run's, say)."""
    with connection.cursor() as cursor:
        cursor.execute(OTHERS_SQL, [job_ids])
        return int(cursor.fetchone()[0])


def processing_span(summaries: list[TaskSummary]) -> float:
    """Seconds from the earliest recorded start to the last finish, over all tasks."""
    starts = [s.first_start for s in summaries if s.first_start]
    finishes = [s.last_finish for s in summaries if s.last_finish]
    if not starts or not finishes:
        return 0.0
    return max(0.0, (max(finishes) - min(starts)).total_seconds())


def finished_counts(job_ids: list[int]) -> dict[str, int]:
    with connection.cursor() as cursor:
        cursor.execute(PROGRESS_SQL, [list(FINISHED), job_ids])
        return dict(cursor.fetchall())


def ensure_database(console: Console) -> None:
    """Create the configured database when the server is up but the database is missing."""
    try:
        connection.ensure_connection()
        return
    except OperationalError as error:
        if "does not exist" not in str(error):
            raise
    name = connection.settings_dict["NAME"]
    statement = sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name))
    try:
        with connection._nodb_cursor() as cursor:
            cursor.execute(statement.as_string())
    except Exception as error:  # noqa: BLE001 - re-raised as a message for the user
        raise CommandError(
            f"Database {name!r} does not exist and could not be created: {error}"
        ) from None
    console.print(f"Created database [bold]{name}[/].")


def worker_command(processes: int, concurrency: int | None, verbosity: int = 1) -> list[str]:
    """``runworkers --burst`` through this project's manage.py, else ``python -m django``."""
    script = Path(sys.argv[0])
    if script.name == "manage.py" and script.is_file():
        command = [sys.executable, str(script.resolve())]
    else:
        command = [sys.executable, "-m", "django"]
    command += ["runworkers", "--processes", str(processes), "--burst"]
    if concurrency is not None:
        command += ["--concurrency", str(concurrency)]
    if verbosity >= 2:
        command += ["--verbosity", str(verbosity)]
    return command


def worker_environment() -> dict[str, str]:
    """This process's environment, pointing the workers at the same settings and code."""
    env = dict(os.environ)
    env["DJANGO_SETTINGS_MODULE"] = settings.SETTINGS_MODULE
    paths = [p for p in sys.path if p] + env.get("PYTHONPATH", "").split(os.pathsep)
    env["PYTHONPATH"] = os.pathsep.join(dict.fromkeys(p for p in paths if p))
    return env


class Command(BaseCommand):
    help = (
        "Migrate, enqueue example work (documents to embed, flaky emails, a burst of no-ops), "
        "run real workers until it is done, and summarise what they recorded."
    )

    def add_arguments(self, parser: ArgumentParser) -> None:
        parser.add_argument(
            "--documents", type=count, default=200, help="documents to embed (default 200)"
        )
        parser.add_argument(
            "--digests", type=count, default=20, help="digest emails, each failing once (20)"
        )
        parser.add_argument("--noop", type=count, default=2000, help="no-op jobs (default 2000)")
        parser.add_argument(
            "--processes", type=positive_int, default=2, help="worker processes (default 2)"
        )
        parser.add_argument("--concurrency", type=positive_int, help="threads per process")
        parser.add_argument(
            "--timeout",
            type=positive_int,
            default=600,
            help="seconds to wait for the workers before stopping them (default 600)",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        options = checked_options(self, "pgflow_demo", options)
        self.verbosity: int = options["verbosity"]
        self.console = self._console()
        ensure_database(self.console)
        call_command("migrate", verbosity=0, interactive=False)
        self.console.print("[bold]django-pgflow demo[/]: database migrated.")

        try:
            work = demo.load(options["documents"], options["digests"], options["noop"])
        except KeyboardInterrupt:
            raise CommandError("Interrupted while enqueueing: nothing was stored.") from None
        self._describe(work)
        command = worker_command(options["processes"], options["concurrency"], self.verbosity)
        code, wall = self._run_workers(work, command, options["timeout"])

        order = list(work.job_ids)
        summaries = sorted(summarize(work.all_job_ids), key=lambda s: order.index(s.task_name))
        check = demo.check_embeddings(work.document_ids)
        self._report(summaries, check, wall)
        self._admin_hint()
        problems = self._problems(summaries, check, code)
        if problems:
            raise CommandError("; ".join(problems))
        self.console.print("[bold green]Demo finished: every job completed.[/]")

    # -- output ------------------------------------------------------------

    def _console(self) -> Console:
        # Rich needs the raw stream: Django's wrapper appends a newline to every
        # write, which would break the live progress bar.
        stream = cast(IO[str], getattr(self.stdout, "_out", self.stdout))
        console = Console(file=stream, highlight=False)
        if not console.is_terminal:
            console.width = 120
        return console

    def _describe(self, work: DemoWork) -> None:
        counts = {name.rsplit(".", 1)[-1]: len(ids) for name, ids in work.job_ids.items() if ids}
        self.console.print(
            f"Created {len(work.document_ids)} documents and enqueued "
            f"{sum(counts.values())} jobs: "
            + ", ".join(f"{n} {name}" for name, n in counts.items())
            + "."
        )
        others = waiting_elsewhere(work.all_job_ids)
        if others:
            self.console.print(
                f"[yellow]{others} job(s) enqueued earlier are waiting too: the workers will run "
                "them as well, but only this run's jobs are counted below.[/]"
            )

    def _report(self, summaries: list[TaskSummary], check: EmbeddingCheck, wall: float) -> None:
        table = Table(title="What the workers recorded (pgflow_job rows of this run)")
        table.add_column("task", no_wrap=True)
        table.add_column("queue", no_wrap=True)
        for column in (
            "jobs",
            "completed",
            "failed",
            "unfinished",
            "retried",
            "errors",
            "mean run",
        ):
            table.add_column(column, justify="right", no_wrap=True)
        for s in summaries:
            table.add_row(
                s.short_name,
                s.queue,
                str(s.jobs),
                str(s.completed),
                _red_if(s.failed),
                _red_if(s.unfinished + s.cancelled),
                str(s.retried),
                str(s.failed_attempts),
                _duration(s.mean_run),
            )
        self.console.print(table)
        self.console.print(
            "[dim]retried: jobs that needed more than one attempt; errors: failed attempts\n"
            "in the jobs' error logs; mean run: started_at to finished_at of completed jobs.[/]"
        )

        completed = sum(s.completed for s in summaries)
        span = processing_span(summaries)
        self.console.print(f"Wall time: {wall:.1f}s, worker start-up included.")
        self.console.print(
            f"Throughput: {completed} jobs completed in {span:.2f}s, first recorded start to "
            f"last completion: [bold]{_rate(completed, span)}[/]."
        )
        if check.documents:
            style = "green" if check.ok else "red"
            self.console.print(
                f"[{style}]Documents: {check.embedded}/{check.documents} embedded, "
                f"{check.correct} vectors equal to embed_text(text) recomputed here.[/]"
            )

    def _admin_hint(self) -> None:
        env = "DATABASE_URL=... " if os.environ.get("DATABASE_URL") else ""
        self.console.print(
            "\nBrowse the jobs in the Django admin:\n"
            f"  {env}python manage.py createsuperuser\n"
            f"  {env}python manage.py runserver\n"
            "  then open http://127.0.0.1:8000/admin/ (Pgflow > Jobs)\n"
        )

    # -- workers -----------------------------------------------------------

    def _run_workers(
        self, work: DemoWork, command: list[str], timeout: float
    ) -> tuple[int | None, float]:
        """Run the workers with a progress bar; returns their exit code and wall time."""
        self.console.print(f"Starting workers: [dim]{' '.join(command[1:])}[/]")
        with tempfile.TemporaryFile() as log:
            started = time.monotonic()
            # A session of its own: Ctrl-C reaches the demo, which stops them once.
            proc = subprocess.Popen(
                command,
                env=worker_environment(),
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
            try:
                code = self._watch(proc, work, started + timeout)
            except KeyboardInterrupt:
                self._stop(proc)
                raise CommandError("Interrupted: workers stopped.") from None
            finally:
                if proc.poll() is None:
                    self._stop(proc)
            wall = time.monotonic() - started
            if code is None:
                self.console.print(f"[red]Workers still busy after {timeout:g}s: stopped them.[/]")
            elif code != 0:
                self.console.print(f"[red]Workers exited with status {code}.[/]")
            self._show_log(log, failed=code != 0)
        return code, wall

    def _watch(self, proc: subprocess.Popen[bytes], work: DemoWork, deadline: float) -> int | None:
        columns = (
            "{task.description:<16}",
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
        )
        with Progress(*columns, console=self.console) as progress:
            bars: dict[str, TaskID] = {
                name: progress.add_task(name.rsplit(".", 1)[-1], total=len(ids))
                for name, ids in work.job_ids.items()
                if ids
            }
            total = progress.add_task("all jobs", total=len(work.all_job_ids))
            while True:
                code = proc.poll()
                done = finished_counts(work.all_job_ids)
                for name, bar in bars.items():
                    progress.update(bar, completed=done.get(name, 0))
                progress.update(total, completed=sum(done.values()))
                if code is not None:
                    return code
                if time.monotonic() > deadline:
                    return None
                time.sleep(POLL_SECONDS)

    def _stop(self, proc: subprocess.Popen[bytes]) -> None:
        """SIGTERM the worker supervisor (graceful), then SIGKILL its group if it hangs."""
        try:
            proc.send_signal(signal.SIGTERM)
            proc.wait(STOP_GRACE_SECONDS)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
        except ProcessLookupError:
            pass

    def _show_log(self, log: IO[bytes], failed: bool) -> None:
        log.seek(0)
        lines = log.read().decode(errors="replace").splitlines()
        if not lines or not (failed or self.verbosity >= 2):
            return
        shown = lines if self.verbosity >= 2 else lines[-30:]
        self.console.print("[dim]Worker output:[/]")
        for line in shown:
            self.console.print(line, markup=False)

    # -- verdict -----------------------------------------------------------

    def _problems(
        self, summaries: list[TaskSummary], check: EmbeddingCheck, code: int | None
    ) -> list[str]:
        problems = []
        if code is None:
            problems.append("the workers did not finish in time")
        elif code != 0:
            problems.append(f"the workers exited with status {code}")
        failed = sum(s.failed for s in summaries)
        unfinished = sum(s.unfinished + s.cancelled for s in summaries)
        if failed:
            problems.append(f"{failed} job(s) failed")
        if unfinished:
            problems.append(
                f"{unfinished} job(s) did not complete (queued ones stay queued: "
                "`python manage.py runworkers --burst` runs them)"
            )
        if not check.ok:
            problems.append(
                f"{check.documents - check.correct} document(s) lack a correct embedding"
            )
        return problems


def _red_if(number: int) -> str:
    return f"[red]{number}[/]" if number else "0"


def _duration(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    return f"{seconds * 1000:.1f} ms" if seconds < 1 else f"{seconds:.2f} s"


def _rate(jobs: int, seconds: float) -> str:
    if not jobs or seconds <= 0:
        return "n/a jobs/s"
    return f"{jobs / seconds:,.0f} jobs/s"
