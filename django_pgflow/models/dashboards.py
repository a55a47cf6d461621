"""Proxy models that give the admin's dashboards a place on the admin index.

They add no table and no column: ``QueueOverview`` and ``LockContention`` read
``pgflow_job`` (and the limit tables) through the admin's own queries. Being
models, they appear in the admin index beside jobs and runs, and a project can
hide them like any other admin page.
"""

from __future__ import annotations

from .jobs import Job


class QueueOverview(Job):
    """The queues dashboard: counts, throughput and limits per queue."""

    class Meta:
        proxy = True
        verbose_name = "queue"
        verbose_name_plural = "queues"


class LockContention(Job):
    """Resources, queue limits and lock keys: who holds them, who waits, for how long."""

    class Meta:
        proxy = True
        verbose_name = "lock contention"
        verbose_name_plural = "lock contention"
