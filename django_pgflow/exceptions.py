"""Errors raised to callers of django-pgflow, and ``RunFailure``: how a run ended badly."""

from dataclasses import dataclass, field
from typing import Any


class PgflowError(Exception):
    """Base class of every error django-pgflow raises on purpose."""


class InvalidJobError(PgflowError, ValueError):
    """A call was refused because of what the caller passed (a job's arguments or
    options, a run's input, an id); nothing was stored."""


class UnknownTaskError(PgflowError, LookupError):
    """No task is registered under that name."""


class JobTimeoutError(PgflowError, TimeoutError):
    """A job ran past its timeout."""


class WorkerLostError(PgflowError):
    """A job's worker stopped heartbeating or its lease expired before it reported."""


class FlowDefinitionError(PgflowError):
    """A ``Flow`` class is malformed, or its definition cannot be synced to the database."""


class UnknownFlowError(PgflowError, LookupError):
    """No flow is defined under that slug."""


class StepInputError(PgflowError, ValueError):
    """A step's input does not fit its parameters; the same input would fail again."""

    # Read by the worker: a failure that a retry cannot fix fails the task at once.
    retry = False


@dataclass(frozen=True)
class RunFailure:
    """How a run ended badly: what its compensation handler, and ``run.wait()``, tell."""

    run_id: int
    flow: str
    status: str  # "failed" or "cancelled"
    error: Any = None
    failed_step: str | None = None
    outputs: dict[str, Any] = field(default_factory=dict)  # completed steps only
    input: Any = None


class RunFailedError(PgflowError):
    """A run a caller waited for failed or was cancelled; ``failure`` says how.

    ``failure`` is the ``RunFailure`` a compensation handler receives: the
    error, the failed step, the outputs of the steps that completed.
    """

    def __init__(self, failure: RunFailure) -> None:
        step = f" at step {failure.failed_step!r}" if failure.failed_step else ""
        message = (failure.error or {}).get("message") if isinstance(failure.error, dict) else None
        super().__init__(
            f"run {failure.run_id} of {failure.flow!r} {failure.status}{step}"
            + (f": {message}" if message else "")
        )
        self.failure = failure


class InvalidScheduleError(PgflowError, ValueError):
    """A periodic schedule is malformed: a bad cron expression, time zone or option."""


class ResourceLockTimeout(PgflowError, TimeoutError):
    """``resource_lock`` waited its whole timeout and another holder still had the lock."""

    def __init__(self, name: str, timeout: float) -> None:
        super().__init__(
            f"Could not take resource lock {name!r} within {timeout:g}s: another holder "
            "still has it."
        )
        self.name = name
        self.timeout = timeout


class BatchResultError(PgflowError, ValueError):
    """A batch task returned something other than one result per item, in order."""

    # The same items would get the same answer: every item of the batch fails for good.
    retry = False
