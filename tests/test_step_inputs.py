"""What a step receives, and what a run refuses at its start: the run input in
every step (typed too), ``unless=``, skipped dependencies, a root map given a
non-array, and the differences a refused shape change lists."""

from __future__ import annotations

from typing import Any

import pytest
from django.db import DataError, connection, transaction

from django_pgflow import Flow, FlowDefinitionError, InvalidJobError, start_flow, step
from django_pgflow.definitions import flow_registry
from django_pgflow.definitions.sync import sync_flows
from django_pgflow.models import Job, StepState, WorkflowRun
from testproject.example.event_flows import InputEverywhere, RootMap, Unless
from testproject.example.models import Execution

pytestmark = pytest.mark.django_db(transaction=True)


def job_of(run: WorkflowRun, step_slug: str) -> Job:
    return Job.objects.get(run=run, step_slug=step_slug)


def test_every_step_may_take_the_run_input(worker_thread):
    worker_thread()
    run = InputEverywhere.start({"items": [1, 2, 3], "factor": 10, "label": "tens"}).wait(30)
    assert run.output == {"total": {"total": 60, "label": "tens"}}
    # The input is read from the run, not copied into every task's payload.
    scale = Job.objects.filter(run=run, step_slug="scale").order_by("task_index")
    assert [job.args for job in scale] == [[1], [2], [3]]
    assert (job_of(run, "total").args, job_of(run, "total").kwargs) == ([], {"scale": [10, 20, 30]})


def test_a_typed_dependent_step_gets_the_run_input_parsed(worker_thread):
    pytest.importorskip("pydantic")
    from testproject.example.typed_flows import TypedInputEverywhere

    worker_thread()
    order = {"sku": "A-1", "quantity": 3, "unit_price": 2.5}
    run = TypedInputEverywhere.start(order).wait(30)
    assert run.output == {"receipt": {"sku": "A-1", "total": 7.5, "line": "3 x A-1: 7.50"}}


def test_unless_skips_a_step_whose_input_contains_the_value(worker_thread):
    worker_thread()
    blocked = Unless.start({"tier": "blocked"}).wait(30)
    assert StepState.objects.get(run=blocked, step_slug="notify").status == "skipped"
    assert not Execution.objects.filter(task="notify", key=f"run:{blocked.pk}").exists()
    # A skipped dependency: its key is absent from the step's input (as in
    # pgflow), and its parameter gets its default, else None.
    assert job_of(blocked, "report").kwargs == {"classify": {"tier": "blocked"}}
    assert job_of(blocked, "audit").kwargs == {}
    assert blocked.output == {
        "report": "blocked: not notified",
        "audit": {"notify": None},
        "announce": "announced",
    }

    gold = Unless.start({"tier": "gold"}).wait(30)
    assert gold.output["report"] == "gold: notified gold"
    both = {"classify": {"tier": "gold"}, "notify": "notified gold"}
    assert job_of(gold, "report").kwargs == both


def test_unless_on_a_root_step_reads_the_run_input(worker_thread):
    worker_thread()
    quiet = Unless.start({"tier": "gold", "quiet": True}).wait(30)
    assert StepState.objects.get(run=quiet, step_slug="announce").status == "skipped"
    assert not Job.objects.filter(run=quiet, step_slug="announce").exists()
    assert quiet.output["announce"] is None  # a skipped leaf


def test_start_flow_refuses_a_root_map_given_a_non_array(worker_thread):
    with transaction.atomic():
        with pytest.raises(InvalidJobError) as refused:
            RootMap.start({"items": [1, 2]})
        # The caller's transaction is still usable.
        assert WorkflowRun.objects.count() == 0
    assert str(refused.value) == (
        "flow root_map cannot start: its root map step each needs an array as input, got object"
    )
    assert not WorkflowRun.objects.exists() and not Job.objects.exists()
    refused_in_sql = pytest.raises(DataError, match="needs an array as input, got string")
    with refused_in_sql, transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("SELECT django_pgflow.start_flow('root_map', '\"text\"')")
    assert not WorkflowRun.objects.exists()

    worker_thread()
    assert RootMap.start([1, 2, 3]).wait(30).output == {"total": 9}


# --- shape changes -----------------------------------------------------------------


def _version_of_shape(slug: str, *, mapped: bool, timeout: float, extra: bool) -> type[Flow]:
    """``load -> work -> save`` (``work`` a map when ``mapped``), plus ``notify`` when ``extra``."""
    flow_registry.unregister(slug)
    body: dict[str, Any] = {"slug": slug}

    def load(self: Flow, input: Any) -> list[int]:
        return [1]

    def work(self: Flow, load: Any) -> Any:
        return load

    def save(self: Flow, work: Any) -> Any:
        return work

    def notify(self: Flow, save: Any) -> None:
        return None

    body["load"] = step(load)
    body["work"] = step(depends_on=["load"], map=mapped, timeout=timeout)(work)
    body["save"] = step(depends_on=["work"])(save)
    if extra:
        body["notify"] = step(depends_on=["save"])(notify)
    return type(f"Shape_{slug}_{int(mapped)}_{int(extra)}", (Flow,), body)


def test_a_refused_shape_change_lists_every_difference():
    slug = "t_shape_listed"
    try:
        sync_flows(flows=[_version_of_shape(slug, mapped=False, timeout=10, extra=False)])
        start_flow(slug, {})
        changed = _version_of_shape(slug, mapped=True, timeout=20, extra=True)
        with pytest.raises(FlowDefinitionError) as refused:
            sync_flows(flows=[changed])
    finally:
        flow_registry.unregister(slug)
    assert str(refused.value).endswith(
        ". Changes: steps added: notify; steps changed kind: work (single -> map); "
        "dependencies added: notify <- save; options changed: work.timeout"
    )
