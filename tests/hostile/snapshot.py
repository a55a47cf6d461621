"""Every stored row django-pgflow keeps, read before and after a call, and the difference.

Each column is read as text (timestamps as epoch seconds), so that a value
Python could not decode (a 5,000-digit number, an array 5,000 deep) is still
compared, and reported, rather than crashing the comparison.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import psycopg

# Table (or view) -> the columns that identify a row. pgflow_slot_state is
# pgflow_slot plus whether each slot is held: a slot that leaks is a change.
TABLES: dict[str, tuple[str, ...]] = {
    "pgflow_job": ("id",),
    "pgflow_run": ("id",),
    "pgflow_step_state": ("id",),
    "pgflow_step_task": ("id",),
    "pgflow_worker": ("id",),
    "pgflow_resource": ("name",),
    "pgflow_queue_limit": ("queue",),
    "pgflow_slot_state": ("kind", "name", "n"),
    "pgflow_queue_rate_shard": ("id",),
    "pgflow_periodic": ("id",),
    "pgflow_event": ("id",),
    "pgflow_config": ("id",),
    "pgflow_flow": ("id",),
    "pgflow_step": ("id",),
    "pgflow_step_dep": ("id",),
}

Row = dict[str, str | None]
Key = tuple[str | None, ...]


@dataclass
class Snapshot:
    tables: dict[str, dict[Key, Row]]
    at: float  # database time (epoch seconds) just before or after the call

    def rows(self, table: str) -> dict[Key, Row]:
        return self.tables[table]

    def get(self, table: str, key: Any) -> Row | None:
        return self.tables[table].get(as_key(key))


def as_key(key: Any) -> Key:
    if isinstance(key, tuple):
        return tuple(None if k is None else str(k) for k in key)
    return (None if key is None else str(key),)


@dataclass
class Change:
    table: str
    key: Key
    before: Row | None  # None: inserted
    after: Row | None  # None: deleted

    @property
    def columns(self) -> list[str]:
        if self.before is None or self.after is None:
            return []
        return [c for c in self.after if self.after[c] != self.before.get(c)]

    def value(self, column: str) -> str | None:
        row = self.after if self.after is not None else self.before
        assert row is not None
        return row.get(column)

    def describe(self) -> str:
        what = "inserted" if self.before is None else "deleted" if self.after is None else None
        if what is None:
            assert self.before is not None and self.after is not None
            parts = [
                f"{c}: {short(self.before[c])} -> {short(self.after[c])}" for c in self.columns
            ]
            what = "updated (" + "; ".join(parts) + ")"
        return f"{self.table} {'/'.join(map(str, self.key))} {what}"


def short(value: str | None, limit: int = 60) -> str:
    if value is None:
        return "NULL"
    return value if len(value) <= limit else f"{value[:limit]}... ({len(value)} chars)"


@dataclass
class Diff:
    changes: list[Change] = field(default_factory=list)

    def __bool__(self) -> bool:
        return bool(self.changes)

    def of(self, table: str) -> list[Change]:
        return [c for c in self.changes if c.table == table]


class Reader:
    """Reads snapshots on the owner's connection, one round trip each."""

    def __init__(self, conn: psycopg.Connection[Any]) -> None:
        self.conn = conn
        self.query = ";".join(self._select(table) for table in TABLES)
        self.query += ";SELECT extract(epoch FROM clock_timestamp())::float8"

    def _select(self, table: str) -> str:
        columns = self.conn.execute(
            "SELECT attname, atttypid::regtype::text FROM pg_attribute"
            " WHERE attrelid = %s::regclass AND attnum > 0 AND NOT attisdropped ORDER BY attnum",
            [table],
        ).fetchall()
        exprs = [
            f"extract(epoch FROM {name})::text" if kind.startswith("timestamp") else f"{name}::text"
            for name, kind in columns
        ]
        names = ", ".join(f'{e} AS "{n}"' for e, (n, _) in zip(exprs, columns, strict=True))
        return f"SELECT {names} FROM {table}"

    def read(self) -> Snapshot:
        tables: dict[str, dict[Key, Row]] = {}
        with self.conn.cursor(binary=False) as cursor:
            cursor.execute(self.query)
            for table, keys in TABLES.items():
                names = [d.name for d in cursor.description or []]
                rows = [dict(zip(names, r, strict=True)) for r in cursor.fetchall()]
                tables[table] = {tuple(r[k] for k in keys): r for r in rows}
                cursor.nextset()
            row = cursor.fetchone()
        assert row is not None
        return Snapshot(tables, float(row[0]))


def diff(before: Snapshot, after: Snapshot, ignore: dict[tuple[str, Key], set[str]]) -> Diff:
    """The rows inserted, deleted or changed; ``ignore`` names columns of
    given rows whose changes are noise (the real worker's own heartbeats)."""
    found = Diff()
    for table in TABLES:
        old, new = before.rows(table), after.rows(table)
        for key in old.keys() | new.keys():
            change = Change(table, key, old.get(key), new.get(key))
            if change.before == change.after:
                continue
            skip = ignore.get((table, key), set())
            if change.before and change.after and set(change.columns) <= skip:
                continue
            found.changes.append(change)
    return found
