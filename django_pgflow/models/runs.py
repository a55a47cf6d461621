"""Runtime state of workflow runs: the run, its steps, and each step's tasks.

Counters (remaining steps, dependencies, tasks) make each completion O(1);
the SQL functions in sql/schema/flows/ keep them true.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from django.db import models
from django.db.models import Q

from ..exceptions import RunFailedError, RunFailure
from .events import run_event_triggers, step_event_trigger
from .fields import PayloadField
from .flows import FlowDefinition
from .fsm import status_fsm

if TYPE_CHECKING:
    from ..runs.events import RunEvents

RUN_TRANSITIONS = [
    ("started", "completed"),
    ("started", "failed"),
    ("started", "cancelled"),
    ("failed", "started"),  # resume
    ("cancelled", "started"),  # resume
]
STEP_TRANSITIONS = [
    ("created", "started"),
    ("created", "completed"),  # a map over []
    ("created", "skipped"),
    ("created", "failed"),  # a type violation found as it would start
    ("created", "cancelled"),
    ("started", "completed"),
    ("started", "failed"),
    ("started", "skipped"),
    ("started", "cancelled"),
    ("failed", "created"),  # resume
    ("cancelled", "created"),  # resume
    ("skipped", "created"),  # resume of a skip-cascade run
]
TASK_TRANSITIONS = [
    ("queued", "started"),
    ("queued", "cancelled"),
    ("started", "queued"),
    ("started", "completed"),
    ("started", "failed"),
    ("started", "cancelled"),
    ("queued", "failed"),
    ("failed", "queued"),  # resume
    ("cancelled", "queued"),  # resume
]


class RunStatus(models.TextChoices):
    STARTED = "started"
    COMPLETED = "completed"
    FAILED = "failed"
    CANCELLED = "cancelled"


class StepStatus(models.TextChoices):
    CREATED = "created"
    STARTED = "started"
    COMPLETED = "completed"
    FAILED = "failed"
    SKIPPED = "skipped"
    CANCELLED = "cancelled"


class WorkflowRun(models.Model):
    flow = models.ForeignKey(FlowDefinition, on_delete=models.PROTECT, related_name="runs")
    flow_slug = models.CharField(max_length=63)
    status = models.CharField(max_length=16, choices=RunStatus.choices, default="started")
    input = PayloadField(null=True)
    output = PayloadField(null=True, blank=True, help_text="Leaf step outputs by slug.")
    remaining_steps = models.IntegerField(default=0)
    run_key = models.CharField(max_length=255, null=True, blank=True)  # noqa: DJ001
    error = PayloadField(null=True, blank=True)
    metadata = PayloadField(
        default=dict,
        db_default=models.Value({}, output_field=models.JSONField()),
        blank=True,
        help_text="Context carried with the run and every task of it, never passed to the "
        "steps: trace ids, tenant, request id.",
    )
    created_at = models.DateTimeField()
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        db_table = "pgflow_run"
        constraints = [
            models.UniqueConstraint(fields=["flow_slug", "run_key"], name="pgflow_run_key_unique")
        ]
        indexes = [
            models.Index(fields=["flow_slug", "created_at"], name="pgflow_run_flow_idx"),
            models.Index(fields=["status", "finished_at"], name="pgflow_run_status_idx"),
        ]
        triggers = [status_fsm("pgflow_run_status_fsm", RUN_TRANSITIONS), *run_event_triggers()]

    def __str__(self) -> str:
        return f"run {self.pk} of {self.flow_slug} [{self.status}]"

    @property
    def is_finished(self) -> bool:
        return self.status in ("completed", "failed", "cancelled")

    def events(self, *, after: int = 0, timeout: float | None = None) -> RunEvents:
        """This run's events, in order, as they happen: ``for`` or ``async for``.

        Driven by LISTEN on ``django_pgflow_events`` (polling once a second as
        a fallback), read back from ``pgflow_event``; ends after the run's
        final event (completed, failed or cancelled).
        """
        from ..runs.events import RunEvents

        return RunEvents(self.pk, after=after, timeout=timeout, using=self._state.db or "default")

    def wait(self, timeout: float = 60.0, *, raise_on_failure: bool = True) -> WorkflowRun:
        """Block until the run completes, fails or is cancelled; returns it, refreshed.

        Woken by the run's events, not by polling. A run that failed or was
        cancelled raises ``RunFailedError`` (its ``failure`` names the error, the
        failed step and the outputs of the steps that completed), unless
        ``raise_on_failure=False``.
        """
        latest = self.latest_event_id()
        self.refresh_from_db()
        if not self.is_finished:
            try:
                for _event in self.events(after=latest, timeout=timeout):
                    pass
            except TimeoutError:
                self.refresh_from_db()
                raise TimeoutError(
                    f"run {self.pk} of {self.flow_slug!r} still {self.status} after {timeout}s "
                    f"({self.remaining_steps} step(s) remaining)"
                ) from None
            self.refresh_from_db()
        if raise_on_failure and self.status in ("failed", "cancelled"):
            raise RunFailedError(self.failure())
        return self

    def latest_event_id(self) -> int:
        """The id of this run's latest event (0: none yet)."""
        from .events import RunEvent

        found = (
            RunEvent.objects.using(self._state.db)
            .filter(run_id=self.pk)
            .aggregate(m=models.Max("id"))["m"]
        )
        return int(found or 0)

    def failure(self) -> RunFailure:
        """How the run ended badly: what a compensation handler receives."""
        error = self.error if isinstance(self.error, dict) else None
        outputs = dict(self.steps.filter(status="completed").values_list("step_slug", "output"))
        return RunFailure(
            run_id=self.pk, flow=self.flow_slug, status=self.status, error=self.error,
            failed_step=error.get("step") if error else None, outputs=outputs, input=self.input,
        )  # fmt: skip

    def progress(self) -> dict[str, Any]:
        """Steps by status, and finished/total tasks, read from the database now."""
        steps = dict(self.steps.values_list("status").annotate(n=models.Count("id")).order_by())
        tasks = self.tasks.aggregate(
            total=models.Count("id"),
            done=models.Count("id", filter=Q(status__in=["completed", "failed", "cancelled"])),
        )
        return {"status": self.status, "steps": steps, **tasks}


