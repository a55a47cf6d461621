"""Middleware-style hooks around each job's execution on a worker.

``PGFLOW["HOOKS"]`` lists dotted paths of callables (or the callables), outermost
first, like ``MIDDLEWARE``. Each is called as ``hook(context, proceed)`` in the
task thread: ``context`` is the job's ``JobContext``; ``proceed()`` runs the rest
of the chain and the task body, and returns the task's value (or raises its
error). A hook returns what ``proceed()`` returned, or raises::

    def tenant_settings(context, proceed):
        with tenant_from_queue(context.queue):
            return proceed()

    PGFLOW = {"HOOKS": ["myapp.hooks.tenant_settings"]}

When OpenTelemetry is configured (``django_pgflow.otel``), a tracing hook is
the outermost one. With no hook, a job pays one tuple check.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

from django.core.signals import setting_changed
from django.utils.module_loading import import_string

from .conf import pgflow_settings
from .job_context import JobContext

Hook = Callable[[JobContext, Callable[[], Any]], Any]

_chain: tuple[Hook, ...] | None = None


def execution_hooks() -> tuple[Hook, ...]:
    """The hooks every job runs inside, loaded once per process (reset when settings change)."""
    global _chain
    if _chain is None:
        _chain = _load()
    return _chain


def _load() -> tuple[Hook, ...]:
    from . import otel

    hooks: list[Hook] = [resolve_hook(entry) for entry in pgflow_settings.HOOKS]
    if otel.tracing_enabled():
        hooks.insert(0, otel.trace_execution)
    return tuple(hooks)


def resolve_hook(entry: str | Hook) -> Hook:
    hook = import_string(entry) if isinstance(entry, str) else entry
    if not callable(hook):
        raise TypeError(f"PGFLOW['HOOKS'] entry {entry!r} is not callable.")
    return hook


def run_with_hooks(hooks: tuple[Hook, ...], context: JobContext, body: Callable[[], Any]) -> Any:
    """Call ``body`` inside ``hooks``, the first one outermost."""
    call = body
    for hook in reversed(hooks):
        call = functools.partial(hook, context, call)
    return call()


def reset(**kwargs: Any) -> None:
    """Forget the loaded chain: the next job loads it again (settings or tracing changed)."""
    global _chain
    _chain = None


def _on_setting_changed(setting: str, **kwargs: Any) -> None:
    if setting == "PGFLOW":
        reset()


setting_changed.connect(_on_setting_changed, dispatch_uid="django_pgflow.hooks")
