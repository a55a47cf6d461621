"""Old path of ``limit_sync``, kept so that ``from django_pgflow import limits`` works."""

from .limit_sync import (
    declared,
    declared_queue_limits,
    declared_resources,
    declared_settings,
    sync_after_migrate,
    sync_limits,
)

__all__ = [
    "declared",
    "declared_queue_limits",
    "declared_resources",
    "declared_settings",
    "sync_after_migrate",
    "sync_limits",
]
