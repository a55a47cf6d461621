"""``@step``: a method of a ``Flow`` that runs as one task, or one task per element.

The decorator checks everything it can see alone (options, parameters); what
needs the whole class (dependencies, cycles) is checked in ``flow_graph``.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any, TypeVar, overload

from ... import validation
from ...exceptions import FlowDefinitionError, InvalidJobError
from ...validation import SLUG_RE as SLUG_RE
from ...validation import validate_slug as validate_slug

F = TypeVar("F", bound=Callable[..., Any])

FAILURE_POLICIES = ("fail", "skip", "skip_cascade")
# Slugs become method names, keyword arguments and parts of a dotted task name.
STEP_ATTR = "__pgflow_step__"
# A parameter of this name, beside the step's own inputs, receives the run input.
RUN_INPUT = "input"


@dataclass(frozen=True)
class StepOptions:
    """What ``@step(...)`` declares, as written (``None`` means: the flow's default)."""

    depends_on: tuple[str, ...] = ()
    map: bool = False
    max_attempts: int | None = None
    base_delay: float | None = None
    timeout: float | None = None
    start_delay: float = 0.0
    queue: str | None = None
    priority: int | None = None
    on_failure: str = "fail"
    condition: Any = None
    unless: Any = None  # pgflow's ifNot: run only when the input does not contain it
    on_condition_false: str = "skip"
    resources: tuple[tuple[str, int], ...] | None = None  # sorted pairs, as in JobOptions


@dataclass(frozen=True)
class StepSpec:
    """One step of a flow class: its slug, its method and its options."""

    slug: str
    func: Callable[..., Any]
    options: StepOptions
    params: tuple[str, ...]  # the parameters after ``self``

    @property
    def depends_on(self) -> tuple[str, ...]:
        return self.options.depends_on

    @property
    def is_map(self) -> bool:
        return self.options.map

    @property
    def is_root(self) -> bool:
        return not self.options.depends_on

    @property
    def is_async(self) -> bool:
        return inspect.iscoroutinefunction(self.func)

    @property
    def own_params(self) -> tuple[str, ...]:
        """The parameters the step's job feeds: all but an ``input`` one beside them."""
        if len(self.params) > 1 or self.depends_on:
            return tuple(p for p in self.params if p != RUN_INPUT)
        return self.params

    @property
    def takes_run_input(self) -> bool:
        """Whether a parameter ``input``, beside its own, asks for the run input."""
        return RUN_INPUT in self.params and RUN_INPUT not in self.own_params


@overload
def step(func: F, /) -> F: ...


@overload
def step(
    *,
    depends_on: Iterable[str] = (),
    map: bool = False,
    max_attempts: int | None = None,
    base_delay: float | None = None,
    timeout: float | None = None,
    start_delay: float = 0,
    queue: str | None = None,
    priority: int | None = None,
    on_failure: str = "fail",
    condition: Any = None,
    unless: Any = None,
    on_condition_false: str = "skip",
    resources: dict[str, int] | None = None,
) -> Callable[[F], F]: ...


def step(
    func: Callable[..., Any] | None = None,
    /,
    *,
    depends_on: Iterable[str] = (),
    map: bool = False,
    max_attempts: int | None = None,
    base_delay: float | None = None,
    timeout: float | None = None,
    start_delay: float = 0,
    queue: str | None = None,
    priority: int | None = None,
    on_failure: str = "fail",
    condition: Any = None,
    unless: Any = None,
    on_condition_false: str = "skip",
    resources: dict[str, int] | None = None,
) -> Any:
    """Declare a step of a ``Flow``: ``@step()`` or ``@step(depends_on=["fetch"], ...)``.

    A root step takes one parameter, the run input; a map step takes one, the
    element (of its dependency's array output, or of the run input); any other
    step takes one parameter per dependency, named after it. Any step may also
    take a parameter named ``input``: the run input (as pgflow gives every
    step). A dependency that was skipped gives its parameter its default, or
    None without one (its key is absent from the step's input).

    ``max_attempts``, ``base_delay`` and ``timeout`` default to the flow's;
    ``start_delay`` delays the step's tasks once it is ready. ``on_failure``:
    ``"fail"`` the run, ``"skip"`` the step (dependents get None), or
    ``"skip_cascade"`` it and everything downstream. With a ``condition``, the
    step runs only when its input (the run input for a root step, else
    ``{dependency: output}``) contains that JSON, and with ``unless`` (pgflow's
    ``ifNot``) only when it does not; otherwise ``on_condition_false`` applies,
    with the same choices. ``resources`` (``{"gpu": 1}``) is held by each of
    the step's tasks while it runs, as with ``@task(resources=...)``.
    """
    if func is not None and not callable(func):
        raise FlowDefinitionError("@step takes keyword arguments only: @step(depends_on=[...]).")
    try:
        needs = validation.validate_resources(resources) if resources is not None else None
    except InvalidJobError as error:
        raise FlowDefinitionError(f"@step: {error}") from None
    options = StepOptions(
        depends_on=_dependency_names(depends_on),
        map=map,
        max_attempts=max_attempts,
        base_delay=base_delay,
        timeout=timeout,
        start_delay=start_delay,
        queue=queue,
        priority=priority,
        on_failure=on_failure,
        condition=condition,
        unless=unless,
        on_condition_false=on_condition_false,
        resources=needs,
    )

    def decorate(f: F) -> F:
        where = f"@step on {getattr(f, '__qualname__', f)!r}"
        if not inspect.isfunction(f):
            raise FlowDefinitionError(f"{where}: @step decorates a method (def or async def).")
        _check_options(options, where)
        step_params(f, options, where)
        setattr(f, STEP_ATTR, options)
        _remember(f)
        return f

    return decorate(func) if func is not None else decorate


def _dependency_names(depends_on: Any) -> tuple[str, ...]:
    if isinstance(depends_on, str):
        raise FlowDefinitionError(
            f"depends_on takes a list of step names, got the string {depends_on!r}: "
            f"write depends_on=[{depends_on!r}]."
        )
    names = tuple(depends_on)
    for name in names:
        if not isinstance(name, str):
            raise FlowDefinitionError(
                f"depends_on takes step names (the method names, as strings), got {name!r}."
            )
    duplicates = sorted({name for name in names if names.count(name) > 1})
    if duplicates:
        raise FlowDefinitionError(f"depends_on names {', '.join(duplicates)} more than once.")
    return names


def _check_options(options: StepOptions, where: str) -> None:
    for name in ("on_failure", "on_condition_false"):
        value = getattr(options, name)
        if value not in FAILURE_POLICIES:
            raise FlowDefinitionError(
                f"{where}: {name}={value!r} is not one of {', '.join(FAILURE_POLICIES)}."
            )
    if not isinstance(options.map, bool):
        raise FlowDefinitionError(f"{where}: map must be True or False, got {options.map!r}.")
    if options.map and len(options.depends_on) > 1:
        raise FlowDefinitionError(
            f"{where}: a map step maps over one array, so it depends on at most one step; "
            f"it names {len(options.depends_on)} ({', '.join(options.depends_on)}). "
            "Add a step that combines them and map over its output."
        )
    try:
        check_job_options(options)
    except InvalidJobError as error:
        raise FlowDefinitionError(f"{where}: {error}") from None


def check_job_options(options: StepOptions) -> None:
    """Check the job options a step or a flow declares (unset ones are left to defaults)."""
    if options.queue is not None:
        validation.validate_queue_name(options.queue)
    if options.priority is not None:
        validation.validate_priority(options.priority)
    if options.max_attempts is not None:
        validation.validate_max_attempts(options.max_attempts)
    if options.base_delay is not None:
        validation.validate_positive_number("base_delay", options.base_delay, allow_zero=True)
    if options.timeout is not None:
        validation.validate_positive_number("timeout", options.timeout)
    validation.validate_positive_number("start_delay", options.start_delay, allow_zero=True)
    if options.condition is not None:
        validation.to_json(options.condition, "condition")
    if options.unless is not None:
        validation.to_json(options.unless, "unless")


def step_params(func: Callable[..., Any], options: StepOptions, where: str) -> tuple[str, ...]:
    """The parameter names after ``self``, checked against what the step will be given."""
    params = list(inspect.signature(func).parameters.values())
    if not params or params[0].kind not in _NAMED:
        raise FlowDefinitionError(f"{where}: a step is a method; its first parameter is self.")
    for param in params[1:]:
        if param.kind not in _NAMED:
            raise FlowDefinitionError(
                f"{where}: parameter {param} is not allowed; a step takes named parameters only."
            )
    names = tuple(p.name for p in params[1:])
    _check_param_names(names, options, where)
    return names


_NAMED = (inspect.Parameter.POSITIONAL_OR_KEYWORD, inspect.Parameter.KEYWORD_ONLY)


def _check_param_names(names: tuple[str, ...], options: StepOptions, where: str) -> None:
    if len(names) > 1 or options.depends_on:
        names = tuple(n for n in names if n != RUN_INPUT)
    if options.map:
        if len(names) != 1:
            raise FlowDefinitionError(
                f"{where}: a map step takes exactly one parameter after self, the element "
                f"it is given; it has {len(names)} ({', '.join(names) or 'none'})."
            )
        return
    if not options.depends_on:
        if len(names) != 1:
            raise FlowDefinitionError(
                f"{where}: a root step (no depends_on) takes exactly one parameter after "
                f"self, the run input; it has {len(names)} ({', '.join(names) or 'none'})."
            )
        return
    if RUN_INPUT in options.depends_on:
        raise FlowDefinitionError(
            f"{where}: no step may be named {RUN_INPUT!r}: a parameter of that name receives "
            "the run input."
        )
    missing = [d for d in options.depends_on if d not in names]
    extra = [n for n in names if n not in options.depends_on]
    if missing or extra:
        problems = []
        if extra:
            problems.append(f"parameter(s) {', '.join(extra)} match no dependency")
        if missing:
            problems.append(f"dependency(ies) {', '.join(missing)} have no parameter")
        raise FlowDefinitionError(
            f"{where}: {'; '.join(problems)}. A step that depends on others takes one "
            f"parameter per dependency, named after it: ({', '.join(options.depends_on)})."
        )


# Step methods seen by @step, by (module, qualname), then by first line number:
# two defs of one name in a class body share a qualname but not a line, while
# a class body executed again (a module reloaded) repeats both.
_declared: dict[tuple[str, str], dict[int, Callable[..., Any]]] = {}


def _remember(func: Callable[..., Any]) -> None:
    key = (func.__module__, func.__qualname__)
    _declared.setdefault(key, {})[func.__code__.co_firstlineno] = func


def take_declared(module: str, qualname: str) -> list[Callable[..., Any]]:
    """Forget and return the step methods declared under ``module.qualname``."""
    return list(_declared.pop((module, qualname), {}).values())
