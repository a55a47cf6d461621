"""System checks for ``settings.PGFLOW`` (ids ``pgflow.E001`` and up)."""

from __future__ import annotations

import math
from typing import Any, cast

from django.conf import settings
from django.core.checks import CheckMessage, Error, register

from .conf import NUMBER, OPTIONS
from .exceptions import InvalidJobError, PgflowError
from .queue.options import QUEUE_LIMIT_NAMES, QUEUE_OPTION_NAMES, JobOptions
from .validation import (
    MAX_SECONDS,
    QUEUE_NAME_RE,
    validate_capacity,
    validate_declared_resources,
    validate_options,
    validate_queue_limit,
    validate_task_name,
)

SETTINGS_DOC = "See docs/settings.md for every key of PGFLOW."
QUEUE_NAME_HINT = (
    "Queue names use lowercase letters, digits, '_', '-' and '.', start with a letter or "
    "digit and are at most 63 characters."
)


def _type_names(types: tuple[type, ...]) -> str:
    return " or ".join(t.__name__ for t in types)


def _check_value(key: str, value: Any) -> list[CheckMessage]:
    option = OPTIONS[key]
    wrong_bool = isinstance(value, bool) and bool not in option.types
    if wrong_bool or not isinstance(value, option.types):
        return [
            Error(
                f"PGFLOW[{key!r}] must be {_type_names(option.types)}, "
                f"got {type(value).__name__} ({value!r}).",
                hint=option.help,
                id="pgflow.E002",
            )
        ]
    if option.types == NUMBER and not math.isfinite(cast(float, value)):
        return [
            Error(
                f"PGFLOW[{key!r}] must be a finite number of seconds, got {value!r}.",
                hint=option.help,
                id="pgflow.E003",
            )
        ]
    maximum = MAX_SECONDS if option.types == NUMBER else option.maximum
    if maximum is not None and cast(float, value) > maximum:
        return [
            Error(
                f"PGFLOW[{key!r}] must be at most {maximum}, got {value!r}.",
                hint=option.help,
                id="pgflow.E003",
            )
        ]
    if option.minimum is not None and cast(float, value) < option.minimum:
        return [
            Error(
                f"PGFLOW[{key!r}] must be at least {option.minimum}, got {value!r}.",
                hint=option.help,
                id="pgflow.E003",
            )
        ]
    return []


def _check_queue_options(name: str, options: Any) -> list[CheckMessage]:
    if options is None:
        return []
    if not isinstance(options, dict):
        return [
            Error(
                f"PGFLOW['QUEUES'][{name!r}] must be a dict of options, got "
                f"{type(options).__name__}.",
                id="pgflow.E006",
            )
        ]
    errors: list[CheckMessage] = []
    for key, value in options.items():
        if key in QUEUE_LIMIT_NAMES:
            if value is None:
                continue  # no limit, as for any other option left unset
            try:
                validate_queue_limit(key, value)
            except InvalidJobError as error:
                errors.append(Error(f"PGFLOW['QUEUES'][{name!r}]: {error}", id="pgflow.E006"))
            continue
        if key not in QUEUE_OPTION_NAMES:
            errors.append(
                Error(
                    f"PGFLOW['QUEUES'][{name!r}] has an unknown option {key!r}.",
                    hint="Known queue options: "
                    f"{', '.join(sorted(QUEUE_OPTION_NAMES + QUEUE_LIMIT_NAMES))}.",
                    id="pgflow.E006",
                )
            )
            continue
        try:
            validate_options(JobOptions(**{key: value}), check_queue_declared=False)
        except InvalidJobError as error:
            errors.append(Error(f"PGFLOW['QUEUES'][{name!r}]: {error}", id="pgflow.E006"))
    return errors


def _check_queues(queues: dict[str, Any]) -> list[CheckMessage]:
    errors: list[CheckMessage] = []
    for name, options in queues.items():
        errors.extend(_check_queue_options(str(name), options))
        if not isinstance(name, str) or not QUEUE_NAME_RE.fullmatch(name):
            errors.append(
                Error(
                    f"PGFLOW['QUEUES'] has an invalid queue name {name!r}.",
                    hint=QUEUE_NAME_HINT,
                    id="pgflow.E004",
                )
            )
    return errors


def _check_resources(resources: dict[str, Any]) -> list[CheckMessage]:
    errors: list[CheckMessage] = []
    for name, capacity in resources.items():
        if not isinstance(name, str) or not QUEUE_NAME_RE.fullmatch(name):
            errors.append(
                Error(
                    f"PGFLOW['RESOURCES'] has an invalid resource name {name!r}.",
                    hint="Resource names follow the rules of queue names.",
                    id="pgflow.E011",
                )
            )
            continue
        try:
            validate_capacity(name, capacity)
        except InvalidJobError as error:
            errors.append(Error(str(error), id="pgflow.E011"))
    return errors


def _check_task_resources() -> list[CheckMessage]:
    """A task needing an undeclared resource, or more than its capacity, could never run."""
    from .queue import registry

    errors: list[CheckMessage] = []
    for task in registry.all_tasks().values():
        if not task.options.resources:
            continue
        try:
            validate_declared_resources(task.options.resources)
        except InvalidJobError as error:
            errors.append(Error(f"Task {task.name}: {error}", id="pgflow.E012"))
    return errors


