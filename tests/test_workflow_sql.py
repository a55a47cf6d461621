"""The workflow SQL core driven directly: definitions written as rows, tasks
claimed and reported through the same functions a worker uses."""

from __future__ import annotations

import json
from typing import Any

import pytest
from django.db import DatabaseError, connection, transaction

from django_pgflow.models import FlowDefinition, Job, StepDefinition, StepDependency, WorkflowRun

pytestmark = pytest.mark.django_db


def q(sql: str, *params: Any) -> list[tuple[Any, ...]]:
    with connection.cursor() as cursor:
        cursor.execute(sql, list(params))
        return cursor.fetchall() if cursor.description else []


def one(sql: str, *params: Any) -> Any:
    return q(sql, *params)[0][0]


def define(slug: str, steps: dict[str, dict[str, Any]], **flow: Any) -> FlowDefinition:
    """steps: {slug: {"deps": [...], "map": bool, **StepDefinition fields}}, topologically."""
    definition = FlowDefinition.objects.create(
        slug=slug, version=1, shape_hash="test", **{"max_attempts": 1, "base_delay": 0, **flow}
    )
    dependents = {d for spec in steps.values() for d in spec.get("deps", [])}
    for index, (name, spec) in enumerate(steps.items()):
        spec = dict(spec)
        deps = spec.pop("deps", [])
        is_map = spec.pop("map", False)
        StepDefinition.objects.create(
            flow=definition,
            slug=name,
            index=index,
            step_type="map" if is_map else "single",
            dep_count=len(deps),
            is_leaf=name not in dependents,
            **spec,
        )
        for dep in deps:
            StepDependency.objects.create(flow=definition, step_slug=name, dep_slug=dep)
    return definition


def start(slug: str, value: Any, run_key: str | None = None) -> int:
    return one(
        "SELECT django_pgflow.start_flow(%s, %s::jsonb, %s)", slug, json.dumps(value), run_key
    )


WORKER: list[int] = []


def claim(limit: int = 100) -> list[tuple[int, str, Any, Any]]:
    if not WORKER:
        WORKER.append(one("SELECT django_pgflow.register_worker('t', 1, '[]', 1)"))
    rows = q(
        "SELECT id, task_name, args, kwargs FROM django_pgflow.claim(%s, NULL, %s, 30) ORDER BY id",
        WORKER[0],
        limit,
    )
    # Django's cursor hands jsonb back as text.
    return [(i, name, json.loads(args), json.loads(kwargs)) for i, name, args, kwargs in rows]


def complete(job_id: int, output: Any) -> bool:
    attempt = one("SELECT attempts FROM pgflow_job WHERE id = %s", job_id)
    return one(
        "SELECT django_pgflow.complete(%s, %s, %s, %s::jsonb)",
        WORKER[0],
        job_id,
        attempt,
        json.dumps(output),
    )


def fail(job_id: int) -> str:
    attempt = one("SELECT attempts FROM pgflow_job WHERE id = %s", job_id)
    return one(
        'SELECT django_pgflow.fail(%s, %s, %s, \'{"error": "Boom", "message": "x"}\')',
        WORKER[0],
        job_id,
        attempt,
    )


def run_of(run_id: int) -> WorkflowRun:
    return WorkflowRun.objects.get(pk=run_id)


def steps_of(run_id: int) -> dict[str, str]:
    return dict(q("SELECT step_slug, status FROM pgflow_step_state WHERE run_id = %s", run_id))


@pytest.fixture(autouse=True)
def _fresh_worker():
    WORKER.clear()


def test_chain_passes_outputs_along_and_completes_with_leaf_output():
    define("chain", {"a": {}, "b": {"deps": ["a"]}, "c": {"deps": ["b"]}})
    run_id = start("chain", {"x": 1})
    (job,) = claim()
    assert job[1:] == ("pgflow.step.chain.a", [{"x": 1}], {})
    complete(job[0], 2)
    (job,) = claim()
    assert job[2:] == ([], {"a": 2})
    complete(job[0], 3)
    (job,) = claim()
    assert job[3] == {"b": 3}
    complete(job[0], "done")
    run = run_of(run_id)
    assert (run.status, run.output, run.remaining_steps) == ("completed", {"c": "done"}, 0)


