"""LISTEN for new work, so an idle worker starts a job as soon as it commits."""

from __future__ import annotations

import json
import logging
import threading
import time

import psycopg

from .. import signals
from ..models import EVENT_CHANNEL
from .connection import connect

logger = logging.getLogger("django_pgflow.worker")

# The payload that wakes every worker, whatever its queues: a gated job freed
# what jobs of any queue may be waiting for (the trigger pgflow_job_notify_release).
WAKE_ALL = "*"

CHANNEL = "django_pgflow"


class Listener(threading.Thread):
    """Sets ``wake`` whenever a job is queued (or requeued) on one of ``queues``.

    Notifications are a latency optimisation only: the worker still polls, so
    a notification lost while reconnecting costs at most one poll interval.
    """

    def __init__(
        self,
        queues: list[str],
        wake: threading.Event,
        stop: threading.Event,
        alias: str,
        origin: str | None = None,
    ) -> None:
        super().__init__(name="pgflow-listener", daemon=True)
        self.queues = set(queues)
        self.wake = wake
        self.stop = stop
        self.alias = alias
        # Run events this worker's own transactions caused become Django
        # signals here; only when someone listens to those signals.
        self.origin = origin if origin is not None and signals.run_signals_wanted() else None
        self.listening = threading.Event()  # set once LISTEN holds (again, after a reconnect)

    def run(self) -> None:
        delay = 0.05
        while not self.stop.is_set():
            try:
                with connect("listener", self.alias) as conn:
                    conn.execute(f"LISTEN {CHANNEL}")
                    if self.origin is not None:
                        conn.execute(f"LISTEN {EVENT_CHANNEL}")
                    self.listening.set()
                    delay = 0.05
                    self.wake.set()  # anything queued while we were away
                    while not self.stop.is_set():
                        for notify in conn.notifies(timeout=0.5):
                            if notify.channel == EVENT_CHANNEL:
                                self._event(notify.payload)
                            elif (
                                not self.queues
                                or notify.payload in self.queues
                                or notify.payload == WAKE_ALL
                            ):
                                self.wake.set()
            except psycopg.Error as error:
                if self.stop.is_set():
                    return
                logger.warning("pgflow listener lost its connection (%s); retrying", error)
                time.sleep(delay)
                delay = min(delay * 2, 5.0)

    def _event(self, payload: str) -> None:
        try:
            event = json.loads(payload)
        except ValueError:
            return
        if event.get("origin") == self.origin:
            signals.send_run_event(event)
