"""Flows defined, run and removed through SQL alone: create_flow and add_step (with the
DSL's checks), a worker written with psycopg and SQL only (docs/examples/), the
run with its step states in one call, and remove_flow with its command."""

from __future__ import annotations

import io
import json
import subprocess
import sys
from typing import Any

import psycopg
import pytest
from django.core.management import CommandError, call_command
from django.db import DatabaseError, connection, transaction

from django_pgflow.models import FlowDefinition, Job, RunEvent, StepState, StepTask, WorkflowRun
from django_pgflow.models import Worker as WorkerRow
from testproject.example.flows import Chain, SlowMap

from .conftest import ROOT, subprocess_env
from .test_grants import Roles, connect_as, database_url, roles

__all__ = ["roles"]  # a fixture

EXAMPLE = ROOT / "docs" / "examples" / "sql_worker.py"
# The flow the example worker runs, as docs/reference/worker-protocol.md shows it.
TEXT_STATS = ROOT / "docs" / "snippets" / "flow-text-stats.sql"
# Runs the example with Django and django_pgflow made unimportable.
WITHOUT_DJANGO = (
    "import runpy, sys\n"
    "for name in ('django', 'django_pgflow'):\n"
    "    sys.modules[name] = None\n"
    "sys.argv = sys.argv[1:]\n"
    "runpy.run_path(sys.argv[0], run_name='__main__')\n"
)


def sql(query: str, params: list[Any] | None = None) -> Any:
    with connection.cursor() as cursor:
        cursor.execute(query, params or [])
        row = cursor.fetchone()
        return row[0] if row else None


def refused(query: str, params: list[Any] | None = None) -> str:
    """The message of the error ``query`` raises, the caller's transaction intact."""
    with pytest.raises(DatabaseError) as raised, transaction.atomic():
        sql(query, params)
    return raised.value.__cause__.diag.message_primary  # type: ignore[union-attr]


# --- a worker in any language --------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_a_flow_defined_in_sql_runs_to_completion_on_a_worker_without_django(roles: Roles):
    with connect_as(roles.worker, roles) as service, connect_as(roles.web, roles) as web:
        service.execute(TEXT_STATS.read_text())  # a service in another language defines it
        run_id = web.execute(
            "SELECT django_pgflow.start_flow('text_stats', %s::jsonb)",
            ['{"title": "greeting", "text": "hello wide world"}'],
        ).fetchone()[0]
    env = {k: v for k, v in subprocess_env().items() if k != "DJANGO_SETTINGS_MODULE"}
    done = subprocess.run(
        [sys.executable, "-c", WITHOUT_DJANGO, str(EXAMPLE), database_url(roles.worker, roles),
         "--until-run", str(run_id)],
        env=env, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    run = WorkflowRun.objects.get(pk=run_id)
    assert run.status == "completed"
    assert run.output == {"summary": {"title": "greeting", "words": 3, "letters": 14}}
    # One task per word for the map, all run and reported by that worker, which stopped.
    lengths = StepTask.objects.filter(run=run, step_slug="length").order_by("task_index")
    assert list(lengths.values_list("output", flat=True)) == [5, 4, 5]
    worker = WorkerRow.objects.get(pk=Job.objects.filter(run=run).values("worker_id")[:1])
    assert set(Job.objects.filter(run=run).values_list("worker_id", "status")) == {
        (worker.pk, "completed")
    }
    assert worker.state == "stopped" and worker.queues == ["text_stats"]


# --- create_flow and add_step -------------------------------------------------------


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("statement", "message"),
    [
        (
            "SELECT django_pgflow.add_step('sql_flow', 'save', ARRAY['nope'])",
            "pgflow: flow sql_flow: step save depends on nope, which is not an earlier step",
        ),
        (
            "SELECT django_pgflow.add_step('sql_flow', 'fetch')",
            "pgflow: flow sql_flow: step fetch is defined twice",
        ),
        (
            "SELECT django_pgflow.add_step('sql_flow', 'each', ARRAY['fetch', 'other'], "
            "p_step_type => 'map')",
            "pgflow: flow sql_flow: step each is a map step with more than one dependency",
        ),
        (
            "SELECT django_pgflow.add_step('sql_flow', 'input', ARRAY['fetch'])",
            "pgflow: a step may not be named input: a step's parameter of that name receives "
            "the run input",
        ),
        (
            "SELECT django_pgflow.add_step('sql_flow', 'Bad Name')",
            "pgflow: step 'Bad Name' needs a slug of 1-63 lowercase letters, digits or _, "
            "starting with a letter",
        ),
        (
            "SELECT django_pgflow.add_step('sql_flow', 'late', p_on_failure => 'ignore')",
            "pgflow: step 'late' needs step_type single or map, and on_failure and "
            "on_condition_false among fail, skip, skip_cascade",
        ),
        (
            "SELECT django_pgflow.add_step('no_such_flow', 'fetch')",
            "pgflow: unknown flow 'no_such_flow': create_flow() it first",
        ),
        (
            "SELECT django_pgflow.create_flow('Bad-Slug')",
            "pgflow: a flow definition is an object with a valid slug (1-63 lowercase letters, "
            "digits or _, starting with a letter), up to 1000 steps and their deps",
        ),
    ],
)
def test_add_step_makes_the_checks_of_the_flow_dsl(statement: str, message: str):
    sql("SELECT django_pgflow.create_flow('sql_flow')")
    sql("SELECT django_pgflow.add_step('sql_flow', 'fetch')")
    sql("SELECT django_pgflow.add_step('sql_flow', 'other')")
    assert refused(statement) == message
    flow = FlowDefinition.objects.get(slug="sql_flow")
    assert sorted(flow.steps.values_list("slug", flat=True)) == ["fetch", "other"]  # unchanged


