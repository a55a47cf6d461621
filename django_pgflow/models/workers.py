"""The worker table: one row per ``runworkers`` process."""

from __future__ import annotations

from django.db import models
from django.db.models import Q


class WorkerState(models.TextChoices):
    RUNNING = "running"
    STOPPING = "stopping"
    STOPPED = "stopped"
    LOST = "lost"  # silent past WORKER_DEAD_AFTER; a heartbeat brings it back


class Worker(models.Model):
    """One ``runworkers`` process, kept alive by its heartbeats."""

    hostname = models.CharField(max_length=255)
    pid = models.IntegerField()
    queues = models.JSONField(default=list, help_text="Queues it claims from; [] means all.")
    concurrency = models.IntegerField()
    state = models.CharField(
        max_length=16, choices=WorkerState.choices, default=WorkerState.RUNNING
    )
    started_at = models.DateTimeField()
    last_heartbeat = models.DateTimeField()
    stopped_at = models.DateTimeField(null=True, blank=True)
    # SHA-256 of the secret the worker set on its sessions (pgflow.worker_secret):
    # it tells the worker's own sessions from others of the same role.
    secret_hash = models.BinaryField(null=True, blank=True, editable=False)

    class Meta:
        db_table = "pgflow_worker"
        indexes = [
            models.Index(
                fields=["last_heartbeat"],
                name="pgflow_worker_alive_idx",
                condition=Q(state="running"),
            )
        ]

    def __str__(self) -> str:
        return f"worker {self.pk} ({self.hostname}:{self.pid})"
