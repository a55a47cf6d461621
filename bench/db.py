"""The benchmark's databases: URLs, (re)creation, and small query helpers."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any, TypeVar
from urllib.parse import urlsplit, urlunsplit

import psycopg
from psycopg import sql

DEFAULT_SERVER = "postgres://postgres@127.0.0.1:5432/postgres"
T = TypeVar("T")


def database_url(server_url: str, dbname: str) -> str:
    """``server_url`` pointing at database ``dbname`` (the URL's own name is never used)."""
    parts = urlsplit(server_url)
    return urlunsplit((parts.scheme, parts.netloc, "/" + dbname, parts.query, ""))


def dbname_of(url: str) -> str:
    return urlsplit(url).path.lstrip("/")


def describe(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.hostname or 'localhost'}:{parts.port or 5432}"


def recreate_database(url: str) -> None:
    """Drop (disconnecting its sessions) and create the database of ``url``."""
    name = sql.Identifier(dbname_of(url))
    with psycopg.connect(database_url(url, "postgres"), autocommit=True) as admin:
        admin.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(name))
        admin.execute(sql.SQL("CREATE DATABASE {}").format(name))


def connect(url: str, name: str = "pgflow bench") -> psycopg.Connection[Any]:
    return psycopg.connect(url, autocommit=True, application_name=name)


def one(conn: psycopg.Connection[Any], query: str, params: Any = None) -> tuple[Any, ...]:
    row = conn.execute(query, params).fetchone()
    assert row is not None, query
    return row


def query_once(url: str, query: str, params: Any = None) -> tuple[Any, ...]:
    """One row from a short-lived connection: nothing stays open into a cost window."""
    with connect(url) as conn:
        return one(conn, query, params)


def execute_once(url: str, *statements: str) -> None:
    with connect(url) as conn:
        for statement in statements:
            conn.execute(statement)


def wait_until(predicate: Callable[[], T], timeout: float, what: str) -> T:
    """Poll ``predicate`` until it returns something truthy; fail after ``timeout`` s."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise TimeoutError(f"timed out after {timeout:.0f}s waiting for {what}")
        time.sleep(0.02)
