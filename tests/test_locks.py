"""``resource_lock``: bounded waits, release on every exit path, and a dead
holder connection freeing the lock. Real PostgreSQL advisory locks, real threads."""

from __future__ import annotations

import os
import signal
import threading
import time
from typing import Any

import pytest
from django.db import transaction

from django_pgflow import InvalidJobError, ResourceLockTimeout, resource_lock
from django_pgflow.worker.connection import connect

from .conftest import sql_value, wait_for

pytestmark = pytest.mark.django_db

HOLDER_PID = (
    "SELECT a.pid FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid "
    "WHERE l.locktype = 'advisory' AND l.granted AND a.application_name = %s "
    "AND a.datname = current_database()"
)


def is_free(name: str) -> bool:
    try:
        with resource_lock(name, timeout=0):
            return True
    except ResourceLockTimeout:
        return False


class Holder(threading.Thread):
    """Holds a lock in another thread until ``release`` is set."""

    def __init__(self, name: str) -> None:
        super().__init__(daemon=True)
        self.lock_name = name
        self.held = threading.Event()
        self.release = threading.Event()
        self.error: BaseException | None = None

    def run(self) -> None:
        try:
            with resource_lock(self.lock_name):
                self.held.set()
                self.release.wait(30)
        except BaseException as error:  # noqa: BLE001 - checked by the test
            self.error = error

    def __enter__(self) -> Holder:
        self.start()
        assert self.held.wait(10), "the holder did not get the lock"
        return self

    def __exit__(self, *exc: Any) -> None:
        self.release.set()
        self.join(10)


def test_a_second_holder_waits_then_times_out_with_a_clear_error():
    with Holder("gpu"):
        started = time.monotonic()
        with pytest.raises(ResourceLockTimeout) as caught, resource_lock("gpu", timeout=0.5):
            pytest.fail("the lock was taken twice")
        waited = time.monotonic() - started
    assert 0.45 <= waited < 3
    assert str(caught.value) == (
        "Could not take resource lock 'gpu' within 0.5s: another holder still has it."
    )
    assert (caught.value.name, caught.value.timeout) == ("gpu", 0.5)
    assert is_free("gpu")


def test_a_waiter_gets_the_lock_as_soon_as_the_holder_releases_it():
    holder = Holder("gpu").__enter__()
    threading.Timer(0.3, holder.release.set).start()
    started = time.monotonic()
    with resource_lock("gpu", timeout=10):
        waited = time.monotonic() - started
        assert not is_free("gpu")
    holder.join(10)
    assert 0.25 <= waited < 5
    assert holder.error is None


def test_different_names_do_not_contend():
    with Holder("gpu-0"), resource_lock("gpu-1", timeout=0):
        assert not is_free("gpu-0")


@pytest.mark.parametrize("error", [ValueError("task failed"), KeyboardInterrupt()])
def test_the_lock_is_released_when_the_block_raises(error):
    with pytest.raises(type(error)), resource_lock("gpu"):
        assert not is_free("gpu")
        raise error
    assert is_free("gpu")


LOCK_SESSIONS = (
    "SELECT count(*) FROM pg_stat_activity "
    "WHERE application_name = %s AND datname = current_database()"
)
WAITERS = (
    "SELECT count(*) FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid "
    "WHERE l.locktype = 'advisory' AND NOT l.granted AND a.datname = current_database()"
)


def interrupt_once_waiting() -> None:
    """Send SIGALRM to this process as soon as a lock waiter shows up in pg_locks."""
    with connect("test-watch") as watcher:
        wait_for(lambda: watcher.execute(WAITERS).fetchone()[0], timeout=10)
    os.kill(os.getpid(), signal.SIGALRM)


def test_an_interrupt_while_waiting_gives_up_the_wait():
    def interrupt(signum: int, frame: Any) -> None:
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGALRM, interrupt)
    try:
        with Holder("gpu"):
            watcher = threading.Thread(target=interrupt_once_waiting, daemon=True)
            watcher.start()
            started = time.monotonic()
            with pytest.raises(KeyboardInterrupt), resource_lock("gpu", timeout=20):
                pytest.fail("the lock was taken twice")
            assert time.monotonic() - started < 15
            watcher.join(10)
    finally:
        signal.signal(signal.SIGALRM, previous)
    # The interrupted waiter's session is gone: it does not take the lock later.
    assert is_free("gpu")
    # (Read on an autocommit connection: a transaction sees one snapshot of pg_stat_activity.)
    with connect("test-watch") as watcher:
        wait_for(lambda: not watcher.execute(LOCK_SESSIONS, ["pgflow lock gpu"]).fetchone()[0])


def test_the_tasks_own_transactions_neither_release_nor_keep_the_lock():
    with resource_lock("gpu"):
        with pytest.raises(RuntimeError), transaction.atomic():
            sql_value("SELECT 1")
            raise RuntimeError("rolled back")
        with transaction.atomic():
            sql_value("SELECT 1")
        assert not is_free("gpu")
    assert is_free("gpu")


def test_a_killed_holder_connection_frees_the_lock():
    with Holder("gpu") as holder:
        pid = sql_value(HOLDER_PID, ["pgflow lock gpu"])
        assert pid, "the holder's connection should be visible in pg_locks"
        assert not is_free("gpu")
        assert sql_value("SELECT pg_terminate_backend(%s)", [pid])
        wait_for(lambda: is_free("gpu"), timeout=10)
    # Leaving the block closes the dead connection without raising.
    assert holder.error is None


def test_timeout_none_waits_for_as_long_as_it_takes():
    holder = Holder("gpu").__enter__()
    threading.Timer(0.6, holder.release.set).start()
    with resource_lock("gpu", timeout=None):
        pass
    holder.join(10)


@pytest.mark.parametrize(
    ("name", "timeout"), [("", 1.0), ("x" * 201, 1.0), (None, 1.0), ("gpu", -1), ("gpu", "5")]
)
def test_bad_arguments_are_refused_before_connecting(name, timeout):
    with pytest.raises(InvalidJobError), resource_lock(name, timeout=timeout):
        pass
