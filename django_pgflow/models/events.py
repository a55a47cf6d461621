"""Run and step events: every status change of a run or a step, in order.

The triggers on ``pgflow_run`` and ``pgflow_step_state`` write them (through
``django_pgflow.emit_event``) in the transaction that makes the change, and
announce them on the channel ``django_pgflow_events``; ``WorkflowRun.events()``
reads them back, so that a listener that reconnects catches up from here.
"""

from __future__ import annotations

import pgtrigger
from django.db import models

from ..sql import trigger_body

EVENT_CHANNEL = "django_pgflow_events"


class RunEvent(models.Model):
    """One status change of a run (``step_slug`` NULL) or of one of its steps."""

    run = models.ForeignKey(
        "django_pgflow.WorkflowRun",
        on_delete=models.DO_NOTHING,
        db_constraint=False,
        db_index=False,  # (run, id) below
        related_name="event_rows",
    )
    flow_slug = models.CharField(max_length=63)
    step_slug = models.CharField(max_length=63, null=True, blank=True)  # noqa: DJ001
    status = models.CharField(max_length=16)
    origin = models.TextField(  # noqa: DJ001
        null=True, blank=True, help_text="The worker whose transaction made the change, if any."
    )
    at = models.DateTimeField()

    class Meta:
        db_table = "pgflow_event"
        indexes = [models.Index(fields=["run", "id"], name="pgflow_event_run_idx")]

    def __str__(self) -> str:
        what = f"step {self.step_slug}" if self.step_slug else "run"
        return f"run {self.run_id} {what} {self.status}"


def run_event_triggers() -> list[pgtrigger.Trigger]:
    """WorkflowRun's: a run inserted (started), a run's status changed, runs deleted."""
    return [
        pgtrigger.Trigger(
            name="pgflow_run_started_event",
            when=pgtrigger.After,
            operation=pgtrigger.Insert,
            func=trigger_body("pgflow_run_event"),
        ),
        pgtrigger.Trigger(
            name="pgflow_run_event",
            when=pgtrigger.After,
            operation=pgtrigger.Update,
            condition=pgtrigger.Q(old__status__df=pgtrigger.F("new__status")),
            func=trigger_body("pgflow_run_event"),
        ),
        pgtrigger.Trigger(
            name="pgflow_run_forget_events",
            when=pgtrigger.After,
            operation=pgtrigger.Delete,
            level=pgtrigger.Statement,
            referencing=pgtrigger.Referencing(old="old_rows"),
            func=trigger_body("pgflow_run_forget_events"),
        ),
    ]


def step_event_trigger() -> pgtrigger.Trigger:
    """StepState's: a step's status changed (back to created, on a resume, is no event)."""
    return pgtrigger.Trigger(
        name="pgflow_step_state_event",
        when=pgtrigger.After,
        operation=pgtrigger.Update,
        condition=pgtrigger.Q(old__status__df=pgtrigger.F("new__status"))
        & ~pgtrigger.Q(new__status="created"),
        func=trigger_body("pgflow_step_state_event"),
    )
