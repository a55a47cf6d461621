"""Writing a job's ``metadata``: context carried with it that the task never receives.

One key per writer: ``trace`` (django_pgflow.otel), ``shadow`` (django_pgflow.shadow).
For now a follow-up UPDATE in the caller's transaction, right after the insert;
once the enqueue functions take a metadata argument, the writers pass it there.
"""

from __future__ import annotations

import json
from typing import Any

from django.db import connections


def merge_job_metadata(job_ids: list[int], key: str, value: Any, using: str = "default") -> None:
    """Set ``metadata[key] = value`` on the given jobs."""
    if not job_ids:
        return
    with connections[using].cursor() as cursor:
        cursor.execute(
            "UPDATE pgflow_job SET metadata = jsonb_set(metadata, ARRAY[%s], %s::jsonb) "
            "WHERE id = ANY (%s)",
            [key, json.dumps(value), list(job_ids)],
        )


def job_metadata(job_id: int, key: str, using: str = "default") -> Any:
    """``metadata[key]`` of a job, or None."""
    with connections[using].cursor() as cursor:
        cursor.execute("SELECT metadata -> %s FROM pgflow_job WHERE id = %s", [key, job_id])
        row = cursor.fetchone()
    value = row[0] if row else None
    return json.loads(value) if isinstance(value, str) else value
