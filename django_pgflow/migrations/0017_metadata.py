"""``metadata`` on jobs and runs: context carried with the work, never passed to the task.

A jsonb object, ``'{}'`` by default, NOT NULL. Its first user is OpenTelemetry
(``metadata["trace"]``, the carrier of the enqueuing span) and shadow mode
(``metadata["shadow"]``). A constant default: PostgreSQL adds the column
without rewriting the table.

Numbered 0017 as the lead asked before 0001-0016 were folded into
0001_initial; renumber it freely (nothing refers to its name but the health
check, which reads the newest migration from the graph).
"""

from django.db import migrations, models

FIELD = models.JSONField(
    blank=True,
    db_default=models.Value({}, output_field=models.JSONField()),
    default=dict,
    help_text="Context carried with it, not passed to the task (e.g. a trace carrier).",
)


class Migration(migrations.Migration):
    dependencies = [
        ("django_pgflow", "0001_initial"),
    ]

    operations = [
        migrations.AddField(model_name="job", name="metadata", field=FIELD),
        migrations.AddField(model_name="workflowrun", name="metadata", field=FIELD.clone()),
    ]