def test_complete_and_claim_cascades_and_claims_the_released_step_in_one_call():
    define("pair", {"a": {}, "b": {"deps": ["a"]}})
    run_id = start("pair", {"x": 1})
    (job,) = claim()
    rows = q(
        "SELECT late_id, task_name, args, kwargs FROM django_pgflow.complete_and_claim("
        "%s, NULL, 10, 30, %s, '{1}', ARRAY['2'::jsonb], %s)",
        WORKER[0],
        [job[0]],
        [run_id],
    )
    assert [(late, name, json.loads(kw)) for late, name, _, kw in rows] == [
        (None, "pgflow.step.pair.b", {"a": 2})
    ]
    assert steps_of(run_id) == {"a": "completed", "b": "started"}


def test_diamond_runs_both_branches_at_once():
    define(
        "diamond",
        {
            "fetch": {},
            "analyze": {"deps": ["fetch"]},
            "summarize": {"deps": ["fetch"]},
            "save": {"deps": ["analyze", "summarize"]},
        },
    )
    run_id = start("diamond", "url")
    complete(claim()[0][0], "page")
    middle = claim()
    assert sorted(j[1] for j in middle) == [
        "pgflow.step.diamond.analyze",
        "pgflow.step.diamond.summarize",
    ]
    complete(middle[0][0], "A")
    assert claim() == []  # save waits for both
    complete(middle[1][0], "S")
    (save,) = claim()
    assert save[3] == {"analyze": "A", "summarize": "S"}
    complete(save[0], "ok")
    assert run_of(run_id).status == "completed"


def test_map_aggregates_outputs_in_element_order_whatever_the_completion_order():
    define("mapper", {"items": {"map": True}, "total": {"deps": ["items"]}})
    start("mapper", [5, 6, 7, 8])
    tasks = claim()
    assert [j[2] for j in tasks] == [[5], [6], [7], [8]]
    for job_id, _, args, _ in reversed(tasks):
        complete(job_id, args[0] * 10)
    (total,) = claim()
    assert total[3] == {"items": [50, 60, 70, 80]}


def test_map_over_an_empty_array_completes_without_a_task():
    define("empty", {"items": {"map": True}, "after": {"deps": ["items"]}})
    start("empty", [])
    (after,) = claim()
    assert after[1] == "pgflow.step.empty.after"
    assert after[3] == {"items": []}
    assert Job.objects.filter(step_slug="items").count() == 0


def test_a_non_array_into_a_map_step_fails_the_run_naming_both_steps():
    define("typed", {"fetch": {}, "each": {"deps": ["fetch"], "map": True}})
    run_id = start("typed", None)
    complete(claim()[0][0], {"not": "a list"})
    run = run_of(run_id)
    assert run.status == "failed"
    assert run.error["error"] == "TypeViolation"
    assert "map step each" in run.error["message"] and "step fetch" in run.error["message"]


def test_a_failure_with_attempts_left_retries_the_task():
    define("retry", {"only": {"max_attempts": 2, "base_delay": 0}})
    run_id = start("retry", 1)
    (job,) = claim()
    assert fail(job[0]) == "queued"
    assert run_of(run_id).status == "started"
    (again,) = claim()
    assert again[0] == job[0]
    complete(job[0], "ok")
    assert run_of(run_id).status == "completed"


def test_exhausted_attempts_fail_the_run_and_cancel_the_rest():
    define("boom", {"a": {}, "b": {}, "c": {"deps": ["a", "b"]}})
    run_id = start("boom", 1)
    a, b = claim()
    assert fail(a[0]) == "failed"
    run = run_of(run_id)
    assert run.status == "failed"
    assert run.error["step"] == "a"
    assert steps_of(run_id) == {"a": "failed", "b": "cancelled", "c": "cancelled"}
    assert Job.objects.get(pk=b[0]).status == "cancelled"
    assert complete(b[0], "late") is False  # a running task's late result is ignored


