"""The database goes away under running workers: stopped and restarted, or every
worker connection terminated, again and again."""

from __future__ import annotations

import random
import time

import pytest
from django.db import connections

from ..conftest import registered, sql_value, stop, wait_for
from .accounting import Workload, account, check, failures, in_flight
from .test_crashes import CONCURRENCY, WORKERS

# --soak sizes run for many minutes.
pytestmark = pytest.mark.timeout(1800)

# Every backend of this database but the test's own: the workers' claim, report,
# heartbeat, listener and scheduler connections, and their task threads' ones.
TERMINATE_OTHERS = (
    "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
    "WHERE datname = current_database() AND pid <> pg_backend_pid() "
    "AND backend_type = 'client backend'"
)


def test_postgres_stopped_and_restarted_mid_run(fault_db, size, report):
    """pg_ctl stop (-m immediate: a crash, and in soak also -m fast) for a few seconds
    while jobs and runs are processed: workers reconnect and finish everything, once."""
    modes = ["immediate", "fast"] if size.soak else ["immediate"]
    workload = Workload("restart", sleep=0.02)
    workload.add(size.outage_jobs, size.outage_runs)
    workers = registered([fault_db.worker("--concurrency", CONCURRENCY) for _ in range(WORKERS)])
    outages = []
    struck: list[int] = []
    for n, mode in enumerate(modes, start=1):
        # Mid-run: a share of the jobs done, most still to do.
        wait_for(lambda n=n: workload.executed() >= n * size.outage_jobs // 4, 120)
        struck.append(in_flight())
        connections.close_all()
        began = time.monotonic()
        fault_db.server.stop(mode)
        time.sleep(size.outage_seconds)
        fault_db.server.start()
        outages.append((mode, round(time.monotonic() - began, 1)))
        assert all(w.alive() for w in workers), "a worker died with the database"
    settled = workload.wait(180)
    assert all(w.alive() for w in workers), "a worker died with the database"
    reconnected = sum("connection lost" in w.output() for w in workers)
    stop(*workers)

    books = account(workload)
    report(outages=outages, in_flight=struck, workers_reconnected=reconnected, **books)
    assert settled, f"stuck: {books} {failures(workload)}"
    check(books, failures(workload))
    assert reconnected == len(workers)


def test_every_worker_connection_terminated_repeatedly(fault_db, size, report):
    """pg_terminate_backend on every worker connection at random moments of a run."""
    rng = random.Random()
    workload = Workload("terminate", sleep=0.1)
    workload.add(size.outage_jobs, size.outage_runs)
    workers = registered([fault_db.worker("--concurrency", CONCURRENCY) for _ in range(WORKERS)])
    wait_for(lambda: workload.executed() >= 20, 60)
    rounds = terminated = struck = 0
    while rounds < size.terminations and not workload.finished():
        struck += in_flight()
        terminated += sql_value(TERMINATE_OTHERS)
        rounds += 1
        time.sleep(rng.uniform(0.1, 0.7))
    mid_run = not workload.finished()
    settled = workload.wait(180)
    assert all(w.alive() for w in workers), "a worker died with its connections"
    reconnected = sum("connection lost" in w.output() for w in workers)
    stop(*workers)

    books = account(workload)
    report(
        rounds=rounds,
        backends_terminated=terminated,
        in_flight=struck,
        workers_reconnected=reconnected,
        **books,
    )
    assert settled, f"stuck: {books} {failures(workload)}"
    check(books, failures(workload))
    assert rounds >= min(size.terminations, 5) and mid_run, "the run ended before the faults"
