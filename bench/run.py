#!/usr/bin/env python
"""django-pgflow beside its peers, on one PostgreSQL server, in interleaved rounds.

    bench/setup                                   # once: the peers, into .venv-bench/
    .venv-bench/bin/python bench/run.py --quick   # about a minute, prints only
    .venv-bench/bin/python bench/run.py           # 3 rounds, writes bench/RESULTS.md

Each queue gets a database of its own, ``bench_<name>``, dropped and recreated on the
server of ``DATABASE_URL``. Every round measures every queue, one measure after the
other, so the figures of one measure meet the same neighbours; ratios are taken round
by round. See bench/README.md for what each figure means.
"""

from __future__ import annotations

import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
# Run as a script, this folder would come first on sys.path: import the package instead.
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != HERE]
sys.path.insert(0, str(HERE.parent))

import argparse  # noqa: E402
import os  # noqa: E402
import shlex  # noqa: E402
import time  # noqa: E402
from dataclasses import dataclass, replace  # noqa: E402

from rich.console import Console  # noqa: E402

from bench import (  # noqa: E402
    machine,
    render,
    workflows,
)
from bench.cost import CostProbe  # noqa: E402
from bench.db import DEFAULT_SERVER, connect, database_url, describe, recreate_database  # noqa: E402
from bench.measure import Context, Figure, drain, enqueue, latency, load, pgbench_ceiling  # noqa: E402
from bench.peers.bare import Bare  # noqa: E402
from bench.peers.base import Peer  # noqa: E402
from bench.peers.ours import Ours  # noqa: E402
from bench.peers.ours_sql import OursSql  # noqa: E402
from bench.peers.pgboss import PgBoss  # noqa: E402
from bench.peers.pgqueuer import PgQueuer  # noqa: E402
from bench.peers.procrastinate import Procrastinate  # noqa: E402

console = Console(highlight=False, width=None if sys.stdout.isatty() else 120)


@dataclass(frozen=True)
class Plan:
    rounds: int = 3
    jobs: int = 20_000  # per drain and per bulk enqueue
    slow_jobs: int = 5_000  # per drain of a queue that claims one job per transaction
    single: int = 2_000  # single enqueues
    latency: int = 200  # single jobs timed, ``pause`` seconds apart
    pause: float = 0.01
    flow_runs: int = 1_000  # runs of the chain and of the diamond
    map_size: int = 10_000
    cost_sizes: tuple[int, ...] = (1_000, 10_000)  # map sizes of the per-task cost
    processes: tuple[int, ...] = (2, 4)  # scale, beside the one-process drains
    timeout: float = 300  # any one process


QUICK = Plan(1, 3_000, 500, 200, 30, 0.01, 100, 1_000, (1_000,), (2,), 120)


def all_peers() -> list[Peer]:
    return [
        Ours(),
        OursSql(),
        Bare(),
        PgQueuer(),
        Procrastinate(),
        PgBoss(notify=False),
        PgBoss(notify=True),
    ]


def rotate(peers: list[Peer], n: int) -> list[Peer]:
    """Ours first in round 0, then each round starts one queue later."""
    k = n % len(peers)
    return peers[k:] + peers[:k]


class Run:
    """One benchmark run: the queues, their databases, the rounds' figures."""

    def __init__(self, plan: Plan, server: str, peers: list[Peer], skip: set[str]) -> None:
        self.plan = plan
        self.peers = peers
        self.skip = skip
        self.urls = {p.key: database_url(server, f"bench_{p.key}") for p in peers}
        self.admin = connect(database_url(server, "postgres"), "pgflow bench probe")
        self.ctx = Context(CostProbe(self.admin, server), plan.timeout)
        self.figures: list[Figure] = []
        self.rounds: list[list[str]] = []
        self.last = time.perf_counter()

    def install(self) -> None:
        for peer in self.peers:
            started = time.perf_counter()
            recreate_database(self.urls[peer.key])
            peer.install(self.urls[peer.key])
            console.print(f"  {peer.label()}: installed in {time.perf_counter() - started:.1f}s")

    def take(self, found: Figure | list[Figure] | None) -> None:
        """Keep a measurement's figures and print them, with the seconds it took."""
        seconds, self.last = time.perf_counter() - self.last, time.perf_counter()
        for figure in [] if found is None else found if isinstance(found, list) else [found]:
            self.figures.append(figure)
            commits, wal = figure.commits_per_job, figure.wal_per_job
            cost = "" if commits is None or wal is None else f", {commits:.3f} commits/job"
            cost += "" if wal is None else f", {wal:,.0f} B WAL/job"
            notes = f" [red]({'; '.join(figure.notes)})[/]" if figure.notes else ""
            console.print(
                f"  {figure.measure}: {render.short(figure.subject)} "
                f"[bold]{render.number(figure.value, figure.unit)} {figure.unit}[/]{cost} "
                f"(load {figure.load:.1f}, {seconds:.1f}s){notes}"
            )

    def queue_round(self, order: list[Peer]) -> None:
        p, ctx = self.plan, self.ctx
        if "enqueue" not in self.skip:
            for kind, jobs in (("bulk", p.jobs), ("single", p.single)):
                for peer in (q for q in order if q.enqueues):
                    self.take(enqueue(ctx, peer, self.urls[peer.key], kind, jobs))
        if "drain" not in self.skip:
            for measure in ("drain, defaults", "drain, batch 1", "drain, batch 100"):
                for peer in order:
                    for config in (c for c in peer.drains if c.measure == measure):
                        jobs = p.slow_jobs if config.one_at_a_time else p.jobs
                        url = self.urls[peer.key]
                        self.take(drain(ctx, peer, url, config, jobs))
        if "latency" not in self.skip:
            for peer in (q for q in order if q.latency):
                self.take(latency(ctx, peer, self.urls[peer.key], p.latency, p.pause))

    def scale_round(self, order: list[Peer]) -> None:
        p, ctx = self.plan, self.ctx
        for processes in p.processes:
            for peer in order:
                config = peer.drains[-1]  # batch 100 where the queue has it
                jobs = p.slow_jobs if config.one_at_a_time else p.jobs
                url = self.urls[peer.key]
                self.take(drain(ctx, peer, url, config, jobs, processes))
        bare = next((q for q in self.peers if isinstance(q, Bare)), None)
        if bare is not None:
            for clients in (1, *p.processes):
                self.take(pgbench_ceiling(ctx, bare, self.urls["bare"], clients, p.jobs))

    def workflow_round(self) -> None:
        p, ctx = self.plan, self.ctx
        ours = next((q for q in self.peers if type(q) is Ours), None)
        if ours is None:
            return
        url = self.urls[ours.key]
        for kind in ("chain", "diamond"):
            self.take(workflows.step_tasks(ctx, ours, url, kind, p.flow_runs))
        self.take(workflows.map_reduce(ctx, ours, url, p.map_size))
        for size in p.cost_sizes:
            self.take(workflows.map_task_cost(ctx, ours, url, size))

    def round(self, n: int) -> None:
        self.ctx.round = n
        started, first = time.perf_counter(), load()
        self.last = started
        console.print(f"[bold]round {n + 1} of {self.plan.rounds}[/] (load {first:.2f})")
        order = rotate(self.peers, n)
        self.queue_round(order)
        if "scale" not in self.skip:
            self.scale_round(order)
        if "workflows" not in self.skip:
            self.workflow_round()
        seconds = time.perf_counter() - started
        self.rounds.append([str(n + 1), f"{first:.2f}", f"{load():.2f}", f"{seconds:.0f}"])