def test_a_skipped_dependency_is_left_out_of_the_input():
    # As in pgflow: nothing ran, so there is no output, not even null.
    define("skip", {"a": {"on_failure": "skip"}, "b": {"deps": ["a"]}})
    run_id = start("skip", 1)
    fail(claim()[0][0])
    (b,) = claim()
    assert b[3] == {}
    complete(b[0], "fine")
    assert run_of(run_id).status == "completed"
    assert steps_of(run_id)["a"] == "skipped"


def test_skip_cascade_skips_everything_downstream():
    define(
        "cascade",
        {
            "a": {"on_failure": "skip_cascade"},
            "side": {},
            "b": {"deps": ["a"]},
            "c": {"deps": ["b", "side"]},
        },
    )
    run_id = start("cascade", 1)
    jobs = {j[1].rsplit(".", 1)[1]: j[0] for j in claim()}
    fail(jobs["a"])
    complete(jobs["side"], "s")
    run = run_of(run_id)
    assert steps_of(run_id) == {"a": "skipped", "side": "completed", "b": "skipped", "c": "skipped"}
    assert run.status == "completed"
    assert run.output == {"c": None}


@pytest.mark.parametrize(
    ("policy", "run_status", "step_status"),
    [("skip", "completed", "skipped"), ("fail", "failed", "failed")],
)
def test_condition_false_applies_its_policy(policy, run_status, step_status):
    define(
        f"cond_{policy}",
        {"gate": {"condition": {"go": True}, "on_condition_false": policy}},
    )
    yes = start(f"cond_{policy}", {"go": True, "n": 1})
    no = start(f"cond_{policy}", {"go": False})
    assert [j[2] for j in claim()] == [[{"go": True, "n": 1}]]
    assert run_of(no).status == run_status
    assert steps_of(no)["gate"] == step_status
    assert run_of(yes).status == "started"


def test_cancel_run_cancels_queued_and_running_tasks():
    define("cancel", {"items": {"map": True}})
    run_id = start("cancel", [1, 2, 3])
    running = claim(limit=1)[0]
    assert one("SELECT django_pgflow.cancel_run(%s)", run_id) is True
    assert run_of(run_id).status == "cancelled"
    assert set(Job.objects.filter(run_id=run_id).values_list("status", flat=True)) == {"cancelled"}
    assert complete(running[0], "late") is False
    assert one("SELECT django_pgflow.cancel_run(%s)", run_id) is False


def test_resume_reruns_failed_and_never_run_steps_only():
    define("resume", {"a": {}, "b": {"deps": ["a"]}, "c": {"deps": ["b"]}})
    run_id = start("resume", 1)
    complete(claim()[0][0], "A")
    fail(claim()[0][0])
    assert run_of(run_id).status == "failed"
    assert one("SELECT django_pgflow.resume_run(%s)", run_id) is True
    (b,) = claim()
    assert b[1] == "pgflow.step.resume.b"
    assert b[3] == {"a": "A"}  # a's output kept, a not re-run
    complete(b[0], "B")
    complete(claim()[0][0], "C")
    run = run_of(run_id)
    assert (run.status, run.output) == ("completed", {"c": "C"})
    assert Job.objects.filter(run_id=run_id, step_slug="a").count() == 1
    assert one("SELECT django_pgflow.resume_run(%s)", run_id) is False


def test_same_run_key_gives_one_run():
    define("keyed", {"a": {}})
    first = start("keyed", 1, run_key="order-7")
    second = start("keyed", 2, run_key="order-7")
    assert first == second
    assert WorkflowRun.objects.count() == 1
    assert Job.objects.count() == 1


def test_unknown_flow_is_refused():
    with pytest.raises(DatabaseError, match="unknown flow 'nope'"), transaction.atomic():
        start("nope", 1)


def test_counters_match_rows_after_a_map_completes():
    define("count", {"items": {"map": True}, "sum": {"deps": ["items"]}})
    run_id = start("count", list(range(30)))
    for job_id, _, args, _ in claim():
        complete(job_id, args[0])
    state = q(
        "SELECT remaining_tasks, initial_tasks FROM pgflow_step_state "
        "WHERE run_id = %s AND step_slug = 'items'",
        run_id,
    )
    assert state == [(0, 30)]
    assert run_of(run_id).remaining_steps == 1
