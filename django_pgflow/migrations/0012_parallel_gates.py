"""Gates without a shared lock: capacity as slot rows, rate limits as shards.

Claims of gated jobs took one advisory lock, held until they committed, so
every worker's claims of GPU jobs or of a limited queue waited for each
other's commit. Each unit of capacity is now a row in ``pgflow_slot`` and each
rate limit a few rows in ``pgflow_queue_rate_shard``, taken ``FOR UPDATE SKIP
LOCKED``; lock keys need no lock at all (one snapshot sees an earlier job of
the key queued or started). The release trigger frees a job's slots when it
leaves ``started``.
"""

import pgtrigger.compiler
import pgtrigger.migrations
from django.db import migrations, models

import django_pgflow.models.limits
from django_pgflow.sql import RunSQLFolder, read_sql

# Back to 0011: the 0009 gate functions (the single advisory lock) and view,
# hardened as 0011 left them. Applied after the rate bucket table is back.
REVERSE_SQL = "\n\n".join(
    [
        read_sql("0009_resources_and_limits", skip=("00_ready_index.sql",)),
        read_sql("0011_security"),
        "DROP FUNCTION django_pgflow.reserve_rate(text, integer, timestamptz);"
        " DROP FUNCTION django_pgflow.rate_used(text, timestamptz);"
        " DROP FUNCTION django_pgflow.sync_slots();",
    ]
)


class Migration(migrations.Migration):
    dependencies = [
        ("django_pgflow", "0011_security"),
    ]

    operations = [
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
                ("retired", models.BooleanField(db_default=False, default=False)),
            ],
            options={
                "db_table": "pgflow_slot",
            },
        ),
        pgtrigger.migrations.RemoveTrigger(
            model_name="job",
            name="pgflow_job_notify_release",
        ),
        pgtrigger.migrations.AddTrigger(
            model_name="job",
            trigger=pgtrigger.compiler.Trigger(
                name="pgflow_job_release",
                sql=pgtrigger.compiler.UpsertTriggerSql(
                    condition='WHEN (OLD."status" = \'started\' AND NEW."status" <> \'started\' AND OLD."gated")',
                    func="\nUPDATE pgflow_slot SET job_id = NULL WHERE job_id = OLD.id;\nPERFORM pg_notify('django_pgflow', '*');\nRETURN NULL;\n",
                    hash="c1c7b57566e2cab3a54c54ba98ca250820010a01",
                    operation="UPDATE",
                    pgid="pgtrigger_pgflow_job_release_8ae41",
                    table="pgflow_job",
                    when="AFTER",
                ),
            ),
        ),
        migrations.AddConstraint(
            model_name="queuerateshard",
            constraint=models.UniqueConstraint(
                fields=("queue", "shard"), name="pgflow_queue_rate_shard_unit"
            ),
        ),
        migrations.AddIndex(
            model_name="slot",
            index=models.Index(
                condition=models.Q(("job_id__isnull", False)),
                fields=["job_id"],
                name="pgflow_slot_job_idx",
            ),
        ),
        migrations.AddIndex(
            model_name="slot",
            index=models.Index(
                condition=models.Q(("retired", True)),
                fields=["kind", "name"],
                name="pgflow_slot_retired_idx",
            ),
        ),
        migrations.AddIndex(
            model_name="job",
            index=models.Index(
                models.F("queue"),
                models.OrderBy(models.F("priority"), descending=True),
                models.F("run_at"),
                models.F("id"),
                condition=models.Q(("gated", True), ("status", "queued")),
                name="pgflow_job_gated_queue_idx",
            ),
        ),
        RunSQLFolder("0012_parallel_gates", reverse_sql=REVERSE_SQL),
        # 0011's hardening again, for the functions created above: pg_temp last
        # in their search_path, and no EXECUTE for PUBLIC (0011's per-schema
        # default privileges cannot revoke the global default that grants it).
        migrations.RunSQL(
            read_sql("0011_security", skip=("20_security_definer.sql",)),
            reverse_sql=migrations.RunSQL.noop,
        ),
        # After the view above stopped reading it.
        migrations.DeleteModel(
            name="QueueRateBucket",
        ),
    ]
