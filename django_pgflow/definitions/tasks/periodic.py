"""``@periodic``: a task enqueued on a cron schedule, once per tick across all workers.

Schedules come from two places: ``@periodic`` in code and ``PGFLOW["PERIODIC"]``
in settings (which wins on a name both declare). Workers sync them into the
``pgflow_periodic`` table and claim their ticks; see ``worker/scheduler.py``.
"""

from __future__ import annotations

import datetime as dt
import re
import zoneinfo
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from croniter import CroniterBadDateError, croniter

from ... import validation
from ...conf import pgflow_settings
from ...exceptions import InvalidJobError, InvalidScheduleError
from .task import JobOptions, JobSpec, Task, task

SCHEDULE_NAME_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.:\-]{0,199}")
# Keys of a PGFLOW["PERIODIC"] entry besides "task" and "cron".
SETTING_KEYS = frozenset(
    {
        "timezone",
        "args",
        "kwargs",
        "queue",
        "priority",
        "max_attempts",
        "retry_delay",
        "max_retry_delay",
        "timeout",
    }
)
OPTION_KEYS = ("queue", "priority", "max_attempts", "retry_delay", "max_retry_delay", "timeout")


def validate_cron(expr: Any) -> str:
    """A croniter expression: 5 fields, or 6 with seconds last (7 with a year)."""
    if not isinstance(expr, str) or not croniter.is_valid(expr):
        raise InvalidScheduleError(
            f"Invalid cron expression {expr!r}: use five fields 'minute hour day month "
            "weekday' (e.g. '*/5 * * * *'), or six with seconds last ('* * * * * */10')."
        )
    return expr


def validate_timezone(name: Any) -> zoneinfo.ZoneInfo:
    if not isinstance(name, str) or not name:
        raise InvalidScheduleError(f"Invalid time zone {name!r}: use an IANA name such as 'UTC'.")
    try:
        return zoneinfo.ZoneInfo(name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError) as error:
        raise InvalidScheduleError(
            f"Unknown time zone {name!r}: use an IANA name such as 'UTC' or 'Europe/Paris'."
        ) from error


def validate_schedule_name(name: Any) -> str:
    if not isinstance(name, str) or not SCHEDULE_NAME_RE.fullmatch(name):
        raise InvalidScheduleError(
            f"Invalid schedule name {name!r}: use 1-200 letters, digits, '_', '-', '.' "
            "or ':', starting with a letter or digit."
        )
    return name


@dataclass(frozen=True)
class Schedule:
    """One periodic schedule: which task, when, with what arguments and options."""

    name: str
    task_name: str
    cron: str
    timezone: str = "UTC"
    args: tuple[Any, ...] = ()
    kwargs: dict[str, Any] = field(default_factory=dict)
    options: JobOptions = field(default_factory=JobOptions)

    def __post_init__(self) -> None:
        validate_schedule_name(self.name)
        validation.validate_enqueueable(self.task_name)
        validate_cron(self.cron)
        validate_timezone(self.timezone)
        validation.to_json(list(self.args), f"args of schedule {self.name!r}")
        validation.to_json(self.kwargs, f"kwargs of schedule {self.name!r}")
        validation.validate_options(self.options, check_queue_declared=False)

    def job_json(self) -> str:
        """The job each tick enqueues, resolved as ``enqueue`` would, as JSON.

        An item of ``django_pgflow.enqueue_many``. Raises ``UnknownTaskError`` or
        ``InvalidJobError`` when that job could not be enqueued.
        """
        from ...queue import registry
        from ...queue.api import spec_json

        defaults = registry.get_task(self.task_name).options
        options = self.options.merged_over(defaults)
        spec = JobSpec(self.task_name, self.args, self.kwargs, options)
        return spec_json(spec)

    def ticks_around(self, now: dt.datetime) -> tuple[dt.datetime | None, dt.datetime | None]:
        """The latest tick at or before ``now`` and the first one after it.

        Ticks are computed by croniter in the schedule's time zone, so "0 3 * * *"
        means 03:00 local time on either side of a DST change.
        """
        local = now.astimezone(zoneinfo.ZoneInfo(self.timezone))
        try:
            upcoming = croniter(self.cron, local).get_next(dt.datetime)
        except CroniterBadDateError:
            upcoming = None
        try:
            # The tick before the next one is the latest at or before ``now``.
            start = upcoming if upcoming is not None else local
            latest = croniter(self.cron, start).get_prev(dt.datetime)
        except CroniterBadDateError:
            latest = None
        return latest, upcoming


