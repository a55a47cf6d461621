"""One measurement of one queue: enqueue, drain, start latency. Each returns ``Figure``s.

The work itself runs in the peer's driver or worker processes (see peers/base.py);
this module fills and empties the peer's tables between measurements, opens a cost
window around the work, and reads the result from the peer's own rows (database time).
"""

from __future__ import annotations

import json
import os
import signal
import statistics
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .cost import Cost, CostProbe
from .db import connect, dbname_of, execute_once, query_once, wait_until
from .peers.bare import Bare, pgbench_command
from .peers.base import ROOT, WARMUP, DrainConfig, Peer


@dataclass
class Figure:
    """One number of one round: a rate (higher is better) or a latency/time (lower)."""

    subject: str  # the queue: "django-pgflow", "pgqueuer 1.6.0 (...)", ...
    measure: str  # "drain, batch 100", "bulk enqueue", "latency p50", ...
    value: float
    unit: str  # "jobs/s", "ms", "s", "tasks/s"
    round: int = 0
    load: float = 0.0  # 1-minute load average when the figure was taken
    cost: Cost | None = None
    jobs: int = 0  # what the cost is divided by
    notes: list[str] = field(default_factory=list)

    @property
    def higher_is_better(self) -> bool:
        return self.unit.endswith("/s")

    @property
    def commits_per_job(self) -> float | None:
        return self.cost.commits / self.jobs if self.cost and self.jobs else None

    @property
    def wal_per_job(self) -> float | None:
        return self.cost.wal_bytes / self.jobs if self.cost and self.jobs else None


def cost_notes(cost: Cost) -> list[str]:
    return [f"WAL server-wide: {cost.error}"] if cost.error else []


@dataclass
class Context:
    """What every measurement needs: the cost probe and a timeout for any one process."""

    probe: CostProbe
    timeout: float
    round: int = 0


def load() -> float:
    return os.getloadavg()[0]


def run_driver(peer: Peer, url: str, command: list[str], timeout: float) -> dict[str, Any]:
    """Run one driver process; its JSON answer (the last line it printed)."""
    done = subprocess.run(
        command, cwd=ROOT, env=peer.env(url), capture_output=True, text=True, timeout=timeout
    )
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(command)} exited {done.returncode}:\n{done.stderr[-3000:]}")
    return dict(json.loads(done.stdout.strip().splitlines()[-1]))


def reset(peer: Peer, url: str) -> None:
    execute_once(url, *peer.reset_sql)


def completed(peer: Peer, url: str) -> tuple[int, float]:
    count, seconds = query_once(url, peer.done_sql)
    return int(count), float(seconds or 0.0)


def fill(ctx: Context, peer: Peer, url: str, jobs: int) -> None:
    """Empty the queue, enqueue ``jobs`` and analyze them: the statistics a busy queue's
    autovacuum would have gathered (the server may run without autovacuum)."""
    reset(peer, url)
    run_driver(peer, url, peer.driver(url, "enqueue-bulk", str(jobs)), ctx.timeout)
    execute_once(url, "ANALYZE")


def enqueue(ctx: Context, peer: Peer, url: str, kind: str, jobs: int) -> Figure:
    """``kind`` "bulk": one call of ``jobs``; "single": ``jobs`` calls, one job each."""
    reset(peer, url)
    mark = ctx.probe.start(dbname_of(url))
    answer = run_driver(peer, url, peer.driver(url, f"enqueue-{kind}", str(jobs)), ctx.timeout)
    cost = ctx.probe.stop(mark)
    rate = jobs / answer["seconds"]
    measure = f"{kind} enqueue"
    return Figure(peer.label(), measure, rate, "jobs/s", ctx.round, load(), cost, jobs,
                  cost_notes(cost))  # fmt: skip


