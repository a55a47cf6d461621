"""Running a step's job: find the ``Flow`` method, hand it its inputs, return its output.

The SQL core names a step's jobs ``pgflow.step.<flow>.<step>`` and gives them
``args=[run input]`` (root step), ``args=[element]`` (map step) or
``kwargs={dependency: output, ...}`` (any other step).
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable
from typing import Any

from ...exceptions import StepInputError, UnknownTaskError
from ...job_context import current_job
from ...queue.options import JobOptions
from ...runs.registry import find_flow
from ...typed import param_types, parse, to_plain
from ...validation import STEP_TASK_PREFIX
from ..tasks.task import Task
from .compensation import COMPENSATE_PREFIX, RunFailure
from .flow import Flow, StepContext
from .flow_step import RUN_INPUT, StepSpec


def is_step_task(task_name: str) -> bool:
    return task_name.startswith(STEP_TASK_PREFIX)


def is_compensation(task_name: str) -> bool:
    return task_name.startswith(COMPENSATE_PREFIX)


def is_run_task(task_name: str) -> bool:
    """A task that runs only as part of a run: a step's, or a compensation's."""
    return is_step_task(task_name) or is_compensation(task_name)


def compensation_task(task_name: str) -> Task:
    """A ``Task`` whose body runs the flow's compensation handler with a ``RunFailure``."""
    flow_slug = task_name.removeprefix(COMPENSATE_PREFIX)
    flow = find_flow(flow_slug)
    handler = flow._pgflow.compensation if flow is not None else None
    if flow is None or handler is None:
        raise UnknownTaskError(
            f"No flow {flow_slug!r} with a compensation handler is defined in this worker, "
            f"so it cannot run {task_name!r}."
        )

    def undo(failure: dict[str, Any]) -> Any:
        context = StepContext(flow_slug=flow_slug, step_slug="", job=current_job())
        method = getattr(flow(context), handler.method)
        return to_plain(method(RunFailure(**failure)))

    return Task(undo, name=task_name, options=JobOptions())


def step_task_name(flow_slug: str, step_slug: str) -> str:
    """Keep in sync with ``django_pgflow.step_task_name`` (sql/schema/flows/step_task_name.sql)."""
    return f"{STEP_TASK_PREFIX}{flow_slug}.{step_slug}"


def resolve(task_name: str) -> tuple[type[Flow], StepSpec]:
    """The flow class and step a step job's task name points at."""
    flow_slug, _, step_slug = task_name.removeprefix(STEP_TASK_PREFIX).partition(".")
    flow = find_flow(flow_slug)
    if flow is None:
        raise UnknownTaskError(
            f"No flow {flow_slug!r} is defined in this worker, so it cannot run {task_name!r}. "
            "Check that the module defining it is imported (flows.py modules of installed "
            "apps are imported automatically)."
        )
    spec = flow._pgflow.by_slug.get(step_slug)
    if spec is None:
        raise UnknownTaskError(
            f"Flow {flow_slug!r} (version {flow._pgflow.version} here) has no step "
            f"{step_slug!r}, so this worker cannot run {task_name!r}: the run was started "
            "on another version of the flow."
        )
    return flow, spec


def step_task(task_name: str) -> Task:
    """A ``Task`` whose body runs the step: what the worker calls for a step job."""
    flow, spec = resolve(task_name)
    body = _async_body(flow, spec) if spec.is_async else _body(flow, spec)
    return Task(body, name=task_name, options=JobOptions())


def _body(flow: type[Flow], spec: StepSpec) -> Callable[..., Any]:
    def run_step(*args: Any, **kwargs: Any) -> Any:
        instance, inputs = _prepare(flow, spec, args, kwargs)
        return to_plain(spec.func(instance, **inputs))

    return run_step


def _async_body(flow: type[Flow], spec: StepSpec) -> Callable[..., Any]:
    async def run_step(*args: Any, **kwargs: Any) -> Any:
        instance, inputs = _prepare(flow, spec, args, kwargs)
        return to_plain(await spec.func(instance, **inputs))

    return run_step


def _prepare(
    flow: type[Flow], spec: StepSpec, args: tuple[Any, ...], kwargs: dict[str, Any]
) -> tuple[Flow, dict[str, Any]]:
    context = StepContext(flow_slug=flow._pgflow.slug, step_slug=spec.slug, job=current_job())
    return flow(context), parse_inputs(flow._pgflow.slug, spec, args, kwargs)


def parse_inputs(
    flow_slug: str, spec: StepSpec, args: tuple[Any, ...], kwargs: dict[str, Any]
) -> dict[str, Any]:
    """The step method's keyword arguments, typed ones parsed, from the job's payload."""
    raw = _bind(flow_slug, spec, args, kwargs)
    types = param_types(spec.func)
    return {
        name: parse(value, types[name], f"step {flow_slug}.{spec.slug}, parameter {name!r}")
        if name in types and value is not None
        else value
        for name, value in raw.items()
    }


def _bind(
    flow_slug: str, spec: StepSpec, args: tuple[Any, ...], kwargs: dict[str, Any]
) -> dict[str, Any]:
    bound = _own_inputs(flow_slug, spec, args, kwargs)
    if spec.takes_run_input:
        bound[RUN_INPUT] = run_input()
    return bound


def _own_inputs(
    flow_slug: str, spec: StepSpec, args: tuple[Any, ...], kwargs: dict[str, Any]
) -> dict[str, Any]:
    own = spec.own_params
    takes_one = spec.is_map or spec.is_root
    if takes_one and len(args) == 1 and not kwargs:
        return {own[0]: args[0]}
    if not takes_one and not args and set(kwargs) <= set(own):
        # A skipped dependency has no key: its parameter's default, else None.
        missing = [name for name in own if name not in kwargs]
        return {**kwargs, **_defaults(spec, missing)} if missing else dict(kwargs)
    raise StepInputError(
        f"The job of step {flow_slug}.{spec.slug} carries {len(args)} positional and "
        f"keyword input(s) {', '.join(sorted(kwargs)) or 'none'}, but the method takes "
        f"({', '.join(spec.params)}): the run was started on another version of the flow."
    )


def _defaults(spec: StepSpec, names: list[str]) -> dict[str, Any]:
    params = inspect.signature(spec.func).parameters
    return {
        n: None if params[n].default is inspect.Parameter.empty else params[n].default
        for n in names
    }


def run_input() -> Any:
    """The input of the run whose step runs here (None outside a worker)."""
    job = current_job()
    if job is None or job.run_id is None:
        return None
    return _run_input(job.run_id)


@functools.lru_cache(maxsize=256)
def _run_input(run_id: int) -> Any:
    # A run's input never changes: the tasks of a map ask once per worker.
    from ...models import WorkflowRun

    return WorkflowRun.objects.filter(pk=run_id).values_list("input", flat=True).first()