_schedules: dict[str, Schedule] = {}


def register_schedule(schedule: Schedule) -> None:
    existing = _schedules.get(schedule.name)
    if existing is not None and existing.task_name != schedule.task_name:
        raise InvalidScheduleError(
            f"Two periodic schedules are named {schedule.name!r}: for {existing.task_name} "
            f"and {schedule.task_name}. Give one of them another name with "
            "@periodic(name=...)."
        )
    _schedules[schedule.name] = schedule  # re-importing a module re-declares the same one


def periodic(
    cron: str,
    *,
    timezone: str = "UTC",
    name: str | None = None,
    args: tuple[Any, ...] | list[Any] = (),
    kwargs: dict[str, Any] | None = None,
    queue: str | None = None,
    priority: int | None = None,
    max_attempts: int | None = None,
    retry_delay: float | None = None,
    max_retry_delay: float | None = None,
    timeout: float | None = None,
) -> Callable[[Task | Callable[..., Any]], Task]:
    """Enqueue a task on a cron schedule: ``@periodic("*/5 * * * *")`` above ``@task``.

    Put it above ``@task(...)`` to keep the task's own options; on a plain
    function it registers the function as a task with default options. The
    schedule is named after the task unless ``name`` is given (needed to give
    one task several schedules). Options set here apply to the scheduled jobs
    only, over the task's own. Returns the task.
    """
    validate_cron(cron)
    validate_timezone(timezone)
    if name is not None:
        validate_schedule_name(name)
    options = JobOptions(
        queue=queue,
        priority=priority,
        max_attempts=max_attempts,
        retry_delay=retry_delay,
        max_retry_delay=max_retry_delay,
        timeout=timeout,
    )

    def decorate(target: Task | Callable[..., Any]) -> Task:
        the_task = target if isinstance(target, Task) else task(target)
        register_schedule(
            Schedule(
                name=name or the_task.name,
                task_name=the_task.name,
                cron=cron,
                timezone=timezone,
                args=tuple(args),
                kwargs=dict(kwargs or {}),
                options=options,
            )
        )
        return the_task

    return decorate


def schedule_from_setting(name: Any, entry: Any) -> Schedule:
    """The schedule ``PGFLOW["PERIODIC"][name]`` declares; raises on anything malformed."""
    if not isinstance(entry, Mapping):
        raise InvalidScheduleError(
            f"PGFLOW['PERIODIC'][{name!r}] must be a dict with 'task' and 'cron', "
            f"got {type(entry).__name__}."
        )
    missing = [key for key in ("task", "cron") if key not in entry]
    unknown = set(entry) - SETTING_KEYS - {"task", "cron"}
    if missing or unknown:
        problem = (
            f"lacks {', '.join(missing)}" if missing else f"has unknown key(s) {sorted(unknown)}"
        )
        raise InvalidScheduleError(
            f"PGFLOW['PERIODIC'][{name!r}] {problem}; known keys: task, cron, "
            f"{', '.join(sorted(SETTING_KEYS))}."
        )
    args = entry.get("args", ())
    kwargs = entry.get("kwargs", {})
    if not isinstance(args, list | tuple) or not isinstance(kwargs, dict):
        raise InvalidScheduleError(
            f"PGFLOW['PERIODIC'][{name!r}]: args must be a list and kwargs a dict."
        )
    try:
        return Schedule(
            name=name,
            task_name=entry["task"],
            cron=entry["cron"],
            timezone=entry.get("timezone", "UTC"),
            args=tuple(args),
            kwargs=dict(kwargs),
            options=JobOptions(**{k: entry[k] for k in OPTION_KEYS if k in entry}),
        )
    except InvalidJobError as error:
        raise InvalidScheduleError(f"PGFLOW['PERIODIC'][{name!r}]: {error}") from error


def declared_schedules() -> dict[str, Schedule]:
    """Every schedule, by name: ``@periodic`` ones, then settings ones over them."""
    schedules = dict(_schedules)
    for name, entry in (pgflow_settings.PERIODIC or {}).items():
        schedules[name] = schedule_from_setting(name, entry)
    return schedules


def unregister_schedule(name: str) -> None:
    """Forget a ``@periodic`` schedule (tests; a row already synced stays, inert)."""
    _schedules.pop(name, None)
