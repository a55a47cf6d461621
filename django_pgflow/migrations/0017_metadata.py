"""``metadata`` on jobs and runs: context carried with the work, never passed to the task.

A jsonb object, ``'{}'`` by default, NOT NULL. Its first user is OpenTelemetry
(``metadata["trace"]``, the carrier of the enqueuing span) and shadow mode
(``metadata["shadow"]``). A constant default: PostgreSQL adds the column
without rewriting the table.

Numbered 0017 to leave room for the migrations landing before it; its
dependency is the newest migration of the branch it was written on.
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
        ("django_pgflow", "0013_slots_by_attempt"),
    ]

    operations = [
        migrations.AddField(model_name="job", name="metadata", field=FIELD),
        migrations.AddField(model_name="workflowrun", name="metadata", field=FIELD.clone()),
    ]
