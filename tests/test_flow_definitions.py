"""The Flow DSL: what a class definition refuses, the shape hash, sync to the
definition tables, and how a step's job is turned into a method call."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Iterator
from typing import Any

import pytest
from django.db import transaction
from django.test import override_settings
from django.utils import timezone
from pydantic import BaseModel

from django_pgflow import (
    Flow,
    FlowDefinitionError,
    InvalidJobError,
    StepInputError,
    UnknownFlowError,
    UnknownTaskError,
    cancel_run,
    resume_run,
    start_flow,
    step,
)
from django_pgflow.definitions import flow_registry, typed
from django_pgflow.definitions.context import JobContext
from django_pgflow.definitions.flow import StepContext
from django_pgflow.definitions.flow_graph import find_cycle, topological_order
from django_pgflow.definitions.shape import flow_rows
from django_pgflow.definitions.step_runner import step_task, step_task_name
from django_pgflow.definitions.sync import sync_flows
from django_pgflow.models import FlowDefinition, Job, StepDefinition, StepDependency, WorkflowRun
from django_pgflow.worker.execution import ClaimedJob, execute
from testproject.example.flows import Analysis as ExampleAnalysis


@pytest.fixture(autouse=True)
def isolated_flows() -> Iterator[None]:
    """Flows a test defines are forgotten after it."""
    before = set(flow_registry.all_flows())
    yield
    for slug in set(flow_registry.all_flows()) - before:
        flow_registry.unregister(slug)


def analysis_flow(slug: str = "t_analysis", **attrs: Any) -> type[Flow]:
    """The flow of the public contract, under a test slug."""

    class Analysis(Flow):
        abstract = True

        @step()
        def fetch(self, input: Any) -> Any:
            return {"items": [1, 2, 3], "url": input["url"]}

        @step(depends_on=["fetch"])
        def analyze(self, fetch: Any) -> Any:
            return len(fetch["items"])

        @step(depends_on=["fetch"], map=True)
        def embed(self, item: Any) -> Any:
            return item * 10

        @step(depends_on=["analyze", "embed"])
        def save(self, analyze: Any, embed: Any) -> Any:
            return {"count": analyze, "embedded": embed}

    return type(f"Analysis_{slug}", (Analysis,), {"slug": slug, **attrs})


# --- the DSL ---------------------------------------------------------------------


def test_contract_flow_is_registered_with_steps_in_topological_order():
    cls = analysis_flow()
    spec = cls._pgflow
    assert flow_registry.get_flow("t_analysis") is cls
    assert [s.slug for s in spec.steps] == ["fetch", "analyze", "embed", "save"]
    assert spec.leaves == {"save"}
    assert spec.by_slug["embed"].is_map
    assert spec.by_slug["save"].params == ("analyze", "embed")


def test_steps_ready_together_keep_their_declaration_order():
    order = topological_order({"d": ("b", "c"), "c": ("a",), "b": ("a",), "a": ()})
    assert order == ["a", "c", "b", "d"]


def test_a_cycle_is_refused_and_printed():
    with pytest.raises(FlowDefinitionError, match=r"cycle: a -> b -> a"):

        class Cyclic(Flow):
            slug = "t_cyclic"

            @step()
            def root(self, input: Any) -> None: ...

            @step(depends_on=["b"])
            def a(self, b: Any) -> None: ...

            @step(depends_on=["a"])
            def b(self, a: Any) -> None: ...


def test_find_cycle_reports_a_self_dependency_and_a_longer_cycle():
    assert find_cycle({"a": ("a",)}) == ["a", "a"]
    assert find_cycle({"x": ("y",), "y": ("z",), "z": ("x",)}) == ["x", "y", "z", "x"]
    assert find_cycle({"x": ("y",), "y": ()}) is None


def test_an_unknown_dependency_is_named():
    with pytest.raises(FlowDefinitionError, match=r"'save' depends on unknown step\(s\) 'fech'"):

        class Typo(Flow):
            slug = "t_typo"

            @step()
            def fetch(self, input: Any) -> None: ...

            @step(depends_on=["fech"])
            def save(self, fech: Any) -> None: ...


@pytest.mark.parametrize(
    ("depends_on", "is_map", "signature", "message"),
    [
        ((), False, "self", r"root step .* exactly one parameter after self, the run input"),
        ((), False, "self, a, b", r"root step .* it has 2 \(a, b\)"),
        (("fetch",), True, "self, item, extra", r"map step takes exactly one parameter"),
        (("fetch",), False, "self, fetched", r"fetched match no dependency.*fetch have no param"),
        (("fetch",), False, "self, *args", r"takes named parameters only"),
        (("fetch",), False, "self, **kwargs", r"takes named parameters only"),
    ],
)
def test_parameters_must_match_what_the_step_is_given(depends_on, is_map, signature, message):
    namespace: dict[str, Any] = {}
    exec(f"def method({signature}): pass", namespace)
    with pytest.raises(FlowDefinitionError, match=message):
        step(depends_on=depends_on, map=is_map)(namespace["method"])


def test_step_is_a_decorator_of_methods_with_keyword_options():
    with pytest.raises(FlowDefinitionError, match=r"keyword arguments only"):
        step("fetch")  # type: ignore[call-overload]
    with pytest.raises(FlowDefinitionError, match=r"decorates a method"):
        step()(staticmethod(lambda input: None))  # type: ignore[type-var]


def test_a_map_step_depends_on_at_most_one_step():
    with pytest.raises(FlowDefinitionError, match=r"map step .* depends on at most one step"):

        @step(depends_on=["a", "b"], map=True)
        def embed(self: Any, item: Any) -> None: ...


def test_a_step_defined_twice_is_refused():
    with pytest.raises(FlowDefinitionError, match=r"step 'fetch' is defined 2 times"):

        class Twice(Flow):
            slug = "t_twice"

            @step()
            def fetch(self, input: Any) -> None: ...

            @step()
            def fetch(self, input: Any) -> None: ...  # noqa: F811


@pytest.mark.parametrize("name", ["Fetch", "_fetch", "fetch2X"])
def test_step_names_are_lowercase_identifiers(name):
    def method(self: Any, input: Any) -> None: ...

    with pytest.raises(FlowDefinitionError, match=rf"Invalid step name .* {name!r}"):
        type("Bad", (Flow,), {"slug": "t_bad_name", name: step()(method)})


@pytest.mark.parametrize("name", ["start", "run_id", "context", "timeout", "version"])
def test_a_step_cannot_hide_an_attribute_of_flow(name):
    def method(self: Any, input: Any) -> None: ...

    with pytest.raises(FlowDefinitionError, match=rf"cannot be named {name!r}"):
        type("Hiding", (Flow,), {"slug": "t_hiding", name: step()(method)})


def test_a_step_may_be_named_like_an_option():
    def method(self: Any, input: Any) -> None: ...

    cls = type("Named", (Flow,), {"slug": "t_named", "priority": step()(method)})
    assert [s.slug for s in cls._pgflow.steps] == ["priority"]


def test_a_flow_needs_steps_and_a_valid_slug():
    with pytest.raises(FlowDefinitionError, match=r"has no steps"):

        class Empty(Flow):
            slug = "t_empty"

    def fetch(self: Any, input: Any) -> None: ...

    with pytest.raises(FlowDefinitionError, match=r"declares no slug"):
        type("NoSlug", (Flow,), {"fetch": step()(fetch)})
    with pytest.raises(FlowDefinitionError, match=r"Invalid slug of flow .* 'Bad-Slug'"):
        type("BadSlug", (Flow,), {"slug": "Bad-Slug", "fetch": step()(fetch)})
    with pytest.raises(FlowDefinitionError, match=r"version must be an int >= 1, got 0"):
        type("BadVersion", (Flow,), {"slug": "t_v", "version": 0, "fetch": step()(fetch)})


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"on_failure": "ignore"}, r"on_failure='ignore' is not one of fail, skip, skip_cascade"),
        ({"on_condition_false": "retry"}, r"on_condition_false='retry' is not one of"),
        ({"queue": "Bad Queue"}, r"Invalid queue name 'Bad Queue'"),
        ({"priority": 10**6}, r"Invalid priority"),
        ({"timeout": 0}, r"timeout must be a finite number of seconds > 0"),
        ({"start_delay": -1}, r"start_delay must be"),
        ({"max_attempts": 0}, r"max_attempts must be an int >= 1"),
        ({"condition": {"at": object()}}, r"Not JSON: condition\['at'\]"),
        ({"depends_on": "fetch"}, r"write depends_on=\['fetch'\]"),
        ({"depends_on": ["a", "a"]}, r"depends_on names a more than once"),
    ],
)
def test_invalid_step_options_are_refused_naming_the_step(options, message):
    def method(self: Any, input: Any) -> None: ...

    with pytest.raises(FlowDefinitionError, match=message):
        step(**options)(method)


def test_invalid_flow_defaults_are_refused():
    def fetch(self: Any, input: Any) -> None: ...

    with pytest.raises(FlowDefinitionError, match=r"Flow 't_q': Invalid queue name"):
        type("Q", (Flow,), {"slug": "t_q", "queue": "No!", "fetch": step()(fetch)})
    with pytest.raises(FlowDefinitionError, match=r"Flow 't_t': timeout must be"):
        type("T", (Flow,), {"slug": "t_t", "timeout": -5, "fetch": step()(fetch)})


def test_a_slug_declared_by_two_classes_is_refused():
    analysis_flow("t_dup")
    with pytest.raises(FlowDefinitionError, match=r"Two flows declare slug = 't_dup'"):

        class Other(Flow):
            slug = "t_dup"

            @step()
            def fetch(self, input: Any) -> None: ...


def test_the_same_class_defined_again_replaces_itself():
    def define() -> type[Flow]:
        class Reloaded(Flow):
            slug = "t_reloaded"

            @step()
            def fetch(self, input: Any) -> None: ...

        return Reloaded

    first, second = define(), define()
    assert first is not second
    assert flow_registry.get_flow("t_reloaded") is second


def test_abstract_bases_share_steps_and_bare_step_works():
    class Base(Flow):
        abstract = True

        @step
        def fetch(self, input: Any) -> Any:
            return input

    class One(Base):
        slug = "t_one"

        @step(depends_on=["fetch"])
        def save(self, fetch: Any) -> Any:
            return fetch

    class Two(Base):
        slug = "t_two"

    assert [s.slug for s in One._pgflow.steps] == ["fetch", "save"]
    assert [s.slug for s in Two._pgflow.steps] == ["fetch"]
    assert "Base" not in {c.__name__ for c in flow_registry.all_flows().values()}


def test_step_methods_stay_plain_methods():
    assert ExampleAnalysis().summarize.__func__ is ExampleAnalysis.__dict__["summarize"]
    assert ExampleAnalysis().run_id is None


# --- shape -------------------------------------------------------------------------


def test_the_shape_hash_ignores_the_slug_version_and_method_order():
    a = flow_rows(analysis_flow("t_a")._pgflow)
    b = flow_rows(analysis_flow("t_b", version=7)._pgflow)
    assert a.shape_hash == b.shape_hash

    class Reordered(Flow):
        slug = "t_reordered"

        @step(depends_on=["fetch"], map=True)
        def embed(self, item: Any) -> None: ...

        @step(depends_on=["analyze", "embed"])
        def save(self, analyze: Any, embed: Any) -> None: ...

        @step(depends_on=["fetch"])
        def analyze(self, fetch: Any) -> None: ...

        @step()
        def fetch(self, input: Any) -> None: ...

    assert flow_rows(Reordered._pgflow).shape_hash == a.shape_hash


def test_the_shape_hash_is_the_graph_not_the_options():
    base = flow_rows(analysis_flow("t_base")._pgflow).shape_hash
    assert flow_rows(analysis_flow("t_timeout", timeout=9)._pgflow).shape_hash == base
    with override_settings(PGFLOW={"DEFAULT_QUEUE": "slow"}):
        assert flow_rows(analysis_flow("t_queue")._pgflow).shape_hash == base
    assert flow_rows(_changed("t_edges")._pgflow).shape_hash != base

    class Single(Flow):
        slug = "t_single"

        @step()
        def fetch(self, input: Any) -> None: ...

    class Mapped(Flow):
        slug = "t_mapped"

        @step(map=True)
        def fetch(self, item: Any) -> None: ...

    assert flow_rows(Single._pgflow).shape_hash != flow_rows(Mapped._pgflow).shape_hash


@pytest.mark.django_db
def test_changed_options_are_updated_in_place_even_with_runs():
    sync_flows(flows=[analysis_flow("t_opts")])
    v1 = FlowDefinition.objects.get(slug="t_opts")
    _run_of(v1)
    assert sync_flows(flows=[analysis_flow("t_opts", timeout=9)]) == ["t_opts v1 options updated"]
    v1.refresh_from_db()
    assert v1.timeout == 9
    assert set(v1.steps.values_list("timeout", flat=True)) == {9.0}
    assert FlowDefinition.objects.filter(slug="t_opts").count() == 1


@override_settings(PGFLOW={"QUEUES": {"default": {}, "slow": {"timeout": 77, "max_attempts": 6}}})
def test_step_options_fall_back_to_their_queue_defaults():
    class Queued(Flow):
        slug = "t_queued"
        queue = "slow"

        @step()
        def fetch(self, input: Any) -> None: ...

        @step(depends_on=["fetch"], timeout=5)
        def store(self, fetch: Any) -> None: ...

    rows = {row["slug"]: row for row in flow_rows(Queued._pgflow).steps}
    assert (rows["fetch"]["timeout"], rows["fetch"]["max_attempts"]) == (77.0, 6)
    assert (rows["store"]["timeout"], rows["store"]["max_attempts"]) == (5.0, 6)


def test_rows_resolve_defaults_from_step_flow_and_settings():
    class Resolved(Flow):
        slug = "t_resolved"
        queue = "slow"
        max_attempts = 7

        @step(priority=5, timeout=10, start_delay=2)
        def fetch(self, input: Any) -> None: ...

        @step(depends_on=["fetch"], queue="emails", on_failure="skip")
        def send(self, fetch: Any) -> None: ...

    rows = flow_rows(Resolved._pgflow)
    assert rows.flow == {
        "slug": "t_resolved",
        "version": 1,
        "max_attempts": 7,
        "base_delay": 1.0,
        "timeout": 300.0,
        "compensation_queue": None,  # no @compensate handler
    }
    fetch, send = rows.steps
    assert (fetch["queue"], fetch["priority"], fetch["timeout"], fetch["start_delay"]) == (
        "slow",
        5,
        10.0,
        2.0,
    )
    assert (send["queue"], send["priority"], send["max_attempts"]) == ("emails", 0, 7)
    assert (fetch["is_leaf"], send["is_leaf"], send["dep_count"]) == (False, True, 1)
    assert rows.deps == [("send", "fetch")]


# --- sync --------------------------------------------------------------------------


@pytest.mark.django_db
def test_migrate_synced_the_example_flows():
    row = FlowDefinition.objects.get(slug="analysis", version=1)
    assert row.shape_hash == flow_rows(ExampleAnalysis._pgflow).shape_hash
    assert list(row.steps.values_list("slug", flat=True)) == [
        "fetch",
        "analyze",
        "summarize",
        "save",
    ]


@pytest.mark.django_db
def test_sync_inserts_a_flow_with_its_steps_and_dependencies():
    cls = analysis_flow("t_sync")
    assert sync_flows(flows=[cls]) == ["t_sync v1 created"]
    flow = FlowDefinition.objects.get(slug="t_sync")
    steps = {s.slug: s for s in StepDefinition.objects.filter(flow=flow)}
    assert [s.slug for s in sorted(steps.values(), key=lambda s: s.index)] == [
        "fetch",
        "analyze",
        "embed",
        "save",
    ]
    assert steps["embed"].step_type == "map"
    assert (steps["save"].dep_count, steps["save"].is_leaf) == (2, True)
    assert set(StepDependency.objects.filter(flow=flow).values_list("step_slug", "dep_slug")) == {
        ("analyze", "fetch"),
        ("embed", "fetch"),
        ("save", "analyze"),
        ("save", "embed"),
    }


@pytest.mark.django_db
def test_sync_is_idempotent():
    cls = analysis_flow("t_idem")
    sync_flows(flows=[cls])
    ids = set(StepDefinition.objects.filter(flow__slug="t_idem").values_list("id", flat=True))
    assert sync_flows(flows=[cls]) == []
    assert sync_flows() == []  # every registered flow is in place already
    assert set(StepDefinition.objects.filter(flow__slug="t_idem").values_list("id", flat=True)) == (
        ids
    )


def _changed(slug: str, version: int = 1) -> type[Flow]:
    flow_registry.unregister(slug)

    class Changed(Flow):
        abstract = True

        @step()
        def fetch(self, input: Any) -> None: ...

        @step(depends_on=["fetch"])
        def store(self, fetch: Any) -> None: ...

    return type(f"Changed_{slug}_{version}", (Changed,), {"slug": slug, "version": version})


def _run_of(flow: FlowDefinition) -> WorkflowRun:
    return WorkflowRun.objects.create(flow=flow, flow_slug=flow.slug, created_at=timezone.now())


@pytest.mark.django_db
def test_a_changed_shape_without_runs_is_replaced_in_place():
    sync_flows(flows=[analysis_flow("t_replace")])
    before = FlowDefinition.objects.get(slug="t_replace")
    assert sync_flows(flows=[_changed("t_replace")]) == ["t_replace v1 replaced (it had no runs)"]
    after = FlowDefinition.objects.get(slug="t_replace")
    assert after.pk == before.pk
    assert after.shape_hash != before.shape_hash
    assert list(after.steps.values_list("slug", flat=True)) == ["fetch", "store"]
    assert list(after.deps.values_list("step_slug", "dep_slug")) == [("store", "fetch")]


@pytest.mark.django_db
def test_a_changed_shape_with_runs_is_refused_until_the_version_is_bumped():
    sync_flows(flows=[analysis_flow("t_runs")])
    v1 = FlowDefinition.objects.get(slug="t_runs")
    _run_of(v1)
    message = (
        "flow 't_runs' version 1 already has runs and its shape changed: declare version = 2 "
        "(runs in flight finish on version 1)"
    )
    with pytest.raises(FlowDefinitionError) as refused:
        sync_flows(flows=[_changed("t_runs")])
    # The error lists what changed, so that nobody diffs by hand.
    assert str(refused.value) == (
        message + ". Changes: steps added: store; steps removed: analyze, embed, save; "
        "dependencies added: store <- fetch; dependencies removed: analyze <- fetch, "
        "embed <- fetch, save <- analyze, save <- embed"
    )
    assert FlowDefinition.objects.get(slug="t_runs").shape_hash == v1.shape_hash

    assert sync_flows(flows=[_changed("t_runs", version=2)]) == ["t_runs v2 created"]
    versions = dict(FlowDefinition.objects.filter(slug="t_runs").values_list("version", "id"))
    assert versions[1] == v1.pk
    assert StepDefinition.objects.filter(flow_id=versions[1]).count() == 4
    assert StepDefinition.objects.filter(flow_id=versions[2]).count() == 2


@pytest.mark.django_db
def test_a_refused_sync_writes_nothing_at_all():
    sync_flows(flows=[analysis_flow("t_zz_runs")])
    _run_of(FlowDefinition.objects.get(slug="t_zz_runs"))
    new = analysis_flow("t_aa_new")
    with pytest.raises(FlowDefinitionError):
        sync_flows(flows=[new, _changed("t_zz_runs")])
    assert not FlowDefinition.objects.filter(slug="t_aa_new").exists()


# --- starting runs: what is refused before the database is asked ---------------------


def test_start_flow_refuses_input_that_is_not_json():
    with pytest.raises(InvalidJobError, match=r"Not JSON: input\['when'\]"):
        start_flow("analysis", {"when": timezone.now()})


def test_start_flow_refuses_an_invalid_slug_and_run_key():
    with pytest.raises(UnknownFlowError, match=r"Invalid flow slug 'No Such'"):
        start_flow("No Such", {})
    with pytest.raises(InvalidJobError, match=r"run_key must be a non-empty string"):
        start_flow("analysis", {}, run_key="")


@override_settings(PGFLOW={"MAX_PAYLOAD_BYTES": 100})
def test_start_flow_refuses_an_input_over_the_payload_limit():
    with pytest.raises(InvalidJobError, match=r"input is \d+ bytes of JSON, over the limit of 100"):
        start_flow("analysis", {"text": "x" * 200})


@pytest.mark.django_db
def test_start_flow_syncs_a_new_flow_first_and_returns_the_run():
    analysis_flow("t_lazy")
    run = start_flow("t_lazy", {"url": "u"})
    assert isinstance(run, WorkflowRun)
    assert (run.flow_slug, run.status, run.input) == ("t_lazy", "started", {"url": "u"})
    job = Job.objects.get(run=run)
    assert (job.task_name, job.args, job.kwargs) == ("pgflow.step.t_lazy.fetch", [{"url": "u"}], {})


@pytest.mark.django_db
def test_start_flow_with_a_run_key_returns_the_same_run():
    first = start_flow("analysis", {"url": "u"}, run_key="order-1")
    assert ExampleAnalysis.start({"url": "other"}, run_key="order-1").pk == first.pk


@pytest.mark.django_db
def test_an_unknown_flow_is_named_and_leaves_the_transaction_usable():
    with transaction.atomic():
        with pytest.raises(UnknownFlowError, match=r"Unknown flow 'nowhere'.*known: .*analysis"):
            start_flow("nowhere", {})
        assert start_flow("analysis", {"url": "u"}).pk


@pytest.mark.django_db(transaction=True)
def test_a_run_started_in_a_rolled_back_transaction_does_not_exist():
    with transaction.atomic():
        run = start_flow("analysis", {"url": "u"})
        transaction.set_rollback(True)
    assert not WorkflowRun.objects.filter(pk=run.pk).exists()
    assert not Job.objects.exists()


@pytest.mark.django_db
def test_cancel_and_resume_say_whether_they_applied():
    run = start_flow("analysis", {"url": "u"})
    assert resume_run(run.pk) is False
    assert cancel_run(run.pk) is True
    assert cancel_run(run.pk) is False
    assert resume_run(run.pk) is True
    assert cancel_run(10**12) is False


# --- running a step's job ------------------------------------------------------------


class Item(BaseModel):
    name: str
    size: int


@dataclasses.dataclass
class Stats:
    count: int
    names: list[str]


def typed_flow() -> type[Flow]:
    class Typed(Flow):
        slug = "t_typed"

        @step()
        def items(self, input: list[Item]) -> list[Item]:
            return [Item(name=i.name.upper(), size=i.size) for i in input]

        @step(depends_on=["items"], map=True)
        def measure(self, item: Item) -> int:
            return item.size

        @step(depends_on=["items", "measure"])
        def stats(self, items: list[Item], measure: list[int]) -> Stats:
            return Stats(count=sum(measure), names=[i.name for i in items])

    return Typed


def test_a_step_job_calls_the_method_with_parsed_inputs_and_plain_output():
    typed_flow()
    items = step_task(step_task_name("t_typed", "items"))
    assert items.func([{"name": "a", "size": 2}]) == [{"name": "A", "size": 2}]
    assert step_task("pgflow.step.t_typed.measure").func({"name": "b", "size": 3}) == 3
    stats = step_task("pgflow.step.t_typed.stats").func(
        items=[{"name": "A", "size": 2}], measure=[2, 3]
    )
    assert stats == {"count": 5, "names": ["A"]}


def test_a_typed_input_that_does_not_validate_names_the_field():
    typed_flow()
    with pytest.raises(StepInputError, match=r"parameter 'item': .* field 'size': ") as caught:
        step_task("pgflow.step.t_typed.measure").func({"name": "b", "size": "big"})
    assert caught.value.retry is False


def test_a_skipped_dependency_arrives_as_none_whatever_its_type():
    class Tolerant(Flow):
        slug = "t_tolerant"

        @step()
        def fetch(self, input: Any) -> None: ...

        @step(depends_on=["fetch"])
        def save(self, fetch: Item) -> str:
            return "nothing fetched" if fetch is None else fetch.name

    assert step_task("pgflow.step.t_tolerant.save").func(fetch=None) == "nothing fetched"
    assert step_task("pgflow.step.t_tolerant.save").func(fetch={"name": "a", "size": 1}) == "a"


def test_inputs_of_another_version_fail_without_retry():
    analysis_flow("t_skew")
    with pytest.raises(StepInputError, match=r"carries 0 positional and keyword input\(s\) fetch"):
        step_task("pgflow.step.t_skew.save").func(fetch={})
    with pytest.raises(UnknownTaskError, match=r"has no step 'gone'"):
        step_task("pgflow.step.t_skew.gone")
    with pytest.raises(UnknownTaskError, match=r"No flow 'nowhere'"):
        step_task("pgflow.step.nowhere.fetch")


def test_dataclasses_work_without_pydantic(monkeypatch):
    monkeypatch.setattr(typed, "_pydantic", lambda: None)
    assert typed.parse({"count": 1, "names": []}, Stats, "here") == Stats(1, [])
    with pytest.raises(StepInputError, match=r"here: .*unexpected keyword argument 'size'"):
        typed.parse({"count": 1, "names": [], "size": 2}, Stats, "here")
    assert typed.to_plain([Stats(1, ["a"])]) == [{"count": 1, "names": ["a"]}]


def _claimed(task_name: str, args: list[Any], kwargs: dict[str, Any]) -> ClaimedJob:
    return ClaimedJob(
        id=1,
        queue="default",
        task_name=task_name,
        args=args,
        kwargs=kwargs,
        attempt=1,
        priority=0,
        timeout=30,
        run_id=1,  # a step's job belongs to a run
    )


@pytest.mark.django_db  # the worker closes stale connections around a task
def test_the_worker_runs_step_jobs_and_fails_bad_input_without_retry():
    typed_flow()
    ok = execute(_claimed("pgflow.step.t_typed.items", [[{"name": "x", "size": 1}]], {}), None)
    assert ok.ok and json.loads(ok.result_json or "") == [{"name": "X", "size": 1}]
    bad = execute(_claimed("pgflow.step.t_typed.items", [[{"name": "x"}]], {}), None)
    assert (bad.ok, bad.retry) == (False, False)
    assert bad.error and bad.error["error"] == "StepInputError"
    assert "field '0.size': Field required" in bad.error["message"]


@pytest.mark.django_db  # the worker closes stale connections around a task
def test_other_step_errors_are_retried():
    class Failing(Flow):
        slug = "t_failing"

        @step()
        async def fetch(self, input: Any) -> None:
            raise ConnectionError("down")

    outcome = execute(_claimed("pgflow.step.t_failing.fetch", [None], {}), None)
    assert (outcome.ok, outcome.retry) == (False, True)
    assert outcome.error and outcome.error["message"] == "down"


@pytest.mark.django_db
def test_a_step_finds_its_run_and_task_index_through_its_job():
    sync_flows(flows=[ExampleAnalysis])
    run = _run_of(FlowDefinition.objects.get(slug="analysis"))
    now = timezone.now()
    job = Job.objects.create(
        task_name="pgflow.step.analysis.fetch",
        run=run,
        step_slug="fetch",
        task_index=0,
        run_at=now,
        created_at=now,
    )
    job_context = JobContext(job_id=job.pk, attempt=2, queue="default", task_name=job.task_name)
    context = StepContext(flow_slug="analysis", step_slug="fetch", job=job_context)
    assert (context.run_id, context.task_index, context.attempt) == (run.pk, 0, 2)


@pytest.mark.django_db  # the worker closes stale connections around a task
def test_the_worker_hands_steps_their_job_context():
    class Aware(Flow):
        slug = "t_aware"

        @step()
        def fetch(self, input: Any) -> Any:
            job = self.context.job
            return [self.context.flow_slug, self.context.step_slug, job and job.attempt]

    outcome = execute(_claimed("pgflow.step.t_aware.fetch", [None], {}), None)
    assert json.loads(outcome.result_json or "") == ["t_aware", "fetch", 1]
