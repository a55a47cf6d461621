"""django-pgflow's tables, triggers and SQL core, as of the first release.

The history before it (0001-0016, never released) is folded in here. The SQL
core is installed from django_pgflow/sql/schema/, each file pinned to the
hash of its text: a later change to a file comes with a migration of its own
(see django_pgflow/sql/__init__.py and docs/contributing.md).
"""

import django.db.models.deletion
import django.db.models.functions.datetime
import pgtrigger.compiler
import pgtrigger.migrations
from django.db import migrations, models

import django_pgflow.models.limits
import django_pgflow.sql


class Migration(migrations.Migration):
    initial = True

    dependencies = []

    operations = [
        migrations.RunSQL(
            sql="",
            reverse_sql="DROP FUNCTION IF EXISTS pgtrigger_pgflow_job_attempts_monotonic_a7820();\nDROP FUNCTION IF EXISTS pgtrigger_pgflow_job_free_deleted_cd360();\nDROP FUNCTION IF EXISTS pgtrigger_pgflow_job_free_truncated_7d7ce();\nDROP FUNCTION IF EXISTS pgtrigger_pgflow_job_gate_requeue_f662c();\nDROP FUNCTION IF EXISTS pgtrigger_pgflow_job_notify_insert_2fceb();\nDROP FUNCTION IF EXISTS pgtrigger_pgflow_job_notify_release_9ad84();\nDROP FUNCTION IF EXISTS pgtrigger_pgflow_job_notify_requeue_38601();\nDROP FUNCTION IF EXISTS pgtrigger_pgflow_job_status_fsm_c9657();\nDROP FUNCTION IF EXISTS pgtrigger_pgflow_job_step_cascade_fe27b();\nDROP FUNCTION IF EXISTS pgtrigger_pgflow_run_status_fsm_57414();\nDROP FUNCTION IF EXISTS pgtrigger_pgflow_step_state_status_fsm_27b71();\nDROP FUNCTION IF EXISTS pgtrigger_pgflow_step_task_status_fsm_f3c62();\n",
        ),
        migrations.CreateModel(
            name="Job",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                ("queue", models.CharField(default="default", max_length=63)),
                (
                    "task_name",
                    models.CharField(help_text="Dotted path of the task.", max_length=255),
                ),
                ("args", models.JSONField(default=list)),
                ("kwargs", models.JSONField(default=dict)),
                (
                    "status",
                    models.CharField(
                        choices=[
                            ("queued", "Queued"),
                            ("started", "Started"),
                            ("completed", "Completed"),
                            ("failed", "Failed"),
                            ("cancelled", "Cancelled"),
                        ],
                        default="queued",
                        max_length=16,
                    ),
                ),
                ("priority", models.SmallIntegerField(default=0, help_text="Higher runs first.")),
                (
                    "run_at",
                    models.DateTimeField(
                        help_text="Not claimed before this time (database clock)."
                    ),
                ),
                ("attempts", models.IntegerField(default=0, help_text="Attempts started so far.")),
                (
                    "failures",
                    models.IntegerField(
                        default=0,
                        help_text="Failed attempts counted against max_attempts since the last manual retry.",
                    ),
                ),
                ("max_attempts", models.IntegerField(default=3)),
                ("retry_delay", models.FloatField(default=1.0, help_text="Backoff base, seconds.")),
                (
                    "max_retry_delay",
                    models.FloatField(default=3600.0, help_text="Backoff cap, seconds."),
                ),
                (
                    "timeout",
                    models.FloatField(default=300.0, help_text="Seconds an attempt may run."),
                ),
                ("unique_key", models.CharField(blank=True, max_length=255, null=True)),
                ("lease_expires_at", models.DateTimeField(blank=True, null=True)),
                ("step_slug", models.CharField(blank=True, max_length=63, null=True)),
                ("task_index", models.IntegerField(blank=True, null=True)),
                (
                    "resources",
                    models.JSONField(
                        blank=True,
                        help_text='Capacity it holds while started, e.g. {"gpu": 1}.',
                        null=True,
                    ),
                ),
                (
                    "lock_key",
                    models.CharField(
                        blank=True,
                        help_text="Jobs sharing a lock key run one at a time, in enqueue order.",
                        max_length=255,
                        null=True,
                    ),
                ),
                (
                    "gated",
                    models.BooleanField(
                        db_default=False,
                        default=False,
                        help_text="Set by the database: the job has resources or a lock key, or its queue has limits, so only the gated claim may take it.",
                    ),
                ),
                (
                    "impossible",
                    models.TextField(
                        blank=True,
                        help_text="Set by the database on a queued job that asks for more of a resource than its capacity (lowered since it was enqueued): why it cannot start. Such a job waits aside, keeping no other job waiting, until the capacity allows it again.",
                        null=True,
                    ),
                ),
                (
                    "waited",
                    models.FloatField(
                        blank=True,
                        help_text="Seconds its last attempt waited, once ready, for its resources, lock key or queue limits (gated jobs only).",
                        null=True,
                    ),
                ),
                (
                    "metadata",
                    models.JSONField(
                        blank=True,
                        db_default=models.Value({}, output_field=models.JSONField()),
                        default=dict,
                        help_text="Context carried with the job, never passed to the task: trace ids, tenant, request id. A run's step tasks carry the run's.",
                    ),
                ),
                ("result", models.JSONField(blank=True, null=True)),
                (
                    "errors",
                    models.JSONField(
                        default=list,
                        help_text="One entry per failed attempt: attempt, error, traceback, at.",
                    ),
                ),
                ("created_at", models.DateTimeField()),
                ("started_at", models.DateTimeField(blank=True, null=True)),
                ("finished_at", models.DateTimeField(blank=True, null=True)),
            ],
            options={
                "db_table": "pgflow_job",
            },
        ),
        migrations.CreateModel(
            name="PeriodicSchedule",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                ("name", models.CharField(max_length=200, unique=True)),
                ("task_name", models.CharField(max_length=255)),
                ("cron", models.CharField(max_length=255)),
                ("timezone", models.CharField(max_length=64)),
                (
                    "job",
                    models.JSONField(
                        help_text="The job each tick enqueues, in django_pgflow.enqueue_many's format."
                    ),
                ),
                (
                    "last_tick",
                    models.DateTimeField(
                        blank=True,
                        help_text="The latest tick claimed; a job was enqueued for it.",
                        null=True,
                    ),
                ),
                ("next_tick", models.DateTimeField(blank=True, null=True)),
                ("last_job_id", models.BigIntegerField(blank=True, null=True)),
                (
                    "created_at",
                    models.DateTimeField(db_default=django.db.models.functions.datetime.Now()),
                ),
                (
                    "updated_at",
                    models.DateTimeField(db_default=django.db.models.functions.datetime.Now()),
                ),
            ],
            options={
                "db_table": "pgflow_periodic",
            },
        ),
        migrations.CreateModel(
            name="QueueLimit",
            fields=[
                ("queue", models.CharField(max_length=63, primary_key=True, serialize=False)),
                (
                    "concurrency",
                    models.IntegerField(
                        blank=True,
                        help_text="Jobs of this queue running at once, across workers.",
                        null=True,
                    ),
                ),
                (
                    "rate_count",
                    models.IntegerField(
                        blank=True,
                        help_text="Starts allowed in any window of rate_period seconds.",
                        null=True,
                    ),
                ),
                ("rate_period", models.FloatField(blank=True, null=True)),
                (
                    "updated_at",
                    models.DateTimeField(db_default=django.db.models.functions.datetime.Now()),
                ),
            ],
            options={
                "db_table": "pgflow_queue_limit",
            },
        ),
        migrations.CreateModel(
            name="Config",
            fields=[
                ("id", models.SmallIntegerField(default=1, primary_key=True, serialize=False)),
                (
                    "max_payload_bytes",
                    models.IntegerField(
                        default=1048576,
                        help_text="PGFLOW['MAX_PAYLOAD_BYTES']: the largest payload the SQL functions accept.",
                    ),
                ),
                (
                    "updated_at",
                    models.DateTimeField(db_default=django.db.models.functions.datetime.Now()),
                ),
            ],
            options={
                "db_table": "pgflow_config",
                "constraints": [
                    models.CheckConstraint(
                        condition=models.Q(("id", 1)), name="pgflow_config_one_row"
                    ),
                    models.CheckConstraint(
                        condition=models.Q(("max_payload_bytes__range", (1, 67108864))),
                        name="pgflow_config_max_payload_bytes_range",
                    ),
                ],
            },
        ),
        migrations.CreateModel(
            name="FlowDefinition",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                ("slug", models.CharField(max_length=63)),
                ("version", models.IntegerField(default=1)),
                (
                    "shape_hash",
                    models.CharField(help_text="Hash of steps and dependencies.", max_length=64),
                ),
                ("max_attempts", models.IntegerField(default=3)),
                ("base_delay", models.FloatField(default=1.0)),
                ("timeout", models.FloatField(default=300.0)),
                (
                    "compensation_queue",
                    models.CharField(
                        blank=True,
                        help_text="Set when the flow declares a compensation handler: the queue of the job that runs it when a run fails or is cancelled.",
                        max_length=63,
                        null=True,
                    ),
                ),
                ("created_at", models.DateTimeField(auto_now_add=True)),
            ],
            options={
                "db_table": "pgflow_flow",
                "constraints": [
                    models.UniqueConstraint(
                        fields=("slug", "version"), name="pgflow_flow_slug_version"
                    )
                ],
            },
        ),
        migrations.CreateModel(
            name="LockContention",
            fields=[],
            options={
                "verbose_name": "lock contention",
                "verbose_name_plural": "lock contention",
                "proxy": True,
                "indexes": [],
                "constraints": [],
            },
            bases=("django_pgflow.job",),
        ),
        migrations.CreateModel(
            name="QueueOverview",
            fields=[],
            options={
                "verbose_name": "queue",
                "verbose_name_plural": "queues",
                "proxy": True,
                "indexes": [],
                "constraints": [],
            },
            bases=("django_pgflow.job",),
        ),
        migrations.CreateModel(
            name="QueueRateShard",
            fields=[
                ("id", models.BigAutoField(primary_key=True, serialize=False)),
                ("queue", models.CharField(max_length=63)),
                ("shard", models.IntegerField()),
                ("budget", models.IntegerField()),
                ("last_bucket", models.BigIntegerField(db_default=0, default=0)),
                ("counts", django_pgflow.models.limits.IntegerArrayField()),
                (
                    "full_until",
                    models.DateTimeField(
                        blank=True,
                        help_text="When the oldest start counted leaves the window of this spent shard: until then claims pass it by without locking it.",
                        null=True,
                    ),
                ),
            ],
            options={
                "db_table": "pgflow_queue_rate_shard",
                "constraints": [
                    models.UniqueConstraint(
                        fields=("queue", "shard"), name="pgflow_queue_rate_shard_unit"
                    )
                ],
            },
        ),
        migrations.CreateModel(
            name="Resource",
            fields=[
                ("name", models.CharField(max_length=63, primary_key=True, serialize=False)),
                ("capacity", models.IntegerField()),
                (
                    "updated_at",
                    models.DateTimeField(db_default=django.db.models.functions.datetime.Now()),
                ),
            ],
            options={
                "db_table": "pgflow_resource",
                "constraints": [
                    models.CheckConstraint(
                        condition=models.Q(("capacity__gte", 0)),
                        name="pgflow_resource_capacity_nonnegative",
                    )
                ],
            },
        ),
        migrations.CreateModel(
            name="Slot",
            fields=[
                (
                    "pk",
                    models.CompositePrimaryKey(
                        "kind",
                        "name",
                        "n",
                        blank=True,
                        editable=False,
                        primary_key=True,
                        serialize=False,
                    ),
                ),
                (
                    "kind",
                    models.CharField(
                        choices=[("resource", "Resource"), ("queue", "Queue")], max_length=8
                    ),
                ),
                ("name", models.CharField(max_length=63)),
                ("n", models.IntegerField(help_text="The slot's number, from 1.")),
                ("job_id", models.BigIntegerField(blank=True, null=True)),
                (
                    "attempt",
                    models.IntegerField(
                        blank=True,
                        help_text="The attempt of job_id the slot was given to.",
                        null=True,
                    ),
                ),
                ("retired", models.BooleanField(db_default=False, default=False)),
            ],
            options={
                "db_table": "pgflow_slot",
                "indexes": [
                    models.Index(
                        condition=models.Q(("retired", True)),
                        fields=["kind", "name"],
                        name="pgflow_slot_retired_idx",
                    )
                ],
                "constraints": [
                    models.CheckConstraint(
                        condition=models.Q(
                            models.Q(("attempt__isnull", True), ("job_id__isnull", True)),
                            models.Q(("attempt__isnull", False), ("job_id__isnull", False)),
                            _connector="OR",
                        ),
                        name="pgflow_slot_holder_attempt",
                    )
                ],
            },
        ),
        migrations.CreateModel(
            name="StepDefinition",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                ("slug", models.CharField(max_length=63)),
                (
                    "index",
                    models.IntegerField(help_text="Position in a topological order of the flow."),
                ),
                (
                    "step_type",
                    models.CharField(
                        choices=[("single", "Single"), ("map", "Map")],
                        default="single",
                        max_length=16,
                    ),
                ),
                ("dep_count", models.IntegerField(default=0)),
                ("is_leaf", models.BooleanField(default=True, help_text="No step depends on it.")),
                ("max_attempts", models.IntegerField(blank=True, null=True)),
                ("base_delay", models.FloatField(blank=True, null=True)),
                ("timeout", models.FloatField(blank=True, null=True)),
                ("start_delay", models.FloatField(default=0.0)),
                ("queue", models.CharField(default="default", max_length=63)),
                ("priority", models.SmallIntegerField(default=0)),
                (
                    "on_failure",
                    models.CharField(
                        choices=[
                            ("fail", "fail the run"),
                            ("skip", "skip the step; dependents get null"),
                            ("skip_cascade", "skip the step and everything downstream"),
                        ],
                        default="fail",
                        max_length=16,
                    ),
                ),
                (
                    "condition",
                    models.JSONField(
                        blank=True,
                        help_text="Run only when the step input contains this JSON.",
                        null=True,
                    ),
                ),
                (
                    "condition_not",
                    models.JSONField(
                        blank=True,
                        help_text="Run only when the step input does not contain this JSON.",
                        null=True,
                    ),
                ),
                (
                    "on_condition_false",
                    models.CharField(
                        choices=[
                            ("fail", "fail the run"),
                            ("skip", "skip the step; dependents get null"),
                            ("skip_cascade", "skip the step and everything downstream"),
                        ],
                        default="skip",
                        max_length=16,
                    ),
                ),
                (
                    "resources",
                    models.JSONField(
                        blank=True,
                        help_text='Held by each task of the step while it runs: {"gpu": 1}.',
                        null=True,
                    ),
                ),
                (
                    "flow",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="steps",
                        to="django_pgflow.flowdefinition",
                    ),
                ),
            ],
            options={
                "db_table": "pgflow_step",
                "ordering": ["flow", "index"],
            },
        ),
        migrations.CreateModel(
            name="StepDependency",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                ("step_slug", models.CharField(max_length=63)),
                ("dep_slug", models.CharField(max_length=63)),
                (
                    "flow",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="deps",
                        to="django_pgflow.flowdefinition",
                    ),
                ),
            ],
            options={
                "db_table": "pgflow_step_dep",
            },
        ),
        migrations.CreateModel(
            name="Worker",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                ("hostname", models.CharField(max_length=255)),
                ("pid", models.IntegerField()),
                (
                    "queues",
                    models.JSONField(
                        default=list, help_text="Queues it claims from; [] means all."
                    ),
                ),
                ("concurrency", models.IntegerField()),
                (
                    "state",
                    models.CharField(
                        choices=[
                            ("running", "Running"),
                            ("stopping", "Stopping"),
                            ("stopped", "Stopped"),
                            ("lost", "Lost"),
                        ],
                        default="running",
                        max_length=16,
                    ),
                ),
                ("started_at", models.DateTimeField()),
                ("last_heartbeat", models.DateTimeField()),
                ("stopped_at", models.DateTimeField(blank=True, null=True)),
            ],
            options={
                "db_table": "pgflow_worker",
                "indexes": [
                    models.Index(
                        condition=models.Q(("state", "running")),
                        fields=["last_heartbeat"],
                        name="pgflow_worker_alive_idx",
                    )
                ],
            },
        ),
        migrations.AddField(
            model_name="job",
            name="worker",
            field=models.ForeignKey(
                blank=True,
                db_constraint=False,
                db_index=False,
                null=True,
                on_delete=django.db.models.deletion.DO_NOTHING,
                related_name="jobs",
                to="django_pgflow.worker",
            ),
        ),
        migrations.CreateModel(
            name="WorkflowRun",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                ("flow_slug", models.CharField(max_length=63)),
                (
                    "status",
                    models.CharField(
                        choices=[
                            ("started", "Started"),
                            ("completed", "Completed"),
                            ("failed", "Failed"),
                            ("cancelled", "Cancelled"),
                        ],
                        default="started",
                        max_length=16,
                    ),
                ),
                ("input", models.JSONField(null=True)),
                (
                    "output",
                    models.JSONField(blank=True, help_text="Leaf step outputs by slug.", null=True),
                ),
                ("remaining_steps", models.IntegerField(default=0)),
                ("run_key", models.CharField(blank=True, max_length=255, null=True)),
                ("error", models.JSONField(blank=True, null=True)),
                (
                    "metadata",
                    models.JSONField(
                        blank=True,
                        db_default=models.Value({}, output_field=models.JSONField()),
                        default=dict,
                        help_text="Context carried with the run and every task of it, never passed to the steps: trace ids, tenant, request id.",
                    ),
                ),
                ("created_at", models.DateTimeField()),
                ("finished_at", models.DateTimeField(blank=True, null=True)),
                (
                    "flow",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="runs",
                        to="django_pgflow.flowdefinition",
                    ),
                ),
            ],
            options={
                "db_table": "pgflow_run",
            },
        ),
        migrations.CreateModel(
            name="StepTask",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                ("step_slug", models.CharField(max_length=63)),
                ("task_index", models.IntegerField(default=0)),
                ("status", models.CharField(default="queued", max_length=16)),
                ("output", models.JSONField(blank=True, null=True)),
                ("error", models.JSONField(blank=True, null=True)),
                ("attempts", models.IntegerField(default=0)),
                ("created_at", models.DateTimeField()),
                ("finished_at", models.DateTimeField(blank=True, null=True)),
                (
                    "job",
                    models.ForeignKey(
                        blank=True,
                        db_constraint=False,
                        null=True,
                        on_delete=django.db.models.deletion.DO_NOTHING,
                        related_name="+",
                        to="django_pgflow.job",
                    ),
                ),
                (
                    "run",
                    models.ForeignKey(
                        db_index=False,
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="tasks",
                        to="django_pgflow.workflowrun",
                    ),
                ),
            ],
            options={
                "db_table": "pgflow_step_task",
            },
        ),
        migrations.CreateModel(
            name="StepState",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                ("step_slug", models.CharField(max_length=63)),
                (
                    "status",
                    models.CharField(
                        choices=[
                            ("created", "Created"),
                            ("started", "Started"),
                            ("completed", "Completed"),
                            ("failed", "Failed"),
                            ("skipped", "Skipped"),
                            ("cancelled", "Cancelled"),
                        ],
                        default="created",
                        max_length=16,
                    ),
                ),
                ("remaining_deps", models.IntegerField(default=0)),
                ("remaining_tasks", models.IntegerField(blank=True, null=True)),
                ("initial_tasks", models.IntegerField(blank=True, null=True)),
                ("output", models.JSONField(blank=True, null=True)),
                ("error", models.JSONField(blank=True, null=True)),
                ("created_at", models.DateTimeField()),
                ("started_at", models.DateTimeField(blank=True, null=True)),
                ("finished_at", models.DateTimeField(blank=True, null=True)),
                (
                    "step",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.PROTECT,
                        to="django_pgflow.stepdefinition",
                    ),
                ),
                (
                    "run",
                    models.ForeignKey(
                        db_index=False,
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="steps",
                        to="django_pgflow.workflowrun",
                    ),
                ),
            ],
            options={
                "db_table": "pgflow_step_state",
            },
        ),
        migrations.AddField(
            model_name="job",
            name="run",
            field=models.ForeignKey(
                blank=True,
                db_constraint=False,
                db_index=False,
                null=True,
                on_delete=django.db.models.deletion.DO_NOTHING,
                related_name="jobs",
                to="django_pgflow.workflowrun",
            ),
        ),
        migrations.AddConstraint(
            model_name="stepdefinition",
            constraint=models.UniqueConstraint(
                fields=("flow", "slug"), name="pgflow_step_flow_slug"
            ),
        ),
        migrations.AddIndex(
            model_name="stepdependency",
            index=models.Index(fields=["flow", "dep_slug"], name="pgflow_step_dep_rev_idx"),
        ),
        migrations.AddConstraint(
            model_name="stepdependency",
            constraint=models.UniqueConstraint(
                fields=("flow", "step_slug", "dep_slug"), name="pgflow_step_dep_unique"
            ),
        ),
        migrations.AddIndex(
            model_name="workflowrun",
            index=models.Index(fields=["flow_slug", "created_at"], name="pgflow_run_flow_idx"),
        ),
        migrations.AddIndex(
            model_name="workflowrun",
            index=models.Index(fields=["status", "finished_at"], name="pgflow_run_status_idx"),
        ),
        migrations.AddConstraint(
            model_name="workflowrun",
            constraint=models.UniqueConstraint(
                fields=("flow_slug", "run_key"), name="pgflow_run_key_unique"
            ),
        ),
        pgtrigger.migrations.AddTrigger(
            model_name="workflowrun",
            trigger=pgtrigger.compiler.Trigger(
                name="pgflow_run_status_fsm",
                sql=pgtrigger.compiler.UpsertTriggerSql(
                    condition="WHEN (OLD.\"status\" IS DISTINCT FROM NEW.\"status\" AND NOT ((OLD.\"status\" = 'started' AND NEW.\"status\" IN ('completed', 'failed', 'cancelled')) OR (OLD.\"status\" = 'failed' AND NEW.\"status\" IN ('started')) OR (OLD.\"status\" = 'cancelled' AND NEW.\"status\" IN ('started'))))",
                    func="RAISE EXCEPTION 'pgflow: invalid status transition % -> % on table %', OLD.status, NEW.status, TG_TABLE_NAME\n    USING ERRCODE = 'check_violation';\nRETURN NULL;",
                    hash="dce92787e10d7864a7caf70b1bd7538f7309a7d5",
                    operation="UPDATE",
                    pgid="pgtrigger_pgflow_run_status_fsm_57414",
                    table="pgflow_run",
                    when="BEFORE",
                ),
            ),
        ),
        migrations.AddConstraint(
            model_name="steptask",
            constraint=models.UniqueConstraint(
                fields=("run", "step_slug", "task_index"), name="pgflow_step_task_unique"
            ),
        ),
        pgtrigger.migrations.AddTrigger(
            model_name="steptask",
            trigger=pgtrigger.compiler.Trigger(
                name="pgflow_step_task_status_fsm",
                sql=pgtrigger.compiler.UpsertTriggerSql(
                    condition="WHEN (OLD.\"status\" IS DISTINCT FROM NEW.\"status\" AND NOT ((OLD.\"status\" = 'queued' AND NEW.\"status\" IN ('started', 'cancelled', 'failed')) OR (OLD.\"status\" = 'started' AND NEW.\"status\" IN ('queued', 'completed', 'failed', 'cancelled')) OR (OLD.\"status\" = 'failed' AND NEW.\"status\" IN ('queued')) OR (OLD.\"status\" = 'cancelled' AND NEW.\"status\" IN ('queued'))))",
                    func="RAISE EXCEPTION 'pgflow: invalid status transition % -> % on table %', OLD.status, NEW.status, TG_TABLE_NAME\n    USING ERRCODE = 'check_violation';\nRETURN NULL;",
                    hash="2ddfc718757a3e30880e511d5636505137f42d01",
                    operation="UPDATE",
                    pgid="pgtrigger_pgflow_step_task_status_fsm_f3c62",
                    table="pgflow_step_task",
                    when="BEFORE",
                ),
            ),
        ),
        migrations.AddConstraint(
            model_name="stepstate",
            constraint=models.UniqueConstraint(
                fields=("run", "step_slug"), name="pgflow_step_state_unique"
            ),
        ),
        migrations.AddConstraint(
            model_name="stepstate",
            constraint=models.CheckConstraint(
                condition=models.Q(("remaining_deps__gte", 0)),
                name="pgflow_step_state_deps_nonnegative",
            ),
        ),
        migrations.AddConstraint(
            model_name="stepstate",
            constraint=models.CheckConstraint(
                condition=models.Q(("remaining_tasks__gte", 0)),
                name="pgflow_step_state_tasks_nonnegative",
            ),
        ),
        pgtrigger.migrations.AddTrigger(
            model_name="stepstate",
            trigger=pgtrigger.compiler.Trigger(
                name="pgflow_step_state_status_fsm",
                sql=pgtrigger.compiler.UpsertTriggerSql(
                    condition="WHEN (OLD.\"status\" IS DISTINCT FROM NEW.\"status\" AND NOT ((OLD.\"status\" = 'created' AND NEW.\"status\" IN ('started', 'completed', 'skipped', 'failed', 'cancelled')) OR (OLD.\"status\" = 'started' AND NEW.\"status\" IN ('completed', 'failed', 'skipped', 'cancelled')) OR (OLD.\"status\" = 'failed' AND NEW.\"status\" IN ('created')) OR (OLD.\"status\" = 'cancelled' AND NEW.\"status\" IN ('created')) OR (OLD.\"status\" = 'skipped' AND NEW.\"status\" IN ('created'))))",
                    func="RAISE EXCEPTION 'pgflow: invalid status transition % -> % on table %', OLD.status, NEW.status, TG_TABLE_NAME\n    USING ERRCODE = 'check_violation';\nRETURN NULL;",
                    hash="5aa7d0b38f5242a1d53e69b0d44905621beb1cf5",
                    operation="UPDATE",
                    pgid="pgtrigger_pgflow_step_state_status_fsm_27b71",
                    table="pgflow_step_state",
                    when="BEFORE",
                ),
            ),
        ),
        migrations.AddIndex(
            model_name="job",
            index=models.Index(
                models.F("queue"),
                models.OrderBy(models.F("priority"), descending=True),
                models.F("run_at"),
                models.F("id"),
                condition=models.Q(("gated", False), ("status", "queued")),
                name="pgflow_job_ready_queue_idx",
            ),
        ),
        migrations.AddIndex(
            model_name="job",
            index=models.Index(
                models.F("lease_expires_at"),
                condition=models.Q(("status", "started")),
                name="pgflow_job_lease_idx",
            ),
        ),
        migrations.AddIndex(
            model_name="job",
            index=models.Index(
                models.F("status"),
                models.F("finished_at"),
                condition=models.Q(("status__in", ("completed", "failed", "cancelled"))),
                name="pgflow_job_finished_idx",
            ),
        ),
        migrations.AddIndex(
            model_name="job",
            index=models.Index(
                models.F("task_name"),
                models.F("created_at"),
                condition=models.Q(("status__in", ("completed", "failed", "cancelled"))),
                name="pgflow_job_task_idx",
            ),
        ),
        migrations.AddIndex(
            model_name="job",
            index=models.Index(
                models.F("run"),
                condition=models.Q(("run__isnull", False)),
                name="pgflow_job_run_idx",
            ),
        ),
        migrations.AddIndex(
            model_name="job",
            index=models.Index(
                models.OrderBy(models.F("priority"), descending=True),
                models.F("run_at"),
                models.F("id"),
                condition=models.Q(
                    ("gated", True), ("impossible__isnull", True), ("status", "queued")
                ),
                name="pgflow_job_gated_idx",
            ),
        ),
        migrations.AddIndex(
            model_name="job",
            index=models.Index(
                models.F("queue"),
                models.OrderBy(models.F("priority"), descending=True),
                models.F("run_at"),
                models.F("id"),
                condition=models.Q(
                    ("gated", True), ("impossible__isnull", True), ("status", "queued")
                ),
                name="pgflow_job_gated_queue_idx",
            ),
        ),
        migrations.AddIndex(
            model_name="job",
            index=models.Index(
                models.F("id"),
                condition=models.Q(("impossible__isnull", False), ("status", "queued")),
                name="pgflow_job_impossible_idx",
            ),
        ),
        migrations.AddIndex(
            model_name="job",
            index=models.Index(
                models.F("lock_key"),
                models.F("id"),
                condition=models.Q(
                    ("lock_key__isnull", False), ("status__in", ["queued", "started"])
                ),
                name="pgflow_job_lock_key_idx",
            ),
        ),
        migrations.AddConstraint(
            model_name="job",
            constraint=models.UniqueConstraint(
                condition=models.Q(
                    ("status__in", ["queued", "started"]), ("unique_key__isnull", False)
                ),
                fields=("unique_key",),
                name="pgflow_job_unique_key_active",
            ),
        ),
        migrations.AddConstraint(
            model_name="job",
            constraint=models.CheckConstraint(
                condition=models.Q(("max_attempts__gte", 1)),
                name="pgflow_job_max_attempts_positive",
            ),
        ),
        migrations.AddConstraint(
            model_name="job",
            constraint=models.CheckConstraint(
                condition=models.Q(("attempts__gte", 0)), name="pgflow_job_attempts_nonnegative"
            ),
        ),
        migrations.AddConstraint(
            model_name="job",
            constraint=models.CheckConstraint(
                condition=models.Q(("timeout__gt", 0)), name="pgflow_job_timeout_positive"
            ),
        ),
        pgtrigger.migrations.AddTrigger(
            model_name="job",
            trigger=pgtrigger.compiler.Trigger(
                name="pgflow_job_status_fsm",
                sql=pgtrigger.compiler.UpsertTriggerSql(
                    condition="WHEN (OLD.\"status\" IS DISTINCT FROM NEW.\"status\" AND NOT ((OLD.\"status\" = 'queued' AND NEW.\"status\" IN ('started', 'cancelled')) OR (OLD.\"status\" = 'started' AND NEW.\"status\" IN ('completed', 'failed', 'queued', 'cancelled')) OR (OLD.\"status\" = 'failed' AND NEW.\"status\" IN ('queued')) OR (OLD.\"status\" = 'cancelled' AND NEW.\"status\" IN ('queued'))))",
                    func="RAISE EXCEPTION 'pgflow: invalid status transition % -> % on table %', OLD.status, NEW.status, TG_TABLE_NAME\n    USING ERRCODE = 'check_violation';\nRETURN NULL;",
                    hash="7d75abbd732f19454f17879c37121a6a479128a4",
                    operation="UPDATE",
                    pgid="pgtrigger_pgflow_job_status_fsm_c9657",
                    table="pgflow_job",
                    when="BEFORE",
                ),
            ),
        ),
        pgtrigger.migrations.AddTrigger(
            model_name="job",
            trigger=pgtrigger.compiler.Trigger(
                name="pgflow_job_attempts_monotonic",
                sql=pgtrigger.compiler.UpsertTriggerSql(
                    condition='WHEN (OLD."attempts" > (NEW."attempts"))',
                    func="RAISE EXCEPTION 'pgflow: attempts of job % cannot decrease (% -> %)', OLD.id, OLD.attempts, NEW.attempts;\nRETURN NULL;",
                    hash="6b564a53ec10aed129fed09e627ddfcb3d3d032c",
                    operation="UPDATE",
                    pgid="pgtrigger_pgflow_job_attempts_monotonic_a7820",
                    table="pgflow_job",
                    when="BEFORE",
                ),
            ),
        ),
        pgtrigger.migrations.AddTrigger(
            model_name="job",
            trigger=pgtrigger.compiler.Trigger(
                name="pgflow_job_notify_insert",
                sql=pgtrigger.compiler.UpsertTriggerSql(
                    func="PERFORM pg_notify('django_pgflow', q.queue)\nFROM (SELECT DISTINCT queue FROM new_rows WHERE status = 'queued') q;\nRETURN NULL;",
                    hash="ebf5bac9ae21cbb8dbc31b04f06c60698fb607e1",
                    level="STATEMENT",
                    operation="INSERT",
                    pgid="pgtrigger_pgflow_job_notify_insert_2fceb",
                    referencing="REFERENCING NEW TABLE AS new_rows ",
                    table="pgflow_job",
                    when="AFTER",
                ),
            ),
        ),
        pgtrigger.migrations.AddTrigger(
            model_name="job",
            trigger=pgtrigger.compiler.Trigger(
                name="pgflow_job_step_cascade",
                sql=pgtrigger.compiler.UpsertTriggerSql(
                    condition='WHEN (NEW."run_id" IS NOT NULL AND NEW."step_slug" IS NOT NULL AND OLD."status" IS DISTINCT FROM NEW."status" AND NEW."status" NOT IN (\'started\', \'completed\'))',
                    func="PERFORM django_pgflow.on_step_job(NEW.run_id, NEW.step_slug, NEW.task_index, NEW.id, NEW.status,\n                                  NEW.attempts, NEW.result, NEW.errors);\nRETURN NULL;",
                    hash="967bbfa41baa1475aa3e74c4961a1c1cf338d74a",
                    operation="UPDATE",
                    pgid="pgtrigger_pgflow_job_step_cascade_fe27b",
                    table="pgflow_job",
                    when="AFTER",
                ),
            ),
        ),
        pgtrigger.migrations.AddTrigger(
            model_name="job",
            trigger=pgtrigger.compiler.Trigger(
                name="pgflow_job_gate_requeue",
                sql=pgtrigger.compiler.UpsertTriggerSql(
                    condition='WHEN (NEW."status" = \'queued\' AND OLD."status" IS DISTINCT FROM (NEW."status"))',
                    func="NEW.gated := django_pgflow.gated(NEW.resources, NEW.lock_key,\n                                 EXISTS (SELECT 1 FROM pgflow_queue_limit l WHERE l.queue = NEW.queue));\nRETURN NEW;",
                    hash="0d4e69875d2439b3ed74c72f8b9c353e43436339",
                    operation="UPDATE",
                    pgid="pgtrigger_pgflow_job_gate_requeue_f662c",
                    table="pgflow_job",
                    when="BEFORE",
                ),
            ),
        ),
        pgtrigger.migrations.AddTrigger(
            model_name="job",
            trigger=pgtrigger.compiler.Trigger(
                name="pgflow_job_notify_release",
                sql=pgtrigger.compiler.UpsertTriggerSql(
                    condition="WHEN (OLD.\"status\" = 'started' AND NEW.\"status\" NOT IN ('started', 'completed') AND OLD.\"gated\")",
                    func="PERFORM pg_notify('django_pgflow', '*');\nRETURN NULL;",
                    hash="b8c3a3daae5edcd5e9e6981d60c68ccbee828751",
                    operation="UPDATE",
                    pgid="pgtrigger_pgflow_job_notify_release_9ad84",
                    table="pgflow_job",
                    when="AFTER",
                ),
            ),
        ),
        pgtrigger.migrations.AddTrigger(
            model_name="job",
            trigger=pgtrigger.compiler.Trigger(
                name="pgflow_job_notify_requeue",
                sql=pgtrigger.compiler.UpsertTriggerSql(
                    condition='WHEN (NEW."status" = \'queued\' AND OLD."status" IS DISTINCT FROM (NEW."status"))',
                    func="PERFORM pg_notify('django_pgflow', NEW.queue);\nRETURN NULL;",
                    hash="d956c74718a28aa81f3a9b9db5453e52ae575962",
                    operation="UPDATE",
                    pgid="pgtrigger_pgflow_job_notify_requeue_38601",
                    table="pgflow_job",
                    when="AFTER",
                ),
            ),
        ),
        pgtrigger.migrations.AddTrigger(
            model_name="job",
            trigger=pgtrigger.compiler.Trigger(
                name="pgflow_job_free_deleted",
                sql=pgtrigger.compiler.UpsertTriggerSql(
                    func="UPDATE pgflow_slot s SET job_id = NULL, attempt = NULL\nWHERE s.job_id IN (SELECT o.id FROM old_rows o WHERE o.gated);\nRETURN NULL;",
                    hash="5c59d8966e6a9ee2c2786bb5fc7809bd85bd8249",
                    level="STATEMENT",
                    operation="DELETE",
                    pgid="pgtrigger_pgflow_job_free_deleted_cd360",
                    referencing="REFERENCING OLD TABLE AS old_rows ",
                    table="pgflow_job",
                    when="AFTER",
                ),
            ),
        ),
        pgtrigger.migrations.AddTrigger(
            model_name="job",
            trigger=pgtrigger.compiler.Trigger(
                name="pgflow_job_free_truncated",
                sql=pgtrigger.compiler.UpsertTriggerSql(
                    func="UPDATE pgflow_slot SET job_id = NULL, attempt = NULL;\nRETURN NULL;",
                    hash="02a9675c9488830e48db46dab1c12b2e82d8aa9d",
                    level="STATEMENT",
                    operation="TRUNCATE",
                    pgid="pgtrigger_pgflow_job_free_truncated_7d7ce",
                    table="pgflow_job",
                    when="AFTER",
                ),
            ),
        ),
        django_pgflow.sql.InstallSQL(
            files={
                "checks/check_job.sql": "21acc41dffecf2b4d2d183c426b4868aab70074cb9e554eb7eaf35d8515aea08",
                "checks/check_job_json.sql": "9c7edd07d17af8aa452d7514c28e4631f85b43127c0234711cc4694f734b7937",
                "checks/check_json.sql": "7f9654a7e9e4c4f8decebb22290b6469781cb7f5856e8c4e2b179acc2167a32e",
                "checks/check_key.sql": "ebc39522cf0ff17ec4b9f5c7eff056c91941a8be4f582b935704f678a0c00584",
                "checks/check_possible.sql": "2f62e1574e93e107425bbf8f58712fa2c158e80cdcdd4989ee99c5e69a1c71f1",
                "checks/check_queue_name.sql": "69faad563854d436e82af7fbc67792cfe74afc14fdb39f61ec4d9f376543ae96",
                "checks/check_resources.sql": "eabfafa8f8b1e0f8a0f41b33dd09d26edc18506039f4fbffd799c6e4bc53e76a",
                "checks/check_seconds.sql": "a8025ec76bc0e511b4ebe35e312d0603021471ea2c5cc3b971a577f9cfac69c1",
                "checks/check_whole.sql": "08218cf452bf85e0463e571eb12d2a4abf49df8e40f68e70e9a8ff055bcf47e2",
                "checks/json_problem.sql": "1fa46ae046f3d7207d13219afa186e4f2d6806400019388ea5b10bb4e418545b",
                "checks/max_payload_bytes.sql": "69fdf340cbe279c837b2896688bd802422d2b5063716dd1971bc33a36a3ab915",
                "checks/resources_problem.sql": "694f9f8c7e901c91f710374cfe9d2c924c3a48db8ac54d7989af0a3ae9722784",
                "flows/add_step.sql": "6502909836447e91532d3e70c77669c2dec3d176e2a6849347f9c3660bab24ee",
                "flows/apply_failure_policy.sql": "c95f3bc04fd512268d82e7b426c3dee468cd67a7f71f08473829791185555660",
                "flows/cancel_run.sql": "71a18b1228a65a1bb84d8839e89f2402715524f7e557c585a0cb6618b4a5c87d",
                "flows/cancel_step_jobs.sql": "fb39cd77c32875dd11398c48970f8c510d740234c8fe6dee8f9b4741ccee78e8",
                "flows/check_flow.sql": "7ce3261331e0dbce4b17cca78fbcd0b75ac4630fca6ecd99bbdd63dac131b7e5",
                "flows/check_flow_step.sql": "92b99d5ab81768149c39c8b54894be5b046ed8033175e3cf1bea22f694c06bc9",
                "flows/complete_step.sql": "09060782ac9f8031601ee7ef11041e533396e0d9b80032852913ee3091027cc8",
                "flows/complete_step_tasks.sql": "6defbb6fc88927f5459223b4cf388eb49105600d20239e248e07c162df470b8c",
                "flows/create_flow.sql": "b435686c215018ccfd79f534b6536f9a3dca9b31c10dd1978db3b26bfca9fb20",
                "flows/fail_run.sql": "1c42ba86345901a8339a0e671d37d6ae04280be1f80815c0d5b1943542081029",
                "flows/fail_step_task.sql": "bae59a85bc752fb434848ce551a27c7be62bf66b405b062e070788ea1cbdead9",
                "flows/flow_changes.sql": "7b3f998fc925adf31bda4aaf751d7322753bc5c17deab3fc0c658f0ca47a2b82",
                "flows/get_run_with_states.sql": "6dd6b7ef46f9aa0577a3502f5d6a3400a2dd44a1f296d5e7e2c6149ce9c9d999",
                "flows/insert_flow_steps.sql": "1ee00bd4651fa287f93ccc91176fd9ed7ec3be29ae1bd544046177afb3e6ec7c",
                "flows/map_items.sql": "73a47edcbbea5a84dea04ca88ed979bcdfdaf4eae17472968cf4fd08e3430981",
                "flows/maybe_complete_run.sql": "3f3e12232dcd14524fc985035fbe7a4c5e5b44f09a862513b55049810f2e1920",
                "flows/on_step_job.sql": "fa516299e56e238c29002e3d990e054c1e258f3b54f72d387799c0f51f900d16",
                "flows/prune_runs.sql": "709125f78eef1644698985668f8cadebcf82f293ca42fa5960cf5ac3761de70e",
                "flows/queue_compensation.sql": "4be298ce6708cf031a7b6927bd9f64a08d63e2bbfadb0e4b4160e838e3400033",
                "flows/queue_step_tasks.sql": "c3e3b2387b53d7298467c03ae640a25c193fe20c5f82a6480203cb4632cbf80b",
                "flows/release_dependents.sql": "39c7a4683799551a58f31c613a0c96f24a5015d792d8c99816d7abe741d32d92",
                "flows/remove_flow.sql": "eace2c47c0dd7c18b41a27d1b8cb9513edb1269a75c56f08df86b5d0917a6b85",
                "flows/resume_run.sql": "8a177bf1b13f170652d1ce11e1f69eaf2b3c70513cf9554f8c71227e190ba2ba",
                "flows/skip_step.sql": "85cc294b21371c63efecda9bee7093a766405d929c0c2fec6c62c4bd67e421a8",
                "flows/start_flow.sql": "bfae16019ac826d168d9fd1b9c6f8e69f2ad9b8103e1a23ae9998295ff167bfe",
                "flows/start_ready_steps.sql": "3ce200828278ad71f34a383def387ac36a7a292e5464af465d8c4fb4bcfe5211",
                "flows/start_step.sql": "1f4a4cdc1d68ebdf132c8e7f85c503d2cbb2ebba2eb112b65f25f464c29c9db6",
                "flows/step_input.sql": "fe296939d2802ab128a1efa412de42502996dccb12678d66633a4c8859c505e0",
                "flows/step_task_name.sql": "99b4db28886c91eedd073a909f371b4500db3dcf83d1b0c76c9268de4e1a6d94",
                "flows/sync_flow.sql": "e92afd66763ae38c246ead7c09ec060558afff7e3086080a4c61177e1b6f924d",
                "flows/update_flow.sql": "021883e3fae26d8f2a18b502fb085c27755696fe871e884d6add81a9bcd30dcc",
                "gates/check_limits.sql": "43677df8d831f9db6bf01c87bc5dbf5cd81237e6b6ffa83ac937fde315daa4b5",
                "gates/claim_gated.sql": "8ce21835cefc5384a6cf3c6d4906dbdae7436ceacc6d753a7c12d3cbde756bf8",
                "gates/give_slots.sql": "6e2941d0090cd121ed77cd92fb097a3a2e1b9e1f004e7741bd96e0b932fb0e4b",
                "gates/give_slots_to_holders.sql": "a4b0989d585c1f52d697295b43f559eff9c6bdc5d5433989e9084feee886a518",
                "gates/pgflow_contention.sql": "2f2cdcc8786a52958e3f7322299cc340ca1539cf3b93a1a93e70435a2810a3aa",
                "gates/pgflow_slot_state.sql": "712ab43c9139c6ff5bfffdae006ddea7026b83c54ce47612d44eb471c406f949",
                "gates/pgflow_slot_storage.sql": "c548ab63ee3b89fcb06918e71890dd7f4f7d9638d4d7ff0741aa6500a9fb9fd3",
                "gates/pick_gated_batch.sql": "07e2ff1c902848d8196d7c0e3516de30f5ac5c0355d3d4b12a3d4ad88816de75",
                "gates/rate_used.sql": "491580c3b9c528e7d2a5d60212de0dd25b5fafa02c44b244d265fcb35c270d30",
                "gates/recheck_impossible.sql": "bda407f3b6444cdcb5b2ffaa6a926038758bda8ab556b4fcfb3b3edd9ac110b5",
                "gates/regate_queues.sql": "f04500bb8607a255ff4cdea40b2e7b3eebd01b2a7b66eb457f4e8fdd6de92e07",
                "gates/reserve_rate.sql": "e49f634c52a7b6a0c11ab4f1f6b879bccb63b4e58ce56b8bb586c1ff473bb5f0",
                "gates/reserve_rates.sql": "d02b4bc36b054a4c87e7bddc0acacb7e964cc1c5e3112d6a45a045c6904fdf65",
                "gates/size_slot_pool.sql": "adbe88e6529ddcfd007ecb0188a56c6130aee0eee4719d02ce2efe9625d77baf",
                "gates/store_limits.sql": "939e3296c06c08b60ae46eba6eaebc0463a6bf4ef00556c69bf1469241ecae61",
                "gates/sync_limits.sql": "9a3f243074da1726a2e206ca539b527b72870cf6c50ed6b6309fed204fb19426",
                "gates/sync_rate_shards.sql": "d0dfd0a3bb02f788de3a8e44580bd7f878e29de56b13bd9400565db3553f1631",
                "gates/sync_slots.sql": "852f0e49bd42f48fce62e428295071cae5390a97da25459477e8a9bc31262c88",
                "gates/take_gated.sql": "b12965d8b164d0ced464e36d47fb12b5a2d11a979b070ab4d45b79ddac0478b3",
                "gates/turn_down.sql": "8862b703905895060d3b087d2fcaeba1c650646a3237ba9c5fd00699f4c015d5",
                "periodic/enqueue_periodic.sql": "03f339748c41870b6c63b374dbb4dc15c03ae6f1a7cdd4b9faa74cb84e3a6d79",
                "periodic/sync_periodic.sql": "9fd61f89e079f2180067da8a01fbc1b7030ded11c17bf784eb3d501f21094f09",
                "queue/backoff.sql": "ec05d970109f8cb226ea431739bb6bea7b883f16a07b562d8a99d1f2f0d612d2",
                "queue/cancel.sql": "939fde213478193946fa7b3b62f1eb51a3b7cfed4548fdf2145bf8e84cc88a0b",
                "queue/check_batch.sql": "73e29b5534a07563887aca592873c9eb6316a6f95c691db3ee8a008ec110e72d",
                "queue/check_jobs_json.sql": "b641d926ea36d4622403bca2f7f9243185ceabb98a08b7852666f19427d301b5",
                "queue/check_metadata.sql": "efe77f479b079e11bef6a40e00682c77232b471aec46e5636f82e169560331ba",
                "queue/claim.sql": "9432fe03a6fb3a2bb5638fa3e2106f1b4206962c8725bbf158b161c8647c4b0f",
                "queue/complete.sql": "0e5017aea79a0a30061e5cb3bebd646198fb0975908259db6ddba76bd8af0916",
                "queue/complete_and_claim.sql": "5fe1df36b9e27da4658529361e56d08e6e2a93a25fd482c1900dce8ca1a9718c",
                "queue/complete_many.sql": "5ed05eb45cfac1bfb0fe3ac34813c2906360a99854ef92d2ebce25cced8de579",
                "queue/enqueue.sql": "feaeee8416c173d0ef2f7de00a4e69f002896c490bc6c1c1f7832d465f775a7f",
                "queue/enqueue_batch.sql": "f9a275853aab04c2776d670c8d725817b38901766623c2a8e4847a393b5eef28",
                "queue/enqueue_keyed.sql": "877fc9a3055da175b5de1f7581dbb4addc1e11de957c5fafd3463389557723a7",
                "queue/enqueue_many.sql": "32b2e6accc74da4540446cbf5d1154974f74e77c88af2106a42527e7abcb3c12",
                "queue/fail.sql": "7a0b280b6bbb60eda748e2e725901abda6f5a503195bf3ae81237c350ef5d4fe",
                "queue/fail_attempt.sql": "de9ef94bc405d49e3e65fd43bd9b10dd40f68d82d69445811978bf7ec8b6678e",
                "queue/gated.sql": "b46c1d22fae19b4893c39cf6091033e9a765355dcd7d505a3c73f2650603fd3d",
                "queue/pgflow_job_ready_idx.sql": "128d2d0ef8e1f6243452eab2559026fc97f29d842ac58382dae8d8b6eebceda7",
                "queue/prune.sql": "39e1b62b6896d39ed52a03f3748d556c869938d2cc8b4e417db2445647f81d1e",
                "queue/readable_error.sql": "44eed9e06a90bf0754c2e65cc5bbc4d9079e9a03a21834779d3f5dd2d82433d4",
                "queue/result_problem.sql": "c577c3af19ab2860edd0db1298d016470e7af2887797ccca2e4f0892cf86b7f7",
                "queue/retry.sql": "22bea17e210680294a3c6059fbc0c56400141cf71998389c4816862b407c87ce",
                "queue/run_now.sql": "2b5b7292b6efc45f95644fb849144651cf6b570ec351636e1427417919df9627",
                "queue/unreadable_results.sql": "0e86a8fb335d3190738d60a084e4a98b0ca24254c54b06b902dc7deecb8a740f",
                "schema.sql": "ffbf755e2ef1af5af5134fe6187860ecda4156372aebdba9bcaa1340dee0446b",
                "workers/check_worker.sql": "4145903faf9ab6b345e6dc5461989bcce137932ba61a246cb0f4cc92a7b3a120",
                "workers/heartbeat.sql": "97d239e9c2ea3a86d6c4ca83d2a2284ac9bfe6397ee8f556015dfad24b47c7d7",
                "workers/prune_workers.sql": "927e9b834fc4a576892310637ac4683bebc30ff518f793291a7c4f869b9eba24",
                "workers/reap.sql": "ee7cc5f94f926632d6c71b5a0cb98f1f21c25beca4d53327c12aba1c5f93d264",
                "workers/register_worker.sql": "0f46a73c23d1a1da90676b4c71c0d6fa5517d3c785c1ac280ff2a14467d5c562",
                "workers/release.sql": "128fcefb8153d7e0a1185a7be86f74991ca12b23ba39e35acc81885935f1e790",
                "workers/release_unknown.sql": "7e0307a4d9aacffd72205b68ba933f8c277010950470cd7017467d11e66f724c",
                "workers/stop_worker.sql": "16a859a40d6957d0f25cf217b2462e94004ed147710c6dd8f6838bd578d50fce",
                "workers/worker_lost.sql": "519b43378f2ac3bb61b8cee2e3545d8baf7c6a24a67e6b25097d7dbaf6714971",
            },
            reverse_sql="DROP VIEW IF EXISTS pgflow_contention, pgflow_slot_state;\nDROP INDEX IF EXISTS pgflow_job_ready_idx;\nDROP SCHEMA IF EXISTS django_pgflow CASCADE;\n",
        ),
    ]
