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

Run signals are defined here for the run events (``run_started``,
``run_completed``, ``run_failed``, ``run_cancelled``, each with ``run_id`` and
``flow_slug``); they are not sent yet.
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

JOB_SIGNALS = (job_enqueued, job_started, job_completed, job_retried, job_failed)
RUN_SIGNALS = (run_started, run_completed, run_failed, run_cancelled)


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
