"""Database roles holding exactly the grants of docs/guides/security.md.

The grants are read from docs/snippets/, the files the guide includes, so the
SQL a user pastes is the SQL the tests exercise. ``tests/test_grants.py`` and
the hostile suite (``tests/hostile/``) both build their roles here.
"""

from __future__ import annotations

import secrets
from collections.abc import Generator
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

import psycopg
from django.db import connection

from .conftest import ROOT

SNIPPETS = ROOT / "docs" / "snippets"
# The role names the snippets use, replaced by this run's own.
PLACEHOLDERS = {"web": "myapp_web", "worker": "myapp_worker"}
# What the example tasks themselves touch: a project grants its own tables.
EXAMPLE_TABLES = ("example_document", "example_execution")


def snippet(name: str, **roles: str) -> str:
    text = (SNIPPETS / name).read_text()
    for kind, role in roles.items():
        placeholder = PLACEHOLDERS[kind]
        assert placeholder in text, f"{name} does not mention {placeholder}"
        text = text.replace(placeholder, role)
    return text


@dataclass(frozen=True)
class Roles:
    web: str
    worker: str
    operator: str  # the web grants plus the optional operator ones
    status: str  # a web role that enqueues and reads status, no payload
    password: str

    def all(self) -> tuple[str, ...]:
        return (self.web, self.worker, self.operator, self.status)


def drop_role(cursor: Any, role: str) -> None:
    cursor.execute(f'REASSIGN OWNED BY "{role}" TO CURRENT_USER')
    cursor.execute(f'DROP OWNED BY "{role}"')
    cursor.execute(f'DROP ROLE "{role}"')


def _create_roles(cursor: Any, prefix: str) -> Roles:
    token = secrets.token_hex(3)
    made = Roles(
        web=f"{prefix}web_{token}",
        worker=f"{prefix}worker_{token}",
        operator=f"{prefix}operator_{token}",
        status=f"{prefix}status_{token}",
        password=f"s3cret-{secrets.token_hex(8)}",
    )
    for role in made.all():
        cursor.execute(f"CREATE ROLE \"{role}\" LOGIN PASSWORD '{made.password}'")
    cursor.execute(snippet("grants-web.sql", web=made.web))
    cursor.execute(snippet("grants-worker.sql", worker=made.worker))
    cursor.execute(snippet("grants-web.sql", web=made.operator))
    cursor.execute(snippet("grants-web-operator.sql", web=made.operator))
    cursor.execute(snippet("grants-web-status-only.sql", web=made.status))
    tables = ", ".join(EXAMPLE_TABLES)
    cursor.execute(f'GRANT SELECT, INSERT, UPDATE, DELETE ON {tables} TO "{made.worker}"')
    return made


def least_privilege_roles(purpose: str, django_db_blocker: Any) -> Generator[Roles, None, None]:
    """A fixture body: web, worker and operator roles for one test module.

    Roles belong to the cluster: they are named after this test database and
    ``purpose``, dropped at the end, and any left by an interrupted run of the
    same purpose dropped first.
    """
    prefix = f"{connection.settings_dict['NAME']}_{purpose}_"
    with django_db_blocker.unblock(), connection.cursor() as cursor:
        cursor.execute("SELECT rolname FROM pg_roles WHERE starts_with(rolname, %s)", [prefix])
        for (stale,) in cursor.fetchall():
            drop_role(cursor, stale)
        made = _create_roles(cursor, prefix)
    try:
        yield made
    finally:
        with django_db_blocker.unblock(), connection.cursor() as cursor:
            for role in made.all():
                drop_role(cursor, role)


def connect_as(role: str, roles: Roles, **options: Any) -> psycopg.Connection[Any]:
    settings = connection.settings_dict
    return psycopg.connect(
        host=settings["HOST"] or None,
        port=settings["PORT"] or None,
        dbname=settings["NAME"],
        user=role,
        password=roles.password,
        autocommit=True,
        **options,
    )


def database_url(role: str, roles: Roles) -> str:
    settings = connection.settings_dict
    host = quote(settings["HOST"] or "localhost", safe="")
    port = settings["PORT"] or 5432
    return f"postgres://{role}:{roles.password}@{host}:{port}/{settings['NAME']}"
