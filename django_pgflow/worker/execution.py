"""Running one claimed job's task body, and describing how it ended."""

from __future__ import annotations

import asyncio
import json
import math
import threading
import time
import traceback
from dataclasses import dataclass, field
from typing import Any

from django.db import close_old_connections
from django.db.backends.signals import connection_created

from .. import signals
from ..definitions import registry, step_runner
from ..definitions.context import JobContext, reset_current_job, set_current_job
from ..definitions.task import Task
from ..exceptions import InvalidJobError, UnknownTaskError
from ..hooks import execution_hooks, run_with_hooks
from ..validation import to_json

_loops = threading.local()  # per task thread: its event loop, when its last job ended
IDLE_RECHECK = 1.0  # seconds idle after which a job rechecks its connections first


def _note_connection(**kwargs: Any) -> None:
    _loops.opened_connection = True


# A thread that never opened a Django connection has none to close: its jobs
# skip close_old_connections(), whose walk over connections.all() (asgiref
# locals) cost about a tenth of the worker's Python time on no-op jobs.
connection_created.connect(
    _note_connection, weak=False, dispatch_uid="django_pgflow.worker.execution"
)


@dataclass(slots=True)
class ClaimedJob:
    """A job row as the claim returned it, plus the worker's bookkeeping."""

    id: int
    queue: str
    task_name: str
    args: list[Any]
    kwargs: dict[str, Any]
    attempt: int
    priority: int
    timeout: float
    run_id: int | None = None  # set for the task of a workflow step
    task_index: int | None = None
    metadata: dict[str, Any] = field(default_factory=dict)  # travels with the job
    # Why its arguments could not be decoded, if they could not: it fails unrun.
    payload_problem: str | None = None
    # time.monotonic() after which it has timed out; set when a thread starts it,
    # so time spent waiting for a free thread (batch size > concurrency) is not counted.
    deadline: float = math.inf
    started: bool = False
    abandoned: bool = False
    thread_name: str | None = field(default=None, repr=False)


@dataclass(slots=True)
class Outcome:
    """How an attempt ended: a JSON result, or an error to record."""

    job: ClaimedJob
    ok: bool
    result_json: str | None = None
    error: dict[str, Any] | None = None
    retry: bool = True


def error_payload(exc: BaseException, *, with_traceback: bool = True) -> dict[str, Any]:
    tb = "".join(traceback.format_exception(exc)) if with_traceback else None
    kind = type(exc)
    return {
        "error": kind.__name__,
        # The importable path, for readers that rebuild the class (Django's TaskError).
        "error_class": f"{kind.__module__}.{kind.__qualname__}",
        "message": str(exc)[:10_000],
        "traceback": tb,
    }


def find_task(name: str) -> Task:
    """The task a job names: a step's, a registered ``@task``, or a Django ``@task``."""
    if step_runner.is_step_task(name):
        return step_runner.step_task(name)
    if step_runner.is_compensation(name):
        return step_runner.compensation_task(name)
    try:
        return registry.get_task(name)
    except UnknownTaskError:  # costs only on a miss
        adapter = _django_task(name)
        if adapter is None:
            raise
        return adapter


def _django_task(name: str) -> Task | None:
    """Django's Tasks framework is optional: without it, no name is a Django task."""
    try:
        from ..backends.adapter import pgflow_task_for
    except ImportError:
        return None
    return pgflow_task_for(name)


def _event_loop() -> asyncio.AbstractEventLoop:
    loop = getattr(_loops, "loop", None)
    if loop is None or loop.is_closed():
        loop = asyncio.new_event_loop()
        _loops.loop = loop
    return loop


def execute(job: ClaimedJob, worker_id: int | None) -> Outcome:
    """Run the task body of ``job`` in this thread and return its outcome."""
    if job.payload_problem is not None:
        error = {"error": "UndecodableJobError", "message": job.payload_problem, "traceback": None}
        return Outcome(job, ok=False, error=error, retry=False)
    if step_runner.is_run_task(job.task_name) and job.run_id is None:
        refused = InvalidJobError(
            f"{job.task_name!r} is the task of a flow, but job {job.id} belongs to no run: a "
            "step's (or a compensation's) task runs only on what its run hands it"
        )
        return Outcome(
            job, ok=False, error=error_payload(refused, with_traceback=False), retry=False
        )
    try:
        task = find_task(job.task_name)
    except Exception as exc:  # noqa: BLE001 - reported as the job's error
        return Outcome(job, ok=False, error=error_payload(exc, with_traceback=False))
    context = JobContext(
        job_id=job.id,
        attempt=job.attempt,
        queue=job.queue,
        task_name=job.task_name,
        worker_id=worker_id,
        timeout=job.timeout,
        run_id=job.run_id,
        metadata=job.metadata,
    )
    token = set_current_job(context)
    # Like a request, a job starts by dropping connections that are too old or
    # broken; but the end of this thread's previous job just did that, so only
    # a thread that sat idle needs it again (connections.all() walks asgiref
    # locals: a fifth of the worker's Python time on no-op jobs).
    opened = getattr(_loops, "opened_connection", False)
    if opened and time.monotonic() - getattr(_loops, "last_job_end", 0.0) > IDLE_RECHECK:
        close_old_connections()
    try:
        if signals.job_started.receivers:
            _send_started(job, context)
        hooks = execution_hooks()
        if hooks:
            value = run_with_hooks(hooks, context, lambda: _run_body(task, job, context))
        else:  # _run_body, inline: the drain's hot path
            args = [context, *job.args] if task.takes_context else list(job.args)
            value = task.func(*args, **job.kwargs)
            if task.is_async:
                value = _event_loop().run_until_complete(value)
    except BaseException as exc:  # noqa: BLE001 - any task error is the job's error
        # SystemExit and KeyboardInterrupt included: raised by a task body (sys.exit()
        # in a library, say) they would end this pool thread and strand the job.
        # An error class with ``retry = False`` knows that trying again cannot help.
        retry = getattr(exc, "retry", True) is not False
        return Outcome(job, ok=False, error=error_payload(exc), retry=retry)
    finally:
        reset_current_job(token)
        if getattr(_loops, "opened_connection", False):  # perhaps just now
            close_old_connections()
            _loops.last_job_end = time.monotonic()
    try:
        result_json = to_json(value, "result") if value is not None else "null"
    except ValueError as exc:
        # The same value would be returned again: retrying cannot help.
        return Outcome(job, ok=False, error=error_payload(exc, with_traceback=False), retry=False)
    return Outcome(job, ok=True, result_json=result_json)


def _run_body(task: Task, job: ClaimedJob, context: JobContext) -> Any:
    args = [context, *job.args] if task.takes_context else list(job.args)
    value = task.func(*args, **job.kwargs)
    if task.is_async:
        value = _event_loop().run_until_complete(value)
    return value


def _send_started(job: ClaimedJob, context: JobContext) -> None:
    signals.send_robust(
        signals.job_started,
        job_id=job.id,
        task_name=job.task_name,
        queue=job.queue,
        attempt=job.attempt,
        worker_id=context.worker_id,
        context=context,
    )


def json_or_null(text: str | None) -> Any:
    return None if text is None else json.loads(text)
