"""django-pgflow: PostgreSQL as a durable job queue and DAG workflow engine for Django.

The public names are imported lazily so that ``from django_pgflow import task``
works in a ``tasks.py`` module before every app is loaded.
"""

from __future__ import annotations

import importlib
from typing import Any

__version__ = "0.1.0"

_EXPORTS = {
    "task": "django_pgflow.definitions.tasks.task",
    "Task": "django_pgflow.definitions.tasks.task",
    "JobSpec": "django_pgflow.queue.options",
    "periodic": "django_pgflow.definitions.tasks.periodic",
    "resource_lock": "django_pgflow.advisory_locks",
    "BatchItem": "django_pgflow.definitions.tasks.batch",
    "JobContext": "django_pgflow.job_context",
    "current_job": "django_pgflow.job_context",
    "enqueue": "django_pgflow.queue.api",
    "enqueue_many": "django_pgflow.queue.api",
    "cancel_job": "django_pgflow.queue.api",
    "retry_job": "django_pgflow.queue.api",
    "Flow": "django_pgflow.definitions.flows.flow",
    "step": "django_pgflow.definitions.flows.flow",
    "compensate": "django_pgflow.definitions.flows.compensation",
    "RunFailure": "django_pgflow.exceptions",
    "RunFailedError": "django_pgflow.exceptions",
    "RunEvent": "django_pgflow.models",
    "start_flow": "django_pgflow.runs.api",
    "cancel_run": "django_pgflow.runs.api",
    "resume_run": "django_pgflow.runs.api",
    "PgflowError": "django_pgflow.exceptions",
    "InvalidJobError": "django_pgflow.exceptions",
    "UnknownTaskError": "django_pgflow.exceptions",
    "JobTimeoutError": "django_pgflow.exceptions",
    "BatchResultError": "django_pgflow.exceptions",
    "FlowDefinitionError": "django_pgflow.exceptions",
    "UnknownFlowError": "django_pgflow.exceptions",
    "StepInputError": "django_pgflow.exceptions",
    "InvalidScheduleError": "django_pgflow.exceptions",
    "ResourceLockTimeout": "django_pgflow.exceptions",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'django_pgflow' has no attribute {name!r}")
    return getattr(importlib.import_module(module), name)
