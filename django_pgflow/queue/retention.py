"""Retention: delete finished jobs older than ``PGFLOW['RETENTION']`` says, in batches."""

from __future__ import annotations

from django.db import connections

from ..conf import OPTIONS, pgflow_settings

STATUSES = ("completed", "failed", "cancelled")


def _in_batches(function: str, status: str, older_than: float, batch_size: int, alias: str) -> int:
    """Call a prune function until it deletes less than a full batch; returns the total."""
    total = 0
    with connections[alias].cursor() as cursor:
        while True:
            cursor.execute(f"SELECT {function}(%s, %s, %s)", [status, older_than, batch_size])
            deleted = int(cursor.fetchone()[0])
            total += deleted
            if deleted < batch_size:
                return total


def prune_status(status: str, older_than: float, *, batch_size: int, alias: str) -> int:
    """Delete, batch by batch, jobs of ``status`` finished more than ``older_than`` s ago."""
    return _in_batches("django_pgflow.prune", status, older_than, batch_size, alias)


def prune_runs(status: str, older_than: float, *, alias: str, batch_size: int = 1000) -> int:
    """Delete finished workflow runs (and their step rows), batch by batch."""
    return _in_batches("django_pgflow.prune_runs", status, older_than, batch_size, alias)


def prune_all(
    *, retention: dict[str, float | None] | None = None, alias: str = "default"
) -> dict[str, int]:
    """Apply the retention policy to every finished status; returns rows deleted by status."""
    defaults = OPTIONS["RETENTION"].default
    policy = {**defaults, **pgflow_settings.RETENTION, **(retention or {})}
    batch = pgflow_settings.PRUNE_BATCH_SIZE
    deleted = {}
    for status in STATUSES:
        seconds = policy.get(status)
        if seconds is None:
            continue  # kept forever
        deleted[status] = prune_status(status, float(seconds), batch_size=batch, alias=alias)
        deleted[f"{status} runs"] = prune_runs(status, float(seconds), alias=alias)
    with connections[alias].cursor() as cursor:
        kept = [float(s) for s in policy.values() if s is not None]
        cursor.execute("SELECT django_pgflow.prune_workers(%s)", [max(kept, default=86400.0)])
        deleted["workers"] = int(cursor.fetchone()[0])
    return deleted
