"""Dedicated psycopg connections for the worker, apart from Django's.

The worker's claim, report, heartbeat and LISTEN loops each own one
autocommit connection; tasks keep using Django's connections as usual.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable
from typing import Any, TypeVar

import psycopg
from django.db import connections
from psycopg.abc import Buffer
from psycopg.adapt import Loader

logger = logging.getLogger("django_pgflow.worker")

T = TypeVar("T")

# Django-only keys of DATABASES[...]["OPTIONS"] that psycopg.connect() rejects.
_DJANGO_ONLY_OPTIONS = {"isolation_level", "server_side_binding", "assume_role", "pool"}


# TCP timeouts for the worker's own connections, unless DATABASES OPTIONS set
# them: a silent partition (packets dropped, no reset) then breaks a connection
# within about 30 s instead of the kernel's retransmission limit (~15 min), so
# a cut-off worker notices, reconnects and stops renewing leases it lost.
# libpq ignores them on Unix sockets.
TCP_DEFAULTS: dict[str, Any] = {
    "connect_timeout": 10,
    "keepalives": 1,
    "keepalives_idle": 10,
    "keepalives_interval": 5,
    "keepalives_count": 3,
    "tcp_user_timeout": 30_000,  # milliseconds, Linux
}


def connection_kwargs(alias: str = "default") -> dict[str, Any]:
    settings = connections[alias].settings_dict
    kwargs: dict[str, Any] = {
        "dbname": settings.get("NAME") or "postgres",
        "user": settings.get("USER") or None,
        "password": settings.get("PASSWORD") or None,
        "host": settings.get("HOST") or None,
        "port": settings.get("PORT") or None,
    }
    options = {
        k: v for k, v in (settings.get("OPTIONS") or {}).items() if k not in _DJANGO_ONLY_OPTIONS
    }
    kwargs.update(TCP_DEFAULTS)
    kwargs.update(options)
    return {k: v for k, v in kwargs.items() if v is not None}


class JsonbLoader(Loader):
    """jsonb as psycopg loads it, minus the encoding detection of ``json.loads(bytes)``
    and with no parse at all for the empty args and kwargs of most claimed jobs."""

    def load(self, data: Buffer) -> Any:
        if len(data) == 2:
            if data == b"[]":
                return []
            if data == b"{}":
                return {}
        return json.loads(str(data, "utf-8"))


def connect(
    purpose: str, alias: str = "default", origin: str | None = None
) -> psycopg.Connection[Any]:
    """A worker connection; ``origin`` (the worker id) marks the run events it causes."""
    kwargs = connection_kwargs(alias)
    if origin is not None:
        kwargs["options"] = f"{kwargs.get('options', '')} -c pgflow.origin={origin}".strip()
    conn = psycopg.connect(autocommit=True, application_name=f"pgflow {purpose}", **kwargs)
    conn.adapters.register_loader("jsonb", JsonbLoader)
    return conn


class ResilientConnection:
    """One autocommit connection that reconnects, with backoff, when it breaks.

    ``run(fn)`` calls ``fn(conn)`` and, after a lost connection, reconnects and
    calls ``on_reconnect(conn)`` before trying ``fn`` again. Every operation
    passed here must be safe to repeat: ours are fenced by attempt numbers.
    ``on_connect(conn)`` runs on every new connection, the first included
    (the worker takes its liveness lock there).
    """

    def __init__(
        self,
        purpose: str,
        *,
        alias: str = "default",
        should_stop: Callable[[], bool] = lambda: False,
        on_reconnect: Callable[[psycopg.Connection[Any]], None] | None = None,
        max_backoff: float = 5.0,
        origin: str | None = None,
        on_connect: Callable[[psycopg.Connection[Any]], None] | None = None,
    ) -> None:
        self.purpose = purpose
        self.origin = origin
        self.alias = alias
        self.should_stop = should_stop
        self.on_reconnect = on_reconnect
        self.on_connect = on_connect
        self.max_backoff = max_backoff
        self._conn: psycopg.Connection[Any] | None = None
        self.reconnects = 0

    @property
    def conn(self) -> psycopg.Connection[Any]:
        if self._conn is None or self._conn.closed:
            conn = connect(self.purpose, self.alias, self.origin)
            if self.on_connect is not None:
                try:
                    self.on_connect(conn)
                except BaseException:
                    conn.close()
                    raise
            self._conn = conn
        return self._conn

    def close(self) -> None:
        if self._conn is not None:
            try:
                self._conn.close()
            except Exception:  # noqa: BLE001 - closing a broken connection
                pass
            self._conn = None

    def run(
        self,
        fn: Callable[[psycopg.Connection[Any]], T],
        *,
        give_up_on_stop: bool = True,
        give_up_after: float | None = None,
    ) -> T:
        """Call ``fn(conn)``, reconnecting as long as it takes, or ``give_up_after`` seconds."""
        delay = 0.05
        broken = False
        deadline = None if give_up_after is None else time.monotonic() + give_up_after
        while True:
            try:
                conn = self.conn
                if broken and self.on_reconnect is not None:
                    self.on_reconnect(conn)
                return fn(conn)
            except psycopg.OperationalError as error:
                broken = True
                self.reconnects += 1
                self.close()
                if give_up_on_stop and self.should_stop():
                    raise
                if deadline is not None and time.monotonic() >= deadline:
                    raise
                logger.warning(
                    "pgflow %s connection lost (%s); reconnecting in %.2fs",
                    self.purpose,
                    str(error).strip().splitlines()[0] if str(error).strip() else "no detail",
                    delay,
                )
                time.sleep(delay)
                delay = min(delay * 2, self.max_backoff)
