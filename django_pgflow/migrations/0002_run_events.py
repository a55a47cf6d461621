"""Run and step events: every status change, recorded and announced.

pgflow_event holds one row per status change of a run or of a step, written
by triggers on pgflow_run and pgflow_step_state through
django_pgflow.emit_event, in the transaction that makes the change, and
announced on the channel django_pgflow_events at commit. Reversible: back to
0001 drops the table, the triggers and the function; no other row changes.
"""

import django.db.models.deletion
import pgtrigger.compiler
import pgtrigger.migrations
from django.db import migrations, models

import django_pgflow.sql


class Migration(migrations.Migration):
    dependencies = [
        ("django_pgflow", "0001_initial"),
    ]

    operations = [
        migrations.RunSQL(
            sql="",
            reverse_sql="DROP FUNCTION IF EXISTS pgtrigger_pgflow_run_event_67abb();\nDROP FUNCTION IF EXISTS pgtrigger_pgflow_run_forget_events_3aa0f();\nDROP FUNCTION IF EXISTS pgtrigger_pgflow_run_started_event_388f8();\nDROP FUNCTION IF EXISTS pgtrigger_pgflow_step_state_event_b65b0();\n",
        ),
        migrations.CreateModel(
            name="RunEvent",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                ("flow_slug", models.CharField(max_length=63)),
                ("step_slug", models.CharField(blank=True, max_length=63, null=True)),
                ("status", models.CharField(max_length=16)),
                (
                    "origin",
                    models.TextField(
                        blank=True,
                        help_text="The worker whose transaction made the change, if any.",
                        null=True,
                    ),
                ),
                ("at", models.DateTimeField()),
                (
                    "run",
                    models.ForeignKey(
                        db_constraint=False,
                        db_index=False,
                        on_delete=django.db.models.deletion.DO_NOTHING,
                        related_name="event_rows",
                        to="django_pgflow.workflowrun",
                    ),
                ),
            ],
            options={
                "db_table": "pgflow_event",
            },
        ),
        pgtrigger.migrations.AddTrigger(
            model_name="workflowrun",
            trigger=pgtrigger.compiler.Trigger(
                name="pgflow_run_started_event",
                sql=pgtrigger.compiler.UpsertTriggerSql(
                    func="PERFORM django_pgflow.emit_event(NEW.id, NULL, NEW.status);\nRETURN NULL;",
                    hash="ca623d65b870d693fca5606a9aa20c1b93019471",
                    operation="INSERT",
                    pgid="pgtrigger_pgflow_run_started_event_388f8",
                    table="pgflow_run",
                    when="AFTER",
                ),
            ),
        ),
        pgtrigger.migrations.AddTrigger(
            model_name="workflowrun",
            trigger=pgtrigger.compiler.Trigger(
                name="pgflow_run_event",
                sql=pgtrigger.compiler.UpsertTriggerSql(
                    condition='WHEN (OLD."status" IS DISTINCT FROM (NEW."status"))',
                    func="PERFORM django_pgflow.emit_event(NEW.id, NULL, NEW.status);\nRETURN NULL;",
                    hash="bfa4394b454baebf01eeae23a2533a87eca6280d",
                    operation="UPDATE",
                    pgid="pgtrigger_pgflow_run_event_67abb",
                    table="pgflow_run",
                    when="AFTER",
                ),
            ),
        ),
        pgtrigger.migrations.AddTrigger(
            model_name="workflowrun",
            trigger=pgtrigger.compiler.Trigger(
                name="pgflow_run_forget_events",
                sql=pgtrigger.compiler.UpsertTriggerSql(
                    func="DELETE FROM pgflow_event e WHERE e.run_id IN (SELECT o.id FROM old_rows o);\nRETURN NULL;",
                    hash="5f0c5b11adbc23490259972cd318740ada99ebfc",
                    level="STATEMENT",
                    operation="DELETE",
                    pgid="pgtrigger_pgflow_run_forget_events_3aa0f",
                    referencing="REFERENCING OLD TABLE AS old_rows ",
                    table="pgflow_run",
                    when="AFTER",
                ),
            ),
        ),
        pgtrigger.migrations.AddTrigger(
            model_name="stepstate",
            trigger=pgtrigger.compiler.Trigger(
                name="pgflow_step_state_event",
                sql=pgtrigger.compiler.UpsertTriggerSql(
                    condition='WHEN (OLD."status" IS DISTINCT FROM (NEW."status") AND NOT (NEW."status" = \'created\'))',
                    func="PERFORM django_pgflow.emit_event(NEW.run_id, NEW.step_slug, NEW.status);\nRETURN NULL;",
                    hash="2bb4955b098d2cba4de2d1316cdf555817950695",
                    operation="UPDATE",
                    pgid="pgtrigger_pgflow_step_state_event_b65b0",
                    table="pgflow_step_state",
                    when="AFTER",
                ),
            ),
        ),
        migrations.AddIndex(
            model_name="runevent",
            index=models.Index(fields=["run", "id"], name="pgflow_event_run_idx"),
        ),
        django_pgflow.sql.InstallSQL(
            files={
                "flows/emit_event.sql": "71a15cbb3ec7b63861bf99b48d685bf69ca03f13c292452d7c8a5c57bf40a786"
            },
            reverse_sql="DROP FUNCTION django_pgflow.emit_event(bigint, text, text);",
        ),
    ]
