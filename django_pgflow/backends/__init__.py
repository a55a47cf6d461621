"""Backends for other task APIs: ``PgflowBackend`` serves Django's Tasks framework.

``TASKS = {"default": {"BACKEND": "django_pgflow.backends.PgflowBackend"}}``.
Imported lazily: this package imports without Django's Tasks framework installed.
"""

from __future__ import annotations

from typing import Any


def __getattr__(name: str) -> Any:
    if name in ("PgflowBackend", "PgflowTask"):
        from . import tasks_backend

        return getattr(tasks_backend, name)
    raise AttributeError(f"module 'django_pgflow.backends' has no attribute {name!r}")


__all__ = ["PgflowBackend", "PgflowTask"]
