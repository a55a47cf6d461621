"""Slots name the attempt they were given to; nothing writes them on release.

0012 freed a job's slots in a row trigger whenever it left ``started``: an
UPDATE of ``pgflow_slot`` (and of its holder index) per finished job, about a
third of what gating cost the claim path. A slot now records ``(job_id,
attempt)`` and is free as soon as the job's row shows that attempt over (a
later attempt, or the same one no longer ``started``): the view
``pgflow_slot_state`` says so. Claims lock and give out slots in one
statement, a HOT update now that no indexed column changes.
Deleting jobs clears the slots they name (a statement trigger). Completing a
gated job wakes the workers from ``complete_many`` and ``complete``; the row
trigger left wakes them on the other ways out of ``started``.
"""

import pgtrigger.compiler
import pgtrigger.migrations
from django.db import migrations, models

from django_pgflow.sql import SQL_DIR, RunSQLFolder, read_sql

# Back to 0012: no slot view; its functions, and the completions of 0002 and
# 0004 (which left the wake-up to 0012's trigger), hardened again. (The slots
# given to attempts that are over are cleared further down, by CLEAR_OVER.)
REVERSE_SQL = "\n\n".join(
    [
        "DROP VIEW pgflow_slot_state;",
        *(
            (SQL_DIR / folder / name).read_text()
            for folder, name in [
                ("0012_parallel_gates", "20_sync_slots.sql"),
                ("0012_parallel_gates", "30_claim_gated.sql"),
                ("0002_queue_functions", "30_complete.sql"),
                ("0004_workflow_functions", "51_complete_many.sql"),
            ]
        ),
        read_sql("0011_security", skip=("20_security_definer.sql",)),
    ]
)

# Upgrading: a slot 0012 shows held is held by the job's current attempt.
GIVE_ATTEMPTS = """
UPDATE pgflow_slot s SET attempt = j.attempts FROM pgflow_job j WHERE j.id = s.job_id;
UPDATE pgflow_slot s SET job_id = NULL WHERE s.job_id IS NOT NULL AND s.attempt IS NULL;
"""
CLEAR_OVER = """
UPDATE pgflow_slot s SET job_id = NULL, attempt = NULL
WHERE s.job_id IS NOT NULL AND NOT EXISTS (
    SELECT 1 FROM pgflow_job h WHERE h.id = s.job_id
    AND (h.attempts < s.attempt OR (h.attempts = s.attempt AND h.status = 'started')));
"""


class Migration(migrations.Migration):
    dependencies = [
        ("django_pgflow", "0012_parallel_gates"),
    ]

    operations = [
        pgtrigger.migrations.RemoveTrigger(
            model_name="job",
            name="pgflow_job_release",
        ),
        migrations.RemoveIndex(
            model_name="slot",
            name="pgflow_slot_job_idx",
        ),
        migrations.AddField(
            model_name="slot",
            name="attempt",
            field=models.IntegerField(
                blank=True, help_text="The attempt of job_id the slot was given to.", null=True
            ),
        ),
        pgtrigger.migrations.AddTrigger(
            model_name="job",
            trigger=pgtrigger.compiler.Trigger(
                name="pgflow_job_notify_release",
                sql=pgtrigger.compiler.UpsertTriggerSql(
                    condition="WHEN (OLD.\"status\" = 'started' AND NEW.\"status\" NOT IN ('started', 'completed') AND OLD.\"gated\")",
                    func="PERFORM pg_notify('django_pgflow', '*'); RETURN NULL;",
                    hash="6c1b07e375420b61b51fa88f210a3944642cff0a",
                    operation="UPDATE",
                    pgid="pgtrigger_pgflow_job_notify_release_9ad84",
                    table="pgflow_job",
                    when="AFTER",
                ),
            ),
        ),
        pgtrigger.migrations.AddTrigger(
            model_name="job",
            trigger=pgtrigger.compiler.Trigger(
                name="pgflow_job_free_deleted",
                sql=pgtrigger.compiler.UpsertTriggerSql(
                    func="UPDATE pgflow_slot s SET job_id = NULL, attempt = NULL WHERE s.job_id IN (SELECT o.id FROM old_rows o WHERE o.gated); RETURN NULL;",
                    hash="1d1189765267c1b11ba895cca46da8d768fc7cf3",
                    level="STATEMENT",
                    operation="DELETE",
                    pgid="pgtrigger_pgflow_job_free_deleted_cd360",
                    referencing="REFERENCING OLD TABLE AS old_rows ",
                    table="pgflow_job",
                    when="AFTER",
                ),
            ),
        ),
        pgtrigger.migrations.AddTrigger(
            model_name="job",
            trigger=pgtrigger.compiler.Trigger(
                name="pgflow_job_free_truncated",
                sql=pgtrigger.compiler.UpsertTriggerSql(
                    func="UPDATE pgflow_slot SET job_id = NULL, attempt = NULL; RETURN NULL;",
                    hash="afe9cfebb6ef91c1745d0ef0091568d02d9f13c5",
                    level="STATEMENT",
                    operation="TRUNCATE",
                    pgid="pgtrigger_pgflow_job_free_truncated_7d7ce",
                    table="pgflow_job",
                    when="AFTER",
                ),
            ),
        ),
        migrations.RunSQL(GIVE_ATTEMPTS, reverse_sql=CLEAR_OVER),
        migrations.AddConstraint(
            model_name="slot",
            constraint=models.CheckConstraint(
                condition=models.Q(
                    models.Q(("attempt__isnull", True), ("job_id__isnull", True)),
                    models.Q(("attempt__isnull", False), ("job_id__isnull", False)),
                    _connector="OR",
                ),
                name="pgflow_slot_holder_attempt",
            ),
        ),
        # Room on each page for the claims' HOT updates of this small, hot table.
        migrations.RunSQL(
            "ALTER TABLE pgflow_slot SET (fillfactor = 50)",
            reverse_sql="ALTER TABLE pgflow_slot RESET (fillfactor)",
        ),
        RunSQLFolder("0013_slots_by_attempt", reverse_sql=REVERSE_SQL),
        # 0011's hardening again, for the functions replaced above.
        migrations.RunSQL(
            read_sql("0011_security", skip=("20_security_definer.sql",)),
            reverse_sql=migrations.RunSQL.noop,
        ),
    ]
