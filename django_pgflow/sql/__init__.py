"""The SQL core: one canonical schema, and the migrations that install it.

``schema/`` holds the current definition of every function, view, SQL-made
index and trigger body, one file each, named for what it defines, in a folder
per layer of the design: ``checks`` (input rules), ``queue``, ``workers``,
``gates`` (resources, limits, lock keys), ``flows``, ``periodic`` and
``triggers``. Each file carries its own rights beside its ``CREATE``:
``SECURITY DEFINER`` for an entry point, ``SET search_path FROM CURRENT`` (the
loader appends ``pg_temp`` to it first), and ``REVOKE ... FROM PUBLIC``.

A migration installs files of the schema with ``InstallSQL``, which names
each file with the SHA-256 of the text it installs. A change to a file
therefore needs a new migration that installs it again (``python -m
django_pgflow.sql`` prints the operation to add): tests/test_schema.py fails
while any file differs from what the latest migration naming it pinned, or is
named by none, and compares a migrated database with one built from the
models and this schema alone.

Migrations are frozen history: a migration installs the text it pinned, not
whatever the file holds today. When a file changes, the text an older
migration pinned moves to ``history/`` (``<layer>/<name>@<hash>.sql``, which
``python -m django_pgflow.sql`` writes from git), so that migrating to any
earlier state, or back, installs exactly what that state had.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

from django.db import migrations

SCHEMA_DIR = Path(__file__).resolve().parent / "schema"
HISTORY_DIR = Path(__file__).resolve().parent / "history"
# Applied in this order; within a layer, functions first, then what may call
# them (views, indexes: files named pgflow_*).
LAYERS = ("checks", "queue", "workers", "gates", "flows", "periodic")
# Functions are created with the search_path of the migrating session, with
# pg_temp last: searched first (the default), a session's temporary table
# could stand in for pgflow_flow in a function running with its owner's
# rights. Bodies are checked when they run, so files need no order among
# themselves.
# Functions that read no table and call only each other: they carry no SET
# clause. A SET makes every call switch search_path, which costs more than
# most checks themselves (about 4 µs, the lookup cache cleared), and keeps a
# plain SQL function from being inlined into the statement that calls it.
# They are granted to no one, so they only ever run inside a function that
# pins search_path; the tests hold them to that and to reading no table.
PURE = frozenset(
    {"gated", "json_problem", "check_queue_name", "check_seconds", "check_key", "check_whole"}
    | {"check_resources"}
)
PREAMBLE = (
    "SET LOCAL check_function_bodies = off;\n"
    "SELECT set_config('search_path', current_setting('search_path') || ', pg_temp', true);\n"
)


def schema_files() -> list[str]:
    """Every installable file of the schema, relative to it, in install order."""
    files = ["schema.sql"]
    for layer in LAYERS:
        paths = sorted((SCHEMA_DIR / layer).glob("*.sql"))
        files += [f"{layer}/{p.name}" for p in paths if not p.name.startswith("pgflow_")]
        files += [f"{layer}/{p.name}" for p in paths if p.name.startswith("pgflow_")]
    return files


def read(name: str) -> str:
    path = SCHEMA_DIR / name
    if not path.is_file():
        raise FileNotFoundError(f"No file {name!r} in {SCHEMA_DIR}")
    return path.read_text()


def digest(name: str) -> str:
    return hashlib.sha256(read(name).encode()).hexdigest()


def archived(name: str, sha256: str) -> Path:
    """Where the superseded text of ``name`` that hashed to ``sha256`` is kept."""
    layer, _, file = name.rpartition("/")
    return HISTORY_DIR / layer / f"{file.removesuffix('.sql')}@{sha256}.sql"


def read_pinned(name: str, sha256: str) -> str:
    """The text of ``name`` that hashed to ``sha256``: today's file, or its archived copy."""
    text = read(name)
    if hashlib.sha256(text.encode()).hexdigest() == sha256:
        return text
    path = archived(name, sha256)
    if not path.is_file():
        raise FileNotFoundError(
            f"A migration pins {name} at {sha256[:12]}, which is neither the file today nor"
            f" archived as {path}: run python -m django_pgflow.sql to archive it from git."
        )
    return path.read_text()


def install_sql(files: dict[str, str]) -> str:
    """The SQL that installs ``files`` (file -> pinned hash), in the schema's order."""
    # In the schema's own order, whatever the order of the mapping (a written
    # migration sorts it): the schema first, views after functions.
    order = schema_files()
    names = sorted(files, key=lambda n: order.index(n) if n in order else len(order))
    return PREAMBLE + "\n\n".join(read_pinned(name, files[name]) for name in names)


def trigger_body(name: str) -> str:
    """The plpgsql body of trigger ``name`` (``schema/triggers/<name>.sql``), for pgtrigger."""
    lines = read(f"triggers/{name}.sql").splitlines()
    # Its leading comment explains it here; the installed function needs none.
    while lines and lines[0].startswith("--"):
        lines.pop(0)
    return "\n".join(lines).strip()


class InstallSQL(migrations.RunSQL):
    """Apply files of ``schema/``, each pinned to the SHA-256 of its text.

    ``files`` maps a file (``"queue/claim.sql"``) to its hash when the
    migration was written; it installs that text, from ``history/`` once the
    file has changed since (the schema tests say which change needs a new
    migration).
    """

    def __init__(self, files: dict[str, str], reverse_sql: str | None = None, **kw: Any) -> None:
        self.files = dict(files)
        self.reverse = reverse_sql
        reverse = reverse_sql if reverse_sql is not None else migrations.RunSQL.noop
        super().__init__(sql="", reverse_sql=reverse, **kw)

    # Read when the migration runs, not when it is imported: a missing archive
    # then fails the migrate that needs it, and python -m django_pgflow.sql,
    # which imports every migration to find what to archive, still runs.
    @property
    def sql(self) -> str:
        return install_sql(self.files)

    @sql.setter
    def sql(self, value: str) -> None:
        pass

    def deconstruct(self) -> tuple[str, list[Any], dict[str, Any]]:
        kwargs = {} if self.reverse is None else {"reverse_sql": self.reverse}
        return (self.__class__.__qualname__, [self.files], kwargs)

    def describe(self) -> str:
        return f"Install {len(self.files)} file(s) of django_pgflow/sql/schema"


def pinned(names: list[str] | None = None) -> dict[str, str]:
    """``{file: hash}`` for ``names`` (default: the whole schema), as InstallSQL takes it."""
    return {name: digest(name) for name in (names if names is not None else schema_files())}
