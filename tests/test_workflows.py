"""Flows run end to end by real workers (threads here, processes where it matters)."""

from __future__ import annotations

import os
import signal

import pytest
from django.db import transaction

from django_pgflow import cancel_run, resume_run, start_flow
from django_pgflow.models import Job, StepState, StepTask, WorkflowRun
from testproject.example.flows import (
    AlwaysFails,
    Analysis,
    Chain,
    Conditional,
    FailsUntilResumed,
    HangsOnFirstAttempt,
    MapTypeViolation,
    RetryThenSucceed,
    SkipCascade,
    SkipOnFailure,
    SlowMap,
    SquareSum,
    WideMap,
    executions,
)
from testproject.example.models import Execution

from .conftest import wait_for

pytestmark = pytest.mark.django_db(transaction=True)


def steps(run: WorkflowRun) -> dict[str, str]:
    return dict(StepState.objects.filter(run=run).values_list("step_slug", "status"))


def test_three_step_chain(worker_thread):
    worker_thread()
    run = Chain.start({"n": 4}).wait(30)
    assert run.status == "completed"
    assert run.output == {"third": "result 10"}
    assert [executions(s, run.pk) for s in ("first", "second", "third")] == [1, 1, 1]


def test_diamond_runs_its_middle_steps_in_parallel_on_two_workers(worker_thread):
    worker_thread(concurrency=1)
    worker_thread(concurrency=1)
    run = Analysis.start({"url": "https://example.com", "pause": 0.5}).wait(30)
    assert run.status == "completed"
    assert run.output["save"]["words"] == 9
    analyze, summarize = Job.objects.filter(
        run=run, step_slug__in=["analyze", "summarize"]
    ).order_by("step_slug")
    # One worker each, at the same time (database clock).
    assert analyze.worker_id != summarize.worker_id
    assert analyze.started_at < summarize.finished_at
    assert summarize.started_at < analyze.finished_at
    assert run.progress() == {
        "status": "completed",
        "steps": {"completed": 4},
        "total": 4,
        "done": 4,
    }


def test_map_over_fifty_items_aggregates_in_order(worker_thread):
    worker_thread(concurrency=8)
    numbers = list(range(50, 0, -1))
    run = SquareSum.start({"numbers": numbers}).wait(60)
    assert run.status == "completed"
    assert run.output["total"]["squares"] == [n * n for n in numbers]
    assert executions("square", run.pk) == 50


def test_empty_map_completes_without_a_task(worker_thread):
    worker_thread()
    run = SquareSum.start({"numbers": []}).wait(30)
    assert run.output == {"total": {"squares": [], "total": 0}}
    assert not Job.objects.filter(run=run, step_slug="square").exists()


def test_retry_then_success(worker_thread):
    worker_thread()
    run = RetryThenSucceed.start(None).wait(30)
    assert run.status == "completed"
    assert executions("flaky", run.pk) == 2
    job = Job.objects.get(run=run, step_slug="flaky")
    assert (job.attempts, len(job.errors)) == (2, 1)
    assert job.errors[0]["error"] == "ConnectionError"


def test_exhausted_retries_fail_the_run(worker_thread):
    worker_thread()
    run = AlwaysFails.start(None).wait(30, raise_on_failure=False)
    assert run.status == "failed"
    assert run.error["step"] == "boom"
    assert executions("boom", run.pk) == 2
    assert executions("never", run.pk) == 0
    assert steps(run) == {"boom": "failed", "never": "cancelled"}


def test_type_violation_fails_the_run_naming_both_steps(worker_thread):
    worker_thread()
    run = MapTypeViolation.start(None).wait(30, raise_on_failure=False)
    assert run.status == "failed"
    assert run.error["error"] == "TypeViolation"
    assert "map step each" in run.error["message"]
    assert "step listing" in run.error["message"]


def test_skip_gives_downstream_none(worker_thread):
    worker_thread()
    run = SkipOnFailure.start(None).wait(30)
    assert run.status == "completed"
    assert run.output == {"downstream": {"optional": None}}
    assert steps(run)["optional"] == "skipped"


def test_skip_cascade_skips_downstream_and_keeps_the_rest(worker_thread):
    worker_thread()
    run = SkipCascade.start(None).wait(30)
    assert run.status == "completed"
    assert steps(run)["dependent"] == "skipped"
    assert executions("dependent", run.pk) == 0
    assert executions("independent", run.pk) == 1


@pytest.mark.parametrize(("amount", "premium"), [(250, "premium treatment"), (20, None)])
def test_conditional_step(worker_thread, amount, premium):
    worker_thread()
    run = Conditional.start({"amount": amount}).wait(30)
    assert run.status == "completed"
    assert run.output["report"]["premium"] == premium


def test_cancel_mid_run_with_workers_busy(worker_thread):
    worker_thread(concurrency=2)
    run = SlowMap.start({"tasks": 6, "seconds": 1.0})
    wait_for(lambda: Execution.objects.filter(task="work").count() >= 2, 30)
    assert cancel_run(run.pk) is True
    run.refresh_from_db()
    assert run.status == "cancelled"
    wait_for(lambda: not Job.objects.filter(run=run, status="started").exists(), 5)
    # The busy tasks finish later: their results are ignored, nothing restarts.
    statuses = set(
        StepTask.objects.filter(run=run, step_slug="work").values_list("status", flat=True)
    )
    assert statuses == {"cancelled"}
    wait_for(lambda: Execution.objects.filter(task="work").count() >= 2, 1)
    assert executions("done", run.pk) == 0
    assert WorkflowRun.objects.get(pk=run.pk).status == "cancelled"
    assert cancel_run(run.pk) is False


