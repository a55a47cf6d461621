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


class QueueRateBucket(models.Model):
    """Starts of a rate-limited queue, counted per hundredth of its rate period.

    The claim sums the buckets that overlap the window, the oldest one whole,
    so it may count a few starts that already left the window (giving up at
    most 1% of the rate) but never misses one: the limit is never exceeded.
    """

    id = models.BigAutoField(primary_key=True)
    queue = models.CharField(max_length=63)
    bucket = models.BigIntegerField(help_text="floor(epoch seconds / (rate_period / 100))")
    starts = models.IntegerField()

    class Meta:
        db_table = "pgflow_queue_rate"
        constraints = [
            models.UniqueConstraint(fields=["queue", "bucket"], name="pgflow_queue_rate_bucket")
        ]

    def __str__(self) -> str:
        return f"{self.starts} starts in {self.queue} bucket {self.bucket}"
