"""Is this deployment able to run jobs? The three facts a load balancer or probe needs.

1. The database answers.
2. django-pgflow's schema is at the newest migration this code ships.
3. Every queue in use (holding ready or running jobs) is served by a live worker
   (one whose heartbeat is younger than ``WORKER_DEAD_AFTER``), or by one that
   serves every queue.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, field
from typing import Any

from django.db import DatabaseError, connections
from django.db.migrations.loader import MigrationLoader

from ..conf import pgflow_settings

APP = "django_pgflow"

QUEUES_IN_USE_SQL = """
SELECT DISTINCT queue FROM pgflow_job
WHERE (status = 'queued' AND run_at <= now()) OR status = 'started'
"""

LIVE_WORKERS_SQL = """
SELECT queues FROM pgflow_worker
WHERE state = 'running' AND last_heartbeat > now() - make_interval(secs => %s)
"""


@dataclass
class Health:
    ok: bool = True
    checks: dict[str, Any] = field(default_factory=dict)

    def fail(self, name: str, detail: Any) -> None:
        self.ok = False
        self.checks[name] = {"ok": False, "detail": detail}

    def pass_(self, name: str, detail: Any) -> None:
        self.checks[name] = {"ok": True, "detail": detail}


@functools.cache
def expected_migration() -> str:
    """The newest migration of django_pgflow on disk (read once per process)."""
    loader = MigrationLoader(None, ignore_no_migrations=True)
    leaves = loader.graph.leaf_nodes(APP)
    return leaves[0][1] if leaves else ""


def check_health(alias: str = "default") -> Health:
    health = Health()
    try:
        with connections[alias].cursor() as cursor:
            cursor.execute("SELECT 1")
    except DatabaseError as error:
        health.fail("database", str(error).strip().splitlines()[0] if str(error) else "error")
        return health
    health.pass_("database", "reachable")
    if _check_schema(health, alias):
        _check_workers(health, alias)
    return health


def _check_schema(health: Health, alias: str) -> bool:
    expected = expected_migration()
    with connections[alias].cursor() as cursor:
        cursor.execute(
            "SELECT EXISTS (SELECT 1 FROM django_migrations WHERE app = %s AND name = %s)",
            [APP, expected],
        )
        applied = cursor.fetchone()[0]
    if not applied:
        health.fail("schema", f"migration {APP}.{expected} is not applied: run migrate")
        return False
    health.pass_("schema", f"{APP}.{expected}")
    return True


def _check_workers(health: Health, alias: str) -> None:
    dead_after = float(pgflow_settings.WORKER_DEAD_AFTER)
    with connections[alias].cursor() as cursor:
        cursor.execute(QUEUES_IN_USE_SQL)
        in_use = sorted(row[0] for row in cursor.fetchall())
        cursor.execute(LIVE_WORKERS_SQL, [dead_after])
        served = [row[0] or [] for row in cursor.fetchall()]
    every = any(not queues for queues in served)
    unserved = [q for q in in_use if not every and not any(q in queues for queues in served)]
    detail = {"queues_in_use": in_use, "live_workers": len(served), "unserved": unserved}
    if unserved:
        health.fail("workers", detail)
    else:
        health.pass_("workers", detail)