def header(run: Run, command: str, seconds: float) -> str:
    """The top of RESULTS.md: when, where, on what, with which versions."""
    host = machine.machine()
    settings = machine.postgres(run.admin)
    versions = machine.packages()
    named = (q for q in run.peers if type(q) in (Ours, PgQueuer, Procrastinate, PgBoss))
    versions.update({q.name: q.version() or "-" for q in named})
    lines = [
        "# Benchmark results",
        "",
        f"Written by `{command}` on {host['date']} in {seconds / 60:.1f} minutes; "
        "bench/README.md says how to read it. Figures are ratios within this run: absolute "
        "rates depend on the machine and its neighbours.",
        "",
        f"- **Machine**: {host['cpu']}, {host['cores']} cores, {host['memory']}, "
        f"Linux {host['kernel']}",
        f"- **PostgreSQL {settings.pop('version')}**: "
        + ", ".join(f"{k} = {v}" for k, v in settings.items()),
        "- **Versions**: " + ", ".join(f"{k} {v}" for k, v in versions.items()),
        f"- **Plan**: {run.plan}",
        "",
    ]
    return "\n".join(lines)


def parse() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="small sizes, one round (~1 min)")
    parser.add_argument("--rounds", type=int, help="rounds (3; --quick: 1)")
    parser.add_argument("--jobs", type=int, help="jobs per drain and bulk enqueue (20000)")
    parser.add_argument("--slow-jobs", type=int, help="jobs per one-at-a-time drain (5000)")
    parser.add_argument(
        "--peers",
        help="comma-separated keys: ours,bare,pgqueuer,"
        "ours_sql,procrastinate,pgboss,pgboss_notify (default: all installed)",
    )
    parser.add_argument(
        "--skip", default="", help="comma-separated: enqueue,drain,latency,scale,workflows"
    )
    parser.add_argument(
        "--output",
        help="markdown file to write (default: bench/RESULTS.md for a full run, none for --quick)",
    )
    return parser.parse_args()


def chosen_plan(ns: argparse.Namespace) -> Plan:
    plan = QUICK if ns.quick else Plan()
    for name in ("rounds", "jobs", "slow_jobs"):
        if getattr(ns, name) is not None:
            plan = replace(plan, **{name: getattr(ns, name)})
    return plan


def chosen_peers(ns: argparse.Namespace) -> list[Peer]:
    wanted = set(ns.peers.split(",")) if ns.peers else None
    peers = []
    for peer in all_peers():
        if wanted is not None and peer.key not in wanted:
            continue
        if peer.version() is None:
            console.print(f"  [yellow]{peer.name} is not installed: skipped (run bench/setup)[/]")
            continue
        peers.append(peer)
    return peers


def main() -> None:
    ns = parse()
    plan = chosen_plan(ns)
    server = os.environ.get("DATABASE_URL") or DEFAULT_SERVER
    command = " ".join(["bench/run.py", shlex.join(sys.argv[1:])]).strip()
    begun = time.perf_counter()
    console.print(f"[bold]django-pgflow benchmark[/] on {describe(server)}: {plan}")
    run = Run(plan, server, chosen_peers(ns), set(filter(None, ns.skip.split(","))))
    if run.ctx.probe.waldump is None:
        console.print("  [yellow]pg_wal not readable here: WAL per job is server-wide[/]")
    run.install()
    for n in range(plan.rounds):
        run.round(n)
    seconds = time.perf_counter() - begun
    parts = render.sections(run.figures, run.rounds)
    render.to_console(console, parts)
    output = ns.output or (None if ns.quick else str(Path(__file__).parent / "RESULTS.md"))
    if output:
        Path(output).write_text(header(run, command, seconds) + "\n" + render.to_markdown(parts))
        console.print(f"wrote {output}")
    console.print(f"total {seconds:.0f}s; load average {load():.2f}")


if __name__ == "__main__":
    main()
