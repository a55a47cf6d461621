"""docs/reference/sql.md cannot go stale: it documents every entry point and
view of the canonical schema, with the signature its file declares, and names
no function the schema lacks; its examples run.

The page's blocks are generated (``python -m django_pgflow.sql reference``);
these tests check the page against that generator, and check the generator's
reading of the files independently: against the files' text, and against
the catalog of the migrated test database.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from django.core.management import get_commands
from django.db import connection

from django_pgflow.definitions.sync import sync_flows
from django_pgflow.sql import SCHEMA_DIR, reference

PAGE = reference.PAGE.read_text()
MARKER = re.compile(r"<!-- sql-reference: (\S+) -->")
TOKENS = re.compile(r"[^\s,()]+|[(),]")


def schema_sql() -> Iterator[tuple[Path, str]]:
    for path in sorted(SCHEMA_DIR.rglob("*.sql")):
        yield path, path.read_text()


def file_of(function: str) -> str:
    (text,) = [t for _, t in schema_sql() if f"FUNCTION django_pgflow.{function}(" in t]
    return text


def region_text(name: str) -> str:
    match = re.search(
        rf"<!-- sql-reference: {re.escape(name)} -->\n(.*?)<!-- /sql-reference -->", PAGE, re.S
    )
    assert match, f"the page has no region for {name}"
    return match[1]


def test_the_generated_blocks_are_current() -> None:
    assert not reference.missing(PAGE), f"no block for {reference.missing(PAGE)}"
    assert reference.update(PAGE) == PAGE, (
        "docs/reference/sql.md differs from the schema: run python -m django_pgflow.sql reference"
    )


def test_every_entry_point_and_view_has_its_block() -> None:
    """Read from the files here, not through the generator."""
    wanted = {"django_pgflow.sync_limits", "rights", "internals"}
    for path, text in schema_sql():
        if "SECURITY DEFINER" in text:
            wanted.add(f"django_pgflow.{path.stem}")
        wanted |= set(re.findall(r"^CREATE OR REPLACE VIEW (\w+)", text, re.M))
    assert sorted(set(MARKER.findall(PAGE))) == sorted(wanted)
    assert len(MARKER.findall(PAGE)) == len(wanted), "a name has two blocks"


def _page_signature(name: str) -> tuple[list[str], list[str]]:
    """The argument and RETURNS tokens of the page's code block for ``name``."""
    code = re.search(r"```sql\n(.*?)```", region_text(name), re.S)
    assert code, f"no signature block for {name}"
    arguments, returns = code[1].split(f"{name}(", 1)[1].rsplit("RETURNS", 1)
    return TOKENS.findall(arguments.rsplit(")", 1)[0]), TOKENS.findall(returns)


@pytest.mark.parametrize("name", [n for n in MARKER.findall(PAGE) if n.startswith("django_")])
def test_the_signature_on_the_page_is_the_files(name: str) -> None:
    function = name.removeprefix("django_pgflow.")
    declared = re.search(
        rf"FUNCTION django_pgflow\.{function}\((.*?)\)\s*RETURNS\s+(.*?)\n(?:LANGUAGE|SECURITY)",
        file_of(function),
        re.S,
    )
    assert declared, f"no CREATE of {function} with a RETURNS clause"
    arguments, returns = _page_signature(name)
    assert arguments == TOKENS.findall(declared[1]), f"{name}: arguments differ from its file"
    assert returns == TOKENS.findall(declared[2]), f"{name}: RETURNS differs from its file"


def _canonical_type(cursor: Any, declared: str) -> str:
    cursor.execute("SELECT %s::regtype::text", [declared])
    return str(cursor.fetchone()[0])


@pytest.mark.django_db
def test_the_generator_reads_what_postgresql_installed() -> None:
    """Argument names, types and defaults; a view's columns: as in the catalog."""
    with connection.cursor() as cursor:
        for definition in reference.documented():
            if definition.is_view:
                cursor.execute(
                    "SELECT array_agg(attname::text ORDER BY attnum) FROM pg_attribute "
                    "WHERE attrelid = %s::regclass AND attnum > 0 AND NOT attisdropped",
                    [definition.name],
                )
                assert list(definition.arguments) == cursor.fetchone()[0], definition.name
                continue
            cursor.execute(
                "SELECT p.proargnames::text[], ARRAY(SELECT format_type(t, NULL) "
                "FROM unnest(p.proargtypes) t), p.pronargdefaults FROM pg_proc p "
                "WHERE p.oid = %s::regproc",
                [definition.name],
            )
            names, types, defaults = cursor.fetchone()
            parsed = [
                argument.split(" DEFAULT ")[0].split(" ", 1) for argument in definition.arguments
            ]
            assert [n for n, _ in parsed] == names[: len(parsed)], definition.name
            assert [_canonical_type(cursor, t) for _, t in parsed] == types, definition.name
            assert sum(" DEFAULT " in a for a in definition.arguments) == defaults, definition.name


