"""django-pgflow itself, through its public API and ``manage.py runworkers``.

The driver (``python -m bench.peers.ours ACTION URL [ARGS]``) enqueues the example
app's ``noop`` task and starts the example flows; the drains are ``runworkers --burst``
at the project's settings (``PGFLOW_OVERRIDES`` removed, ``DEBUG`` off as in production).
"""

from __future__ import annotations

import functools
import os
import subprocess
import sys
import time
from importlib.metadata import version
from typing import Any

from .base import ROOT, DrainConfig, Peer, driver_args, report, timed

TASK = "testproject.example.tasks.noop"
FLOWS = {"chain": "tiny_chain", "diamond": "tiny_diamond"}
STEPS = {"chain": 3, "diamond": 4}


def child_env(url: str) -> dict[str, str]:
    env = dict(os.environ, DATABASE_URL=url, DJANGO_SETTINGS_MODULE="testproject.settings")
    env["DJANGO_DEBUG"] = "0"  # DEBUG keeps every query in memory: not what users run
    env["PYTHONPATH"] = os.pathsep.join(p for p in [str(ROOT), env.get("PYTHONPATH", "")] if p)
    env.pop("PGFLOW_OVERRIDES", None)  # "defaults": the project's PGFLOW as written
    env.pop("DATABASE_NAME", None)
    return env


def manage(*args: str) -> list[str]:
    return [sys.executable, str(ROOT / "manage.py"), *args]


@functools.cache
def commit() -> str:
    """The commit under test, read once: a commit made during a run must not rename us."""
    found = subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True
    ).stdout.strip()
    return found or "?"


class Ours(Peer):
    key = "ours"
    name = "django-pgflow"
    drains = (
        DrainConfig("drain, defaults", ()),
        DrainConfig("drain, batch 100", ("--batch-size", "100")),
    )
    done_sql = (
        "SELECT count(*), extract(epoch FROM max(finished_at) - min(started_at))::float8 "
        "FROM pgflow_job WHERE status = 'completed'"
    )
    latency_sql = (
        "SELECT extract(epoch FROM started_at - created_at)::float8 * 1000 FROM pgflow_job "
        "WHERE started_at IS NOT NULL ORDER BY id"
    )
    reset_sql = (
        "TRUNCATE pgflow_step_task, pgflow_step_state, pgflow_run, pgflow_job, pgflow_worker "
        "CASCADE",
    )

    def version(self) -> str | None:
        return f"{version('django-pgflow')} ({commit()})"

    def env(self, url: str) -> dict[str, str]:
        return child_env(url)

    def install(self, url: str) -> None:
        subprocess.run(manage("migrate", "-v", "0"), cwd=ROOT, env=child_env(url), check=True)

    def drain_command(self, url: str, config: DrainConfig) -> list[str]:
        return manage("runworkers", "--burst", *config.args)

    def worker_command(self, url: str) -> list[str]:
        return manage("runworkers")


# -- the driver --------------------------------------------------------------


def setup_django(url: str) -> None:
    os.environ.update(child_env(url))
    import django

    django.setup()


def noop() -> Any:
    from django_pgflow.definitions import registry

    return registry.get_task(TASK)


def enqueue_bulk(n: int) -> float:
    """One ``enqueue_many`` call of ``n`` jobs (specs built inside the timing)."""
    from django_pgflow.queue.api import enqueue_many

    task = noop()
    return timed(lambda: enqueue_many([task.s() for _ in range(n)]))


def enqueue_single(n: int, pause: float = 0.0) -> float:
    """``n`` calls of ``.enqueue()`` in autocommit, each its own transaction."""
    task = noop()
    started = time.perf_counter()
    for _ in range(n):
        task.enqueue()
        if pause:
            time.sleep(pause)
    return time.perf_counter() - started


def start_flows(kind: str, runs: int) -> float:
    from django_pgflow import start_flow

    return timed(lambda: [start_flow(FLOWS[kind], None) for _ in range(runs)])


def start_map(size: int) -> float:
    from django_pgflow import start_flow

    return timed(lambda: start_flow("wide_map", {"size": size}))


def main() -> None:
    ns = driver_args()
    setup_django(ns.url)
    args = ns.args
    actions = {
        "enqueue-bulk": lambda: enqueue_bulk(int(args[0])),
        "enqueue-single": lambda: enqueue_single(int(args[0])),
        "enqueue-paced": lambda: enqueue_single(int(args[0]), float(args[1])),
        "start-flows": lambda: start_flows(args[0], int(args[1])),
        "start-map": lambda: start_map(int(args[0])),
    }
    report(actions[ns.action]())


if __name__ == "__main__":
    main()
