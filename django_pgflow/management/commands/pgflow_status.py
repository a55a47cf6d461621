"""``python manage.py pgflow_status``: queues and workers at a glance."""

from __future__ import annotations

from typing import IO, Any, cast

from django.core.management.base import BaseCommand
from rich.console import Console
from rich.table import Table

from ...status import contention_summary, queue_summary, run_summary, worker_summary


class Command(BaseCommand):
    help = (
        "Show queues (ready, scheduled, running, failed), runs by flow, workers, and who "
        "holds or waits for resources, queue limits and lock keys."
    )

    def handle(self, *args: Any, **options: Any) -> None:
        console = Console(file=cast(IO[str], self.stdout), width=120)
        queues = Table(title="Queues")
        for column in (
            "queue",
            "ready",
            "scheduled",
            "running",
            "completed",
            "failed",
            "cancelled",
        ):
            queues.add_column(column, justify="left" if column == "queue" else "right")
        for row in queue_summary():
            queues.add_row(
                row["queue"],
                *(
                    str(row[c])
                    for c in ("ready", "scheduled", "running", "completed", "failed", "cancelled")
                ),
            )
        console.print(queues)
        runs = Table(title="Workflow runs")
        for column in ("flow", "running", "completed", "failed", "cancelled"):
            runs.add_column(column, justify="left" if column == "flow" else "right")
        for row in run_summary():
            runs.add_row(
                row["flow_slug"],
                *(str(row[c]) for c in ("running", "completed", "failed", "cancelled")),
            )
        console.print(runs)
        workers = Table(title="Workers")
        for column in (
            "id",
            "host",
            "pid",
            "queues",
            "threads",
            "state",
            "last heartbeat",
            "running",
        ):
            workers.add_column(column)
        for w in worker_summary():
            workers.add_row(
                str(w["id"]),
                w["hostname"],
                str(w["pid"]),
                ",".join(w["queues"]) or "all",
                str(w["concurrency"]),
                w["health"],
                f"{w['heartbeat_age']:.1f}s ago",
                str(w["running"]),
            )
        console.print(workers)
        self._print_contention(console)

    def _print_contention(self, console: Console) -> None:
        rows = contention_summary()
        if not rows:
            return
        table = Table(title="Resources, queue limits and lock keys")
        for column in ("kind", "name", "in use", "holders", "waiting", "longest wait", "avg wait"):
            table.add_column(column)
        for row in rows:
            capacity = "-" if row["capacity"] is None else str(row["capacity"])
            holders = ", ".join(str(i) for i in row["holders"][:5])
            if len(row["holders"]) > 5:
                holders += f" (+{len(row['holders']) - 5})"
            table.add_row(
                row["kind"],
                row["name"],
                f"{row['in_use']}/{capacity}",
                holders,
                str(row["waiting"]),
                _seconds(row["longest_wait"]),
                _seconds(row["avg_wait"]) + (f"  {row['detail']}" if row["detail"] else ""),
            )
        console.print(table)


def _seconds(value: float | None) -> str:
    return "-" if value is None else f"{value:.1f}s"
