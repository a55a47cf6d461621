"""Reading a job's ``metadata``: context carried with it that the task never receives.

Written once, by the enqueue functions (``enqueue(..., metadata=...)``,
``Task.using(metadata=...)``): one key per writer, ``trace``
(django_pgflow.otel), ``shadow`` (django_pgflow.shadow), ``imported``
(pgflow_import), and whatever the caller passes. A worker's task finds it in
``current_job().metadata``.
"""

from __future__ import annotations

import json
from typing import Any

from django.db import connections


def job_metadata(job_id: int, key: str, using: str = "default") -> Any:
    """``metadata[key]`` of a job, or None."""
    with connections[using].cursor() as cursor:
        cursor.execute("SELECT metadata -> %s FROM pgflow_job WHERE id = %s", [key, job_id])
        row = cursor.fetchone()
    value = row[0] if row else None
    return json.loads(value) if isinstance(value, str) else value
