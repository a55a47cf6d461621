"""The functions of the schema ``django_pgflow``, read from pg_proc at test time."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import psycopg

from .values import Raw


@dataclass(frozen=True)
class Function:
    name: str
    signature: str  # regprocedure, e.g. django_pgflow.cancel(bigint)
    params: tuple[tuple[str, str], ...]  # (name, type) of each input parameter

    def call(self, args: list[Any]) -> tuple[str, list[Any]]:
        """The query calling this overload with ``args``, and its parameters.

        Every argument is cast to its declared type, which also picks the
        overload. Results are read as text: a row Python could not decode must
        not crash the test client (that is the worker's problem, not ours).
        """
        return self.call_named(dict(zip([n for n, _ in self.params], args, strict=True)), False)

    def call_named(self, args: dict[str, Any], named: bool = True) -> tuple[str, list[Any]]:
        """The same with some arguments by name, the others left to their defaults."""
        kinds = dict(self.params)
        exprs: list[str] = []
        params: list[Any] = []
        for name, value in args.items():
            kind = kinds[name]
            prefix = f"{name} => " if named else ""
            exprs.append(prefix + self._expr(kind, value, params))
        query = f"SELECT r::text FROM django_pgflow.{self.name}({', '.join(exprs)}) AS r"
        return query, params

    @staticmethod
    def _expr(kind: str, value: Any, params: list[Any]) -> str:
        if value is None:
            return f"NULL::{kind}"
        if kind == "jsonb[]" and isinstance(value, list):
            params.append(Raw(b"[" + b",".join(v.data for v in value) + b"]", "jsonb[]"))
            return f"ARRAY(SELECT jsonb_array_elements(%b::jsonb))::{kind}"
        params.append(value)
        return f"%b::{kind}" if isinstance(value, Raw) else f"%s::{kind}"


def functions(conn: psycopg.Connection[Any]) -> dict[str, list[Function]]:
    """Every function of the schema, by name (a name may have overloads)."""
    rows = conn.execute(
        "SELECT p.proname, p.oid::regprocedure::text,"
        " coalesce(p.proargnames, '{}'), coalesce(p.proargmodes::text[], '{}'),"
        " ARRAY(SELECT format_type(t, NULL) FROM unnest(coalesce(p.proallargtypes,"
        "       p.proargtypes::oid[])) t)"
        " FROM pg_proc p WHERE p.pronamespace = 'django_pgflow'::regnamespace ORDER BY 2"
    ).fetchall()
    found: dict[str, list[Function]] = {}
    for name, signature, names, modes, types in rows:
        modes = modes or ["i"] * len(types)
        names = names or [f"${i + 1}" for i in range(len(types))]
        params = tuple(
            (n, t) for n, m, t in zip(names, modes, types, strict=True) if m in ("i", "b")
        )
        found.setdefault(name, []).append(Function(name, signature, params))
    return found


def may_execute(conn: psycopg.Connection[Any], role: str, fn: Function) -> bool:
    row = conn.execute(
        "SELECT has_function_privilege(%s, %s::regprocedure, 'EXECUTE')", [role, fn.signature]
    ).fetchone()
    return bool(row and row[0])
