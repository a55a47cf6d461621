"""``resource_lock``: a named lock, held across every process, inside a task.

Backed by a PostgreSQL session advisory lock taken on a connection of its
own, not on Django's: the lock does not follow the task's transactions (a
commit or rollback inside the block neither releases nor keeps it), and if the
process dies, PostgreSQL ends the session and the lock is free again.
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import Iterator
from typing import Any

import psycopg

from .exceptions import InvalidJobError, ResourceLockTimeout

# A fixed prefix keeps our keys apart from other users of advisory locks.
KEY_SQL = "hashtextextended('pgflow.resource_lock:' || %s, 0)"
MAX_NAME_LENGTH = 200


def validate_lock_name(name: Any) -> str:
    if not isinstance(name, str) or not name or len(name) > MAX_NAME_LENGTH or "\x00" in name:
        raise InvalidJobError(
            f"Invalid resource lock name {name!r:.80}: use a non-empty string of at most "
            f"{MAX_NAME_LENGTH} characters."
        )
    return name


def _validate_timeout(timeout: Any) -> float | None:
    if timeout is None:
        return None
    if (
        isinstance(timeout, bool)
        or not isinstance(timeout, int | float)
        or math.isnan(timeout)
        or timeout < 0
    ):
        raise InvalidJobError(
            f"resource_lock timeout must be a number of seconds >= 0 or None, got {timeout!r}."
        )
    return float(timeout)


def _acquire(conn: psycopg.Connection[Any], name: str, timeout: float | None) -> bool:
    """Take the lock, waiting at most ``timeout`` seconds (None: for as long as it takes)."""
    if timeout == 0:
        row = conn.execute(f"SELECT pg_try_advisory_lock({KEY_SQL})", [name]).fetchone()
        return bool(row and row[0])
    # lock_timeout bounds the wait in the server; waiters queue in arrival order
    # and the next one gets the lock the moment it is released. (0 disables it.)
    millis = 0 if timeout is None else max(1, math.ceil(timeout * 1000))
    conn.execute(f"SET lock_timeout = {int(millis)}")
    try:
        conn.execute(f"SELECT pg_advisory_lock({KEY_SQL})", [name])
    except psycopg.errors.LockNotAvailable:
        return False
    return True


@contextlib.contextmanager
def resource_lock(
    name: str, timeout: float | None = 5.0, *, using: str = "default"
) -> Iterator[None]:
    """Hold the lock ``name`` for the ``with`` block, across every worker and host.

    Waits at most ``timeout`` seconds for another holder (``None``: no limit,
    ``0``: try once), then raises ``ResourceLockTimeout``. Released on every
    exit from the block, and by PostgreSQL if the process or its connection
    dies. Not reentrant: nesting the same name in one thread waits for itself.
    """
    from .worker.connection import connect

    validate_lock_name(name)
    seconds = _validate_timeout(timeout)
    conn = connect(f"lock {name}"[:63], using)
    try:
        if not _acquire(conn, name, seconds):
            raise ResourceLockTimeout(name, seconds or 0.0)
        yield
    finally:
        _release(conn)


def _release(conn: psycopg.Connection[Any]) -> None:
    """Unlock, then end the session (which alone would release it, a moment later)."""
    try:
        # Synchronous, so the next holder can take the lock the moment we return.
        conn.execute("SELECT pg_advisory_unlock_all()")
    except psycopg.Error:
        pass  # a dead or busy session: ending it releases the lock all the same
    finally:
        conn.close()
