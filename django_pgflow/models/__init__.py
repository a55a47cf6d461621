"""Django models over django-pgflow's tables.

They read, filter and back the admin. Writes that change state go through the
SQL functions in ``django_pgflow/sql``; triggers in the database refuse
illegal status transitions, whatever writes them.
"""

from .jobs import FINISHED, JOB_TRANSITIONS, Job, JobStatus
from .workers import Worker, WorkerState

__all__ = [
    "FINISHED",
    "JOB_TRANSITIONS",
    "Job",
    "JobStatus",
    "Worker",
    "WorkerState",
]
