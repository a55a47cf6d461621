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

from django_pgflow import JobContext, task

from .models import Document, Execution

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
