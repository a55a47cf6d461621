"""What the benchmark knows about a queue: the ``Peer`` interface, and the drivers' CLI."""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
WARMUP = 10  # latency: jobs sent to the idle worker first, not timed


@dataclass(frozen=True)
class DrainConfig:
    measure: str  # "drain, defaults", "drain, batch 100", ...
    args: tuple[str, ...]  # passed to the peer's drain command
    one_at_a_time: bool = False  # claims one job per transaction: drains fewer jobs


class Peer:
    """One queue under test. Subclasses fill in the names, SQL and commands."""

    key = ""  # its database is bench_<key>, its driver module bench.peers.<key>
    name = ""  # how the report calls it
    drains: tuple[DrainConfig, ...] = ()
    latency = True  # has a worker that waits for new jobs
    enqueues = True  # has enqueue figures of its own
    # SQL on the peer's database: completed jobs and their database span in seconds
    # (first claim to last completion, both stamped by the database).
    done_sql = ""
    # SQL: enqueue-to-start milliseconds of every started job, in enqueue order.
    latency_sql = ""
    reset_sql: tuple[str, ...] = ()

    def version(self) -> str | None:
        """The installed version, or None when the peer is not installed."""
        raise NotImplementedError

    def label(self) -> str:
        return f"{self.name} {self.version()}"

    def install(self, url: str) -> None:
        """Create the peer's schema in the (empty) database of ``url``."""
        raise NotImplementedError

    def driver(self, url: str, action: str, *args: str) -> list[str]:
        """The command line of one driver action (enqueue-bulk N, enqueue-single N,
        enqueue-paced N PAUSE, drain ...)."""
        return [sys.executable, "-m", f"bench.peers.{self.key}", action, url, *args]

    def env(self, url: str) -> dict[str, str]:
        """The environment of the peer's processes: ``bench`` importable."""
        path = os.pathsep.join(p for p in [str(ROOT), os.environ.get("PYTHONPATH", "")] if p)
        return dict(os.environ, PYTHONPATH=path)

    def drain_command(self, url: str, config: DrainConfig) -> list[str]:
        """One drain process: it exits once nothing is left to claim."""
        return self.driver(url, "drain", *config.args)

    def worker_command(self, url: str) -> list[str]:
        """A worker at the peer's defaults that runs until SIGTERM (for latency)."""
        return self.driver(url, "work")


def report(seconds: float, **extra: Any) -> None:
    """A driver's answer: one JSON line on stdout."""
    print(json.dumps({"seconds": seconds, **extra}), flush=True)


def timed(call: Callable[[], Any]) -> float:
    started = time.perf_counter()
    call()
    return time.perf_counter() - started


async def atimed(call: Callable[[], Awaitable[Any]]) -> float:
    started = time.perf_counter()
    await call()
    return time.perf_counter() - started


def driver_args(argv: list[str] | None = None) -> argparse.Namespace:
    """``ACTION URL [ARGS...]``: the common command line of every Python driver."""
    parser = argparse.ArgumentParser()
    parser.add_argument("action")
    parser.add_argument("url")
    parser.add_argument("args", nargs="*")
    return parser.parse_args(argv)
