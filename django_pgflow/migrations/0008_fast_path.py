from django.db import migrations, models

from django_pgflow.sql import RunSQLFolder


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
        RunSQLFolder("0008_fast_path"),
    ]
