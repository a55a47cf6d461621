"""The scheduler thread: turns periodic schedules into one job per tick.

Every worker process runs one. At start it syncs the declared schedules into
``pgflow_periodic``; then it sleeps until the next tick (at most
``MAX_SLEEP`` seconds) and offers the latest due tick of each schedule to
``django_pgflow.enqueue_periodic``, which enqueues it only for the first worker to ask.
Ticks are computed from database time, never from this host's clock.

Missed ticks: a schedule whose workers were all down enqueues only its most
recent missed tick, once, when a worker comes back; the others are skipped.
"""

from __future__ import annotations

import datetime as dt
import functools
import logging
import threading
from typing import Any

import psycopg

from ..definitions.periodic import Schedule
from .connection import ResilientConnection

logger = logging.getLogger("django_pgflow.worker")

# Longest sleep between two looks at the clock: bounds the effect of a jump of
# the database clock, or of a tick missed while the database was unreachable.
MAX_SLEEP = 5.0
# Wake this long after a tick, so that the database's now() has passed it.
TICK_SLACK = 0.01


def _sync_one(conn: psycopg.Connection[Any], params: list[Any]) -> None:
    conn.execute("SELECT django_pgflow.sync_periodic(%s, %s, %s, %s, %s::jsonb, %s, %s)", params)


def db_now(conn: psycopg.Connection[Any]) -> dt.datetime:
    row = conn.execute("SELECT clock_timestamp()").fetchone()
    assert row is not None
    return row[0]


class Scheduler(threading.Thread):
    def __init__(
        self,
        schedules: dict[str, Schedule],
        *,
        stop: threading.Event,
        alias: str = "default",
        max_sleep: float = MAX_SLEEP,
    ) -> None:
        super().__init__(name="pgflow-scheduler", daemon=True)
        self.schedules = dict(schedules)
        self.stop = stop
        self.max_sleep = max_sleep
        self.db = ResilientConnection("scheduler", alias=alias, should_stop=stop.is_set)
        self.offered: dict[str, dt.datetime] = {}  # the latest tick offered, per schedule
        self.enqueued = 0

    def run(self) -> None:
        synced = False
        while self.schedules:
            delay = self.max_sleep
            try:
                if not synced:
                    self.sync()
                    synced = True
                delay = self.tick()
            except psycopg.OperationalError:
                if self.stop.is_set():
                    break
            except Exception:  # the scheduler must outlive any one failure
                logger.exception("pgflow scheduler failed; trying again in %.0fs", delay)
            if self.stop.wait(delay):
                break
        self.db.close()

    def sync(self) -> None:
        """Write the declared schedules to ``pgflow_periodic``; drop any that cannot run."""
        now = self.db.run(db_now)
        for name, schedule in sorted(self.schedules.items()):
            latest, upcoming = schedule.ticks_around(now)
            try:
                job = schedule.job_json()
                params: list[Any] = [name, schedule.task_name, schedule.cron, schedule.timezone]
                params += [job, latest, upcoming]
                self.db.run(functools.partial(_sync_one, params=params))
            except psycopg.OperationalError:
                raise
            except Exception as error:  # noqa: BLE001 - one bad schedule must not stop the rest
                logger.error("periodic schedule %r disabled: %s", name, error)
                del self.schedules[name]
        logger.info("scheduler started with %d periodic schedule(s)", len(self.schedules))

    def tick(self) -> float:
        """Offer each schedule's latest due tick once; return seconds until the next tick."""
        now = self.db.run(db_now)
        delay = self.max_sleep
        for name, schedule in self.schedules.items():
            latest, upcoming = schedule.ticks_around(now)
            if latest is not None and self.offered.get(name) != latest:
                try:
                    self._offer(schedule, latest, upcoming)
                except psycopg.OperationalError:
                    raise
                except Exception:  # the other schedules still get their ticks
                    logger.exception("periodic %s: could not enqueue its tick; will retry", name)
                    continue
                self.offered[name] = latest
            if upcoming is not None:
                delay = min(delay, (upcoming - now).total_seconds() + TICK_SLACK)
        return max(delay, TICK_SLACK)

    def _offer(self, schedule: Schedule, tick: dt.datetime, upcoming: dt.datetime | None) -> None:
        row = self.db.run(
            lambda c: c.execute(
                "SELECT django_pgflow.enqueue_periodic(%s, %s, %s)", [schedule.name, tick, upcoming]
            ).fetchone()
        )
        job_id = row[0] if row else None
        if job_id is not None:
            self.enqueued += 1
            logger.info(
                "periodic %s: enqueued job %s for the tick of %s",
                schedule.name,
                job_id,
                tick.isoformat(),
            )
