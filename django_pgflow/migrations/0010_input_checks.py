from django.db import migrations

from django_pgflow.sql import RunSQLFolder


class Migration(migrations.Migration):
    """Checks of every argument in the SQL functions that callers reach directly."""

    dependencies = [
        ("django_pgflow", "0009_resources_and_limits"),
    ]

    operations = [
        RunSQLFolder("0010_input_checks"),
    ]