def drain(
    ctx: Context, peer: Peer, url: str, config: DrainConfig, jobs: int, processes: int = 1
) -> Figure:
    """Fill ``jobs`` and drain them with ``processes`` drain processes; jobs/s over the
    database span (first claim to last completion)."""
    fill(ctx, peer, url, jobs)
    mark = ctx.probe.start(dbname_of(url))
    command = peer.drain_command(url, config)
    procs = [
        subprocess.Popen(
            command,
            cwd=ROOT,
            env=peer.env(url),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(processes)
    ]
    notes = wait_all(procs, ctx.timeout)
    cost = ctx.probe.stop(mark)
    notes += cost_notes(cost)
    count, seconds = completed(peer, url)
    if count < jobs:
        notes.append(f"stopped with {count} of {jobs} done")
    measure = config.measure if processes == 1 else f"{config.measure}, {processes} processes"
    rate = count / seconds if seconds > 0 else float("nan")
    return Figure(peer.label(), measure, rate, "jobs/s", ctx.round, load(), cost, count, notes)


def wait_all(procs: list[subprocess.Popen[str]], timeout: float) -> list[str]:
    """Wait for every process; stop those still running after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    notes = []
    for proc in procs:
        try:
            _, err = proc.communicate(timeout=max(deadline - time.monotonic(), 0.1))
        except subprocess.TimeoutExpired:
            stop(proc)
            notes.append(f"a process was stopped after {timeout:.0f}s")
            continue
        if proc.returncode != 0:
            raise RuntimeError(f"{proc.args} exited {proc.returncode}:\n{err[-3000:]}")
    return notes


def stop(proc: subprocess.Popen[str]) -> None:
    proc.send_signal(signal.SIGTERM)
    try:
        proc.communicate(timeout=60)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.communicate()


def latency(ctx: Context, peer: Peer, url: str, count: int, pause: float) -> list[Figure]:
    """p50/p95 of enqueue-to-start (database time) of ``count`` single jobs sent ``pause``
    seconds apart to an idle worker at the peer's defaults, after ``WARMUP`` untimed ones."""
    reset(peer, url)
    worker = subprocess.Popen(
        peer.worker_command(url),
        cwd=ROOT,
        env=peer.env(url),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        for jobs, total in ((WARMUP, WARMUP), (count, WARMUP + count)):
            paced = peer.driver(url, "enqueue-paced", str(jobs), str(pause))
            run_driver(peer, url, paced, ctx.timeout)
            wait_until(lambda t=total: completed(peer, url)[0] >= t, ctx.timeout, "the jobs")
    finally:
        stop(worker)
    with connect(url) as conn:
        values = [row[0] for row in conn.execute(peer.latency_sql).fetchall()][WARMUP:]
    p50, p95 = percentile(values, 50), percentile(values, 95)
    return [
        Figure(peer.label(), "latency p50", p50, "ms", ctx.round, load()),
        Figure(peer.label(), "latency p95", p95, "ms", ctx.round, load()),
    ]


def percentile(values: list[float], p: int) -> float:
    return statistics.quantiles(values, n=100, method="inclusive")[p - 1]


def pgbench_ceiling(ctx: Context, bare: Bare, url: str, clients: int, jobs: int) -> Figure | None:
    """The claim-and-complete ceiling: ``pgbench`` clients looping the bare table's claim
    (batch 100) and completion, no client logic at all; None without pgbench."""
    with tempfile.TemporaryDirectory(prefix="bench_pgbench_") as tmp:
        command = pgbench_command(url, clients, jobs, Path(tmp) / "claim_complete.sql")
        if command is None:
            return None
        fill(ctx, bare, url, jobs)
        mark = ctx.probe.start(dbname_of(url))
        done = subprocess.run(command, capture_output=True, text=True, timeout=ctx.timeout)
    if done.returncode != 0:
        raise RuntimeError(f"pgbench exited {done.returncode}:\n{done.stderr[-3000:]}")
    cost = ctx.probe.stop(mark)
    count, seconds = completed(bare, url)
    measure = f"pgbench claim+complete, batch 100, {clients} client" + ("s" * (clients > 1))
    notes = cost_notes(cost) + ([] if count == jobs else [f"{count} of {jobs} done"])
    return Figure(
        "pgbench on the bare table", measure, count / seconds, "jobs/s", ctx.round, load(), cost,
        count, notes,
    )  # fmt: skip
