"""Workflow figures of django-pgflow: step tasks/s of chains and diamonds, a map with its
reduce, and what completing one map task costs as the map grows.

Runs are started first (untimed), then ONE ``runworkers --burst --batch-size 100``
process runs them all; rates are step tasks over the database span of their jobs
(first claim to last completion), as for plain jobs.
"""

from __future__ import annotations

import json
import statistics
import subprocess
import time
from typing import Any

import psycopg

from .cost import Cost
from .db import connect, dbname_of, execute_once, one, query_once
from .measure import Context, Figure, cost_notes, load, reset, run_driver, wait_all
from .peers.base import ROOT, DrainConfig
from .peers.ours import STEPS, Ours

WORKER = DrainConfig("workflows", ("--batch-size", "100"))
STEP_JOBS = (
    "SELECT count(*), extract(epoch FROM max(finished_at) - min(started_at))::float8 "
    "FROM pgflow_job WHERE run_id IS NOT NULL AND status = 'completed'"
)
COMPLETE_SQL = (
    "SELECT django_pgflow.complete_many(%s, %s, %s, "
    "ARRAY(SELECT value FROM jsonb_array_elements(%s::jsonb)))"
)


def run_worker(ctx: Context, ours: Ours, url: str) -> tuple[Cost, list[str]]:
    """One burst worker over the runs already started; its cost and notes."""
    mark = ctx.probe.start(dbname_of(url))
    proc = subprocess.Popen(
        ours.drain_command(url, WORKER),
        cwd=ROOT,
        env=ours.env(url),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    notes = wait_all([proc], ctx.timeout)
    cost = ctx.probe.stop(mark)
    return cost, notes + cost_notes(cost)


def step_tasks(ctx: Context, ours: Ours, url: str, kind: str, runs: int) -> Figure:
    """Step tasks/s of ``runs`` runs of the no-op ``kind`` flow ("chain" or "diamond")."""
    reset(ours, url)
    run_driver(ours, url, ours.driver(url, "start-flows", kind, str(runs)), ctx.timeout)
    execute_once(url, "ANALYZE")  # as fill() does for plain jobs
    cost, notes = run_worker(ctx, ours, url)
    count, seconds = query_once(url, STEP_JOBS)
    (finished,) = query_once(url, "SELECT count(*) FROM pgflow_run WHERE status = 'completed'")
    if finished < runs or count != runs * STEPS[kind]:
        notes.append(f"{finished} of {runs} runs, {count} step tasks completed")
    measure = f"{kind} ({runs:,} runs), step tasks"
    return Figure(
        ours.label(), measure, count / seconds, "tasks/s", ctx.round, load(), cost, count, notes
    )


def map_reduce(ctx: Context, ours: Ours, url: str, size: int) -> Figure:
    """Database seconds of a ``size``-element map and its reduce: from the first claim of
    the run's first task to the run's completion."""
    reset(ours, url)
    run_driver(ours, url, ours.driver(url, "start-map", str(size)), ctx.timeout)
    execute_once(url, "ANALYZE")
    cost, notes = run_worker(ctx, ours, url)
    status, output, seconds, tasks = query_once(
        url,
        "SELECT r.status, r.output, extract(epoch FROM r.finished_at - min(j.started_at))::float8,"
        " count(j.id) FROM pgflow_run r JOIN pgflow_job j ON j.run_id = r.id GROUP BY r.id",
    )
    if status != "completed" or output != {"check": {"count": size, "ordered": True}}:
        notes.append(f"run {status}: {output}")
    return Figure(
        ours.label(),
        f"map of {size:,} + reduce, DB time",
        seconds,
        "s",
        ctx.round,
        load(),
        cost,
        tasks,
        notes,
    )


def map_task_cost(ctx: Context, ours: Ours, url: str, size: int) -> Figure:
    """Median microseconds of ``complete_many`` per map task (batches of 100) in a
    ``size``-element map, the worker's own statement, timed at the client."""
    reset(ours, url)
    run_driver(ours, url, ours.driver(url, "start-map", str(size)), ctx.timeout)
    with connect(url) as conn:
        tasks = claim_map_tasks(conn, size)
        (worker,) = one(conn, "SELECT worker_id FROM pgflow_job WHERE id = %s", [tasks[0][0]])
        times = []
        for start in range(0, size, 100):
            batch = tasks[start : start + 100]
            began = time.perf_counter()
            conn.execute(
                COMPLETE_SQL,
                [
                    worker,
                    [t[0] for t in batch],
                    [t[1] for t in batch],
                    json.dumps([t[0] for t in batch]),
                ],
            )
            times.append((time.perf_counter() - began) / len(batch) * 1e6)
    # The last batch also completes the step and aggregates every output: not per task.
    per_task = statistics.median(times[:-1])
    return Figure(
        ours.label(), f"complete one map task, map of {size:,}", per_task, "µs", ctx.round, load()
    )


def claim_map_tasks(conn: psycopg.Connection[Any], size: int) -> list[tuple[int, int]]:
    """Run the map's root step by hand, then claim all its ``size`` tasks."""
    (worker,) = one(conn, "SELECT django_pgflow.register_worker('bench', 0, '[]', 1)")
    conn.execute("SELECT * FROM django_pgflow.claim(%s, NULL, 1, 300)", [worker])
    (root,) = one(conn, "SELECT id FROM pgflow_job WHERE step_slug = 'size'")
    output = json.dumps(list(range(size)))
    conn.execute("SELECT django_pgflow.complete(%s, %s, 1, %s::jsonb)", [worker, root, output])
    tasks: list[tuple[int, int]] = []
    while rows := conn.execute(
        "SELECT id, attempts FROM django_pgflow.claim(%s, NULL, 1000, 300)", [worker]
    ).fetchall():
        tasks += rows
    assert len(tasks) == size, (len(tasks), size)
    return tasks
