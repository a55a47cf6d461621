"""The periodic schedule table: one row per declared schedule, and its last tick."""

from __future__ import annotations

from django.db import models
from django.db.models.functions import Now


class PeriodicSchedule(models.Model):
    """A cron schedule that workers turn into one job per tick.

    Workers write it (``django_pgflow.sync_periodic``) from ``@periodic`` and
    ``PGFLOW["PERIODIC"]``; ``django_pgflow.enqueue_periodic`` advances ``last_tick``
    and enqueues the tick's job in one transaction, so one worker wins each tick.
    """

    name = models.CharField(max_length=200, unique=True)
    task_name = models.CharField(max_length=255)
    cron = models.CharField(max_length=255)
    timezone = models.CharField(max_length=64)
    job = models.JSONField(
        help_text="The job each tick enqueues, in django_pgflow.enqueue_many's format."
    )
    last_tick = models.DateTimeField(
        null=True, blank=True, help_text="The latest tick claimed; a job was enqueued for it."
    )
    next_tick = models.DateTimeField(null=True, blank=True)
    last_job_id = models.BigIntegerField(null=True, blank=True)
    created_at = models.DateTimeField(db_default=Now())
    updated_at = models.DateTimeField(db_default=Now())

    class Meta:
        db_table = "pgflow_periodic"

    def __str__(self) -> str:
        return f"{self.name} ({self.cron} {self.timezone})"
