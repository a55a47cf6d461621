"""Following a run as it happens: its events, read back from ``pgflow_event``
and woken by LISTEN on ``django_pgflow_events``.

Each event is read from the table, never from the notification alone: a
listener that was away (a dropped connection, a slow consumer) catches up from
the database by id, so it misses none and sees them in the order of the
changes. Notifications only wake it; without them it polls.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Iterator
from typing import Any

import psycopg

from ..models import EVENT_CHANNEL, RunEvent
from ..worker.connection import connection_kwargs

FINISHED = ("completed", "failed", "cancelled")
EVENTS_SQL = (
    "SELECT id, run_id, flow_slug, step_slug, status, origin, at FROM pgflow_event "
    "WHERE run_id = %s AND id > %s ORDER BY id"
)
# Seconds between looks at the table when no notification came: the fallback.
POLL = 1.0


def _event(row: tuple[Any, ...]) -> RunEvent:
    return RunEvent(
        id=row[0], run_id=row[1], flow_slug=row[2], step_slug=row[3], status=row[4],
        origin=row[5], at=row[6],
    )  # fmt: skip


def is_final(event: RunEvent) -> bool:
    """The run's own completion, failure or cancellation."""
    return event.step_slug is None and event.status in FINISHED


class RunEvents:
    """``run.events()``: iterate (``for``, or ``async for``) over a run's events.

    From the first event after ``after`` (an event id; 0: from the start), in
    order, until the run completes, fails or is cancelled (its final event is
    the last yielded), or ``timeout`` seconds pass (``TimeoutError``).
    """

    def __init__(
        self,
        run_id: int,
        *,
        after: int = 0,
        timeout: float | None = None,
        poll: float | None = None,
        using: str = "default",
    ) -> None:
        self.run_id = run_id
        self.last = after
        self.deadline = None if timeout is None else time.monotonic() + timeout
        self.poll = POLL if poll is None else poll  # the module's, read now (not at import)
        self.using = using

    def _left(self) -> float:
        if self.deadline is None:
            return self.poll
        left = self.deadline - time.monotonic()
        if left <= 0:
            raise TimeoutError(f"run {self.run_id}: no final event within the timeout")
        return min(self.poll, left)

    def _take(self, rows: list[tuple[Any, ...]]) -> list[RunEvent]:
        events = [_event(row) for row in rows]
        if events:
            self.last = events[-1].id
        return events

    def __iter__(self) -> Iterator[RunEvent]:
        while True:
            try:
                yield from self._follow()
                return
            except psycopg.OperationalError:
                continue  # a dropped connection: catch up from the table

    def _follow(self) -> Iterator[RunEvent]:
        kwargs = connection_kwargs(self.using)
        with psycopg.connect(autocommit=True, application_name="pgflow events", **kwargs) as conn:
            conn.execute(f"LISTEN {EVENT_CHANNEL}")  # before reading: nothing falls between
            while True:
                for event in self._take(
                    conn.execute(EVENTS_SQL, [self.run_id, self.last]).fetchall()
                ):
                    yield event
                    if is_final(event):
                        return
                for _ in conn.notifies(timeout=self._left(), stop_after=1):
                    pass

    async def __aiter__(self) -> AsyncIterator[RunEvent]:
        while True:
            try:
                async for event in self._afollow():
                    yield event
                return
            except psycopg.OperationalError:
                continue

    async def _afollow(self) -> AsyncIterator[RunEvent]:
        kwargs = connection_kwargs(self.using)
        conn = await psycopg.AsyncConnection.connect(
            autocommit=True, application_name="pgflow events", **kwargs
        )
        async with conn:
            await conn.execute(f"LISTEN {EVENT_CHANNEL}")
            while True:
                cursor = await conn.execute(EVENTS_SQL, [self.run_id, self.last])
                for event in self._take(await cursor.fetchall()):
                    yield event
                    if is_final(event):
                        return
                async for _ in conn.notifies(timeout=self._left(), stop_after=1):
                    pass
