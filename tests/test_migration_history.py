"""The newest migration, applied and undone on a database in use: jobs queued and
held, a run half done, resource slots held by running jobs. Nothing stored may
change on the way, the queue must keep working on either side, and undoing then
redoing it must give the catalog a fresh install has."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import psycopg
import pytest
from django.core.management import call_command
from django.db import connection, connections
from django.db.migrations.loader import MigrationLoader

from django_pgflow.queue.api import enqueue
from django_pgflow.runs.api import start_flow
from django_pgflow.worker.connection import connection_kwargs

from .catalog import catalog, differences

ALIAS = "history"
APP = "django_pgflow"
# What the rows must keep across the migration, table by table.
KEPT = {
    "pgflow_job": "SELECT id, status, attempts, worker_id, queue, task_name, args, resources,"
    " lease_expires_at FROM pgflow_job ORDER BY id",
    "pgflow_run": "SELECT id, status, flow_slug, input, output, remaining_steps FROM pgflow_run"
    " ORDER BY id",
    "pgflow_step_state": "SELECT run_id, step_slug, status, remaining_tasks FROM pgflow_step_state"
    " ORDER BY run_id, step_slug",
    "pgflow_slot": "SELECT kind, name, n, job_id, attempt FROM pgflow_slot ORDER BY kind, name, n",
    "pgflow_worker": "SELECT id, state FROM pgflow_worker ORDER BY id",
}


def newest_and_previous() -> tuple[str, str]:
    """The app's newest migration and the one it follows (found, not named, so that
    the test follows each new migration)."""
    graph = MigrationLoader(None, ignore_no_migrations=True).graph
    (newest,) = [name for app, name in graph.leaf_nodes() if app == APP]
    parents = [name for app, name in graph.node_map[(APP, newest)].parents if app == APP]
    assert parents, f"{newest} is the app's only migration: nothing to go back to"
    return newest, parents[0]


@pytest.fixture
def history(django_db_setup: None, django_db_blocker: Any) -> Iterator[psycopg.Connection[Any]]:
    """A database of its own, migrated up to the migration before the newest; a
    psycopg connection to it."""
    name = f"{connection.settings_dict['NAME']}_history"
    kwargs = connection_kwargs()
    with django_db_blocker.unblock():
        with psycopg.connect(**{**kwargs, "dbname": "postgres"}, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}"')
            admin.execute(f'CREATE DATABASE "{name}"')
        connections.databases[ALIAS] = {**connection.settings_dict, "NAME": name}
        try:
            call_command("migrate", APP, newest_and_previous()[1], database=ALIAS, verbosity=0)
            with psycopg.connect(**{**kwargs, "dbname": name}, autocommit=True) as conn:
                yield conn
        finally:
            connections[ALIAS].close()
            del connections.databases[ALIAS]
            with psycopg.connect(**{**kwargs, "dbname": "postgres"}, autocommit=True) as admin:
                admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def migrate_to(name: str) -> None:
    call_command("migrate", APP, name, database=ALIAS, verbosity=0)
    connections[ALIAS].close()  # functions were replaced: no cached plans of old ones


def kept(conn: psycopg.Connection[Any]) -> dict[str, list[tuple[Any, ...]]]:
    return {table: conn.execute(sql).fetchall() for table, sql in KEPT.items()}


def claim_all(conn: psycopg.Connection[Any], worker: int) -> list[tuple[int, int, str]]:
    return conn.execute(
        "SELECT id, attempts, task_name FROM django_pgflow.claim(%s, NULL, 100, 300)", [worker]
    ).fetchall()


def complete(conn: psycopg.Connection[Any], worker: int, claimed: list[tuple[int, int, str]]):
    for job_id, attempt, _task in claimed:
        conn.execute(
            "SELECT django_pgflow.complete(%s, %s, %s, %s::jsonb)",
            [worker, job_id, attempt, json.dumps(3)],
        )


# The mark makes the default connection the test database's (the fresh install
# compared with at the end); the test itself works in its own database.
@pytest.mark.django_db
def test_newest_migration_goes_forward_and_back_under_jobs_runs_and_held_slots(history):
    newest, previous = newest_and_previous()
    installed_at_previous = catalog(history)

    # A database in use at the previous migration: queued jobs, a job holding
    # the one gpu slot, another waiting for it, a run whose first step is held.
    for n in range(3):
        enqueue("testproject.example.tasks.record", args=[f"plain-{n}"], using=ALIAS)
    for n in range(2):
        enqueue(
            "testproject.example.tasks.record",
            args=[f"gpu-{n}"],
            resources={"gpu": 1},
            using=ALIAS,
        )
    run = start_flow("linear_chain", {"n": 1}, using=ALIAS)
    (worker,) = history.execute(
        "SELECT django_pgflow.register_worker('history', 1, '[]', 8)"
    ).fetchone()
    held = claim_all(history, worker)
    assert len(held) == 5  # three plain jobs, one gpu job, the run's first step
    assert (
        history.execute("SELECT count(*) FROM pgflow_slot WHERE job_id IS NOT NULL").fetchone()[0]
        == 1
    )
    before = kept(history)

    migrate_to(newest)
    assert kept(history) == before, f"{newest} changed rows it should have kept"
    complete(history, worker, held)  # reports of attempts claimed before the migration
    later = claim_all(history, worker)  # the second gpu job, the run's second step
    assert sorted(task for _id, _attempt, task in later) == [
        "pgflow.step.linear_chain.second",
        "testproject.example.tasks.record",
    ]
    during = kept(history)

    migrate_to(previous)
    assert kept(history) == during, f"undoing {newest} changed rows it should have kept"
    found = differences(catalog(history), installed_at_previous)
    assert not found, f"undoing {newest} left the schema changed:\n" + "\n".join(found)
    complete(history, worker, later)
    last = claim_all(history, worker)
    assert [task for _id, _attempt, task in last] == ["pgflow.step.linear_chain.third"]

    migrate_to(newest)
    complete(history, worker, last)
    status = history.execute("SELECT status FROM pgflow_run WHERE id = %s", [run.pk]).fetchone()
    assert status == ("completed",)
    jobs = history.execute("SELECT status, count(*) FROM pgflow_job GROUP BY 1").fetchall()
    assert jobs == [("completed", 8)]
    assert (
        history.execute("SELECT count(*) FROM pgflow_slot WHERE job_id IS NOT NULL").fetchone()[0]
        == 0
    )

    # Undone and redone, the schema is what a fresh install has.
    with psycopg.connect(**connection_kwargs()) as fresh:
        found = differences(catalog(history), catalog(fresh))
    assert not found, f"after {newest} was undone and redone:\n" + "\n".join(found)