class StepState(models.Model):
    # No index of its own: the unique (run, step_slug) index serves run lookups,
    # and a second one lets the planner pick a scan over the whole run.
    run = models.ForeignKey(
        WorkflowRun, on_delete=models.CASCADE, related_name="steps", db_index=False
    )
    step = models.ForeignKey("django_pgflow.StepDefinition", on_delete=models.PROTECT)
    step_slug = models.CharField(max_length=63)
    status = models.CharField(max_length=16, choices=StepStatus.choices, default="created")
    remaining_deps = models.IntegerField(default=0)
    remaining_tasks = models.IntegerField(null=True, blank=True)
    initial_tasks = models.IntegerField(null=True, blank=True)
    output = PayloadField(null=True, blank=True)
    error = PayloadField(null=True, blank=True)
    created_at = models.DateTimeField()
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        db_table = "pgflow_step_state"
        constraints = [
            models.UniqueConstraint(fields=["run", "step_slug"], name="pgflow_step_state_unique"),
            models.CheckConstraint(
                condition=Q(remaining_deps__gte=0), name="pgflow_step_state_deps_nonnegative"
            ),
            models.CheckConstraint(
                condition=Q(remaining_tasks__gte=0), name="pgflow_step_state_tasks_nonnegative"
            ),
        ]
        triggers = [
            status_fsm("pgflow_step_state_status_fsm", STEP_TRANSITIONS),
            step_event_trigger(),
        ]

    def __str__(self) -> str:
        return f"{self.step_slug} of run {self.run_id} [{self.status}]"


class StepTask(models.Model):
    """One task of a step (one per element for a map step), run as a job."""

    # As for StepState: the unique (run, step_slug, task_index) index is the only
    # one on run, so a task is always found by its key, never by scanning its run.
    run = models.ForeignKey(
        WorkflowRun, on_delete=models.CASCADE, related_name="tasks", db_index=False
    )
    step_slug = models.CharField(max_length=63)
    task_index = models.IntegerField(default=0)
    status = models.CharField(max_length=16, default="queued")
    job = models.ForeignKey(
        "django_pgflow.Job",
        null=True,
        blank=True,
        on_delete=models.DO_NOTHING,
        db_constraint=False,
        related_name="+",
    )
    output = PayloadField(null=True, blank=True)
    error = PayloadField(null=True, blank=True)
    attempts = models.IntegerField(default=0)
    created_at = models.DateTimeField()
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        db_table = "pgflow_step_task"
        constraints = [
            models.UniqueConstraint(
                fields=["run", "step_slug", "task_index"], name="pgflow_step_task_unique"
            )
        ]
        triggers = [status_fsm("pgflow_step_task_status_fsm", TASK_TRANSITIONS)]

    def __str__(self) -> str:
        return f"{self.step_slug}[{self.task_index}] of run {self.run_id} [{self.status}]"
