"""Flow definitions, synced from the ``Flow`` classes so SQL can cascade runs alone."""

from __future__ import annotations

from django.db import models


class StepType(models.TextChoices):
    SINGLE = "single"
    MAP = "map"


class FailurePolicy(models.TextChoices):
    FAIL = "fail", "fail the run"
    SKIP = "skip", "skip the step; dependents get null"
    SKIP_CASCADE = "skip_cascade", "skip the step and everything downstream"


class FlowDefinition(models.Model):
    """One version of a flow's shape. Runs point at the version they started on."""

    slug = models.CharField(max_length=63)
    version = models.IntegerField(default=1)
    shape_hash = models.CharField(max_length=64, help_text="Hash of steps and dependencies.")
    max_attempts = models.IntegerField(default=3)
    base_delay = models.FloatField(default=1.0)
    timeout = models.FloatField(default=300.0)
    compensation_queue = models.CharField(  # noqa: DJ001
        max_length=63,
        null=True,
        blank=True,
        help_text="Set when the flow declares a compensation handler: the queue of the job "
        "that runs it when a run fails or is cancelled.",
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        db_table = "pgflow_flow"
        constraints = [
            models.UniqueConstraint(fields=["slug", "version"], name="pgflow_flow_slug_version")
        ]

    def __str__(self) -> str:
        return f"{self.slug} v{self.version}"


class StepDefinition(models.Model):
    flow = models.ForeignKey(FlowDefinition, on_delete=models.CASCADE, related_name="steps")
    slug = models.CharField(max_length=63)
    index = models.IntegerField(help_text="Position in a topological order of the flow.")
    step_type = models.CharField(max_length=16, choices=StepType.choices, default="single")
    dep_count = models.IntegerField(default=0)
    is_leaf = models.BooleanField(default=True, help_text="No step depends on it.")
    max_attempts = models.IntegerField(null=True, blank=True)
    base_delay = models.FloatField(null=True, blank=True)
    timeout = models.FloatField(null=True, blank=True)
    start_delay = models.FloatField(default=0.0)
    queue = models.CharField(max_length=63, default="default")
    priority = models.SmallIntegerField(default=0)
    on_failure = models.CharField(
        max_length=16, choices=FailurePolicy.choices, default=FailurePolicy.FAIL
    )
    condition = models.JSONField(
        null=True, blank=True, help_text="Run only when the step input contains this JSON."
    )
    condition_not = models.JSONField(
        null=True, blank=True, help_text="Run only when the step input does not contain this JSON."
    )
    on_condition_false = models.CharField(
        max_length=16, choices=FailurePolicy.choices, default=FailurePolicy.SKIP
    )
    resources = models.JSONField(
        null=True, blank=True, help_text='Held by each task of the step while it runs: {"gpu": 1}.'
    )

    class Meta:
        db_table = "pgflow_step"
        constraints = [
            models.UniqueConstraint(fields=["flow", "slug"], name="pgflow_step_flow_slug"),
        ]
        ordering = ["flow", "index"]

    def __str__(self) -> str:
        return f"{self.flow.slug}.{self.slug}"


class StepDependency(models.Model):
    """``step`` waits for ``depends_on`` (both of the same flow version)."""

    flow = models.ForeignKey(FlowDefinition, on_delete=models.CASCADE, related_name="deps")
    step_slug = models.CharField(max_length=63)
    dep_slug = models.CharField(max_length=63)

    class Meta:
        db_table = "pgflow_step_dep"
        constraints = [
            models.UniqueConstraint(
                fields=["flow", "step_slug", "dep_slug"], name="pgflow_step_dep_unique"
            )
        ]
        indexes = [models.Index(fields=["flow", "dep_slug"], name="pgflow_step_dep_rev_idx")]

    def __str__(self) -> str:
        return f"{self.step_slug} <- {self.dep_slug}"