def _check_retention(retention: dict[str, Any]) -> list[CheckMessage]:
    errors: list[CheckMessage] = []
    for status, seconds in retention.items():
        if status not in {"completed", "failed", "cancelled"}:
            errors.append(
                Error(
                    f"PGFLOW['RETENTION'] has an unknown status {status!r}.",
                    hint="Use 'completed', 'failed' or 'cancelled'.",
                    id="pgflow.E005",
                )
            )
        elif seconds is not None and (
            isinstance(seconds, bool)
            or not isinstance(seconds, int | float)
            or not 0 <= seconds <= MAX_SECONDS
        ):
            errors.append(
                Error(
                    f"PGFLOW['RETENTION'][{status!r}] must be a number of seconds >= 0 and "
                    f"at most {MAX_SECONDS} (10 years), or None (keep forever), got {seconds!r}.",
                    id="pgflow.E005",
                )
            )
    return errors


def _check_schedule(name: Any, entry: Any) -> list[CheckMessage]:
    """One PGFLOW["PERIODIC"] entry: E007 cron, E008 time zone, E009 task, E010 the rest."""
    from .definitions.tasks import periodic
    from .queue import registry

    where = f"PGFLOW['PERIODIC'][{name!r}]"
    errors: list[CheckMessage] = []
    if isinstance(entry, dict):
        for key, check, code in (
            ("cron", periodic.validate_cron, "pgflow.E007"),
            ("timezone", periodic.validate_timezone, "pgflow.E008"),
            ("task", lambda n: registry.get_task(validate_task_name(n)), "pgflow.E009"),
        ):
            if key not in entry:
                continue
            try:
                check(entry[key])
            except PgflowError as error:
                errors.append(Error(f"{where}: {error}", id=code))
    if not errors:
        try:
            periodic.schedule_from_setting(name, entry).job_json()
        except PgflowError as error:
            errors.append(Error(str(error), hint=PERIODIC_HINT, id="pgflow.E010"))
    return errors


PERIODIC_HINT = "See docs/guides/periodic-tasks.md."


@register()
def check_settings(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    """Validate ``settings.PGFLOW``: known keys, right types, sane values."""
    config = getattr(settings, "PGFLOW", None)
    if config is None:
        return []
    if not isinstance(config, dict):
        return [
            Error(
                f"settings.PGFLOW must be a dict, got {type(config).__name__}.",
                hint=SETTINGS_DOC,
                id="pgflow.E001",
            )
        ]
    errors: list[CheckMessage] = []
    for key, value in config.items():
        if key not in OPTIONS:
            errors.append(
                Error(
                    f"PGFLOW has an unknown key {key!r}.",
                    hint=f"Known keys: {', '.join(sorted(OPTIONS))}. {SETTINGS_DOC}",
                    id="pgflow.E001",
                )
            )
            continue
        found = _check_value(key, value)
        if not found and key == "DEFAULT_QUEUE" and not QUEUE_NAME_RE.fullmatch(value):
            found = [
                Error(
                    f"PGFLOW['DEFAULT_QUEUE'] is an invalid queue name {value!r}.",
                    hint=QUEUE_NAME_HINT,
                    id="pgflow.E004",
                )
            ]
        errors.extend(found)
        if not found and key == "QUEUES":
            errors.extend(_check_queues(value))
        if not found and key == "RESOURCES":
            errors.extend(_check_resources(value))
        if not found and key == "RETENTION":
            errors.extend(_check_retention(value))
        if not found and key == "PERIODIC":
            for name, entry in value.items():
                errors.extend(_check_schedule(name, entry))
    return errors


@register()
def check_task_resources(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    """E012: every registered task's resources are declared, within their capacity."""
    resources = getattr(settings, "PGFLOW", None) or {}
    if not isinstance(resources, dict) or _check_resources(resources.get("RESOURCES") or {}):
        return []  # settings errors are check_settings' to report
    return _check_task_resources()


@register()
def check_pgtrigger_installed(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    """E013: django-pgtrigger installs the triggers that enforce legal transitions."""
    from django.apps import apps

    if apps.is_installed("pgtrigger"):
        return []
    return [
        Error(
            "'pgtrigger' is not in INSTALLED_APPS: django-pgflow's state-machine and "
            "notification triggers are installed by django-pgtrigger.",
            hint="INSTALLED_APPS = [..., 'pgtrigger', 'django_pgflow'], then run "
            "`python manage.py migrate`.",
            id="pgflow.E013",
        )
    ]


def _check_routes(config: dict[str, Any]) -> list[CheckMessage]:
    """E014: every route names a system, and the systems routed to can be reached."""
    from .router import SYSTEMS

    routes = config.get("ROUTES") or {}
    errors: list[CheckMessage] = [
        Error(
            f"PGFLOW['ROUTES'][{name!r}] is {route!r}.",
            hint=f"Use one of {', '.join(SYSTEMS)}.",
            id="pgflow.E014",
        )
        for name, route in routes.items()
        if route not in SYSTEMS
    ]
    used = set(routes.values()) | ({"legacy", "shadow"} if config.get("ROUTER") else set())
    needs = [("LEGACY_ENQUEUE", {"legacy", "shadow"}), ("LEGACY_RESULT", {"shadow"})]
    for key, systems in needs:
        if used & systems and not config.get(key):
            errors.append(
                Error(
                    f"PGFLOW routes tasks to {' or '.join(sorted(used & systems))}, but "
                    f"PGFLOW[{key!r}] is not set.",
                    hint="See docs/migrating/side-by-side.md.",
                    id="pgflow.E014",
                )
            )
    return errors


@register()
def check_routes(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    config = getattr(settings, "PGFLOW", None)
    if not isinstance(config, dict) or check_settings():
        return []  # type errors are check_settings' to report
    return _check_routes(config)
