"""Worker liveness: a worker is lost only when its connections are gone too.

Each worker connection takes the worker's liveness lock (keep_alive, a shared
session-level advisory lock). reap declares a silent worker lost only when no
session holds that lock, so a heartbeat that waits for the CPU on a busy
machine no longer fails the jobs of a live worker; and stop_worker refuses to
stop a worker alive in another session. register_worker and heartbeat check
their arguments. A worker registers with the hash of a secret it sets on its
sessions (pgflow.worker_secret); only those sessions may keep it alive or
stop it while it lives. Reversible: back to 0002 reinstalls the texts 0001 pinned
and drops the new functions and the column.
"""

from django.db import migrations, models

from django_pgflow.sql import InstallSQL, install_sql


class Migration(migrations.Migration):
    dependencies = [
        ("django_pgflow", "0002_run_events"),
    ]

    operations = [
        migrations.AddField(
            model_name="worker",
            name="secret_hash",
            field=models.BinaryField(blank=True, editable=False, null=True),
        ),
        # Undone last: the texts the previous migrations installed.
        migrations.RunSQL(
            migrations.RunSQL.noop,
            reverse_sql=install_sql(
                {
                    "workers/heartbeat.sql": "97d239e9c2ea3a86d6c4ca83d2a2284ac9bfe6397ee8f556015dfad24b47c7d7",
                    "workers/reap.sql": "ee7cc5f94f926632d6c71b5a0cb98f1f21c25beca4d53327c12aba1c5f93d264",
                    "workers/register_worker.sql": "0f46a73c23d1a1da90676b4c71c0d6fa5517d3c785c1ac280ff2a14467d5c562",
                    "workers/stop_worker.sql": "16a859a40d6957d0f25cf217b2462e94004ed147710c6dd8f6838bd578d50fce",
                }
            ),
        ),
        InstallSQL(
            {
                "workers/heartbeat.sql": "3c25f2b1dc824acf20e8522f40f4ca82584e15b86a3f2fd39f2fa66aebdbd722",
                "workers/keep_alive.sql": "d01c7faec33d8d7468e47b78e11977384d19b4add7964ff73d4939e0aa0c09cc",
                "workers/reap.sql": "8e08374128748cf42c155b9751fbe1ee1aee9657f0790309da7eb035c9a699b9",
                "workers/register_worker.sql": "33f6f84206550a4966da16a1f59c25ceb14aa24b6a684a7a5e364aacc0389630",
                "workers/speaks_for.sql": "9feebba5b0658b002241c1a2e9fc86c81c0a13dcb0e28fa758a521d4be67228c",
                "workers/stop_worker.sql": "fc158e839b6147f6b0dae7e92f380da3c21477c8da6a09682b86f788bd6f01a4",
                "workers/worker_sessions.sql": "4508b31868179f5ac8814f4b3fe47289a8ee7e78fcfa29196494a49cd4efb76f",
            },
            reverse_sql=(
                "DROP FUNCTION django_pgflow.keep_alive(bigint);\n"
                "DROP FUNCTION django_pgflow.worker_sessions(bigint);\n"
                "DROP FUNCTION django_pgflow.speaks_for(bigint);\n"
            ),
        ),
    ]
