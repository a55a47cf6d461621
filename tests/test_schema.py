"""Conventions of the SQL core that nothing else would enforce."""

from __future__ import annotations

import importlib
import pkgutil

import pytest
from django.db import connection

from django_pgflow import migrations as migrations_package
from django_pgflow.sql import SQL_DIR, RunSQLFolder


def _sql_operations() -> dict[str, list[str]]:
    applied: dict[str, list[str]] = {}
    for module_info in pkgutil.iter_modules(migrations_package.__path__):
        module = importlib.import_module(f"django_pgflow.migrations.{module_info.name}")
        for operation in module.Migration.operations:
            if isinstance(operation, RunSQLFolder):
                applied.setdefault(operation.folder, []).append(module_info.name)
    return applied


def test_every_sql_folder_is_applied_by_exactly_the_migration_of_its_name():
    folders = sorted(p.name for p in SQL_DIR.iterdir() if p.is_dir() and p.name[0].isdigit())
    applied = _sql_operations()
    assert folders, "no SQL folders found"
    assert sorted(applied) == folders
    for folder, modules in applied.items():
        assert modules == [folder], f"sql/{folder} is applied by {modules}"


def test_sql_file_numbers_are_unique_within_a_folder():
    for folder in (p for p in SQL_DIR.iterdir() if p.is_dir() and p.name[0].isdigit()):
        numbers = [f.name.split("_", 1)[0] for f in folder.glob("*.sql")]
        assert len(numbers) == len(set(numbers)), f"duplicate numbers in sql/{folder.name}"


CLAIM_SHAPES = {
    "all queues": ("NULL", "pgflow_job_ready_idx"),
    "one queue": ("ARRAY['default']", "pgflow_job_ready_queue_idx"),
}


def _claim_plan(queues: str) -> str:
    """The plan PostgreSQL runs inside django_pgflow.claim, through auto_explain."""
    notices: list[str] = []
    connection.ensure_connection()
    raw = connection.connection
    raw.add_notice_handler(lambda diag: notices.append(diag.message_primary or ""))
    with connection.cursor() as cursor:
        cursor.execute("LOAD 'auto_explain'")
        cursor.execute("SET auto_explain.log_min_duration = 0")
        cursor.execute("SET auto_explain.log_nested_statements = on")
        cursor.execute("SET auto_explain.log_level = 'notice'")
        cursor.execute("SELECT django_pgflow.register_worker('plan', 1, '[]', 1)")
        worker_id = cursor.fetchone()[0]
        cursor.execute(f"SELECT * FROM django_pgflow.claim(%s, {queues}, 10, 30)", [worker_id])
        cursor.execute("SET auto_explain.log_min_duration = -1")
    # The plain pick (claim_gated's pick of gated jobs locks rows too).
    picks = [n for n in notices if "LockRows" in n and "NOT j.gated" in n]
    updates = [n for n in notices if "Update on pgflow_job" in n]
    assert updates and "Index Cond: (id = ANY" in updates[0], updates
    assert picks, notices
    return picks[0]


@pytest.mark.django_db
@pytest.mark.parametrize("shape", sorted(CLAIM_SHAPES))
def test_claim_plan_uses_the_ready_index_whatever_the_statistics(shape):
    """Invariant 7: analyzed empty, then holding 20,000 ready jobs, the plan stays put."""
    queues, index = CLAIM_SHAPES[shape]
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE pgflow_job")
        cursor.execute(
            "INSERT INTO pgflow_job (queue, task_name, args, kwargs, status, priority, run_at, "
            "attempts, failures, max_attempts, retry_delay, max_retry_delay, timeout, errors, "
            "created_at) SELECT CASE WHEN i % 2 = 0 THEN 'default' ELSE 'emails' END, 't.x', "
            "'[]', '{}', 'queued', i % 3, now(), 0, 0, 3, 1, 60, 60, '[]', now() "
            "FROM generate_series(1, 40000) i"
        )
    empty_plan = _claim_plan(queues)
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE pgflow_job")
    full_plan = _claim_plan(queues)
    for plan in (empty_plan, full_plan):
        assert f"Index Scan using {index}" in plan, plan
        assert "Sort" not in plan, plan
        assert "Seq Scan" not in plan, plan
