import pgtrigger.compiler
import pgtrigger.migrations
from django.db import migrations, models

from django_pgflow.sql import SQL_DIR, RunSQLFolder

# Back to 0007: enqueue() must name 0007's index predicate again, or every
# keyed enqueue would fail to find its ON CONFLICT arbiter.
REVERSE_SQL = (
    (SQL_DIR / "0002_queue_functions" / "10_enqueue.sql").read_text()
    + "\nDROP FUNCTION IF EXISTS django_pgflow.complete_and_claim("
    "bigint, text[], integer, float8, bigint[], integer[], jsonb[], bigint[]);"
)


class Migration(migrations.Migration):
    dependencies = [
        ("django_pgflow", "0007_prune_runs"),
    ]

    operations = [
        # Keyless jobs leave the unique-key index; enqueue()'s ON CONFLICT names
        # the new predicate (applied below, in the same transaction).
        migrations.RemoveConstraint(
            model_name="job",
            name="pgflow_job_unique_key_active",
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
        # The status FSM triggers: a cheaper WHEN clause, same transitions.
        pgtrigger.migrations.RemoveTrigger(
            model_name="job",
            name="pgflow_job_status_fsm",
        ),
        pgtrigger.migrations.RemoveTrigger(
            model_name="stepstate",
            name="pgflow_step_state_status_fsm",
        ),
        pgtrigger.migrations.RemoveTrigger(
            model_name="steptask",
            name="pgflow_step_task_status_fsm",
        ),
        pgtrigger.migrations.RemoveTrigger(
            model_name="workflowrun",
            name="pgflow_run_status_fsm",
        ),
        pgtrigger.migrations.AddTrigger(
            model_name="job",
            trigger=pgtrigger.compiler.Trigger(
                name="pgflow_job_status_fsm",
                sql=pgtrigger.compiler.UpsertTriggerSql(
                    condition="WHEN (OLD.\"status\" IS DISTINCT FROM NEW.\"status\" AND NOT ((OLD.\"status\" = 'queued' AND NEW.\"status\" IN ('started', 'cancelled')) OR (OLD.\"status\" = 'started' AND NEW.\"status\" IN ('completed', 'failed', 'queued', 'cancelled')) OR (OLD.\"status\" = 'failed' AND NEW.\"status\" IN ('queued')) OR (OLD.\"status\" = 'cancelled' AND NEW.\"status\" IN ('queued'))))",
                    func="RAISE EXCEPTION 'pgflow: invalid status transition % -> % on table %', OLD.status, NEW.status, TG_TABLE_NAME USING ERRCODE = 'check_violation'; RETURN NULL;",
                    hash="39f5242efb095820f81fbf1cde77973ee41a825e",
                    operation="UPDATE",
                    pgid="pgtrigger_pgflow_job_status_fsm_c9657",
                    table="pgflow_job",
                    when="BEFORE",
                ),
            ),
        ),
        pgtrigger.migrations.AddTrigger(
            model_name="stepstate",
            trigger=pgtrigger.compiler.Trigger(
                name="pgflow_step_state_status_fsm",
                sql=pgtrigger.compiler.UpsertTriggerSql(
                    condition="WHEN (OLD.\"status\" IS DISTINCT FROM NEW.\"status\" AND NOT ((OLD.\"status\" = 'created' AND NEW.\"status\" IN ('started', 'completed', 'skipped', 'failed', 'cancelled')) OR (OLD.\"status\" = 'started' AND NEW.\"status\" IN ('completed', 'failed', 'skipped', 'cancelled')) OR (OLD.\"status\" = 'failed' AND NEW.\"status\" IN ('created')) OR (OLD.\"status\" = 'cancelled' AND NEW.\"status\" IN ('created')) OR (OLD.\"status\" = 'skipped' AND NEW.\"status\" IN ('created'))))",
                    func="RAISE EXCEPTION 'pgflow: invalid status transition % -> % on table %', OLD.status, NEW.status, TG_TABLE_NAME USING ERRCODE = 'check_violation'; RETURN NULL;",
                    hash="5429cc2c21951e8b8ba8c2720ced69f6cc2cb70a",
                    operation="UPDATE",
                    pgid="pgtrigger_pgflow_step_state_status_fsm_27b71",
                    table="pgflow_step_state",
                    when="BEFORE",
                ),
            ),
        ),
        pgtrigger.migrations.AddTrigger(
            model_name="steptask",
            trigger=pgtrigger.compiler.Trigger(
                name="pgflow_step_task_status_fsm",
                sql=pgtrigger.compiler.UpsertTriggerSql(
                    condition="WHEN (OLD.\"status\" IS DISTINCT FROM NEW.\"status\" AND NOT ((OLD.\"status\" = 'queued' AND NEW.\"status\" IN ('started', 'cancelled', 'failed')) OR (OLD.\"status\" = 'started' AND NEW.\"status\" IN ('queued', 'completed', 'failed', 'cancelled')) OR (OLD.\"status\" = 'failed' AND NEW.\"status\" IN ('queued')) OR (OLD.\"status\" = 'cancelled' AND NEW.\"status\" IN ('queued'))))",
                    func="RAISE EXCEPTION 'pgflow: invalid status transition % -> % on table %', OLD.status, NEW.status, TG_TABLE_NAME USING ERRCODE = 'check_violation'; RETURN NULL;",
                    hash="d8d0ad89b28d17d4c96a09f8c994953faf904594",
                    operation="UPDATE",
                    pgid="pgtrigger_pgflow_step_task_status_fsm_f3c62",
                    table="pgflow_step_task",
                    when="BEFORE",
                ),
            ),
        ),
        pgtrigger.migrations.AddTrigger(
            model_name="workflowrun",
            trigger=pgtrigger.compiler.Trigger(
                name="pgflow_run_status_fsm",
                sql=pgtrigger.compiler.UpsertTriggerSql(
                    condition="WHEN (OLD.\"status\" IS DISTINCT FROM NEW.\"status\" AND NOT ((OLD.\"status\" = 'started' AND NEW.\"status\" IN ('completed', 'failed', 'cancelled')) OR (OLD.\"status\" = 'failed' AND NEW.\"status\" IN ('started')) OR (OLD.\"status\" = 'cancelled' AND NEW.\"status\" IN ('started'))))",
                    func="RAISE EXCEPTION 'pgflow: invalid status transition % -> % on table %', OLD.status, NEW.status, TG_TABLE_NAME USING ERRCODE = 'check_violation'; RETURN NULL;",
                    hash="61d961780e5ee4d6e483674302a691df315eab7a",
                    operation="UPDATE",
                    pgid="pgtrigger_pgflow_run_status_fsm_57414",
                    table="pgflow_run",
                    when="BEFORE",
                ),
            ),
        ),
        RunSQLFolder("0008_fast_path", reverse_sql=REVERSE_SQL),
    ]
