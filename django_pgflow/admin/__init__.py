"""The Django admin of django-pgflow: jobs and workers, read-only.

State changes (retry, cancel) go through the SQL core, never through a model
save. One module per model keeps room for the workflow and lock views to come.
"""

from __future__ import annotations

from .jobs import JobAdmin
from .workers import WorkerAdmin

__all__ = ["JobAdmin", "WorkerAdmin"]
