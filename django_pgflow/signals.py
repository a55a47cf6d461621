"""Django signals sent as jobs move through the queue (and, soon, as runs do).

Connect a receiver as with any Django signal::

    from django.dispatch import receiver
    from django_pgflow.signals import job_failed

    @receiver(job_failed)
    def page_someone(sender, job_id, task_name, error, **kwargs):
        ...

``sender`` is always the ``django_pgflow.models.Job`` class (runs: ``WorkflowRun``).
Every job signal carries ``job_id``, ``task_name`` and ``queue``; worker signals
add ``attempt`` and ``worker_id``. Receivers of worker signals run inside the
worker: keep them quick, and let them not raise (an exception is logged and
the job is unaffected). With no receiver connected, a signal costs the worker
one attribute check.

Where each one is sent:

- ``job_enqueued``: by ``enqueue()``/``Task.enqueue()``/``enqueue_many()`` right
  after the row is inserted, inside the caller's transaction (it may still roll
  back: use ``transaction.on_commit`` in the receiver for side effects). Adds
  ``job`` (the ``Job``, or None from ``enqueue_many``).
- ``job_started``: in the task thread, just before the task body runs. Adds
  ``context`` (the ``JobContext``).
- ``job_completed``: once the database has accepted the completion. Adds ``result``
  (the JSON value).
- ``job_retried``: an attempt failed and the job went back to the queue for
  another one. Adds ``error`` (a dict: error, error_class, message, traceback).
- ``job_failed``: an attempt failed and no attempt is left (or the error said
  ``retry = False``). Adds ``error``.

A completion or failure that arrives after the worker lost the job (its lease
expired, it was cancelled) is ignored by the database and sends nothing.

Run and step signals follow the run events (``django_pgflow_events``):
``run_started``, ``run_completed``, ``run_failed``, ``run_cancelled``,
``step_started``, ``step_completed``, ``step_failed``, ``step_skipped`` and
``step_cancelled``, each with ``run_id``, ``flow_slug``, ``step_slug`` (None
for the run), ``status`` and ``event`` (the payload), ``sender`` being
``WorkflowRun``. They are sent in the worker process whose transaction made
the change, once it committed (its listener thread runs the receivers: keep
them quick); a change made by ``start_flow()``, ``cancel_run()`` or
``resume_run()`` sends them in the calling process, after its commit.
"""

from __future__ import annotations

from typing import Any

from django.dispatch import Signal

job_enqueued = Signal()
job_started = Signal()
job_completed = Signal()
job_retried = Signal()
job_failed = Signal()

run_started = Signal()
run_completed = Signal()
run_failed = Signal()
run_cancelled = Signal()
step_started = Signal()
step_completed = Signal()
step_failed = Signal()
step_skipped = Signal()
step_cancelled = Signal()

RUN_EVENT_SIGNALS = {
    ("run", "started"): run_started,
    ("run", "completed"): run_completed,
    ("run", "failed"): run_failed,
    ("run", "cancelled"): run_cancelled,
    ("step", "started"): step_started,
    ("step", "completed"): step_completed,
    ("step", "failed"): step_failed,
    ("step", "skipped"): step_skipped,
    ("step", "cancelled"): step_cancelled,
}

JOB_SIGNALS = (job_enqueued, job_started, job_completed, job_retried, job_failed)
RUN_SIGNALS = tuple(RUN_EVENT_SIGNALS.values())


def run_signals_wanted() -> bool:
    """Whether any receiver listens to a run or step signal (else nobody LISTENs)."""
    return any(signal.receivers for signal in RUN_SIGNALS)


def send_run_event(event: dict[str, Any]) -> None:
    """Send the signal of one run event (a ``django_pgflow_events`` payload), robustly."""
    import logging

    from .models import WorkflowRun

    kind = "step" if event.get("step") else "run"
    signal = RUN_EVENT_SIGNALS.get((kind, str(event.get("status"))))
    if signal is None or not signal.receivers:
        return
    responses = signal.send_robust(
        sender=WorkflowRun, run_id=event["run_id"], flow_slug=event["flow"],
        step_slug=event.get("step"), status=event["status"], event=event,
    )  # fmt: skip
    for receiver, response in responses:
        if isinstance(response, Exception):
            logging.getLogger("django_pgflow.signals").error(
                "receiver %r of a django-pgflow signal raised %r", receiver, response,
                exc_info=response,
            )  # fmt: skip


def has_receivers(signal: Signal) -> bool:
    """Cheaper than ``Signal.has_listeners()``: no sender lookup, no weakref walk."""
    return bool(signal.receivers)


def send_robust(signal: Signal, **kwargs: Any) -> None:
    """Send a job signal from the worker; a receiver's error is logged, never raised."""
    import logging

    from .models import Job

    for receiver, response in signal.send_robust(sender=Job, **kwargs):
        if isinstance(response, Exception):
            logging.getLogger("django_pgflow.signals").error(
                "receiver %r of a django-pgflow signal raised %r",
                receiver,
                response,
                exc_info=response,
            )