@pytest.mark.django_db
def test_a_version_with_runs_takes_no_more_steps_but_a_new_version_does():
    v1 = sql("SELECT (django_pgflow.create_flow('sql_versions')).id")
    sql("SELECT django_pgflow.add_step('sql_versions', 'fetch')")
    assert sql("SELECT (django_pgflow.create_flow('sql_versions')).id") == v1  # idempotent
    old_run = sql("SELECT django_pgflow.start_flow('sql_versions', '{}')")
    assert refused("SELECT django_pgflow.add_step('sql_versions', 'save', ARRAY['fetch'])") == (
        "pgflow: flow sql_versions version 1 already has runs: create_flow() a new version "
        "to change it"
    )
    sql("SELECT django_pgflow.create_flow('sql_versions', p_version => 2)")
    sql("SELECT django_pgflow.add_step('sql_versions', 'fetch')")
    sql("SELECT django_pgflow.add_step('sql_versions', 'save', ARRAY['fetch'])")
    new_run = WorkflowRun.objects.get(
        pk=sql("SELECT django_pgflow.start_flow('sql_versions', '{}')")
    )
    assert new_run.flow.version == 2 and new_run.remaining_steps == 2
    assert WorkflowRun.objects.get(pk=old_run).remaining_steps == 1


# --- get_run_with_states ------------------------------------------------------------


@pytest.mark.django_db
def test_get_run_with_states_returns_the_run_and_its_steps_in_order():
    run = Chain.start({"n": 1}, metadata={"tenant": "acme"})
    got = json.loads(sql("SELECT django_pgflow.get_run_with_states(%s)", [run.pk]))
    assert {k: got["run"][k] for k in ("id", "flow_slug", "status", "input", "metadata")} == {
        "id": run.pk, "flow_slug": "linear_chain", "status": "started", "input": {"n": 1},
        "metadata": {"tenant": "acme"},
    }  # fmt: skip
    assert [(s["step_slug"], s["status"]) for s in got["steps"]] == [
        ("first", "started"), ("second", "created"), ("third", "created")
    ]  # fmt: skip
    assert sql("SELECT django_pgflow.get_run_with_states(0)") is None


