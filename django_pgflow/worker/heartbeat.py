"""The heartbeat thread: proves the worker alive, reaps lost jobs, prunes history.

It runs apart from task execution, so a busy or stuck task never silences it.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

import psycopg

from . import sql
from .connection import ResilientConnection

logger = logging.getLogger("django_pgflow.worker")


class Heartbeat(threading.Thread):
    def __init__(
        self,
        worker_id: int,
        *,
        secret: str,
        interval: float,
        lease_margin: float,
        dead_after: float,
        prune_interval: float,
        prune: Callable[[], int],
        stop: threading.Event,
        alias: str,
    ) -> None:
        super().__init__(name="pgflow-heartbeat", daemon=True)
        self.worker_id = worker_id
        self.interval = interval
        self.lease_margin = lease_margin
        self.dead_after = dead_after
        self.prune_interval = prune_interval
        self.prune = prune
        self.stop = stop
        self.db = ResilientConnection(
            "heartbeat",
            alias=alias,
            should_stop=stop.is_set,
            origin=str(worker_id),
            on_connect=lambda c: sql.speak_for(c, secret, worker_id),
        )
        self.beats = 0

    def run(self) -> None:
        next_prune = time.monotonic() + self.prune_interval
        while not self.stop.wait(self.interval):
            try:
                self.db.run(lambda c: sql.heartbeat(c, self.worker_id, self.lease_margin))
                reaped = self.db.run(lambda c: sql.reap(c, self.dead_after))
                if reaped:
                    logger.warning("reaped %d job(s) whose worker was lost", reaped)
                self.beats += 1
                if self.prune_interval and time.monotonic() >= next_prune:
                    next_prune = time.monotonic() + self.prune_interval
                    self.prune()
            except psycopg.OperationalError:
                if self.stop.is_set():
                    break
            except Exception:  # the heartbeat must outlive any one failure
                logger.exception("pgflow heartbeat failed; trying again next beat")
        self.db.close()
