"""Tables behind resources and queue limits: what the claim reads to gate jobs.

Workers write them from ``PGFLOW["RESOURCES"]`` and ``PGFLOW["QUEUES"]`` at
start (``django_pgflow.sync_limits``); the claim reads them. What a resource
has in use is never stored: it is the sum over started jobs, so a job that
finishes, fails, times out, is cancelled or loses its lease frees it by
leaving ``started``, and nothing can leak.
"""

from __future__ import annotations

from django.db import models
from django.db.models.functions import Now


class Resource(models.Model):
    """A named capacity (``{"gpu": 1}``) that jobs declaring it share across all workers."""

    name = models.CharField(max_length=63, primary_key=True)
    capacity = models.IntegerField()
    updated_at = models.DateTimeField(db_default=Now())

    class Meta:
        db_table = "pgflow_resource"
        constraints = [
            models.CheckConstraint(
                condition=models.Q(capacity__gte=0), name="pgflow_resource_capacity_nonnegative"
            )
        ]

    def __str__(self) -> str:
        return f"{self.name} (capacity {self.capacity})"


class QueueLimit(models.Model):
    """A queue's global concurrency cap and rate limit, enforced in the claim."""

    queue = models.CharField(max_length=63, primary_key=True)
    concurrency = models.IntegerField(
        null=True, blank=True, help_text="Jobs of this queue running at once, across workers."
    )
    rate_count = models.IntegerField(
        null=True, blank=True, help_text="Starts allowed in any window of rate_period seconds."
    )
    rate_period = models.FloatField(null=True, blank=True)
    updated_at = models.DateTimeField(db_default=Now())

    class Meta:
        db_table = "pgflow_queue_limit"

    def __str__(self) -> str:
        return f"limits of {self.queue}"


class QueueStart(models.Model):
    """One start of a job in a rate-limited queue, kept for the length of its window."""

    id = models.BigAutoField(primary_key=True)
    queue = models.CharField(max_length=63)
    started_at = models.DateTimeField(db_default=Now())

    class Meta:
        db_table = "pgflow_queue_start"
        indexes = [models.Index("queue", "started_at", name="pgflow_queue_start_idx")]

    def __str__(self) -> str:
        return f"start in {self.queue} at {self.started_at}"
