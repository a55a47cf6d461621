from django.db import migrations

from django_pgflow.sql import RunSQLFolder


class Migration(migrations.Migration):
    dependencies = [("django_pgflow", "0001_initial")]

    operations = [
        RunSQLFolder(
            "0002_queue_functions",
            reverse_sql="DROP SCHEMA IF EXISTS django_pgflow CASCADE; DROP INDEX IF EXISTS pgflow_job_ready_idx",
        ),
    ]
