#!/usr/bin/env python
"""From a run's completion to ``run.wait()`` returning: LISTEN against polling (by hand).

    .venv/bin/python bench/wait_latency.py [--runs 60] [--concurrency 2]

It (re)creates its own database, ``pgflow_bench_wait``, on the server of
``DATABASE_URL`` (default: postgres://postgres@127.0.0.1:5432), migrates it,
and starts one ``runworkers`` process on it. Then, in interleaved rounds (the
order of the three waiters rotates each round), it starts a run of the test
project's ``slow_map`` flow (one task sleeping 0.2-0.7 s, drawn at random, so
that a run ends anywhere within a poll interval) and waits for it with:

- ``listen``: ``run.wait()``, woken by the run's events (LISTEN);
- ``poll 50 ms`` and ``poll 500 ms``: ``refresh_from_db()`` until the run has
  ended, sleeping 50 or 500 ms between looks.

Latency = the moment the wait returned minus the run's completion: the ``at``
of its final event (``clock_timestamp()`` in the transaction that completed
it), put on this process's clock with the offset measured at start (the
smallest round trip of 20 wins). It prints the median and p95 of each waiter
over ``--runs`` runs, and their ratios to ``listen``.
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
import random  # noqa: E402
import statistics  # noqa: E402
import subprocess  # noqa: E402
import time  # noqa: E402
from collections.abc import Callable  # noqa: E402
from typing import Any  # noqa: E402
from urllib.parse import urlsplit, urlunsplit  # noqa: E402

import psycopg  # noqa: E402

DEFAULT_SERVER = "postgres://postgres@127.0.0.1:5432/postgres"
NAME = "pgflow_bench_wait"


def database_url(server_url: str, name: str) -> str:
    parts = urlsplit(server_url)
    return urlunsplit((parts.scheme, parts.netloc, "/" + name, parts.query, ""))


def recreate_database(url: str) -> None:
    with psycopg.connect(database_url(url, "postgres"), autocommit=True) as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{NAME}" WITH (FORCE)')
        admin.execute(f'CREATE DATABASE "{NAME}"')


def clock_offset(url: str) -> float:
    """Database clock minus this process's clock, in seconds (the tightest of 20 round trips)."""
    best: tuple[float, float] = (float("inf"), 0.0)
    with psycopg.connect(url, autocommit=True) as conn:
        for _ in range(20):
            before = time.time()
            row = conn.execute("SELECT extract(epoch FROM clock_timestamp())::float8").fetchone()
            after = time.time()
            assert row is not None
            best = min(best, (after - before, row[0] - (before + after) / 2))
    return best[1]


def start_worker(url: str, concurrency: int) -> subprocess.Popen[bytes]:
    env = {**os.environ, "DATABASE_URL": url, "DJANGO_SETTINGS_MODULE": "testproject.settings"}
    env["DJANGO_DEBUG"] = "0"
    env.pop("PGFLOW_OVERRIDES", None)
    return subprocess.Popen(
        [sys.executable, str(ROOT / "manage.py"), "runworkers", "--concurrency", str(concurrency)],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
    )


def wait_listen(run: Any) -> None:
    run.wait(timeout=60)


def polling(interval: float) -> Callable[[Any], None]:
    def wait_poll(run: Any) -> None:
        while True:
            run.refresh_from_db(fields=["status"])
            if run.status != "started":
                return
            time.sleep(interval)

    return wait_poll


WAITERS: dict[str, Callable[[Any], None]] = {
    "listen": wait_listen,
    "poll 50 ms": polling(0.05),
    "poll 500 ms": polling(0.5),
}


def one_wait(name: str, offset: float) -> float:
    """Start a run, wait for it as ``name`` does; seconds from its completion to the return."""
    from django_pgflow import start_flow
    from django_pgflow.models import RunEvent

    run = start_flow("slow_map", {"tasks": 1, "seconds": random.uniform(0.2, 0.7)})
    WAITERS[name](run)
    returned = time.time()
    final = RunEvent.objects.filter(run_id=run.pk, step_slug__isnull=True).latest("id")
    assert final.status == "completed", final
    return returned - (final.at.timestamp() - offset)


def p95(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]


def measure(rounds: int, offset: float) -> dict[str, list[float]]:
    names = list(WAITERS)
    found: dict[str, list[float]] = {name: [] for name in names}
    for _ in range(3):  # warm up: connections, plans, the flow's sync
        for name in names:
            one_wait(name, offset)
    for index in range(rounds):
        for name in names[index % len(names) :] + names[: index % len(names)]:
            found[name].append(one_wait(name, offset))
    return found


def report(found: dict[str, list[float]], rounds: int) -> None:
    listen = statistics.median(found["listen"])
    listen95 = p95(found["listen"])
    header = ("waiter", "median ms", "p95 ms", "median ÷ listen", "p95 ÷ listen")
    print("{:<12} {:>10} {:>8} {:>16} {:>13}".format(*header))
    for name, values in found.items():
        median, tail = statistics.median(values), p95(values)
        print(
            f"{name:<12} {median * 1000:>10.1f} {tail * 1000:>8.1f} "
            f"{median / listen:>15.1f}x {tail / listen95:>12.1f}x"
        )
    print(f"({rounds} runs each, interleaved)")
    print(json.dumps({name: [round(v * 1000, 2) for v in vs] for name, vs in found.items()}))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=60, help="runs per waiter")
    parser.add_argument("--concurrency", type=int, default=2, help="the worker's threads")
    args = parser.parse_args()

    url = database_url(os.environ.get("DATABASE_URL") or DEFAULT_SERVER, NAME)
    recreate_database(url)
    os.environ["DATABASE_URL"] = url
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "testproject.settings")
    os.environ["DJANGO_DEBUG"] = "0"
    import django
    from django.core.management import call_command

    django.setup()
    call_command("migrate", verbosity=0)
    offset = clock_offset(url)
    worker = start_worker(url, args.concurrency)
    try:
        print(f"database clock offset: {offset * 1000:+.2f} ms; load: {os.getloadavg()}")
        report(measure(args.runs, offset), args.runs)
    finally:
        worker.terminate()
        worker.wait(30)


if __name__ == "__main__":
    main()
