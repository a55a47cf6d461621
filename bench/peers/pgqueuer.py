"""pgqueuer, through its public API, on asyncpg and uvloop as its own benchmark runs.

Schema from ``Queries.install()`` (what ``pgq install`` runs) at its default
durability (every table logged); enqueue with ``Queries.enqueue`` (lists for the bulk
call); drain with one ``QueueManager`` and an ``async`` no-op entrypoint in ``drain``
mode, at its default batch (10) and at 100. Timestamps come from ``pgqueuer_log``,
written in the same transaction as each pick and each completion.
"""

from __future__ import annotations

import asyncio
import signal
from collections.abc import Awaitable, Callable
from importlib.metadata import PackageNotFoundError, version
from typing import Any

from .base import DrainConfig, Peer, atimed, driver_args, report


class PgQueuer(Peer):
    key = "pgqueuer"
    name = "pgqueuer"
    drains = (
        DrainConfig("drain, defaults", ()),
        DrainConfig("drain, batch 100", ("100",)),
    )
    done_sql = (
        "SELECT count(*) FILTER (WHERE status = 'successful'), "
        "extract(epoch FROM max(created) FILTER (WHERE status = 'successful') "
        "- min(created) FILTER (WHERE status = 'picked'))::float8 FROM pgqueuer_log"
    )
    latency_sql = (
        "SELECT extract(epoch FROM p.created - q.created)::float8 * 1000 "
        "FROM pgqueuer_log p JOIN pgqueuer_log q USING (job_id) "
        "WHERE p.status = 'picked' AND q.status = 'queued' ORDER BY job_id"
    )
    reset_sql = ("TRUNCATE pgqueuer, pgqueuer_log, pgqueuer_statistics",)

    def version(self) -> str | None:
        try:
            return f"{version('pgqueuer')} (asyncpg {version('asyncpg')})"
        except PackageNotFoundError:
            return None

    def install(self, url: str) -> None:
        asyncio.run(with_queries(url, lambda q: q.install()))


# -- the driver --------------------------------------------------------------


async def with_queries(url: str, call: Callable[[Any], Awaitable[Any]]) -> Any:
    import asyncpg
    from pgqueuer import AsyncpgDriver, Queries

    conn = await asyncpg.connect(dsn=url)
    try:
        return await call(Queries(AsyncpgDriver(conn)))
    finally:
        await conn.close()


async def enqueue_paced(queries: Any, n: int, pause: float) -> None:
    for _ in range(n):
        await queries.enqueue("noop", None)
        if pause:
            await asyncio.sleep(pause)


async def work(url: str, batch: int | None, drain: bool) -> float:
    """One QueueManager with a no-op entrypoint: drains (or runs until SIGTERM)."""
    import asyncpg
    from pgqueuer import AsyncpgDriver, Queries, QueueManager
    from pgqueuer.types import QueueExecutionMode

    conn = await asyncpg.connect(dsn=url)
    qm = QueueManager(Queries(AsyncpgDriver(conn)))

    @qm.entrypoint("noop")
    async def noop(job: Any) -> None:
        return None

    loop = asyncio.get_running_loop()
    loop.add_signal_handler(signal.SIGTERM, qm.shutdown.set)
    options: dict[str, Any] = {} if batch is None else {"batch_size": batch}
    if drain:
        options["mode"] = QueueExecutionMode.drain
    try:
        return await atimed(lambda: qm.run(**options))
    finally:
        await conn.close()


async def act(action: str, url: str, args: list[str]) -> float:
    n = int(args[0]) if args else 0
    if action == "enqueue-bulk":
        return float(
            await with_queries(
                url, lambda q: atimed(lambda: q.enqueue(["noop"] * n, [None] * n, [0] * n))
            )
        )
    if action in ("enqueue-single", "enqueue-paced"):
        pause = float(args[1]) if len(args) > 1 else 0.0
        return float(await with_queries(url, lambda q: atimed(lambda: enqueue_paced(q, n, pause))))
    if action == "drain":
        return await work(url, n or None, drain=True)
    if action == "work":
        return await work(url, None, drain=False)
    raise SystemExit(f"unknown action {action}")


def main() -> None:
    import uvloop

    ns = driver_args()
    report(uvloop.run(act(ns.action, ns.url, ns.args)))


if __name__ == "__main__":
    main()
