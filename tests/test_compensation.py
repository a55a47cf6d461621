"""``@compensate``: a flow's cleanup handler runs once, as a job, when a run fails or
is cancelled, with what it needs to undo external effects; ``run.wait()`` raises
with the same information."""

from __future__ import annotations

from typing import Any

import pytest

from django_pgflow import RunFailedError, cancel_run
from django_pgflow.models import Job, StepState, WorkflowRun
from testproject.example.event_flows import Compensated
from testproject.example.flows import AlwaysFails
from testproject.example.models import Execution

from .conftest import wait_for

pytestmark = pytest.mark.django_db(transaction=True)

COMPENSATION = "pgflow.compensate.compensated"


def compensation_of(run: WorkflowRun) -> Job:
    """The run's compensation job, once a worker has finished it."""
    done = Job.objects.filter(run=run, task_name=COMPENSATION, status="completed")
    return wait_for(done.first, 30)


def as_reported(failure: Any) -> dict[str, Any]:
    return {
        "run_id": failure.run_id,
        "flow": failure.flow,
        "status": failure.status,
        "failed_step": failure.failed_step,
        "error": failure.error,
        "outputs": failure.outputs,
        "input": failure.input,
    }


def test_a_failed_run_is_compensated_once_with_the_error_and_completed_outputs(worker_thread):
    worker_thread(queues=["default", "slow"])
    run = Compensated.start({"order": 7, "fail": True}, metadata={"tenant": "acme"})
    with pytest.raises(RunFailedError) as raised:
        run.wait(30)
    job = compensation_of(run)
    got = job.result
    assert got["status"] == "failed" and got["failed_step"] == "ship"
    assert got["error"]["error"] == "RuntimeError"
    assert got["error"]["message"] == "the carrier refused order 7"
    assert got["outputs"] == {"reserve": {"reservation": "r-7"}, "charge": {"charge": "c-r-7"}}
    assert got["input"] == {"order": 7, "fail": True}
    assert got["metadata"] == {"tenant": "acme"}  # the run's, on its compensation job too
    # The caller that waited was told the same.
    assert as_reported(raised.value.failure) == {k: v for k, v in got.items() if k != "metadata"}
    assert (job.step_slug, job.attempts, job.queue) == (None, 1, "default")
    assert Job.objects.filter(run=run, task_name=COMPENSATION).count() == 1
    assert Execution.objects.filter(task="undo", key=f"run:{run.pk}").count() == 1


def test_a_cancelled_run_is_compensated_with_the_steps_that_completed(worker_thread):
    worker_thread(queues=["default"])  # nobody serves "slow": ship waits there
    run = Compensated.start({"order": 8})
    wait_for(lambda: StepState.objects.filter(run=run, step_slug="ship", status="started"), 30)
    assert cancel_run(run.pk) is True
    got = compensation_of(run).result
    assert (got["status"], got["failed_step"], got["error"]) == ("cancelled", None, None)
    assert got["outputs"] == {"reserve": {"reservation": "r-8"}, "charge": {"charge": "c-r-8"}}
    with pytest.raises(RunFailedError, match=f"run {run.pk} of 'compensated' cancelled") as raised:
        run.wait(5)
    assert as_reported(raised.value.failure) == {k: v for k, v in got.items() if k != "metadata"}
    assert Execution.objects.filter(task="undo", key=f"run:{run.pk}").count() == 1


def test_a_flow_without_a_handler_queues_no_compensation():
    run = AlwaysFails.start(None)
    assert cancel_run(run.pk) is True
    assert not Job.objects.filter(run=run, step_slug__isnull=True).exists()
    assert not Job.objects.filter(task_name__startswith="pgflow.compensate.").exists()
