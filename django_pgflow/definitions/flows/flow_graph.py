"""From a ``Flow`` class to a checked graph of steps, or an error naming the culprit."""

from __future__ import annotations

import heapq
import inspect
from collections.abc import Callable, Collection
from dataclasses import dataclass
from functools import cached_property
from typing import Any

from ...exceptions import FlowDefinitionError, InvalidJobError
from ...validation import validate_slug
from .compensation import Compensation, find_compensation
from .flow_step import (
    RUN_INPUT,
    STEP_ATTR,
    StepOptions,
    StepSpec,
    check_job_options,
    step_params,
    take_declared,
)


@dataclass(frozen=True)
class FlowSpec:
    """A flow class, checked: its defaults and its steps in a topological order."""

    slug: str
    version: int
    max_attempts: int | None
    base_delay: float | None
    timeout: float | None
    queue: str | None
    steps: tuple[StepSpec, ...]
    compensation: Compensation | None = None

    @cached_property
    def by_slug(self) -> dict[str, StepSpec]:
        return {s.slug: s for s in self.steps}

    @cached_property
    def leaves(self) -> frozenset[str]:
        """Steps that no other step depends on: their outputs make the run's output."""
        needed = {dep for s in self.steps for dep in s.depends_on}
        return frozenset(s.slug for s in self.steps if s.slug not in needed)


def build_flow_spec(cls: type, reserved: Collection[str]) -> FlowSpec:
    """Check ``cls`` as a flow and return its spec; raise ``FlowDefinitionError`` if it is not."""
    slug = _flow_slug(cls)
    steps = collect_steps(cls, slug, reserved)  # first: a step may hide an option
    version, defaults = _flow_options(cls, slug)
    check_dependencies(slug, steps)
    order = topological_order({name: s.depends_on for name, s in steps.items()})
    return FlowSpec(
        slug=slug,
        version=version,
        max_attempts=defaults.max_attempts,
        base_delay=defaults.base_delay,
        timeout=defaults.timeout,
        queue=defaults.queue,
        steps=tuple(steps[name] for name in order),
        compensation=find_compensation(cls, slug),
    )


def _flow_slug(cls: type) -> str:
    slug = getattr(cls, "slug", None)
    if slug is None:
        raise FlowDefinitionError(
            f"Flow {cls.__qualname__} declares no slug: add slug = 'some_name' to the class "
            "(or abstract = True for a base class that only shares steps)."
        )
    return validate_slug(slug, f"slug of flow {cls.__qualname__}")


def _flow_options(cls: type, slug: str) -> tuple[int, StepOptions]:
    """The flow's version, and the defaults it gives its steps, checked."""
    version = getattr(cls, "version", None)
    if isinstance(version, bool) or not isinstance(version, int) or version < 1:
        raise FlowDefinitionError(f"Flow {slug!r}: version must be an int >= 1, got {version!r}.")
    defaults = StepOptions(
        max_attempts=getattr(cls, "max_attempts", None),
        base_delay=getattr(cls, "base_delay", None),
        timeout=getattr(cls, "timeout", None),
        queue=getattr(cls, "queue", None),
    )
    try:
        check_job_options(defaults)
    except InvalidJobError as error:
        raise FlowDefinitionError(f"Flow {slug!r}: {error}") from None
    return version, defaults


def collect_steps(cls: type, slug: str, reserved: Collection[str]) -> dict[str, StepSpec]:
    """The steps of ``cls`` and its bases, in declaration order (bases first)."""
    found: dict[str, Callable[..., Any]] = {}
    for klass in reversed(cls.__mro__):
        for name, value in vars(klass).items():
            if inspect.isfunction(value) and STEP_ATTR in vars(value):
                found[name] = value
            elif name in found:
                del found[name]  # overridden by something that is not a step
    if not found:
        raise FlowDefinitionError(
            f"Flow {slug!r} ({cls.__qualname__}) has no steps: decorate its methods with @step()."
        )
    return {name: _step_spec(slug, name, func, reserved) for name, func in found.items()}


def _step_spec(
    flow_slug: str, name: str, func: Callable[..., Any], reserved: Collection[str]
) -> StepSpec:
    validate_slug(name, f"step name in flow {flow_slug!r}")
    if name == RUN_INPUT:
        raise FlowDefinitionError(
            f"Flow {flow_slug!r}: a step cannot be named {name!r}: a step's parameter of that "
            "name receives the run input. Rename the method."
        )
    if name in reserved:
        raise FlowDefinitionError(
            f"Flow {flow_slug!r}: a step cannot be named {name!r}, which Flow itself uses; "
            "rename the method."
        )
    declared = take_declared(func.__module__, func.__qualname__)
    if len(declared) > 1:
        lines = sorted(f.__code__.co_firstlineno for f in declared)
        raise FlowDefinitionError(
            f"Flow {flow_slug!r}: step {name!r} is defined {len(declared)} times (lines "
            f"{', '.join(map(str, lines))} of {func.__module__}); the last would silently "
            "replace the others. Give each step its own name."
        )
    options: StepOptions = vars(func)[STEP_ATTR]
    params = step_params(func, options, f"step {flow_slug}.{name}")
    return StepSpec(slug=name, func=func, options=options, params=params)


def check_dependencies(flow_slug: str, steps: dict[str, StepSpec]) -> None:
    for spec in steps.values():
        unknown = [dep for dep in spec.depends_on if dep not in steps]
        if unknown:
            raise FlowDefinitionError(
                f"Flow {flow_slug!r}: step {spec.slug!r} depends on unknown step(s) "
                f"{', '.join(map(repr, unknown))}; the flow's steps are "
                f"{', '.join(steps)}."
            )
    cycle = find_cycle({name: s.depends_on for name, s in steps.items()})
    if cycle:
        raise FlowDefinitionError(
            f"Flow {flow_slug!r} has a dependency cycle: {' -> '.join(cycle)} "
            "(each step depends on the next), so none of them could ever start."
        )


def find_cycle(deps: dict[str, tuple[str, ...]]) -> list[str] | None:
    """A cycle as a path that ends where it starts (``[a, b, a]``), or None."""
    done: set[str] = set()
    path: list[str] = []

    def visit(node: str) -> list[str] | None:
        path.append(node)
        for dep in deps[node]:
            if dep in path:
                return [*path[path.index(dep) :], dep]
            if dep not in done:
                found = visit(dep)
                if found:
                    return found
        path.pop()
        done.add(node)
        return None

    for node in deps:
        if node not in done:
            found = visit(node)
            if found:
                return found
    return None


def topological_order(deps: dict[str, tuple[str, ...]]) -> list[str]:
    """Dependencies first; among steps ready together, the one declared first.

    ``deps`` must be acyclic (``find_cycle`` found nothing).
    """
    names = list(deps)
    position = {name: index for index, name in enumerate(names)}
    waiting = {name: len(d) for name, d in deps.items()}
    dependents: dict[str, list[str]] = {name: [] for name in names}
    for name, ds in deps.items():
        for dep in ds:
            dependents[dep].append(name)
    ready = [position[name] for name in names if waiting[name] == 0]
    heapq.heapify(ready)
    order: list[str] = []
    while ready:
        name = names[heapq.heappop(ready)]
        order.append(name)
        for child in dependents[name]:
            waiting[child] -= 1
            if waiting[child] == 0:
                heapq.heappush(ready, position[child])
    return order
