"""OpenTelemetry: a span per enqueue and per execution, the trace carried in the job."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from django_pgflow import hooks, otel
from django_pgflow.metadata import job_metadata
from testproject.example.tasks import always_fails, record

from .conftest import wait_for

trace = pytest.importorskip("opentelemetry.trace")
sdk_trace = pytest.importorskip("opentelemetry.sdk.trace")
export = pytest.importorskip("opentelemetry.sdk.trace.export")
in_memory = pytest.importorskip("opentelemetry.sdk.trace.export.in_memory_span_exporter")

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def spans() -> Iterator[Any]:
    exporter = in_memory.InMemorySpanExporter()
    provider = sdk_trace.TracerProvider()
    provider.add_span_processor(export.SimpleSpanProcessor(exporter))
    otel.use_tracer_provider(provider)
    hooks.reset()
    yield exporter
    otel.use_tracer_provider(None)
    hooks.reset()


def test_the_trace_of_the_enqueuing_request_continues_in_the_job(spans, worker_thread):
    tracer = trace.get_tracer("test", tracer_provider=otel._provider)
    with tracer.start_as_current_span("POST /signup") as request:
        job = record.enqueue("traced")
    carrier = job_metadata(job.pk, "trace")
    assert carrier["traceparent"].split("-")[1] == format(
        request.get_span_context().trace_id, "032x"
    )
    assert job.refresh().args == ["traced"] and job.kwargs == {}  # the user's arguments untouched
    worker_thread()
    wait_for(lambda: job.refresh().is_finished, 30)
    wait_for(lambda: any(s.name.startswith("process") for s in spans.get_finished_spans()))
    by_name = {s.name: s for s in spans.get_finished_spans()}
    send, process = by_name[f"send {record.name}"], by_name[f"process {record.name}"]
    assert send.parent.span_id == request.get_span_context().span_id
    assert send.kind == trace.SpanKind.PRODUCER and process.kind == trace.SpanKind.CONSUMER
    assert process.parent.span_id == send.context.span_id
    assert process.context.trace_id == request.get_span_context().trace_id
    assert process.attributes["messaging.message.id"] == str(job.pk)
    assert process.attributes["pgflow.attempt"] == 1


def test_a_failing_job_records_its_exception_on_the_span(spans, worker_thread):
    job = always_fails.using(max_attempts=1).enqueue("boom")
    worker_thread()
    wait_for(lambda: job.refresh().is_finished, 30)
    wait_for(lambda: any(s.name.startswith("process") for s in spans.get_finished_spans()))
    [process] = [s for s in spans.get_finished_spans() if s.name.startswith("process")]
    assert process.status.status_code == trace.StatusCode.ERROR
    assert [e.attributes["exception.type"] for e in process.events] == ["ValueError"]
    # No enqueuing span was current: the job's span starts its own trace from the send.
    assert process.parent is not None


def test_without_a_provider_nothing_is_traced_or_stored():
    assert not otel.tracing_enabled()
    job = record.enqueue("quiet")
    assert job_metadata(job.pk, "trace") is None
