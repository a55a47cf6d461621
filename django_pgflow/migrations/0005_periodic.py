import django.db.models.functions.datetime
from django.db import migrations, models

from django_pgflow.sql import RunSQLFolder


class Migration(migrations.Migration):
    dependencies = [("django_pgflow", "0004_workflow_functions")]

    operations = [
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
            options={"db_table": "pgflow_periodic"},
        ),
        RunSQLFolder(
            "0005_periodic",
            reverse_sql=(
                "DROP FUNCTION IF EXISTS django_pgflow.enqueue_periodic(text, timestamptz, timestamptz); "
                "DROP FUNCTION IF EXISTS django_pgflow.sync_periodic("
                "text, text, text, text, jsonb, timestamptz, timestamptz)"
            ),
        ),
    ]
