"""The Django admin of django-pgflow: the operations view.

Jobs, workflow runs (with their DAG), workers and periodic schedules, a
queues dashboard and a lock contention page. Every page is read-only and
reads without locks (``readonly.py``); actions need the model's change
permission and go through the SQL core, never through a model save. One
module per page.
"""

from __future__ import annotations

from .dashboards import LockContentionAdmin, QueueOverviewAdmin
from .jobs import JobAdmin
from .periodic import PeriodicScheduleAdmin
from .runs import WorkflowRunAdmin
from .workers import WorkerAdmin

__all__ = [
    "JobAdmin",
    "LockContentionAdmin",
    "PeriodicScheduleAdmin",
    "QueueOverviewAdmin",
    "WorkerAdmin",
    "WorkflowRunAdmin",
]
