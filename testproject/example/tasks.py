"""Tasks of the example app: a small embedding pipeline used by the demo, and
tasks the tests use to observe workers (each writes its own execution row)."""

from __future__ import annotations

import asyncio
import hashlib
import math
import os
import time
from typing import Any

from django.db import connection
from django.utils import timezone

from django_pgflow import BatchItem, JobContext, task

from .models import BatchCall, Document, Execution

# --- the embedding pipeline ------------------------------------------------


def embed_text(text: str, dimensions: int = 16) -> list[float]:
    """A deterministic stand-in for a model: a normalised hashed bag of words."""
    vector = [0.0] * dimensions
    for word in text.lower().split():
        digest = hashlib.blake2b(word.encode(), digest_size=4).digest()
        vector[int.from_bytes(digest, "big") % dimensions] += 1.0
    norm = math.sqrt(sum(v * v for v in vector)) or 1.0
    return [round(v / norm, 6) for v in vector]


@task(queue="embeddings", max_attempts=3, timeout=60)
def embed_document(document_id: int) -> dict[str, Any]:
    document = Document.objects.get(pk=document_id)
    document.embedding = embed_text(document.text)
    document.embedded_at = timezone.now()
    document.save(update_fields=["embedding", "embedded_at"])
    return {"document_id": document_id, "dimensions": len(document.embedding)}


class MissingDocument(LookupError):
    retry = False  # the worker reads this: trying again cannot make it appear


def embed_texts(texts: list[str]) -> list[list[float]]:
    """The model, called once for many texts: the reason to batch on a GPU."""
    return [embed_text(text) for text in texts]


@task(queue="embeddings", batch_size=16, batch_wait=1.0, max_attempts=3, timeout=120)
def embed_batch(items: list[BatchItem]) -> list[Any]:
    """Embed up to 16 documents in one call of the model.

    ``embed_batch.enqueue(document_id)`` queues one document; the worker hands
    this function up to 16 of them at once. One result per item, in order.
    """
    call = _record_batch_call("embed_batch", items)
    documents = Document.objects.in_bulk([item.args[0] for item in items])
    vectors = embed_texts([document.text for document in documents.values()])
    now = timezone.now()
    for document, vector in zip(documents.values(), vectors, strict=True):
        document.embedding, document.embedded_at = vector, now
    Document.objects.bulk_update(documents.values(), ["embedding", "embedded_at"])
    BatchCall.objects.filter(pk=call.pk).update(finished_at=timezone.now())
    return [
        {"document_id": item.args[0], "dimensions": len(vectors[0])}
        if item.args[0] in documents
        else MissingDocument(f"no document {item.args[0]}")  # fails this item only
        for item in items
    ]


@task(queue="emails", max_attempts=4, retry_delay=0.2, takes_context=True)
def send_digest(context: JobContext, user_email: str) -> str:
    # A flaky mail server: the first attempt of every digest fails.
    if context.attempt == 1:
        raise ConnectionError(f"SMTP server refused {user_email} (simulated)")
    return f"sent to {user_email}"


@task
def noop() -> None:
    return None


# --- tasks the tests use ----------------------------------------------------


def _record(name: str, key: str, context: JobContext | None = None) -> Execution:
    return Execution.objects.create(
        task=name,
        key=key,
        job_id=context.job_id if context else None,
        attempt=context.attempt if context else None,
        pid=os.getpid(),
        started_at=timezone.now(),
    )


@task(takes_context=True)
def record(context: JobContext, key: str, sleep: float = 0.0) -> str:
    execution = _record("record", key, context)
    if sleep:
        time.sleep(sleep)
    Execution.objects.filter(pk=execution.pk).update(finished_at=timezone.now())
    return key


@task(takes_context=True, resources={"gpu": 1}, retry_delay=0.05, max_retry_delay=0.1)
def gpu_hangs_first(context: JobContext, key: str) -> str:
    """Holds the GPU; its first attempt hangs (until its worker is killed)."""
    _record("gpu_hangs_first", key, context)
    if context.attempt == 1:
        time.sleep(120)
    return key


@task(takes_context=True, retry_delay=0.05, max_retry_delay=0.1)
def flaky(context: JobContext, key: str, failures: int) -> str:
    _record("flaky", key, context)
    if context.attempt <= failures:
        raise RuntimeError(f"flaky failure {context.attempt} of {failures}")
    return f"ok after {context.attempt}"


