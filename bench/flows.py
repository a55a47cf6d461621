#!/usr/bin/env python
"""Workflow benchmark of django-pgflow (run by hand, not in CI).

    .venv/bin/python bench/flows.py [--runs 300] [--map-size 10000]

It (re)creates its own database, ``pgflow_bench_flows``, on the server of
``DATABASE_URL`` (default: postgres://postgres@127.0.0.1:5432), migrates it,
and measures with the example app's flows:

1. runs/s of a 3-step no-op chain (``tiny_chain``): ``--runs`` runs started at
   once, drained by ONE ``runworkers --burst`` process;
2. the wall time of one map over ``--map-size`` elements (``wide_map``),
   start to finish, with the same single worker process;
3. the SQL cost of completing one map task, as the map grows: every task of a
   1,000- and a 10,000-element map is claimed, then completed in batches of 100
   through ``django_pgflow.complete_many`` (the worker's own statement), and the median
   batch time is divided by 100. Constant cost means O(1) per completion.
"""

from __future__ import annotations

import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
# bench/queue.py would shadow the standard library's ``queue`` module.
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != HERE]
sys.path.insert(0, str(ROOT))

import argparse  # noqa: E402
import json  # noqa: E402
import os  # noqa: E402
import statistics  # noqa: E402
import subprocess  # noqa: E402
import time  # noqa: E402
from typing import Any  # noqa: E402
from urllib.parse import urlsplit, urlunsplit  # noqa: E402

import psycopg  # noqa: E402
from rich.console import Console  # noqa: E402
from rich.table import Table  # noqa: E402

DEFAULT_SERVER = "postgres://postgres@127.0.0.1:5432/pgflow_bench_flows"
COMPLETE_SQL = (
    "SELECT django_pgflow.complete_many(%s, %s, %s, "
    "ARRAY(SELECT value FROM jsonb_array_elements(%s::jsonb)))"
)
console = Console(highlight=False)


def database_url(server_url: str, name: str) -> str:
    parts = urlsplit(server_url)
    return urlunsplit((parts.scheme, parts.netloc, "/" + name, parts.query, ""))


def recreate_database(url: str) -> None:
    name = urlsplit(url).path.lstrip("/")
    with psycopg.connect(database_url(url, "postgres"), autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')


def manage(url: str, *args: str, check: bool = True) -> subprocess.CompletedProcess[bytes]:
    env = dict(os.environ, DATABASE_URL=url)
    env.pop("DATABASE_NAME", None)
    return subprocess.run(
        [sys.executable, str(ROOT / "manage.py"), *args], cwd=ROOT, env=env, check=check
    )


def django_setup(url: str) -> None:
    os.environ["DATABASE_URL"] = url
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "testproject.settings")
    import django

    django.setup()


def drain(url: str) -> float:
    started = time.monotonic()
    manage(url, "runworkers", "--burst", "--concurrency", "8", "--batch-size", "64")
    return time.monotonic() - started


def reset(conn: psycopg.Connection[Any]) -> None:
    conn.execute(
        "TRUNCATE pgflow_step_task, pgflow_step_state, pgflow_run, pgflow_job, pgflow_worker"
    )


def bench_chain(url: str, conn: psycopg.Connection[Any], runs: int) -> dict[str, float]:
    from testproject.example.flows import TinyChain

    reset(conn)
    for _ in range(runs):
        TinyChain.start(None)
    process_wall = drain(url)
    row = conn.execute(
        "SELECT count(*) FILTER (WHERE status = 'completed'), "
        "extract(epoch FROM max(finished_at) - min(created_at)) FROM pgflow_run"
    ).fetchone()
    assert row is not None and row[0] == runs, f"only {row and row[0]} of {runs} runs completed"
    return {"runs": runs, "db_wall": row[1], "runs_per_s": runs / row[1], "proc": process_wall}


