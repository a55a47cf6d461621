"""Running a step's job: find the ``Flow`` method, hand it its inputs, return its output.

The SQL core names a step's jobs ``pgflow.step.<flow>.<step>`` and gives them
``args=[run input]`` (root step), ``args=[element]`` (map step) or
``kwargs={dependency: output, ...}`` (any other step).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ..exceptions import StepInputError, UnknownTaskError
from ..validation import STEP_TASK_PREFIX
from .context import current_job
from .flow import Flow, StepContext
from .flow_registry import find_flow
from .flow_step import StepSpec
from .task import JobOptions, Task
from .typed import param_types, parse, to_plain


def is_step_task(task_name: str) -> bool:
    return task_name.startswith(STEP_TASK_PREFIX)


def step_task_name(flow_slug: str, step_slug: str) -> str:
    """Keep in sync with ``django_pgflow.step_task_name`` in sql/0004_workflow_functions."""
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
        if name in types
        else value
        for name, value in raw.items()
    }


def _bind(
    flow_slug: str, spec: StepSpec, args: tuple[Any, ...], kwargs: dict[str, Any]
) -> dict[str, Any]:
    takes_one = spec.is_map or spec.is_root
    if takes_one and len(args) == 1 and not kwargs:
        return {spec.params[0]: args[0]}
    if not takes_one and not args and set(kwargs) == set(spec.params):
        return dict(kwargs)
    raise StepInputError(
        f"The job of step {flow_slug}.{spec.slug} carries {len(args)} positional and "
        f"keyword input(s) {', '.join(sorted(kwargs)) or 'none'}, but the method takes "
        f"({', '.join(spec.params)}): the run was started on another version of the flow."
    )
