"""Workers need a session of their own on PostgreSQL: refuse a pooler in between.

Through PgBouncer in transaction mode a worker cannot work: LISTEN holds for a
session only, and the claim and report statements are server-side prepared
(``prepare=True``), which a pooler handing each transaction to another server
connection breaks. Enqueue, start_flow and the admin work through it; workers
must connect to PostgreSQL directly.

PgBouncer gives each client a cancel key of its own making, so the backend pid
the client was told at connection differs from ``pg_backend_pid()`` of the
server connection that answers. A direct connection (or a plain TCP proxy,
which forwards the server's own key) shows the same pid.
"""

from __future__ import annotations

from typing import Any

POOLER_HELP = (
    "runworkers needs a direct connection to PostgreSQL, and database {alias!r} reaches it "
    "through a connection pooler such as PgBouncer (the backend pid it reported, {told}, is "
    "not the server's, {actual}). Workers LISTEN for new jobs, which needs a session, and use "
    "server-side prepared statements, which transaction pooling breaks. Point the workers at "
    "PostgreSQL itself: run them with a DATABASE_URL (or DATABASES entry: --database ALIAS) "
    "naming the database server's host and port, not the pooler's, and keep the pooler for "
    "web processes. If the pooler runs in session mode, pass --allow-pooler."
)


def pooled_pids(connection: Any) -> tuple[int, int] | None:
    """(pid told at connection, pid of the answering server) when they differ, else None.

    ``connection`` is a connected Django database wrapper.
    """
    told = connection.connection.info.backend_pid
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        actual = cursor.fetchone()[0]
    return (told, actual) if told != actual else None


def pooler_message(alias: str, pids: tuple[int, int]) -> str:
    return POOLER_HELP.format(alias=alias, told=pids[0], actual=pids[1])
