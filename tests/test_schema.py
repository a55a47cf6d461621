"""The canonical SQL schema and the migrations: one place for every
definition, and the proof that migrating gives what that place says."""

from __future__ import annotations

import hashlib
import importlib
import json
import pkgutil
import re
from collections.abc import Iterator
from typing import Any

import pgtrigger
import psycopg
import pytest
from django.apps import apps
from django.db import connection, connections

from django_pgflow import migrations as migrations_package
from django_pgflow.sql import (
    HISTORY_DIR,
    PREAMBLE,
    PURE,
    SCHEMA_DIR,
    InstallSQL,
    archived,
    digest,
    read,
    read_pinned,
    schema_files,
)
from django_pgflow.worker.connection import connection_kwargs

from .catalog import catalog, differences


def _installs() -> list[tuple[str, InstallSQL]]:
    """Every InstallSQL operation of the migrations, in migration order."""
    found = []
    for info in sorted(pkgutil.iter_modules(migrations_package.__path__), key=lambda m: m.name):
        module = importlib.import_module(f"django_pgflow.migrations.{info.name}")
        found += [
            (info.name, op) for op in module.Migration.operations if isinstance(op, InstallSQL)
        ]
    return found


def test_every_schema_file_is_installed_by_a_migration_at_its_current_text():
    """A change to a file of sql/schema/ needs a migration that installs it."""
    latest: dict[str, tuple[str, str]] = {}
    for migration, op in _installs():
        for name, pinned_hash in op.files.items():
            latest[name] = (migration, pinned_hash)
    missing = [name for name in schema_files() if name not in latest]
    assert not missing, f"no migration installs {missing}: run python -m django_pgflow.sql"
    stale = [
        f"{name} (last installed by {migration})"
        for name, (migration, pinned_hash) in sorted(latest.items())
        if digest(name) != pinned_hash
    ]
    assert not stale, f"changed since their migration: {stale}: run python -m django_pgflow.sql"
    gone = sorted(set(latest) - set(schema_files()))
    assert not gone, f"migrations install files the schema no longer has: {gone}"


def test_every_migration_installs_the_text_it_pinned_and_history_keeps_nothing_else():
    """Migrations are frozen: each pin is today's file or an archived text; an archive
    no migration pins is dead weight (python -m django_pgflow.sql archives from git)."""
    pins = {(name, pinned) for _, op in _installs() for name, pinned in op.files.items()}
    for name, pinned in sorted(pins):
        text = read_pinned(name, pinned)  # raises, naming the archive, when neither exists
        assert hashlib.sha256(text.encode()).hexdigest() == pinned, f"{name} at {pinned[:12]}"
    kept = {archived(name, pinned) for name, pinned in pins if digest(name) != pinned}
    on_disk = set(HISTORY_DIR.rglob("*.sql")) if HISTORY_DIR.exists() else set()
    assert on_disk == kept, f"archived texts no migration pins: {sorted(on_disk - kept)}"


FUNCTION_RE = re.compile(r"^CREATE OR REPLACE FUNCTION django_pgflow\.(\w+)\(", re.M)
VIEW_RE = re.compile(r"^CREATE OR REPLACE VIEW (\w+)", re.M)


def _definitions() -> Iterator[tuple[str, str, str]]:
    for name in schema_files():
        text = read(name)
        for kind, regex in (("function", FUNCTION_RE), ("view", VIEW_RE)):
            for match in regex.finditer(text):
                yield name, kind, match.group(1)


def test_each_definition_lives_in_one_file_named_for_it():
    seen: dict[str, str] = {}
    for name, _kind, defined in _definitions():
        assert defined not in seen, f"{defined} is defined in {seen[defined]} and {name}"
        seen[defined] = name
        assert name.rsplit("/", 1)[-1] == f"{defined}.sql", f"{name} defines {defined}"


def test_each_function_file_carries_its_rights_and_says_what_it_guarantees():
    for name, kind, defined in _definitions():
        text = read(name)
        assert f"COMMENT ON {kind.upper()}" in text, f"{name}: no COMMENT ON {kind.upper()}"
        if kind == "function" and defined in PURE:
            assert "\nSET " not in text and "SECURITY DEFINER" not in text, f"{name} is pure"
            body = text.split("AS $$", 1)[1].split("$$;", 1)[0]
            assert "pgflow_" not in body, f"{name}: a pure function reads no table"
            called = set(re.findall(r"django_pgflow\.(\w+)\(", body))
            assert called <= PURE, f"{name} calls {sorted(called - PURE)}, which are not pure"
        elif kind == "function":
            assert "SET search_path FROM CURRENT" in text, f"{name}: search_path not fixed"
        if kind == "function":
            revoke = f"REVOKE EXECUTE ON FUNCTION django_pgflow.{defined}("
            assert revoke in text, f"{name}: EXECUTE not revoked from PUBLIC beside the CREATE"


