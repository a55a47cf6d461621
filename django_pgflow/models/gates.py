"""Tables behind resources and queue limits: what the claim reads to gate jobs.

Workers write them from ``PGFLOW["RESOURCES"]`` and ``PGFLOW["QUEUES"]`` at
start (``django_pgflow.sync_limits``); the claim reads them.

A capacity (a resource's, or a queue's concurrency cap) is a set of slot rows,
one per unit: a claim takes free slots with ``FOR UPDATE SKIP LOCKED``, so
claims of the same resource from many workers run and commit in parallel
instead of queueing behind one lock. A slot is given to one attempt of a job
and is free again as soon as the job's row shows that attempt over
(completion, failure, timeout, cancellation, lease expiry): nothing has to
free it, so nothing can leak.
"""

from __future__ import annotations

from typing import Any

from django.db import models
from django.db.models.functions import Now


class IntegerArrayField(models.Field):
    """A PostgreSQL ``integer[]`` column, read and written as a list by psycopg.

    Written only by the SQL functions; declared here so that migrations create
    it, without asking projects to install ``django.contrib.postgres`` for
    ``ArrayField`` (Django 6 checks that they do).
    """

    def db_type(self, connection: Any) -> str:
        return "integer[]"


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


class Slot(models.Model):
    """One unit of a resource's capacity or of a queue's concurrency cap.

    A claim gives a free slot to the attempt it starts: ``job_id`` and
    ``attempt``. The slot is held while that attempt runs and free once the
    job's row shows it over (a later attempt, or this one no longer
    ``started``), so nothing writes the slot when a job completes, fails,
    times out, is cancelled or handed back: a slot cannot leak.
    ``sync_slots`` clears the slots of attempts that are over. A capacity
    lowered while its slots are held keeps them ``retired``: their jobs
    finish, and until they do, claims give out that many fewer free slots;
    no claim takes a retired slot, and ``sync_slots`` drops those that are free.
    """

    class Kind(models.TextChoices):
        RESOURCE = "resource"
        QUEUE = "queue"

    # Only the key, which the claim walks for free slots, and the (rare)
    # retired slots are indexed: giving a slot out changes no indexed column,
    # so it is a HOT update.
    pk = models.CompositePrimaryKey("kind", "name", "n")
    kind = models.CharField(max_length=8, choices=Kind.choices)
    name = models.CharField(max_length=63)
    n = models.IntegerField(help_text="The slot's number, from 1.")
    job_id = models.BigIntegerField(null=True, blank=True)
    attempt = models.IntegerField(
        null=True, blank=True, help_text="The attempt of job_id the slot was given to."
    )
    retired = models.BooleanField(default=False, db_default=False)

    class Meta:
        db_table = "pgflow_slot"
        indexes = [
            models.Index(
                fields=["kind", "name"],
                name="pgflow_slot_retired_idx",
                condition=models.Q(retired=True),
            ),
        ]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(job_id__isnull=True, attempt__isnull=True)
                | models.Q(job_id__isnull=False, attempt__isnull=False),
                name="pgflow_slot_holder_attempt",
            ),
        ]

    def __str__(self) -> str:
        holder = f"given to job {self.job_id} attempt {self.attempt}" if self.job_id else "free"
        return f"{self.kind} {self.name} #{self.n} ({holder})"


class QueueRateShard(models.Model):
    """A share of a rate-limited queue's budget, with its own sliding window.

    A queue limited to ``rate_count`` starts per ``rate_period`` has up to 8
    shards whose budgets add up to ``rate_count``. A claim locks a shard with
    ``SKIP LOCKED`` and spends its budget, moving on to the next shard when it
    runs out: the shards never admit more than the whole budget in any window,
    and claims of one queue no longer wait for each other's commit.
    ``counts`` holds the starts of the last 101 buckets of a hundredth of the
    period, by ``bucket % 101``: the bucket the window starts in counts whole,
    so no start inside the window is missed (at most 1% of the rate is given up).
    """

    id = models.BigAutoField(primary_key=True)
    queue = models.CharField(max_length=63)
    shard = models.IntegerField()
    budget = models.IntegerField()
    last_bucket = models.BigIntegerField(default=0, db_default=0)
    counts = IntegerArrayField()
    full_until = models.DateTimeField(
        null=True,
        blank=True,
        help_text="When the oldest start counted leaves the window of this spent shard: "
        "until then claims pass it by without locking it.",
    )

    class Meta:
        db_table = "pgflow_queue_rate_shard"
        constraints = [
            models.UniqueConstraint(fields=["queue", "shard"], name="pgflow_queue_rate_shard_unit")
        ]

    def __str__(self) -> str:
        return f"rate shard {self.shard} of {self.queue} (budget {self.budget})"


class Config(models.Model):
    """Settings the SQL core needs, written from ``PGFLOW`` by ``sync_limits``: one row."""

    id = models.SmallIntegerField(primary_key=True, default=1)
    max_payload_bytes = models.IntegerField(
        default=1_048_576,
        help_text="PGFLOW['MAX_PAYLOAD_BYTES']: the largest payload the SQL functions accept.",
    )
    updated_at = models.DateTimeField(db_default=Now())

    class Meta:
        db_table = "pgflow_config"
        constraints = [
            models.CheckConstraint(condition=models.Q(id=1), name="pgflow_config_one_row"),
            models.CheckConstraint(
                condition=models.Q(max_payload_bytes__range=(1, 67_108_864)),
                name="pgflow_config_max_payload_bytes_range",
            ),
        ]

    def __str__(self) -> str:
        return f"max payload {self.max_payload_bytes} bytes"
