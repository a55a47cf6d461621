from django.db import migrations

from django_pgflow.sql import RunSQLFolder


class Migration(migrations.Migration):
    dependencies = [("django_pgflow", "0003_workflow_tables")]

    operations = [RunSQLFolder("0004_workflow_functions")]
