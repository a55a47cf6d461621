"""The fault suite's own PostgreSQL, databases and worker processes.

A session starts one private server (``server.PrivatePostgres``) and migrates a
template database once; each test gets a fresh clone of it, which Django's
``default`` connection points at for the test, and real ``runworkers``
subprocesses connected to it. Sizes grow with ``--soak`` (an option of
``tests/conftest.py``); each test's figures go to the terminal summary and to
``.faults-report.json``.
"""

from __future__ import annotations

import itertools
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
from django.conf import settings
from django.db import connections
from django.test import override_settings

from ..conftest import ROOT, WorkerProcess
from .accounting import AUDIT_SQL
from .server import PrivatePostgres

TEMPLATE = "pgflow_faults_template"

# Failure detection within seconds, and attempts enough that a job caught by
# several crashes in a row still completes: these tests look for lost or
# doubled work, not for max_attempts being reached.
FAULT_SETTINGS: dict[str, Any] = {
    "HEARTBEAT_INTERVAL": 0.3,
    "POLL_INTERVAL": 0.5,
    "WORKER_DEAD_AFTER": 3.0,
    "LEASE_MARGIN": 2.0,
    "DEFAULT_MAX_ATTEMPTS": 25,
    "DEFAULT_RETRY_DELAY": 0.1,
    "DEFAULT_MAX_RETRY_DELAY": 1.0,
}

REPORT_FILE = ROOT / ".faults-report.json"
_report: dict[str, dict[str, Any]] = {}


@dataclass(frozen=True)
class Size:
    """How much work each fault test pushes through, by mode."""

    soak: bool
    jobs: int  # kill -9 test
    runs: int
    outage_jobs: int  # restart and terminate tests
    outage_runs: int
    outage_seconds: float
    terminations: int
    history_rows: int = 1_000_000
    claim_calls: int = 2_000


CI_SIZE = Size(False, 1_500, 30, 600, 10, 5.0, 12)
SOAK_SIZE = Size(True, 10_000, 200, 5_000, 100, 10.0, 60)


@pytest.fixture(scope="session")
def size(request: pytest.FixtureRequest) -> Size:
    return SOAK_SIZE if request.config.getoption("--soak") else CI_SIZE


def migrate(server: PrivatePostgres, database: str) -> None:
    env = {k: v for k, v in os.environ.items() if k != "DATABASE_NAME"}
    env.update(
        DATABASE_URL=server.url(database),
        DJANGO_SETTINGS_MODULE="testproject.settings",
        PYTHONPATH=str(ROOT),
        PGFLOW_OVERRIDES=json.dumps(FAULT_SETTINGS),
    )
    done = subprocess.run(
        [sys.executable, str(ROOT / "manage.py"), "migrate", "-v", "0"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stdout + done.stderr


@pytest.fixture(scope="session")
def private_pg() -> Iterator[PrivatePostgres]:
    server = PrivatePostgres().init()
    try:
        server.start()
        server.execute(f'CREATE DATABASE "{TEMPLATE}"')
        migrate(server, TEMPLATE)
        server.execute(AUDIT_SQL, TEMPLATE)
        yield server
    finally:
        server.destroy()


@dataclass
class FaultDB:
    """A fresh migrated database on the private server, and the workers using it."""

    server: PrivatePostgres
    name: str
    workers: list[WorkerProcess] = field(default_factory=list)

    def url(self, host: str = "127.0.0.1", **options: Any) -> str:
        return self.server.url(self.name, host, **options)

    def worker(
        self, *args: str, url: str | None = None, prefix: list[str] | None = None
    ) -> WorkerProcess:
        """A ``runworkers`` subprocess on this database (``url`` to reach it another way)."""
        env = {"DATABASE_URL": url or self.url(), "DATABASE_NAME": self.name}
        w = WorkerProcess(list(args), FAULT_SETTINGS, env=env, prefix=prefix)
        self.workers.append(w)
        return w

    def alive(self) -> list[WorkerProcess]:
        return [w for w in self.workers if w.alive()]


_databases = itertools.count(1)


@pytest.fixture
def fault_db(private_pg: PrivatePostgres, django_db_blocker: Any) -> Iterator[FaultDB]:
    db = FaultDB(private_pg, f"pgflow_faults_{os.getpid()}_{next(_databases)}")
    private_pg.clone(TEMPLATE, db.name)
    connection = connections["default"]
    saved = dict(connection.settings_dict)
    connection.close()
    connection.settings_dict.update(
        NAME=db.name, HOST="127.0.0.1", PORT=str(private_pg.port), USER="postgres", PASSWORD=""
    )
    pgflow = {**settings.PGFLOW, **FAULT_SETTINGS}
    try:
        with django_db_blocker.unblock(), override_settings(PGFLOW=pgflow):
            yield db
    finally:
        for w in db.workers:
            if w.alive():
                w.kill_group()
        connection.close()
        connection.settings_dict.clear()
        connection.settings_dict.update(saved)
        if private_pg.running():
            private_pg.drop(db.name)


@pytest.fixture
def report(request: pytest.FixtureRequest) -> Any:
    """``report(**figures)``: print one test's figures and keep them for the summary."""

    def record(**figures: Any) -> None:
        name = request.node.name
        _report[name] = {**_report.get(name, {}), **figures}
        print(f"\n[faults] {name}: {json.dumps(_report[name], default=str)}")

    return record


def pytest_terminal_summary(terminalreporter: Any) -> None:
    if not _report:
        return
    terminalreporter.section("fault suite figures")
    for name, figures in _report.items():
        terminalreporter.write_line(f"{name}: {json.dumps(figures)}")
    REPORT_FILE.write_text(json.dumps(_report, indent=2) + "\n")
    terminalreporter.write_line(f"(also written to {REPORT_FILE.name})")