def bench_map(url: str, conn: psycopg.Connection[Any], size: int) -> dict[str, float]:
    from testproject.example.flows import WideMap

    reset(conn)
    run = WideMap.start({"size": size})
    process_wall = drain(url)
    row = conn.execute(
        "SELECT status, output, extract(epoch FROM finished_at - created_at) FROM pgflow_run "
        "WHERE id = %s",
        [run.pk],
    ).fetchone()
    assert row is not None and row[0] == "completed", row
    assert row[1] == {"check": {"count": size, "ordered": True}}, row[1]
    return {"size": size, "db_wall": row[2], "proc": process_wall}


def completion_cost(conn: psycopg.Connection[Any], size: int) -> dict[str, float]:
    """Median µs per completed map task (batches of 100), and the final batch's."""
    from testproject.example.flows import WideMap

    reset(conn)
    run = WideMap.start({"size": size})
    worker = conn.execute("SELECT django_pgflow.register_worker('bench', 0, '[]', 1)").fetchone()
    assert worker is not None
    conn.execute("SELECT * FROM django_pgflow.claim(%s, NULL, 1, 30)", [worker[0]])  # the root step
    root = conn.execute(
        "SELECT id FROM pgflow_job WHERE run_id = %s AND step_slug = 'size'", [run.pk]
    ).fetchone()
    assert root is not None
    conn.execute(
        "SELECT django_pgflow.complete(%s, %s, 1, %s::jsonb)",
        [worker[0], root[0], json.dumps(list(range(size)))],
    )
    tasks: list[tuple[int, int]] = []
    while True:
        rows = conn.execute(
            "SELECT id, attempts FROM django_pgflow.claim(%s, NULL, 1000, 30)", [worker[0]]
        ).fetchall()
        if not rows:
            break
        tasks += rows
    assert len(tasks) == size, (len(tasks), size)
    times = []
    for start in range(0, size, 100):
        batch = tasks[start : start + 100]
        results = json.dumps([task_id for task_id, _ in batch])
        began = time.perf_counter()
        conn.execute(
            COMPLETE_SQL, [worker[0], [t[0] for t in batch], [t[1] for t in batch], results]
        )
        times.append(time.perf_counter() - began)
    state = conn.execute("SELECT status FROM pgflow_run WHERE id = %s", [run.pk]).fetchone()
    assert state is not None and state[0] == "started"  # `check` is still to run
    per_task = [t / 100 * 1e6 for t in times[:-1]]
    return {
        "size": size,
        "median_us": statistics.median(per_task),
        "p90_us": statistics.quantiles(per_task, n=10)[-1],
        "last_batch_ms": times[-1] * 1e3,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=300)
    parser.add_argument("--map-size", type=int, default=10_000)
    args = parser.parse_args()
    url = database_url(os.environ.get("DATABASE_URL", DEFAULT_SERVER), "pgflow_bench_flows")
    recreate_database(url)
    manage(url, "migrate", "-v0")
    django_setup(url)
    with psycopg.connect(url, autocommit=True) as conn:
        chain = bench_chain(url, conn, args.runs)
        wide = bench_map(url, conn, args.map_size)
        costs = [completion_cost(conn, n) for n in (1_000, 10_000)]

    table = Table(title="django-pgflow workflows (one runworkers process, 8 threads)")
    table.add_column("measure")
    table.add_column("value", justify="right")
    table.add_row(f"3-step chain, {chain['runs']} runs", f"{chain['runs_per_s']:.0f} runs/s")
    table.add_row(f"map over {wide['size']:,} elements, wall time", f"{wide['db_wall']:.2f} s")
    for cost in costs:
        table.add_row(
            f"complete one map task, map of {cost['size']:,}",
            f"{cost['median_us']:.0f} µs (p90 {cost['p90_us']:.0f} µs)",
        )
        table.add_row(
            f"  last batch of 100 (aggregates {cost['size']:,} outputs)",
            f"{cost['last_batch_ms']:.1f} ms",
        )
    ratio = costs[1]["median_us"] / costs[0]["median_us"]
    table.add_row("per-task cost, 10,000 vs 1,000 elements", f"{ratio:.2f}x")
    console.print(table)


if __name__ == "__main__":
    main()
