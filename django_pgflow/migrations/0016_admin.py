"""The operations view in the admin: ``run_now``, and the dashboards' index entries.

``django_pgflow.run_now(job_id)`` makes a scheduled job ready at once, for the
admin's "run now" action; like ``retry`` and ``cancel`` it runs with its
owner's rights, so the web role needs EXECUTE on it and no table privilege.
The two proxy models add no table: they put the queues dashboard and the lock
contention page on the admin index.
"""

from django.db import migrations

from django_pgflow.sql import RunSQLFolder, read_sql


class Migration(migrations.Migration):
    dependencies = [
        ("django_pgflow", "0014_trust"),
    ]

    operations = [
        migrations.CreateModel(
            name="LockContention",
            fields=[],
            options={
                "verbose_name": "lock contention",
                "verbose_name_plural": "lock contention",
                "proxy": True,
                "indexes": [],
                "constraints": [],
            },
            bases=("django_pgflow.job",),
        ),
        migrations.CreateModel(
            name="QueueOverview",
            fields=[],
            options={
                "verbose_name": "queue",
                "verbose_name_plural": "queues",
                "proxy": True,
                "indexes": [],
                "constraints": [],
            },
            bases=("django_pgflow.job",),
        ),
        RunSQLFolder("0016_admin", reverse_sql="DROP FUNCTION django_pgflow.run_now(bigint);"),
        # 0011's hardening for the new function: pg_temp last, no EXECUTE for PUBLIC.
        migrations.RunSQL(
            read_sql("0011_security", skip=("20_security_definer.sql",)),
            reverse_sql=migrations.RunSQL.noop,
        ),
    ]