def test_no_sql_function_is_longer_than_80_lines():
    for name, kind, defined in _definitions():
        if kind != "function":
            continue
        body = read(name).split("AS $$", 1)[1].split("$$;", 1)[0]
        assert body.count("\n") <= 80, f"{defined} ({name}) is {body.count(chr(10))} lines long"


@pytest.fixture
def canonical_database(django_db_setup: None, django_db_blocker: Any) -> Iterator[str]:
    """A database built from the models and sql/schema/ alone, without migrations."""
    name = f"{connection.settings_dict['NAME']}_canonical"
    kwargs = connection_kwargs()
    with django_db_blocker.unblock():
        with psycopg.connect(**{**kwargs, "dbname": "postgres"}, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}"')
            admin.execute(f'CREATE DATABASE "{name}"')
        connections.databases["canonical"] = {**connection.settings_dict, "NAME": name}
        try:
            _build_from_models_and_schema()
            yield name
        finally:
            connections["canonical"].close()
            del connections.databases["canonical"]
            with psycopg.connect(**{**kwargs, "dbname": "postgres"}, autocommit=True) as admin:
                admin.execute(f'DROP DATABASE IF EXISTS "{name}"')


def _build_from_models_and_schema() -> None:
    canonical = connections["canonical"]
    with canonical.schema_editor() as editor:
        for model in apps.get_app_config("django_pgflow").get_models():
            if not model._meta.proxy:
                editor.create_model(model)
    pgtrigger.install(database="canonical")
    with canonical.cursor() as cursor:
        cursor.execute(PREAMBLE + "\n\n".join(read(name) for name in schema_files()))


# The mark makes the default connection the test database's, even when this
# test runs alone (without it, the settings' own database was compared).
@pytest.mark.django_db
def test_migrating_gives_the_catalog_of_the_models_and_the_schema_files(canonical_database):
    """Functions (definition, config, security, grants), views, triggers,
    indexes, constraints, columns: migrate and the canonical files agree."""
    kwargs = connection_kwargs()
    with (
        psycopg.connect(**kwargs) as migrated,
        psycopg.connect(**{**kwargs, "dbname": canonical_database}) as built,
    ):
        found = differences(catalog(migrated), catalog(built))
    assert not found, "migrated (first) and canonical (second) differ:\n" + "\n".join(found)


def test_the_schema_folder_holds_only_what_the_loader_installs():
    on_disk = {
        str(p.relative_to(SCHEMA_DIR))
        for p in SCHEMA_DIR.rglob("*.sql")
        if p.parent.name != "triggers"
    }
    assert on_disk == set(schema_files())


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


def _nested_plans(sql: str, params: list[Any]) -> list[str]:
    """The plans of every statement ``sql`` runs inside its functions (auto_explain)."""
    notices: list[str] = []
    connection.ensure_connection()
    connection.connection.add_notice_handler(
        lambda diag: notices.append(diag.message_primary or "")
    )
    with connection.cursor() as cursor:
        cursor.execute("LOAD 'auto_explain'")
        cursor.execute("SET auto_explain.log_min_duration = 0")
        cursor.execute("SET auto_explain.log_nested_statements = on")
        cursor.execute("SET auto_explain.log_level = 'notice'")
        cursor.execute(sql, params)
        cursor.execute("SET auto_explain.log_min_duration = -1")
    return notices


@pytest.mark.django_db
def test_claiming_a_map_made_after_the_last_analyze_looks_its_tasks_up_by_index():
    """Invariant 7: a map's tasks appear after the statistics were gathered;
    claiming some must not read all of them (it made a 10,000-task map take a minute)."""
    from django_pgflow import start_flow

    with connection.cursor() as cursor:
        start_flow("wide_map", {"size": 2000})
        cursor.execute("ANALYZE")  # one job, one task: what a busy queue's last ANALYZE saw
        cursor.execute("SELECT django_pgflow.register_worker('plan', 1, '[]', 1)")
        (worker_id,) = cursor.fetchone()
        cursor.execute("SELECT id FROM django_pgflow.claim(%s, NULL, 1, 30)", [worker_id])
        (root,) = cursor.fetchone()
        cursor.execute(
            "SELECT django_pgflow.complete(%s, %s, 1, %s::jsonb)",
            [worker_id, root, json.dumps(list(range(2000)))],
        )
    plans = _nested_plans("SELECT * FROM django_pgflow.claim(%s, NULL, 100, 30)", [worker_id])
    mirror = [p for p in plans if "Update on pgflow_step_task" in p]
    assert mirror, plans
    lines = mirror[0].splitlines()
    reads = [i for i, line in enumerate(lines) if "Scan" in line and "pgflow_step_task t" in line]
    assert reads, mirror[0]
    for i in reads:  # each read of the tasks is a lookup, not a pass over all of them
        assert "Index Cond" in lines[i + 1], mirror[0]