def test_resume_after_failure_completes_without_rerunning_completed_steps(worker_thread):
    worker_thread()
    run = FailsUntilResumed.start(None).wait(30, raise_on_failure=False)
    assert run.status == "failed"
    assert resume_run(run.pk) is True
    run = run.wait(30)
    assert run.status == "completed"
    assert run.output == {"shaky": "prepared, then shaky succeeded"}
    assert executions("prepare", run.pk) == 1
    assert executions("shaky", run.pk) == 2


def test_same_run_key_starts_one_run():
    first = Chain.start({"n": 1}, run_key="import-42")
    second = start_flow("linear_chain", {"n": 2}, run_key="import-42")
    assert first.pk == second.pk
    assert WorkflowRun.objects.filter(run_key="import-42").count() == 1


def test_rolled_back_start_leaves_no_run():
    with pytest.raises(RuntimeError), transaction.atomic():
        Chain.start({"n": 1})
        raise RuntimeError("the view failed")
    assert not WorkflowRun.objects.exists()
    assert not Job.objects.exists()


def test_two_worker_processes_share_one_run(worker_process):
    run = SlowMap.start({"tasks": 12, "seconds": 0.5})
    a = worker_process("--concurrency", "2")
    b = worker_process("--concurrency", "2")
    run = run.wait(60)
    assert run.status == "completed"
    assert run.output["done"]["tasks"] == 12
    assert run.output["done"]["processes"] == 2
    for w in (a, b):
        w.signal(signal.SIGTERM)
        assert w.wait(30) == 0


def test_kill_9_of_a_worker_holding_a_step_task_still_completes_the_run(worker_process):
    overrides = {"LEASE_MARGIN": 1, "WORKER_DEAD_AFTER": 2}
    victim = worker_process("--concurrency", "1", overrides=overrides)
    run = HangsOnFirstAttempt.start({"seconds": 60})
    wait_for(lambda: Execution.objects.filter(task="work", pid=victim.pid).exists(), 30)
    os.kill(victim.pid, signal.SIGKILL)
    victim.wait(10)
    rescuer = worker_process("--concurrency", "1", overrides=overrides)
    run = run.wait(60)
    assert run.status == "completed"
    assert run.output == {"after": "work finished on attempt 2"}
    job = Job.objects.get(run=run, step_slug="work")
    assert job.errors[0]["error"] == "WorkerLostError"
    rescuer.signal(signal.SIGTERM)
    assert rescuer.wait(30) == 0


def test_unknown_flow_is_a_clear_error():
    from django_pgflow.exceptions import UnknownFlowError

    with pytest.raises(UnknownFlowError, match="no_such_flow"):
        start_flow("no_such_flow", {})


def test_a_map_over_ten_thousand_elements_completes(worker_thread):
    worker_thread(concurrency=8, batch_size=100)
    run = WideMap.start({"size": 10_000}).wait(240)
    assert run.status == "completed"
    assert run.output == {"check": {"count": 10_000, "ordered": True}}
    assert (
        StepTask.objects.filter(run=run, step_slug="double", status="completed").count() == 10_000
    )


def test_retrying_a_step_job_points_to_resume_run(worker_thread):
    from django.db import DatabaseError

    from django_pgflow import retry_job

    worker_thread()
    run = AlwaysFails.start(None).wait(30, raise_on_failure=False)
    job = Job.objects.get(run=run, step_slug="boom")
    with pytest.raises(DatabaseError, match="resume the run instead"), transaction.atomic():
        retry_job(job.pk)
    assert Job.objects.get(pk=job.pk).status == "failed"


def test_status_shows_runs_and_prune_removes_old_finished_runs(worker_thread):
    import io

    from django.core.management import call_command
    from django.db import connection

    worker_thread()
    done = Chain.start({"n": 1}).wait(30)
    SlowMap.start({"tasks": 1, "seconds": 0.01})
    out = io.StringIO()
    call_command("pgflow_status", stdout=out)
    row = next(line for line in out.getvalue().splitlines() if "linear_chain" in line)
    assert row.split("│")[2:4] == ["       0 ", "         1 "]
    with connection.cursor() as cursor:
        cursor.execute(
            "UPDATE pgflow_run SET finished_at = now() - interval '30 days' WHERE id = %s",
            [done.pk],
        )
    call_command("pgflow_prune", stdout=out)
    assert not WorkflowRun.objects.filter(pk=done.pk).exists()
    assert not StepState.objects.filter(run_id=done.pk).exists()
    assert WorkflowRun.objects.filter(flow_slug="slow_map").exists()


def test_typed_steps_parse_input_and_a_validation_error_fails_without_retry(worker_thread):
    from testproject.example.typed_flows import TypedOrder

    worker_thread()
    good = TypedOrder.start({"sku": "A-1", "quantity": 3, "unit_price": 2.5}).wait(30)
    assert good.status == "completed"
    assert good.output == {"receipt": {"sku": "A-1", "total": 7.5, "line": "A-1: 7.50"}}
    bad = TypedOrder.start({"sku": "A-1", "quantity": 0, "unit_price": 2.5}).wait(
        30, raise_on_failure=False
    )
    assert bad.status == "failed"
    job = Job.objects.get(run=bad, step_slug="price")
    assert job.attempts == 1  # max_attempts=3, but retrying cannot fix the input
    assert "quantity" in job.errors[0]["message"]
