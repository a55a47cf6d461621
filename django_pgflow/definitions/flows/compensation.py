"""``@compensate``: a Flow method that undoes a run's external effects when it fails.

Saga-style: when a run fails or is cancelled, the SQL core queues one job for
its flow's compensation handler (``pgflow.compensate.<flow>``), which a
worker runs with a ``RunFailure``: the error, the failed step, and the
outputs of the steps that completed.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar, overload

from ... import validation
from ...exceptions import FlowDefinitionError, InvalidJobError
from ...exceptions import RunFailure as RunFailure

F = TypeVar("F", bound=Callable[..., Any])
COMPENSATE_ATTR = "__pgflow_compensate__"
COMPENSATE_PREFIX = "pgflow.compensate."


@dataclass(frozen=True)
class Compensation:
    """A flow's handler: its method's name and the queue of its job (None: the flow's)."""

    method: str
    queue: str | None = None


@overload
def compensate(func: F, /) -> F: ...


@overload
def compensate(*, queue: str | None = None) -> Callable[[F], F]: ...


def compensate(func: Callable[..., Any] | None = None, /, *, queue: str | None = None) -> Any:
    """Declare a Flow's compensation handler: ``@compensate`` or ``@compensate(queue=...)``.

    The method takes one parameter after ``self``, a ``RunFailure``. It runs
    once per failure or cancellation of a run, as a job with the flow's
    attempts and timeout, on ``queue`` (default: the flow's queue).
    """
    if queue is not None:
        try:
            validation.validate_queue_name(queue)
        except InvalidJobError as error:
            raise FlowDefinitionError(f"@compensate: {error}") from None

    def decorate(f: F) -> F:
        setattr(f, COMPENSATE_ATTR, Compensation(method=f.__name__, queue=queue))
        return f

    return decorate(func) if func is not None else decorate


def find_compensation(cls: type, slug: str) -> Compensation | None:
    """The handler ``cls`` (or a base) declares; at most one."""
    found = {
        name: value
        for klass in reversed(cls.__mro__)
        for name, value in vars(klass).items()
        if callable(value) and hasattr(value, COMPENSATE_ATTR)
    }
    if len(found) > 1:
        raise FlowDefinitionError(
            f"Flow {slug!r} declares {len(found)} compensation handlers "
            f"({', '.join(sorted(found))}); a flow has one."
        )
    return next((getattr(f, COMPENSATE_ATTR) for f in found.values()), None)