# --- remove_flow --------------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_remove_flow_refuses_active_runs_unless_forced():
    active = SlowMap.start({"tasks": 2, "seconds": 0})
    assert refused("SELECT django_pgflow.remove_flow('slow_map')") == (
        "pgflow: flow 'slow_map' has 1 active run(s): cancel them first, or force"
    )
    assert WorkflowRun.objects.filter(pk=active.pk).exists()
    assert sql("SELECT django_pgflow.remove_flow('slow_map', true)") == 1
    assert not FlowDefinition.objects.filter(slug="slow_map").exists()
    assert not WorkflowRun.objects.filter(pk=active.pk).exists()
    for rows in (StepState.objects, StepTask.objects, Job.objects, RunEvent.objects):
        assert not rows.filter(run_id=active.pk).exists()
    assert refused("SELECT django_pgflow.remove_flow('slow_map')") == (
        "pgflow: unknown flow 'slow_map'"
    )


@pytest.mark.django_db(transaction=True)
def test_the_remove_command_deletes_a_flow_with_its_finished_runs(worker_thread):
    worker_thread()
    Chain.start({"n": 1}).wait(30)
    other = SlowMap.start({"tasks": 1, "seconds": 0}).wait(30)
    out, err = io.StringIO(), io.StringIO()
    call_command("pgflow_remove_flow", "linear_chain", stdout=out, stderr=err)
    assert out.getvalue() == "flow 'linear_chain' removed, with 1 run(s)\n"
    assert "testproject.example.flows.Chain still defines flow 'linear_chain'" in err.getvalue()
    assert not WorkflowRun.objects.filter(flow_slug="linear_chain").exists()
    assert not Job.objects.filter(task_name__startswith="pgflow.step.linear_chain.").exists()
    assert WorkflowRun.objects.get(pk=other.pk).status == "completed"  # other flows stay


@pytest.mark.django_db(transaction=True)
def test_the_remove_command_needs_force_for_active_runs():
    SlowMap.start({"tasks": 1, "seconds": 0})
    with pytest.raises(CommandError) as refusal:
        call_command("pgflow_remove_flow", "slow_map", stdout=io.StringIO())
    assert str(refusal.value) == (
        "flow 'slow_map' has 1 active run(s): cancel them first, or run again with --force."
    )
    assert WorkflowRun.objects.filter(flow_slug="slow_map").count() == 1
    with pytest.raises(CommandError, match="Invalid flow slug 'Slow Map'"):
        call_command("pgflow_remove_flow", "Slow Map")
    with pytest.raises(CommandError, match="unknown flow 'never_defined'"):
        call_command("pgflow_remove_flow", "never_defined")
    out = io.StringIO()
    call_command("pgflow_remove_flow", "slow_map", "--force", stdout=out, stderr=io.StringIO())
    assert out.getvalue() == "flow 'slow_map' removed, with 1 run(s)\n"
    assert not WorkflowRun.objects.exists()


@pytest.mark.django_db(transaction=True)
def test_only_the_owner_may_remove_a_flow(roles: Roles):
    Chain.start({"n": 1})
    for role in (roles.web, roles.worker, roles.operator):
        with connect_as(role, roles) as conn, pytest.raises(psycopg.errors.InsufficientPrivilege):
            conn.execute("SELECT django_pgflow.remove_flow('linear_chain', true)")
    env = {**subprocess_env(), "DATABASE_URL": database_url(roles.worker, roles)}
    done = subprocess.run(
        [sys.executable, str(ROOT / "manage.py"), "pgflow_remove_flow", "linear_chain", "--force"],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert done.returncode == 1
    assert "this database role may not remove flows" in done.stderr
    assert WorkflowRun.objects.filter(flow_slug="linear_chain").count() == 1
