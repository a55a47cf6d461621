"""procrastinate, through its public API on its psycopg connector.

Schema from ``SchemaManager.apply_schema_async()`` (what ``procrastinate schema
--apply`` runs); enqueue with ``Task.batch_defer_async`` (bulk) and
``Task.defer_async`` (single); one worker at its defaults (concurrency 1, LISTEN/NOTIFY
on, jobs kept) with ``wait=False`` for a drain. It fetches one job per claim and has no
batch size. Timestamps come from ``procrastinate_events``, which its triggers write in
the same transaction as each status change.
"""

from __future__ import annotations

import asyncio
from importlib.metadata import PackageNotFoundError, version
from typing import Any

from .base import DrainConfig, Peer, atimed, driver_args, report


class Procrastinate(Peer):
    key = "procrastinate"
    name = "procrastinate"
    drains = (DrainConfig("drain, defaults", (), one_at_a_time=True),)
    done_sql = (
        "SELECT count(*) FILTER (WHERE type = 'succeeded'), "
        "extract(epoch FROM max(at) FILTER (WHERE type = 'succeeded') "
        "- min(at) FILTER (WHERE type = 'started'))::float8 FROM procrastinate_events"
    )
    latency_sql = (
        "SELECT extract(epoch FROM s.at - d.at)::float8 * 1000 "
        "FROM procrastinate_events s JOIN procrastinate_events d USING (job_id) "
        "WHERE s.type = 'started' AND d.type = 'deferred' ORDER BY job_id"
    )
    reset_sql = (
        "TRUNCATE procrastinate_jobs, procrastinate_events, procrastinate_workers CASCADE",
    )

    def version(self) -> str | None:
        try:
            return f"{version('procrastinate')} (psycopg {version('psycopg')})"
        except PackageNotFoundError:
            return None

    def install(self, url: str) -> None:
        asyncio.run(with_app(url, lambda app: app.schema_manager.apply_schema_async()))


# -- the driver --------------------------------------------------------------


def make_app(url: str) -> Any:
    import procrastinate

    app = procrastinate.App(connector=procrastinate.PsycopgConnector(conninfo=url))

    @app.task(name="noop")
    async def noop() -> None:
        return None

    return app


async def with_app(url: str, call: Any) -> Any:
    app = make_app(url)
    async with app.open_async():
        return await call(app)


async def defer_paced(app: Any, n: int, pause: float) -> None:
    task = app.tasks["noop"]
    for _ in range(n):
        await task.defer_async()
        if pause:
            await asyncio.sleep(pause)


async def act(action: str, url: str, args: list[str]) -> float:
    n = int(args[0]) if args else 0
    if action == "enqueue-bulk":
        return float(
            await with_app(
                url,
                lambda a: atimed(
                    lambda: a.tasks["noop"].batch_defer_async(*({} for _ in range(n)))
                ),
            )
        )
    if action in ("enqueue-single", "enqueue-paced"):
        pause = float(args[1]) if len(args) > 1 else 0.0
        return float(await with_app(url, lambda a: atimed(lambda: defer_paced(a, n, pause))))
    if action in ("drain", "work"):
        wait = action == "work"  # a drain stops once the queue is empty
        return float(await with_app(url, lambda a: atimed(lambda: a.run_worker_async(wait=wait))))
    raise SystemExit(f"unknown action {action}")


def main() -> None:
    ns = driver_args()
    report(asyncio.run(act(ns.action, ns.url, ns.args)))


if __name__ == "__main__":
    main()
