"""Shared fixtures: real workers (threads in this process, or subprocesses)
against the real test database."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from django.db import connection

from django_pgflow.models import Job
from django_pgflow.models import Worker as WorkerRow
from django_pgflow.worker.options import WorkerOptions
from django_pgflow.worker.runner import Worker
from testproject.example.models import Execution

ROOT = Path(__file__).resolve().parent.parent


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--soak",
        action="store_true",
        help="run the fault suite (tests/faults) at soak size: 10,000 jobs and 200 runs "
        "under kill -9, longer outages; takes many minutes",
    )


def wait_for(predicate: Callable[[], Any], timeout: float = 30.0, interval: float = 0.05) -> Any:
    """Poll ``predicate`` until it returns something truthy; fail the test on timeout."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {timeout}s: {predicate}")
        time.sleep(interval)


def sql_value(query: str, params: list[Any] | None = None) -> Any:
    with connection.cursor() as cursor:
        cursor.execute(query, params or [])
        row = cursor.fetchone()
        return row[0] if row else None


class WorkerThread:
    """A real ``Worker`` running in a thread of the test process."""

    def __init__(self, **options: Any) -> None:
        options.setdefault("poll_interval", 0.2)
        options.setdefault("heartbeat_interval", 0.2)
        options.setdefault("concurrency", 4)
        self.worker = Worker(WorkerOptions.from_settings(install_signals=False, **options))
        self.thread = threading.Thread(target=self._run, name="test-worker", daemon=True)
        self.exit_code: int | None = None
        self.error: BaseException | None = None

    def _run(self) -> None:
        try:
            self.exit_code = self.worker.run()
        except BaseException as error:  # noqa: BLE001 - surfaced by stop()
            self.error = error
        finally:
            from django.db import connections

            connections.close_all()

    def start(self) -> WorkerThread:
        self.thread.start()
        assert self.worker.ready.wait(10), "worker did not start"
        return self

    def stop(self, immediate: bool = False, timeout: float = 30) -> None:
        self.worker.request_stop(immediate=immediate)
        self.thread.join(timeout)
        assert not self.thread.is_alive(), "worker thread did not stop"
        if self.error is not None:
            raise self.error


@pytest.fixture
def worker_thread() -> Iterator[Callable[..., WorkerThread]]:
    started: list[WorkerThread] = []

    def start(**options: Any) -> WorkerThread:
        w = WorkerThread(**options).start()
        started.append(w)
        return w

    yield start
    for w in started:
        if w.thread.is_alive():
            w.stop(immediate=True)


def subprocess_env(overrides: dict[str, Any] | None = None) -> dict[str, str]:
    env = dict(os.environ)
    env["DATABASE_NAME"] = connection.settings_dict["NAME"]
    env["DJANGO_SETTINGS_MODULE"] = "testproject.settings"
    env["PYTHONPATH"] = str(ROOT)
    tight = {"HEARTBEAT_INTERVAL": 0.3, "POLL_INTERVAL": 0.5, "WORKER_DEAD_AFTER": 5.0}
    tight.update(overrides or {})
    env["PGFLOW_OVERRIDES"] = json.dumps(tight)
    return env


class WorkerProcess:
    """``manage.py runworkers`` as a real subprocess.

    ``env`` adds to (or replaces in) the environment ``subprocess_env`` builds;
    ``prefix`` runs the command through another, e.g. ``ip netns exec NS``.
    """

    def __init__(
        self,
        args: list[str],
        overrides: dict[str, Any] | None = None,
        *,
        env: dict[str, str] | None = None,
        prefix: list[str] | None = None,
    ) -> None:
        self.args = args
        # A file, not a pipe: a chatty worker must never block on a full pipe.
        self.log = tempfile.TemporaryFile()  # noqa: SIM115 - lives as long as the process
        self.proc = subprocess.Popen(
            [*(prefix or []), sys.executable, str(ROOT / "manage.py"), "runworkers", *args],
            cwd=ROOT,
            env={**subprocess_env(overrides), **(env or {})},
            stdout=self.log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    @property
    def pid(self) -> int:
        return self.proc.pid

    def signal(self, signum: int) -> None:
        self.proc.send_signal(signum)

    def wait(self, timeout: float = 60) -> int:
        return self.proc.wait(timeout)

    def output(self) -> str:
        self.log.seek(0)
        return self.log.read().decode(errors="replace")

    def alive(self) -> bool:
        return self.proc.poll() is None

    def kill_group(self) -> None:
        try:
            os.killpg(self.proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        self.proc.wait(10)


@pytest.fixture
def worker_process() -> Iterator[Callable[..., WorkerProcess]]:
    started: list[WorkerProcess] = []

    def start(*args: str, overrides: dict[str, Any] | None = None, **kw: Any) -> WorkerProcess:
        w = WorkerProcess(list(args), overrides, **kw)
        started.append(w)
        return w

    yield start
    for w in started:
        if w.proc.poll() is None:
            w.kill_group()


# -- reading back what worker processes did ------------------------------------


def running_workers(count: int, timeout: float = 30) -> list[WorkerRow]:
    """Wait until ``count`` workers are registered and running; return them."""

    def check() -> list[WorkerRow] | None:
        rows = list(WorkerRow.objects.filter(state="running").order_by("id"))
        return rows if len(rows) >= count else None

    return wait_for(check, timeout)


def execution_of(job: Job, attempt: int, timeout: float = 30) -> Execution:
    return wait_for(
        lambda: Execution.objects.filter(job_id=job.pk, attempt=attempt).first(), timeout
    )


def all_done(ids: list[int]) -> bool:
    return not Job.objects.filter(pk__in=ids).exclude(status__in=["completed", "failed"]).exists()


def stop(*procs: WorkerProcess, timeout: float = 20) -> None:
    """SIGTERM each process; each must exit 0."""
    for proc in procs:
        if proc.proc.poll() is None:
            proc.signal(signal.SIGTERM)
    for proc in procs:
        assert proc.wait(timeout) == 0, proc.output()


def registered(procs: list[WorkerProcess]) -> list[WorkerProcess]:
    """Wait until each of ``procs`` is past its start-up (a SIGTERM before the worker
    installs its handler just kills it); return them."""
    pids = {p.pid for p in procs}
    running = WorkerRow.objects.filter(state="running")
    wait_for(lambda: pids <= set(running.values_list("pid", flat=True)), 30)
    return procs
