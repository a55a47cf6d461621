"""Trust, second round: payloads every part can read, no job kept waiting by an
impossible one, a worker role that acts through the SQL functions alone.

- Payloads: json_problem() refuses JSON that Python cannot read back (numbers
  beyond a double, nesting deeper than 100); sizes are checked against
  PGFLOW["MAX_PAYLOAD_BYTES"], stored in pgflow_config by sync_limits.
- Resources: a request that could never be met is refused at enqueue and at
  start_flow; a queued job made impossible later (a lowered capacity) is set
  aside (pgflow_job.impossible, out of the gated indexes) until it fits again.
- Workers: their entry points are SECURITY DEFINER, reports are fenced by
  worker as well as attempt, flow definitions are written by sync_flow().
- Arguments: claim() checks its worker, lease margin and limit; sync_limits()
  bounds capacities; start_flow() refuses a SQL NULL input and empty run keys;
  enqueue_many() refuses an empty lock key; step task names cannot be enqueued.
"""

import django.db.models.functions.datetime
from django.db import migrations, models

from django_pgflow.sql import SQL_DIR, RunSQLFolder, read_sql

# Back to 0013: drop what 0014 added, restore the functions it replaced.
REVERSE_SQL = "\n\n".join(
    [
        """
        DROP FUNCTION django_pgflow.complete_and_claim(bigint, text[], integer, float8, bigint[], integer[], jsonb[], bigint[]);
        DROP FUNCTION django_pgflow.complete(bigint, bigint, integer, jsonb);
        DROP FUNCTION django_pgflow.complete_many(bigint, bigint[], integer[], jsonb[], bigint[]);
        DROP FUNCTION django_pgflow.fail(bigint, bigint, integer, jsonb, boolean);
        DROP FUNCTION django_pgflow.sync_limits(jsonb, jsonb, jsonb);
        DROP FUNCTION django_pgflow.check_job(text, text, jsonb, jsonb, integer, timestamptz, float8, integer, float8, float8, float8, text, text);
        DROP FUNCTION django_pgflow.sync_flow(jsonb);
        DROP FUNCTION django_pgflow.update_flow(pgflow_flow, jsonb, boolean);
        DROP FUNCTION django_pgflow.insert_flow_steps(bigint, jsonb);
        DROP FUNCTION django_pgflow.check_flow(jsonb);
        DROP FUNCTION django_pgflow.check_flow_step(jsonb, bigint);
        DROP FUNCTION django_pgflow.worker_lost(bigint);
        DROP FUNCTION django_pgflow.check_limits(jsonb, jsonb, jsonb);
        DROP FUNCTION django_pgflow.check_whole(text, jsonb, integer, integer, boolean);
        DROP FUNCTION django_pgflow.unreadable_results(bigint[], jsonb[]);
        DROP FUNCTION django_pgflow.result_problem(jsonb);
        DROP FUNCTION django_pgflow.readable_error(jsonb);
        DROP FUNCTION django_pgflow.fail_attempt(bigint, integer, jsonb, boolean);
        DROP FUNCTION django_pgflow.check_worker(bigint);
        DROP FUNCTION django_pgflow.check_possible(jsonb);
        DROP FUNCTION django_pgflow.resources_problem(jsonb);
        DROP FUNCTION django_pgflow.check_key(text, text);
        DROP FUNCTION django_pgflow.check_json(text, jsonb, integer);
        DROP FUNCTION django_pgflow.max_payload_bytes();
        DROP FUNCTION django_pgflow.json_problem(jsonb);
        """,
        *(
            (SQL_DIR / folder / name).read_text()
            for folder, name in [
                ("0002_queue_functions", "32_fail.sql"),
                ("0010_input_checks", "02_check_job.sql"),
                ("0010_input_checks", "03_check_job_json.sql"),
                ("0010_input_checks", "10_enqueue.sql"),
                ("0010_input_checks", "11_enqueue_many.sql"),
                ("0010_input_checks", "44_reap.sql"),
                ("0004_workflow_functions", "10_start_flow.sql"),
                ("0009_resources_and_limits", "31_claim.sql"),
                ("0013_slots_by_attempt", "30_claim_gated.sql"),
                ("0013_slots_by_attempt", "40_complete.sql"),
                ("0008_fast_path", "20_complete_and_claim.sql"),
                ("0012_parallel_gates", "21_sync_limits.sql"),
            ]
        ),
        """
        ALTER FUNCTION django_pgflow.claim(bigint, text[], integer, float8) SECURITY INVOKER;
        ALTER FUNCTION django_pgflow.heartbeat(bigint, float8) SECURITY INVOKER;
        ALTER FUNCTION django_pgflow.register_worker(text, integer, jsonb, integer) SECURITY INVOKER;
        ALTER FUNCTION django_pgflow.release(bigint, bigint[]) SECURITY INVOKER;
        ALTER FUNCTION django_pgflow.release_unknown(bigint, bigint[]) SECURITY INVOKER;
        ALTER FUNCTION django_pgflow.stop_worker(bigint) SECURITY INVOKER;
        ALTER FUNCTION django_pgflow.reap(float8) SECURITY INVOKER;
        ALTER FUNCTION django_pgflow.prune(text, float8, integer) SECURITY INVOKER;
        ALTER FUNCTION django_pgflow.prune_runs(text, float8, integer) SECURITY INVOKER;
        ALTER FUNCTION django_pgflow.prune_workers(float8) SECURITY INVOKER;
        ALTER FUNCTION django_pgflow.sync_periodic(text, text, text, text, jsonb, timestamptz, timestamptz) SECURITY INVOKER;
        ALTER FUNCTION django_pgflow.enqueue_periodic(text, timestamptz, timestamptz) SECURITY INVOKER;
        ALTER FUNCTION django_pgflow.rate_used(text, timestamptz) SECURITY INVOKER;
        """,
        read_sql("0011_security"),
    ]
)


class Migration(migrations.Migration):
    dependencies = [
        ("django_pgflow", "0013_slots_by_attempt"),
    ]

    operations = [
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
            },
        ),
        migrations.RemoveIndex(
            model_name="job",
            name="pgflow_job_gated_idx",
        ),
        migrations.RemoveIndex(
            model_name="job",
            name="pgflow_job_gated_queue_idx",
        ),
        migrations.AddField(
            model_name="job",
            name="impossible",
            field=models.TextField(
                blank=True,
                help_text="Set by the database on a queued job that asks for more of a resource than its capacity (lowered since it was enqueued): why it cannot start. Such a job waits aside, keeping no other job waiting, until the capacity allows it again.",
                null=True,
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
        migrations.AddConstraint(
            model_name="config",
            constraint=models.CheckConstraint(
                condition=models.Q(("id", 1)), name="pgflow_config_one_row"
            ),
        ),
        migrations.AddConstraint(
            model_name="config",
            constraint=models.CheckConstraint(
                condition=models.Q(("max_payload_bytes__range", (1, 67108864))),
                name="pgflow_config_max_payload_bytes_range",
            ),
        ),
        RunSQLFolder("0014_trust", reverse_sql=REVERSE_SQL),
        # 0011's hardening again, for the functions created or replaced above.
        migrations.RunSQL(read_sql("0011_security"), reverse_sql=migrations.RunSQL.noop),
    ]
