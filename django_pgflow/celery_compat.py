"""Celery's ``apply_async`` arguments, translated to django-pgflow's job options."""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING, Any

from django.utils import timezone

from . import validation
from .exceptions import InvalidJobError

if TYPE_CHECKING:
    from .definitions.tasks.task import Task


def delay_options(
    countdown: float | None, eta: dt.datetime | None, options: dict[str, Any]
) -> dict[str, Any]:
    """``countdown`` becomes ``delay``, ``eta`` becomes ``run_at``; one of them at most."""
    if countdown is not None and eta is not None:
        raise InvalidJobError("Give countdown (seconds) or eta (a datetime), not both.")
    if countdown is not None:
        options["delay"] = validation.validate_positive_number(
            "countdown", countdown, allow_zero=True
        )
    if eta is not None:
        if not isinstance(eta, dt.datetime):
            raise InvalidJobError(f"eta must be a datetime, got {type(eta).__name__}.")
        options["run_at"] = eta
    return options


def expiry_time(expires: float | dt.datetime | None, starts: dt.datetime) -> dt.datetime | None:
    """When a job that has not started by then is cancelled; refused if it could never run."""
    if expires is None:
        return None
    if isinstance(expires, dt.datetime):
        if timezone.is_naive(expires):
            raise InvalidJobError("expires must be an aware datetime (or seconds from now).")
        when = expires
    elif isinstance(expires, int | float) and not isinstance(expires, bool):
        when = timezone.now() + dt.timedelta(
            seconds=validation.validate_positive_number("expires", expires)
        )
    else:
        raise InvalidJobError(
            f"expires must be seconds from now or a datetime, got {type(expires).__name__}."
        )
    if when <= starts:
        raise InvalidJobError(
            f"expires ({when.isoformat()}) is not after the time the job may start "
            f"({starts.isoformat()}): it could never run."
        )
    return when


def start_time(options: dict[str, Any]) -> dt.datetime:
    """The earliest the job may start, by this process's clock (for the expiry check only)."""
    if options.get("run_at") is not None:
        return options["run_at"]
    return timezone.now() + dt.timedelta(seconds=float(options.get("delay") or 0))


def apply_async(
    task: Task,
    args: list[Any] | tuple[Any, ...] | None,
    kwargs: dict[str, Any] | None,
    *,
    countdown: float | None,
    eta: dt.datetime | None,
    expires: float | dt.datetime | None,
    queue: str | None,
    priority: int | None,
    **options: Any,
) -> Any:
    from .router import send

    if args is not None and not isinstance(args, list | tuple):
        raise InvalidJobError(f"args must be a list or tuple, got {type(args).__name__}.")
    if kwargs is not None and not isinstance(kwargs, dict):
        raise InvalidJobError(f"kwargs must be a dict, got {type(kwargs).__name__}.")
    options = delay_options(countdown, eta, options)
    if queue is not None:
        options["queue"] = queue
    if priority is not None:
        options["priority"] = priority
    expires_at = expiry_time(expires, start_time(options))
    return send(task.name, list(args or ()), dict(kwargs or {}), expires=expires_at, **options)
