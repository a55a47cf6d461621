"""Moving over one task at a time: send each task name to django-pgflow or to the old system.

``PGFLOW["ROUTES"]`` maps task names (``"*"`` for every other) to ``"pgflow"``,
``"legacy"`` or ``"shadow"``; ``PGFLOW["ROUTER"]``, a callable, can decide
instead (a feature flag read per call switches without a deploy). Calls made
with ``.delay()``/``.apply_async()`` (or ``send()``) follow the route in force
when they are made. Switching a name back loses nothing: jobs already queued
stay where they were queued and are run there, as long as that system's
workers run; only new calls go the new way.

- ``pgflow``: a django-pgflow job (the default).
- ``legacy``: ``PGFLOW["LEGACY_ENQUEUE"](task_name, args, kwargs, options)``
  hands the call to the old system (options: ``queue``, ``priority``, ``eta``,
  ``expires``, as aware datetimes or None) and its return value is returned.
- ``shadow``: both. The old system's call is the one that counts (its return
  value is returned); django-pgflow runs a copy and compares outcomes
  (``django_pgflow.shadow``). For idempotent tasks only.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.core.exceptions import ImproperlyConfigured
from django.utils import timezone
from django.utils.module_loading import import_string

from .conf import pgflow_settings

SYSTEMS = ("pgflow", "legacy", "shadow")


def route_for(task_name: str) -> str:
    """Where a call of ``task_name`` made now goes."""
    if pgflow_settings.ROUTER:
        choice = import_string(pgflow_settings.ROUTER)(task_name)
        if choice is not None:
            return _checked(choice, f"PGFLOW['ROUTER'] for {task_name!r}")
    routes = pgflow_settings.ROUTES
    choice = routes.get(task_name, routes.get("*", "pgflow"))
    return _checked(choice, f"PGFLOW['ROUTES'][{task_name!r}]")


def _checked(choice: Any, where: str) -> str:
    if choice not in SYSTEMS:
        raise ImproperlyConfigured(f"{where} is {choice!r}; use one of {', '.join(SYSTEMS)}.")
    return str(choice)


def send(
    task_name: str,
    args: list[Any],
    kwargs: dict[str, Any],
    *,
    expires: dt.datetime | None = None,
    using: str = "default",
    **options: Any,
) -> Any:
    """Send one call where its route says; returns the ``Job``, or the old system's id."""
    from .expiry import enqueue_expiring

    system = route_for(task_name)
    if system == "pgflow":
        return enqueue_expiring(task_name, args, kwargs, expires, using=using, **options)
    legacy_id = send_legacy(task_name, args, kwargs, options, expires)
    if system == "shadow":
        from .shadow import enqueue_shadow

        enqueue_shadow(task_name, args, kwargs, legacy_id, using=using, **options)
    return legacy_id


def legacy_options(options: dict[str, Any], expires: dt.datetime | None) -> dict[str, Any]:
    eta = options.get("run_at")
    if eta is None and options.get("delay"):
        eta = timezone.now() + dt.timedelta(seconds=float(options["delay"]))
    return {
        "queue": options.get("queue"),
        "priority": options.get("priority"),
        "eta": eta,
        "expires": expires,
    }


def send_legacy(
    task_name: str,
    args: list[Any],
    kwargs: dict[str, Any],
    options: dict[str, Any],
    expires: dt.datetime | None,
) -> Any:
    path = pgflow_settings.LEGACY_ENQUEUE
    if not path:
        raise ImproperlyConfigured(
            f"{task_name!r} is routed to the old system, but PGFLOW['LEGACY_ENQUEUE'] is not "
            "set: give the dotted path of send(task_name, args, kwargs, options)."
        )
    return import_string(path)(task_name, args, kwargs, legacy_options(options, expires))
