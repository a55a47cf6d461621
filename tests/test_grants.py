"""Least privilege: roles holding only the grants of docs/guides/security.md.

The grants are read from docs/snippets/, the files the guide includes, so the
SQL a user pastes is the SQL tested here. A web role enqueues and starts flows
through Django in a subprocess; a worker role runs a real ``runworkers
--burst``; the web role is refused everything else.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from typing import Any

import psycopg
import pytest
from django.db import connection

from django_pgflow.definitions.sync import sync_flows
from django_pgflow.models import Job, WorkflowRun
from django_pgflow.sql import PURE
from testproject.example.models import Execution

from .conftest import ROOT, subprocess_env
from .roles import Roles, connect_as, database_url, drop_role, least_privilege_roles, snippet

WEB_ENTRY_POINTS = {
    "enqueue",
    "enqueue_many",
    "enqueue_batch",
    "start_flow",
    "cancel",
    "retry",
    "cancel_run",
}
WEB_ENTRY_POINTS |= {"resume_run", "run_now", "get_run_with_states"}
WORKER_ENTRY_POINTS = {"register_worker", "heartbeat", "claim", "complete", "complete_many"}
WORKER_ENTRY_POINTS |= {"complete_and_claim", "fail", "release", "release_unknown", "stop_worker"}
WORKER_ENTRY_POINTS |= {"keep_alive"}
WORKER_ENTRY_POINTS |= {"worker_lost", "reap", "prune", "prune_runs", "prune_workers"}
WORKER_ENTRY_POINTS |= {"sync_flow", "sync_periodic", "enqueue_periodic", "rate_used"}
WORKER_ENTRY_POINTS |= {"create_flow", "add_step"}

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(scope="module")
def roles(django_db_setup: None, django_db_blocker: Any) -> Iterator[Roles]:
    yield from least_privilege_roles("grants", django_db_blocker)


def manage(role: str, roles: Roles, *args: str, **overrides: Any) -> str:
    """Run manage.py as ``role``; return its output, failing the test on a non-zero exit."""
    env = subprocess_env(overrides)
    env["DATABASE_URL"] = database_url(role, roles)
    env["PGFLOW_LOG"] = "DEBUG"
    done = subprocess.run(
        [sys.executable, str(ROOT / "manage.py"), *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    output = done.stdout + done.stderr
    assert done.returncode == 0, output
    assert "permission denied" not in output.lower(), output
    assert roles.password not in output, "the password of DATABASE_URL was printed"
    return output


WEB_SCRIPT = """
import json
from django_pgflow import start_flow
from django_pgflow.queue.api import enqueue_many
from testproject.example.tasks import record
jobs = [record.enqueue(key="web-1").pk, record.using(unique_key="web:2").enqueue(key="web-2").pk]
jobs += enqueue_many([record.s(key="web-3"), record.s(key="web-4")])
# Gated: the worker role claims these through slots and pgflow_slot_state.
jobs += enqueue_many([
    record.using(resources={"gpu": 1}).s(key="web-5"),
    record.using(queue="limited", lock_key="web").s(key="web-6"),
])
runs = [start_flow("linear_chain", {"n": 1}).pk, start_flow("square_sum", {"numbers": [1, 2]}).pk]
print(json.dumps({"jobs": jobs, "runs": runs}))
"""


def test_a_web_role_enqueues_and_a_worker_role_runs_everything(roles):
    sync_flows()  # as the owner: the web role only reads definitions
    output = manage(roles.web, roles, "shell", "-c", WEB_SCRIPT)
    made = json.loads(next(line for line in output.splitlines() if line.startswith('{"jobs"')))
    assert Job.objects.filter(pk__in=made["jobs"], status="queued").count() == 6

    log = manage(roles.worker, roles, "runworkers", "--burst", "-v", "3")
    assert "burst: nothing ready or running" in log

    assert Job.objects.filter(pk__in=made["jobs"], status="completed").count() == 6
    runs = WorkflowRun.objects.filter(pk__in=made["runs"])
    assert sorted(runs.values_list("status", flat=True)) == ["completed", "completed"]
    assert runs.get(flow_slug="square_sum").output == {"total": {"squares": [1, 4], "total": 5}}
    assert Execution.objects.filter(task="record").count() == 6

    pruned = manage(roles.worker, roles, "pgflow_prune", "--older-than", "0")
    assert "pruned:" in pruned
    assert not Job.objects.filter(pk__in=made["jobs"]).exists()
    assert not WorkflowRun.objects.exists()
    manage(roles.worker, roles, "pgflow_status")


def _one(conn: psycopg.Connection[Any], query: str, params: list[Any] | None = None) -> Any:
    row = conn.execute(query, params or []).fetchone()
    assert row is not None
    return row[0]


def _enqueue(conn: psycopg.Connection[Any], task: str = "testproject.example.tasks.noop") -> int:
    return int(_one(conn, "SELECT id FROM django_pgflow.enqueue('default', %s)", [task]))


def test_the_worker_role_can_call_every_worker_function(roles):
    sync_flows()
    with connect_as(roles.web, roles) as web, connect_as(roles.worker, roles) as worker:
        ids = [_enqueue(web) for _ in range(3)]
        worker.execute("LISTEN django_pgflow")
        wid = _one(worker, "SELECT django_pgflow.register_worker('host', 1, '[]', 3)")
        claimed = worker.execute(
            "SELECT id, attempts FROM django_pgflow.claim(%s, NULL, 3)", [wid]
        ).fetchall()
        assert sorted(r[0] for r in claimed) == ids
        attempt = dict(claimed)
        assert _one(worker, "SELECT django_pgflow.heartbeat(%s)", [wid]) == 3
        applied = worker.execute(
            "SELECT django_pgflow.complete_many(%s, %s, %s, ARRAY['1'::jsonb], '{}')",
            [wid, [ids[0]], [attempt[ids[0]]]],
        ).fetchall()
        assert applied == [(ids[0],)]
        fail = "SELECT django_pgflow.fail(%s, %s, %s, '{}', false)"
        failed = _one(worker, fail, [wid, ids[1], attempt[ids[1]]])
        assert failed == "failed"
        assert _one(worker, "SELECT django_pgflow.release(%s, %s)", [wid, [ids[2]]]) == 1
        again = worker.execute("SELECT id FROM django_pgflow.claim(%s, NULL, 1)", [wid]).fetchall()
        assert again == [(ids[2],)]
        assert _one(worker, "SELECT django_pgflow.release_unknown(%s, '{}')", [wid]) == 1
        worker.execute("SELECT * FROM django_pgflow.claim(%s, NULL, 1)", [wid])
        with connection.cursor() as cursor:  # the owner: a lease that ran out
            cursor.execute(
                "UPDATE pgflow_job SET lease_expires_at = '2000-01-01' WHERE id = %s", [ids[2]]
            )
        assert _one(worker, "SELECT django_pgflow.reap(60)") == 1
        assert _one(worker, "SELECT django_pgflow.stop_worker(%s)", [wid]) == 0
        assert _one(worker, "SELECT django_pgflow.prune('completed', 0)") == 1
        assert _one(worker, "SELECT django_pgflow.prune('failed', 0)") == 1
        _one(worker, "SELECT django_pgflow.prune_runs('completed', 0)")
        _one(worker, "SELECT django_pgflow.prune_workers(0)")

        job = json.dumps({"queue": "default", "task_name": "testproject.example.tasks.noop"})
        worker.execute(
            "SELECT django_pgflow.sync_periodic('nightly', 'testproject.example.tasks.noop',"
            " '0 3 * * *', 'UTC', %s::jsonb, now() - interval '1 day', now() + interval '1 hour')",
            [job],
        )
        tick = _one(worker, "SELECT django_pgflow.enqueue_periodic('nightly', now())")
        assert Job.objects.get(pk=tick).status == "queued"
        assert _one(worker, "SELECT django_pgflow.start_flow('linear_chain', '{}')") > 0


WORKER_DENIED = {
    "forge a start": "UPDATE pgflow_job SET status = 'started', attempts = attempts + 1",
    "forge a completion": "UPDATE pgflow_job SET status = 'completed', result = '1'",
    "change a job's args": "UPDATE pgflow_job SET args = '[\"evil\"]'",
    "insert a completed job": (
        "INSERT INTO pgflow_job (queue, task_name, status, run_at, created_at)"
        " VALUES ('default', 'x', 'completed', now(), now())"
    ),
    "delete jobs": "DELETE FROM pgflow_job",
    "stop other workers": "UPDATE pgflow_worker SET state = 'stopped'",
    "change a capacity": "UPDATE pgflow_resource SET capacity = 100",
    "take a slot": "UPDATE pgflow_slot SET job_id = 1, attempt = 1",
    "complete a run": "UPDATE pgflow_run SET status = 'completed'",
    "insert a step task": "INSERT INTO pgflow_step_task (run_id) VALUES (1)",
    "rewrite a flow": "UPDATE pgflow_step SET queue = 'evil'",
    "change capacities": "SELECT django_pgflow.sync_limits('{\"gpu\": 100}', '{}')",
    "internal fail_attempt": "SELECT django_pgflow.fail_attempt(1, 1, '{}')",
    "internal claim_gated": "SELECT * FROM django_pgflow.claim_gated(NULL, 10)",
}


@pytest.mark.parametrize("statement", WORKER_DENIED.values(), ids=WORKER_DENIED.keys())
def test_the_worker_role_writes_no_table_and_changes_no_capacity(roles, statement):
    with connect_as(roles.web, roles) as web:
        job_id = _enqueue(web)
    with (
        connect_as(roles.worker, roles) as worker,
        pytest.raises(psycopg.errors.InsufficientPrivilege),
    ):
        worker.execute(statement)
    assert Job.objects.get(pk=job_id).status == "queued"


def test_a_worker_cannot_report_on_a_job_another_worker_holds(roles):
    with connect_as(roles.worker, roles) as worker:
        job_id = _enqueue(worker)
        holder = _one(worker, "SELECT django_pgflow.register_worker('a', 1, '[]', 1)")
        other = _one(worker, "SELECT django_pgflow.register_worker('b', 2, '[]', 1)")
        claimed = worker.execute(
            "SELECT id, attempts FROM django_pgflow.claim(%s, NULL, 1)", [holder]
        ).fetchall()
        assert claimed == [(job_id, 1)]
        forged = "SELECT django_pgflow.complete(%s, %s, 1, '\"forged\"')"
        assert _one(worker, forged, [other, job_id]) is False
        assert (
            _one(worker, "SELECT django_pgflow.fail(%s, %s, 1, '{}', false)", [other, job_id])
            is None
        )
        applied = worker.execute(
            "SELECT django_pgflow.complete_many(%s, %s, '{1}', ARRAY['1'::jsonb])",
            [other, [job_id]],
        ).fetchall()
        assert applied == []
        job = Job.objects.get(pk=job_id)
        assert (job.status, job.worker_id, job.result) == ("started", holder, None)
        assert _one(worker, forged.replace("forged", "real"), [holder, job_id]) is True
    assert Job.objects.get(pk=job_id).result == "real"


DENIED = {
    "claim": "SELECT * FROM django_pgflow.claim(1, NULL, 10)",
    "complete": "SELECT django_pgflow.complete(1, 1, 1, '1')",
    "complete_many": "SELECT django_pgflow.complete_many(1, '{1}', '{1}', ARRAY['1'::jsonb])",
    "fail": "SELECT django_pgflow.fail(1, 1, 1, '{}')",
    "sync_flow": "SELECT django_pgflow.sync_flow('{}')",
    "sync_limits": "SELECT django_pgflow.sync_limits('{\"gpu\": 99}', '{}')",
    "heartbeat": "SELECT django_pgflow.heartbeat(1)",
    "register_worker": "SELECT django_pgflow.register_worker('h', 1, '[]', 1)",
    "release": "SELECT django_pgflow.release(1)",
    "reap": "SELECT django_pgflow.reap(0)",
    "prune": "SELECT django_pgflow.prune('completed', 0)",
    "cancel": "SELECT django_pgflow.cancel(1)",
    "cancel_run": "SELECT django_pgflow.cancel_run(1)",
    "internal start_step": "SELECT django_pgflow.start_step(1, 'x')",
    "internal on_step_job": (
        "SELECT django_pgflow.on_step_job(1, 'x', 0, 1, 'completed', 1, '1', '[]')"
    ),
    "update jobs": "UPDATE pgflow_job SET status = 'started'",
    "delete jobs": "DELETE FROM pgflow_job",
    "insert a job": (
        "INSERT INTO pgflow_job (queue, task_name, status, run_at, created_at)"
        " VALUES ('default', 'x', 'completed', now(), now())"
    ),
    "truncate jobs": "TRUNCATE pgflow_job",
    "update runs": "UPDATE pgflow_run SET status = 'completed'",
    "insert a step task": "INSERT INTO pgflow_step_task (run_id) VALUES (1)",
    "update workers": "UPDATE pgflow_worker SET state = 'lost'",
    "update periodic schedules": "UPDATE pgflow_periodic SET last_tick = NULL",
    "read workers": "SELECT * FROM pgflow_worker",
}


@pytest.mark.parametrize("statement", DENIED.values(), ids=DENIED.keys())
def test_the_web_role_is_refused_everything_but_enqueueing(roles, statement):
    with connect_as(roles.web, roles) as web:
        job_id = _enqueue(web)  # what it may do
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            web.execute(statement)
    assert Job.objects.get(pk=job_id).status == "queued"


def test_the_optional_grants_add_cancel_retry_and_workers_and_nothing_more(roles):
    with connect_as(roles.operator, roles) as operator:
        job_id = _enqueue(operator)
        assert _one(operator, "SELECT django_pgflow.cancel(%s)", [job_id]) is True
        assert _one(operator, "SELECT django_pgflow.retry(%s, 60)", [job_id]) is True
        assert _one(operator, "SELECT django_pgflow.run_now(%s)", [job_id]) is True
        run_id = _one(operator, "SELECT django_pgflow.start_flow('linear_chain', '{}')")
        assert _one(operator, "SELECT django_pgflow.cancel_run(%s)", [run_id]) is True
        assert _one(operator, "SELECT django_pgflow.resume_run(%s)", [run_id]) is True
        assert _one(operator, "SELECT count(*) FROM pgflow_worker") >= 0
        for statement in (DENIED["claim"], DENIED["update jobs"], DENIED["delete jobs"]):
            with pytest.raises(psycopg.errors.InsufficientPrivilege):
                operator.execute(statement)


def test_a_temporary_table_cannot_stand_in_for_a_definition_table(roles):
    # The entry points run as their owner: a session's own temporary tables
    # must not shadow the real ones (pg_temp is last in their search_path).
    sync_flows()
    with connect_as(roles.web, roles) as web:
        web.execute("CREATE TEMPORARY TABLE pgflow_flow AS SELECT * FROM pgflow_flow WHERE false")
        web.execute("CREATE TEMPORARY TABLE pgflow_job AS SELECT * FROM pgflow_job WHERE false")
        run_id = _one(web, "SELECT django_pgflow.start_flow('linear_chain', '{}')")
        job_id = _enqueue(web)
        assert _one(web, "SELECT count(*) FROM pg_temp.pgflow_job") == 0
    assert WorkflowRun.objects.get(pk=run_id).flow_slug == "linear_chain"
    assert Job.objects.filter(pk=job_id).exists()


def _functions(query: str) -> set[str]:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT p.proname FROM pg_proc p WHERE p.pronamespace = 'django_pgflow'::regnamespace"
            f" AND ({query})"
        )
        return {row[0] for row in cursor.fetchall()}


def test_only_the_entry_points_run_with_their_owners_rights():
    assert _functions("p.prosecdef") == WEB_ENTRY_POINTS | WORKER_ENTRY_POINTS


def test_no_function_is_executable_by_public():
    public = _functions(
        "EXISTS (SELECT 1 FROM aclexplode(coalesce(p.proacl, acldefault('f', p.proowner))) a"
        " WHERE a.grantee = 0 AND a.privilege_type = 'EXECUTE')"
    )
    assert not public, f"PUBLIC may execute {sorted(public)}: REVOKE it beside its CREATE"


def test_every_function_searches_pg_temp_last():
    loose = _functions(
        "NOT EXISTS (SELECT 1 FROM unnest(p.proconfig) c"
        " WHERE c LIKE 'search\\_path=%' AND c LIKE '%, pg\\_temp')"
    )
    loose -= PURE  # no SET at all: they read no table, granted to no one
    assert not loose, f"{sorted(loose)}: SET search_path FROM CURRENT"


def test_a_status_only_web_role_enqueues_and_reads_status_but_no_payload(roles):
    with connection.cursor() as cursor:
        cursor.execute(f"CREATE ROLE \"{roles.web}_status\" LOGIN PASSWORD '{roles.password}'")
        cursor.execute(snippet("grants-web-status-only.sql", web=f"{roles.web}_status"))
    try:
        with connect_as(f"{roles.web}_status", roles) as web:
            job_id = _enqueue(web)
            status = "SELECT status, attempts FROM pgflow_job WHERE id = %s"
            assert web.execute(status, [job_id]).fetchone() == ("queued", 0)
            with pytest.raises(psycopg.errors.InsufficientPrivilege):
                web.execute("SELECT args FROM pgflow_job WHERE id = %s", [job_id])
    finally:
        with connection.cursor() as cursor:
            drop_role(cursor, f"{roles.web}_status")
