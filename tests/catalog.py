"""What a database's catalog says about django-pgflow: everything the canonical
schema and the migrations must agree on, as comparable text."""

from __future__ import annotations

from typing import Any

import psycopg

QUERIES = {
    "function": """
        SELECT p.oid::regprocedure::text,
               jsonb_build_object(
                   'definition', pg_get_functiondef(p.oid), 'config', p.proconfig,
                   'security_definer', p.prosecdef, 'volatility', p.provolatile,
                   'acl', coalesce(p.proacl, acldefault('f', p.proowner))::text[],
                   'comment', obj_description(p.oid, 'pg_proc'))
        FROM pg_proc p
        WHERE p.pronamespace = 'django_pgflow'::regnamespace
    """,
    "trigger function": """
        SELECT p.proname, jsonb_build_object('source', p.prosrc)
        FROM pg_proc p
        WHERE p.proname LIKE 'pgtrigger\\_pgflow\\_%' AND p.pronamespace = 'public'::regnamespace
    """,
    "view": """
        SELECT c.relname, jsonb_build_object(
                   'definition', pg_get_viewdef(c.oid),
                   'acl', coalesce(c.relacl, acldefault('r', c.relowner))::text[],
                   'comment', obj_description(c.oid, 'pg_class'))
        FROM pg_class c
        WHERE c.relkind = 'v' AND c.relname LIKE 'pgflow\\_%'
    """,
    "column": """
        SELECT c.relname || '.' || a.attname, jsonb_build_object(
                   'type', format_type(a.atttypid, a.atttypmod), 'not_null', a.attnotnull,
                   'default', pg_get_expr(d.adbin, d.adrelid))
        FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid
        LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
        WHERE c.relkind = 'r' AND c.relname LIKE 'pgflow\\_%' AND a.attnum > 0
          AND NOT a.attisdropped
    """,
    "table": """
        SELECT c.relname, jsonb_build_object(
                   'acl', coalesce(c.relacl, acldefault('r', c.relowner))::text[],
                   'options', c.reloptions)
        FROM pg_class c WHERE c.relkind = 'r' AND c.relname LIKE 'pgflow\\_%'
    """,
    "index": """
        SELECT i.indexrelid::regclass::text, jsonb_build_object(
                   'definition', pg_get_indexdef(i.indexrelid))
        FROM pg_index i JOIN pg_class c ON c.oid = i.indrelid
        WHERE c.relname LIKE 'pgflow\\_%'
    """,
    "constraint": """
        SELECT c.relname || '.' || k.conname, jsonb_build_object(
                   'definition', pg_get_constraintdef(k.oid))
        FROM pg_constraint k JOIN pg_class c ON c.oid = k.conrelid
        WHERE c.relname LIKE 'pgflow\\_%'
    """,
    "trigger": """
        SELECT c.relname || '.' || t.tgname, jsonb_build_object(
                   'definition', pg_get_triggerdef(t.oid), 'enabled', t.tgenabled)
        FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid
        WHERE NOT t.tgisinternal AND c.relname LIKE 'pgflow\\_%'
    """,
    "schema": """
        SELECT n.nspname, jsonb_build_object(
                   'acl', coalesce(n.nspacl, acldefault('n', n.nspowner))::text[],
                   'comment', obj_description(n.oid, 'pg_namespace'))
        FROM pg_namespace n WHERE n.nspname = 'django_pgflow'
    """,
}


def catalog(conn: psycopg.Connection[Any]) -> dict[str, dict[str, Any]]:
    """``{kind: {name: description}}`` for every kind in QUERIES."""
    return {kind: dict(conn.execute(query).fetchall()) for kind, query in QUERIES.items()}


def differences(a: dict[str, dict[str, Any]], b: dict[str, dict[str, Any]]) -> list[str]:
    """What differs between two catalogs, one line each, naming the object."""
    lines = []
    for kind in QUERIES:
        left, right = a[kind], b[kind]
        for name in sorted(left.keys() - right.keys()):
            lines.append(f"{kind} {name}: only in the first")
        for name in sorted(right.keys() - left.keys()):
            lines.append(f"{kind} {name}: only in the second")
        for name in sorted(left.keys() & right.keys()):
            for field in sorted(left[name]):
                if left[name][field] != right[name].get(field):
                    lines.append(f"{kind} {name}: {field} differs")
    return lines
