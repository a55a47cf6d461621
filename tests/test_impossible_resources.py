"""A job that asks for more than a resource has is refused, or set aside: it
never keeps a job that could run waiting (invariant 13).

Issue: {"gpu": 99} with capacity 1, or a resource nobody declared, could never
start, and while it waited every later job of the resource starved: the
claim gave the blocker a first unit, turned both down and closed the
resource, on every claim, so `runworkers --burst` never exited.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from django.db import DatabaseError, connection, transaction

from django_pgflow import enqueue_many, start_flow
from django_pgflow.exceptions import InvalidJobError
from django_pgflow.models import Job, WorkflowRun
from testproject.example.tasks import record

from .conftest import WorkerProcess

pytestmark = pytest.mark.django_db(transaction=True)


def sql(query: str, *params: Any) -> Any:
    with connection.cursor() as cursor:
        cursor.execute(query, list(params))
        return cursor.fetchone()[0] if cursor.description else None


def capacities(resources: dict[str, int]) -> None:
    sql("SELECT django_pgflow.sync_limits(%s::jsonb, '{}')", json.dumps(resources))


@pytest.mark.parametrize(
    ("resources", "message"),
    [
        ({"gpu": 99}, "needs 99 of resource 'gpu', whose capacity is 1"),
        ({"tpu": 1}, "needs resource 'tpu', which PGFLOW\\[\"RESOURCES\"\\] does not declare"),
    ],
)
def test_sql_enqueue_refuses_what_could_never_be_given(
    resources: dict[str, int], message: str
) -> None:
    capacities({"gpu": 1})
    with pytest.raises(DatabaseError, match=message), transaction.atomic():
        sql(
            "SELECT (django_pgflow.enqueue('default', 't.x', p_resources => %s::jsonb)).id",
            json.dumps(resources),
        )
    item = json.dumps([{"queue": "default", "task_name": "t.x", "resources": resources}])
    with (
        pytest.raises(DatabaseError, match="enqueue_many job 1: .*" + message),
        transaction.atomic(),
    ):
        sql("SELECT count(*) FROM django_pgflow.enqueue_many(%s::jsonb)", item)
    with pytest.raises(InvalidJobError):
        record.using(resources=resources).enqueue("x")
    assert not Job.objects.exists()


def test_start_flow_refuses_a_flow_whose_step_could_never_run() -> None:
    capacities({})  # embed_documents.embed needs {"gpu": 1}
    with pytest.raises(InvalidJobError, match=r"step .* needs resource 'gpu'"):
        start_flow("embed_documents", {})
    assert not WorkflowRun.objects.exists()


def _drain(worker_process: Any, gpus: int = 1) -> str:
    # A worker writes its PGFLOW["RESOURCES"] to the database as it starts.
    overrides = {"RESOURCES": {"gpu": gpus}}
    proc: WorkerProcess = worker_process("--burst", "--concurrency", "2", overrides=overrides)
    assert proc.wait(120) == 0, proc.output()
    return proc.output()


def test_a_lowered_capacity_sets_jobs_aside_and_the_rest_run_then_they_run_once_it_rises(
    worker_process: Any,
) -> None:
    capacities({"gpu": 2})
    big = Job.objects.get(
        pk=sql(
            "SELECT (django_pgflow.enqueue('default', 'testproject.example.tasks.record', "
            "'[\"big\"]', p_priority => 10, p_resources => '{\"gpu\": 2}')).id"
        )
    )
    small = enqueue_many([record.using(resources={"gpu": 1}).s(f"small-{i}") for i in range(4)])
    capacities({"gpu": 1})
    big.refresh_from_db()
    assert big.impossible == "needs 2 of resource 'gpu', whose capacity is 1"
    _drain(worker_process)  # --burst exits: the big job is not ready, nor running
    assert set(Job.objects.filter(pk__in=small).values_list("status", flat=True)) == {"completed"}
    big.refresh_from_db()
    assert big.status == "queued"

    capacities({"gpu": 2})
    big.refresh_from_db()
    assert big.impossible is None
    _drain(worker_process, gpus=2)
    big.refresh_from_db()
    assert big.status == "completed"


def test_the_claim_sets_aside_an_impossible_job_it_meets(worker_process: Any) -> None:
    # As the owner, past enqueue's check (rows from before it, a capacity
    # lowered while a step was being started): the claim itself sets it aside.
    capacities({"gpu": 1})
    blocker = sql(
        "INSERT INTO pgflow_job (queue, task_name, args, kwargs, status, priority, run_at, "
        "attempts, failures, max_attempts, retry_delay, max_retry_delay, timeout, errors, "
        "created_at, resources, lock_key, gated) VALUES ('default', "
        "'testproject.example.tasks.record', '[\"blocker\"]', '{}', 'queued', 100, now(), 0, 0, "
        "3, 1, 60, 60, '[]', now(), '{\"gpu\": 99}', 'k', true) RETURNING id"
    )
    behind = enqueue_many(
        [record.using(resources={"gpu": 1}).s(f"behind-{i}") for i in range(3)]
        + [record.using(lock_key="k").s("same-key")]
    )
    _drain(worker_process)
    assert set(Job.objects.filter(pk__in=behind).values_list("status", flat=True)) == {"completed"}
    job = Job.objects.get(pk=blocker)
    assert (job.status, job.attempts) == ("queued", 0)
    assert job.impossible == "needs 99 of resource 'gpu', whose capacity is 1"
