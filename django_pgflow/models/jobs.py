"""The job table: one row per call of a task (or per task of a workflow step)."""

from __future__ import annotations

import pgtrigger
from django.db import models
from django.db.models import Q

from ..sql import trigger_body
from .fields import PayloadField
from .fsm import status_fsm
from .workers import Worker

JOB_TRANSITIONS = [
    ("queued", "started"),
    ("queued", "cancelled"),
    ("started", "completed"),
    ("started", "failed"),
    ("started", "queued"),
    ("started", "cancelled"),
    ("failed", "queued"),
    ("cancelled", "queued"),
]
FINISHED = ("completed", "failed", "cancelled")


class JobStatus(models.TextChoices):
    QUEUED = "queued"
    STARTED = "started"
    COMPLETED = "completed"
    FAILED = "failed"
    CANCELLED = "cancelled"


class Job(models.Model):
    """A unit of work: one call of a task, claimed and run by a worker."""

    queue = models.CharField(max_length=63, default="default")
    task_name = models.CharField(max_length=255, help_text="Dotted path of the task.")
    args = PayloadField(default=list)
    kwargs = PayloadField(default=dict)
    status = models.CharField(max_length=16, choices=JobStatus.choices, default="queued")
    priority = models.SmallIntegerField(default=0, help_text="Higher runs first.")
    run_at = models.DateTimeField(help_text="Not claimed before this time (database clock).")
    attempts = models.IntegerField(default=0, help_text="Attempts started so far.")
    failures = models.IntegerField(
        default=0,
        help_text="Failed attempts counted against max_attempts since the last manual retry.",
    )
    max_attempts = models.IntegerField(default=3)
    retry_delay = models.FloatField(default=1.0, help_text="Backoff base, seconds.")
    max_retry_delay = models.FloatField(default=3600.0, help_text="Backoff cap, seconds.")
    timeout = models.FloatField(default=300.0, help_text="Seconds an attempt may run.")
    unique_key = models.CharField(max_length=255, null=True, blank=True)  # noqa: DJ001
    worker = models.ForeignKey(
        Worker,
        null=True,
        blank=True,
        on_delete=models.DO_NOTHING,
        db_constraint=False,
        # No index: it would take an entry on every claim and completion; a
        # worker's running jobs are found through the lease index.
        db_index=False,
        related_name="jobs",
    )
    lease_expires_at = models.DateTimeField(null=True, blank=True)
    # Set when the job carries a task of a workflow step (one claim path).
    run = models.ForeignKey(
        "django_pgflow.WorkflowRun",
        null=True,
        blank=True,
        on_delete=models.DO_NOTHING,
        db_constraint=False,
        db_index=False,  # a partial index below: plain jobs (run NULL) stay out of it
        related_name="jobs",
    )
    step_slug = models.CharField(max_length=63, null=True, blank=True)  # noqa: DJ001
    task_index = models.IntegerField(null=True, blank=True)
    # Gates: a job with either is claimed only when what it needs is free.
    resources = PayloadField(
        null=True, blank=True, help_text='Capacity it holds while started, e.g. {"gpu": 1}.'
    )
    lock_key = models.CharField(  # noqa: DJ001
        max_length=255,
        null=True,
        blank=True,
        help_text="Jobs sharing a lock key run one at a time, in enqueue order.",
    )
    gated = models.BooleanField(
        default=False,
        db_default=False,
        help_text="Set by the database: the job has resources or a lock key, or its queue "
        "has limits, so only the gated claim may take it.",
    )
    impossible = models.TextField(  # noqa: DJ001
        null=True,
        blank=True,
        help_text="Set by the database on a queued job that asks for more of a resource than "
        "its capacity (lowered since it was enqueued): why it cannot start. Such a job waits "
        "aside, keeping no other job waiting, until the capacity allows it again.",
    )
    waited = models.FloatField(
        null=True,
        blank=True,
        help_text="Seconds its last attempt waited, once ready, for its resources, "
        "lock key or queue limits (gated jobs only).",
    )
    metadata = PayloadField(
        default=dict,
        db_default=models.Value({}, output_field=models.JSONField()),
        blank=True,
        help_text="Context carried with the job, never passed to the task: trace ids, tenant, "
        "request id. A run's step tasks carry the run's.",
    )
    result = PayloadField(null=True, blank=True)
    errors = PayloadField(
        default=list, help_text="One entry per failed attempt: attempt, error, traceback, at."
    )
    created_at = models.DateTimeField()
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        db_table = "pgflow_job"
        indexes = [
            # The single-queue claim's ORDER BY matches this one exactly (invariant 7);
            # the any-queue claim's index is created in sql/0002_queue_functions.
            models.Index(
                "queue",
                models.F("priority").desc(),
                "run_at",
                "id",
                name="pgflow_job_ready_queue_idx",
                # Gated jobs have their own index and claim path (sql/0009).
                condition=Q(status="queued", gated=False),
            ),
            models.Index(
                "lease_expires_at",
                name="pgflow_job_lease_idx",
                condition=Q(status="started"),
            ),
            # Only finished rows, so it can never compete with the claim's index.
            models.Index(
                "status",
                "finished_at",
                name="pgflow_job_finished_idx",
                condition=Q(status__in=FINISHED),
            ),
            # History by task (finished rows only: every index an active row is in
            # costs an entry on each claim and completion).
            models.Index(
                "task_name",
                "created_at",
                name="pgflow_job_task_idx",
                condition=Q(status__in=FINISHED),
            ),
            models.Index("run", name="pgflow_job_run_idx", condition=Q(run__isnull=False)),
            # The gated claim's scan (sql/0009): only gated jobs.
            models.Index(
                models.F("priority").desc(),
                "run_at",
                "id",
                name="pgflow_job_gated_idx",
                condition=Q(status="queued", gated=True, impossible__isnull=True),
            ),
            # ... and a worker's claim of a single queue (sql/0012), which must
            # not walk the gated backlog of other queues.
            models.Index(
                "queue",
                models.F("priority").desc(),
                "run_at",
                "id",
                name="pgflow_job_gated_queue_idx",
                condition=Q(status="queued", gated=True, impossible__isnull=True),
            ),
            # Jobs set aside as impossible, which sync_limits looks at again.
            models.Index(
                "id",
                name="pgflow_job_impossible_idx",
                condition=Q(status="queued", impossible__isnull=False),
            ),
            # Per-key serialisation: the earliest active job of a key goes first.
            models.Index(
                "lock_key",
                "id",
                name="pgflow_job_lock_key_idx",
                condition=Q(lock_key__isnull=False, status__in=["queued", "started"]),
            ),
        ]
        constraints = [
            models.UniqueConstraint(
                fields=["unique_key"],
                # Keyless jobs (nearly all) take no entry: an entry costs each enqueue.
                condition=Q(status__in=["queued", "started"], unique_key__isnull=False),
                name="pgflow_job_unique_key_active",
            ),
            models.CheckConstraint(
                condition=Q(max_attempts__gte=1), name="pgflow_job_max_attempts_positive"
            ),
            models.CheckConstraint(
                condition=Q(attempts__gte=0), name="pgflow_job_attempts_nonnegative"
            ),
            models.CheckConstraint(condition=Q(timeout__gt=0), name="pgflow_job_timeout_positive"),
        ]
        triggers = [
            status_fsm("pgflow_job_status_fsm", JOB_TRANSITIONS),
            pgtrigger.Trigger(
                name="pgflow_job_attempts_monotonic",
                when=pgtrigger.Before,
                operation=pgtrigger.Update,
                condition=pgtrigger.Q(old__attempts__gt=pgtrigger.F("new__attempts")),
                func=trigger_body("pgflow_job_attempts_monotonic"),
            ),
            pgtrigger.Trigger(
                name="pgflow_job_notify_insert",
                when=pgtrigger.After,
                operation=pgtrigger.Insert,
                level=pgtrigger.Statement,
                referencing=pgtrigger.Referencing(new="new_rows"),
                func=trigger_body("pgflow_job_notify_insert"),
            ),
            pgtrigger.Trigger(
                name="pgflow_job_step_cascade",
                when=pgtrigger.After,
                operation=pgtrigger.Update,
                # Claims and completions, the common changes, are mirrored
                # set-based by claim() and complete_many(): not here.
                condition=pgtrigger.Condition(
                    'NEW."run_id" IS NOT NULL AND NEW."step_slug" IS NOT NULL'
                    ' AND OLD."status" IS DISTINCT FROM NEW."status"'
                    " AND NEW.\"status\" NOT IN ('started', 'completed')"
                ),
                func=trigger_body("pgflow_job_step_cascade"),
            ),
            # Gated-ness is decided by the inserting functions (enqueue,
            # enqueue_many, start_step: one set-based look at the limits per
            # call) and, whenever a job goes back to the queue, here: its queue
            # may have gained or lost limits since (sync_limits also updates
            # queued jobs).
            pgtrigger.Trigger(
                name="pgflow_job_gate_requeue",
                when=pgtrigger.Before,
                operation=pgtrigger.Update,
                condition=pgtrigger.Q(new__status="queued")
                & pgtrigger.Q(old__status__df=pgtrigger.F("new__status")),
                func=trigger_body("pgflow_job_gate_requeue"),
            ),
            # A gated job that stops running otherwise than by completing
            # (failure, timeout, cancellation, lease expiry, hand-back) wakes
            # every worker ("*"; several in one transaction are delivered
            # once): what it held may be what jobs of any queue wait for.
            # Completions send the same wake-up from complete_many and
            # complete, a call per statement rather than a trigger call per
            # job. Its slots need no write: they are free as soon as this row
            # shows the attempt over. Plain jobs never fire it: the WHEN
            # clause reads only the row.
            pgtrigger.Trigger(
                name="pgflow_job_notify_release",
                when=pgtrigger.After,
                operation=pgtrigger.Update,
                condition=pgtrigger.Condition(
                    "OLD.\"status\" = 'started'"
                    " AND NEW.\"status\" NOT IN ('started', 'completed') AND OLD.\"gated\""
                ),
                func=trigger_body("pgflow_job_notify_release"),
            ),
            pgtrigger.Trigger(
                name="pgflow_job_notify_requeue",
                when=pgtrigger.After,
                operation=pgtrigger.Update,
                condition=pgtrigger.Q(new__status="queued")
                & pgtrigger.Q(old__status__df=pgtrigger.F("new__status")),
                func=trigger_body("pgflow_job_notify_requeue"),
            ),
            # Deleting jobs (pruning, or by hand) frees the slots they name;
            # one set-based statement per DELETE. The transition table, not
            # a look for missing rows, decides: a job inserted and given a
            # slot after this statement's snapshot is never taken for gone.
            pgtrigger.Trigger(
                name="pgflow_job_free_deleted",
                when=pgtrigger.After,
                operation=pgtrigger.Delete,
                level=pgtrigger.Statement,
                referencing=pgtrigger.Referencing(old="old_rows"),
                func=trigger_body("pgflow_job_free_deleted"),
            ),
            # TRUNCATE takes an exclusive lock on the table: no claim runs.
            pgtrigger.Trigger(
                name="pgflow_job_free_truncated",
                when=pgtrigger.After,
                operation=pgtrigger.Truncate,
                level=pgtrigger.Statement,
                func=trigger_body("pgflow_job_free_truncated"),
            ),
        ]

    def __str__(self) -> str:
        return f"job {self.pk} {self.task_name} [{self.status}]"

    @property
    def is_finished(self) -> bool:
        return self.status in FINISHED

    def refresh(self) -> Job:
        """Reload from the database and return self, for scripts and tests."""
        self.refresh_from_db()
        return self
