"""OpenTelemetry spans for jobs, with the trace carried from enqueue to execution.

Active only when ``opentelemetry-api`` is installed and imported, a tracer provider has been
set (``opentelemetry.trace.set_tracer_provider``, or an auto-instrumentation
agent), and ``PGFLOW["TRACING"]`` is not False. Otherwise every function here is
a cheap no-op and nothing is written.

- Enqueue: a ``PRODUCER`` span ``send <task>``, child of whatever span is current
  (the request's, under Django instrumentation); its context is injected into a
  carrier stored in the job's ``metadata["trace"]``.
- Execution: a ``CONSUMER`` span ``process <task>``, whose parent is extracted
  from that carrier, wraps the task body (and the hooks inside it). An exception
  is recorded on it and sets its status to error.

``job_carrier`` is the one place that reads a job's carrier; the enqueue
functions pass it in the job's metadata, in the same INSERT.
"""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Callable, Iterator
from typing import Any

from . import __version__
from .conf import pgflow_settings
from .job_context import JobContext


def _api() -> Any:
    """``opentelemetry.trace``, if this process has imported it, else None.

    Never imported here: a process that configured tracing has imported it
    already (set_tracer_provider, an instrumentation agent), and one that did
    not pays nothing, not even the import.
    """
    return sys.modules.get("opentelemetry.trace")


SYSTEM = "django_pgflow"

# A provider for django-pgflow's spans only, instead of the global one (tests).
_provider: Any = None


def use_tracer_provider(provider: Any) -> None:
    """Send django-pgflow's spans to ``provider`` (None: back to the global provider).

    Workers load their hooks once: call it before they start jobs, or call
    ``django_pgflow.hooks.reset()`` after.
    """
    global _provider
    _provider = provider


def tracing_enabled() -> bool:
    """True when spans would go somewhere: the API is in use and a provider is set."""
    trace = _api()
    if trace is None or pgflow_settings.TRACING is False:
        return False
    if _provider is not None:
        return True
    provider = trace.get_tracer_provider()
    return not isinstance(provider, trace.ProxyTracerProvider | trace.NoOpTracerProvider)


def _tracer() -> Any:
    from opentelemetry import trace

    return trace.get_tracer("django_pgflow", __version__, tracer_provider=_provider)


@contextlib.contextmanager
def enqueue_span(task_name: str, queue: str | None) -> Iterator[dict[str, str] | None]:
    """Around an enqueue: yields the carrier to store with the job, or None when off."""
    if not tracing_enabled():
        yield None
        return
    from opentelemetry import propagate, trace

    attributes = {"messaging.system": SYSTEM, "messaging.destination.name": queue or ""}
    with _tracer().start_as_current_span(
        f"send {task_name}", kind=trace.SpanKind.PRODUCER, attributes=attributes
    ):
        carrier: dict[str, str] = {}
        propagate.inject(carrier)
        yield carrier


def job_carrier(context: JobContext) -> dict[str, str]:
    """The trace carrier that travelled with the job (``metadata["trace"]``), or {}."""
    value = context.metadata.get("trace")
    return value if isinstance(value, dict) else {}


def trace_execution(context: JobContext, proceed: Callable[[], Any]) -> Any:
    """The tracing hook: a CONSUMER span around the job, parented on its enqueue."""
    from opentelemetry import propagate, trace

    parent = propagate.extract(job_carrier(context))
    attributes = {
        "messaging.system": SYSTEM,
        "messaging.destination.name": context.queue,
        "messaging.message.id": str(context.job_id),
        "pgflow.task": context.task_name,
        "pgflow.attempt": context.attempt,
    }
    with _tracer().start_as_current_span(
        f"process {context.task_name}",
        context=parent,
        kind=trace.SpanKind.CONSUMER,
        attributes=attributes,
    ):
        return proceed()
