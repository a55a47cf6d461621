"""Django models over django-pgflow's tables.

They read, filter and back the admin. Writes that change state go through the
SQL functions in ``django_pgflow/sql``; triggers in the database refuse
illegal status transitions, whatever writes them.
"""

from .dashboards import LockContention, QueueOverview
from .events import EVENT_CHANNEL, RunEvent
from .flows import FailurePolicy, FlowDefinition, StepDefinition, StepDependency, StepType
from .gates import Config, QueueLimit, QueueRateShard, Resource, Slot
from .jobs import FINISHED, JOB_TRANSITIONS, Job, JobStatus
from .periodic import PeriodicSchedule
from .runs import RunStatus, StepState, StepStatus, StepTask, WorkflowRun
from .workers import Worker, WorkerState

__all__ = [
    "EVENT_CHANNEL",
    "FINISHED",
    "JOB_TRANSITIONS",
    "Config",
    "FailurePolicy",
    "FlowDefinition",
    "Job",
    "JobStatus",
    "LockContention",
    "PeriodicSchedule",
    "QueueLimit",
    "QueueOverview",
    "QueueRateShard",
    "Resource",
    "RunEvent",
    "RunStatus",
    "Slot",
    "StepDefinition",
    "StepDependency",
    "StepState",
    "StepStatus",
    "StepTask",
    "StepType",
    "Worker",
    "WorkerState",
    "WorkflowRun",
]