def test_the_page_names_only_functions_the_schema_defines() -> None:
    defined = {
        name
        for _, text in schema_sql()
        for name in re.findall(r"^CREATE OR REPLACE FUNCTION django_pgflow\.(\w+)\(", text, re.M)
    }
    named = set(re.findall(r"\bdjango_pgflow\.(\w+)\b(?!\.)", PAGE))
    assert named - defined == set(), "the page names functions the schema does not define"
    # Internals named in the prose: "`on_step_job()`", "the internal `claim_gated`".
    internal = set(re.findall(r"`(\w+)\(\)`", PAGE)) - {"now"}  # and PostgreSQL's own
    for names in re.findall(r"internals? ((?:`\w+`(?:, | and )?)+)", PAGE):
        internal |= set(re.findall(r"`(\w+)`", names))
    assert internal, "the check below would check nothing"
    assert internal <= defined, f"the page names internals the schema lacks: {internal - defined}"


@pytest.mark.django_db
def test_every_pgflow_name_on_the_page_exists() -> None:
    """Tables, views, indexes, constraints, triggers and commands the page names."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT relname::text FROM pg_class UNION SELECT conname::text FROM pg_constraint "
            "UNION SELECT tgname::text FROM pg_trigger"
        )
        catalog = {row[0] for row in cursor.fetchall()}
    commands = set(get_commands())
    named = set(re.findall(r"\b(pgflow_[a-z0-9_]+)\b", PAGE))
    unknown = {
        name
        for name in named
        if name not in catalog
        and name not in commands
        and not any(c.startswith(f"pgtrigger_{name}_") for c in catalog)
        and not (SCHEMA_DIR / "triggers" / f"{name}.sql").exists()
    }
    assert not unknown, f"the page names what does not exist: {sorted(unknown)}"


@pytest.mark.parametrize("name", [n for n in MARKER.findall(PAGE) if "_" in n])
def test_every_block_is_followed_by_an_example(name: str) -> None:
    after = PAGE.split(f"<!-- sql-reference: {name} -->", 1)[1].split("<!-- /sql-reference -->", 1)
    prose = re.split(r"<!-- sql-reference: |\n## ", after[1], maxsplit=1)[0]
    call = f"{name}(" if name.startswith("django_pgflow.") else f"FROM {name}"
    examples = re.findall(r"```sql\n(.*?)```", prose, re.S)
    assert any(call in example for example in examples), f"no example calls {name}"


SETUP = """
-- Rows another test left committed must not collide with the page's ids (rolled back after).
TRUNCATE pgflow_job, pgflow_worker CASCADE;
INSERT INTO pgflow_worker (id, hostname, pid, queues, concurrency, state, started_at,
                           last_heartbeat)
VALUES (7, 'h', 1, '[]', 4, 'running', now(), now());
INSERT INTO pgflow_job (id, queue, task_name, args, kwargs, status, priority, run_at, attempts,
                        failures, max_attempts, retry_delay, max_retry_delay, timeout, errors,
                        created_at, started_at, worker_id, gated, lease_expires_at)
SELECT i, 'emails', 'myapp.tasks.x', '[]', '{}', 'started', 0, now(), i - 11, 0, 3, 1, 60, 60,
       '[]', now(), now(), 7, false, now() + interval '1 hour'
FROM generate_series(12, 13) i;
"""


EXAMPLES = [e for e in re.findall(r"```sql\n(.*?)```", PAGE, re.S) if "SELECT" in e]


@pytest.mark.django_db
@pytest.mark.parametrize("example", EXAMPLES, ids=[e.split("\n")[0][:60] for e in EXAMPLES])
def test_every_example_on_the_page_runs(example: str) -> None:
    """On worker 7 holding jobs 12 (attempt 1) and 13 (attempt 2), the flows synced."""
    sync_flows()
    with connection.cursor() as cursor:
        cursor.execute(SETUP)
        for statement in re.sub(r"--[^\n]*", "", example).split(";"):
            if statement.strip():
                cursor.execute(statement)