@task(takes_context=True, retry_delay=0.05, max_retry_delay=0.1)
def always_fails(context: JobContext, key: str) -> None:
    _record("always_fails", key, context)
    raise ValueError(f"always fails ({key})")


@task(takes_context=True)
def sleeper(context: JobContext, key: str, seconds: float) -> str:
    execution = _record("sleeper", key, context)
    time.sleep(seconds)
    Execution.objects.filter(pk=execution.pk).update(finished_at=timezone.now())
    return key


@task(takes_context=True)
def hold(context: JobContext, key: str, seconds: float) -> dict[str, Any]:
    """Record the start, then hold ``seconds`` without touching the database: its end
    needs no connection (the network-partition test cuts the worker off meanwhile)."""
    _record("hold", key, context)
    time.sleep(seconds)
    return {"key": key, "pid": os.getpid(), "attempt": context.attempt}


@task(takes_context=True)
async def async_record(context: JobContext, key: str) -> str:
    await asyncio.sleep(0.01)
    return f"async {key} attempt {context.attempt}"


@task
def returns_object() -> Any:
    return object()


@task
def db_now() -> str:
    with connection.cursor() as cursor:
        cursor.execute("SELECT now()")
        return str(cursor.fetchone()[0])


@task(takes_context=True, retry_delay=0.05, max_retry_delay=0.1)
def crash_worker(context: JobContext, key: str) -> None:
    """A poison job: it kills the process that runs it, every attempt."""
    _record("crash_worker", key, context)
    os._exit(1)


@task
def exits(code: int) -> None:
    """Calls sys.exit() in the task thread, as some libraries do."""
    raise SystemExit(code)


# --- batch tasks the tests use ------------------------------------------------


def _record_batch_call(name: str, items: list[BatchItem]) -> BatchCall:
    return BatchCall.objects.create(
        task=name,
        size=len(items),
        items=[[item.job_id, item.attempt] for item in items],
        pid=os.getpid(),
        started_at=timezone.now(),
    )


def _record_batch(name: str, items: list[BatchItem]) -> list[Any]:
    """Log the call and each item; then do what the items' keyword arguments ask:
    ``raise_until=n`` raises for the whole batch while an item's attempt <= n,
    ``fail_until=n`` fails that item alone, ``sleep=s`` (while its attempt <=
    ``sleep_until``) holds the call, ``short=True`` returns one result too few,
    ``bad_result=True`` returns something that is not JSON for that item."""
    call = _record_batch_call(name, items)
    executions = Execution.objects.bulk_create(
        Execution(
            task=name,
            key=item.args[0],
            job_id=item.job_id,
            attempt=item.attempt,
            pid=os.getpid(),
            started_at=timezone.now(),
        )
        for item in items
    )
    if any(item.attempt <= item.kwargs.get("raise_until", 0) for item in items):
        raise RuntimeError(f"the whole batch of {len(items)} failed")
    time.sleep(
        max(
            (
                i.kwargs.get("sleep", 0.0)
                for i in items
                if i.attempt <= i.kwargs.get("sleep_until", 1e9)
            ),
            default=0.0,
        )
    )
    results: list[Any] = []
    for item in items:
        if item.attempt <= item.kwargs.get("fail_until", 0):
            results.append(ValueError(f"{item.args[0]} failed attempt {item.attempt}"))
        elif item.kwargs.get("bad_result"):
            results.append({1, 2})
        else:
            results.append(f"{item.args[0]} attempt {item.attempt}")
    if any(item.kwargs.get("short") for item in items):
        results.pop()
    Execution.objects.filter(pk__in=[e.pk for e in executions]).update(finished_at=timezone.now())
    BatchCall.objects.filter(pk=call.pk).update(finished_at=timezone.now())
    return results


@task(batch_size=16, batch_wait=0.3, retry_delay=0.05, max_retry_delay=0.1)
def record_batch(items: list[BatchItem]) -> list[Any]:
    return _record_batch("record_batch", items)


@task(batch_size=16, batch_wait=60)
def patient_batch(items: list[BatchItem]) -> list[Any]:
    """A batch that waits a minute to fill: its jobs sit buffered on the worker."""
    return _record_batch("patient_batch", items)


@task(batch_size=8, batch_wait=0.2)
async def async_batch(items: list[BatchItem]) -> list[str]:
    await asyncio.sleep(0.01)
    return [f"async {item.args[0]} attempt {item.attempt}" for item in items]
