"""The generated parts of ``docs/reference/sql.md``, read from ``schema/``.

The page is written by hand around marked regions::

    <!-- sql-reference: django_pgflow.enqueue -->
    (generated: heading, signature, who may call it, its COMMENT)
    <!-- /sql-reference -->

There is one region per entry point (every function whose file says
``SECURITY DEFINER``, plus the owner's ``sync_limits``) and per view, one for
the table of rights (``rights``) and one for the list of internal functions
by layer (``internals``). ``python -m django_pgflow.sql reference`` rewrites
every region from the schema files and from the grants the security guide
includes (``docs/snippets/grants-*.sql``); ``tests/test_sql_reference.py``
fails while the page differs from what it would write.
"""

from __future__ import annotations

import html
import re
from dataclasses import dataclass
from pathlib import Path

from . import LAYERS, read, schema_files

ROOT = Path(__file__).resolve().parents[2]
PAGE = ROOT / "docs" / "reference" / "sql.md"
SNIPPETS = ROOT / "docs" / "snippets"
# Not SECURITY DEFINER and granted to no one, but called by the owner's own
# processes (migrate, pgflow_sync): a client in another language needs it too.
OWNER_ENTRY_POINTS = ("sync_limits",)
# The grant files of the security guide: the role each sets up, in a table
# heading and in a sentence.
ROLES = {
    "grants-web.sql": ("web", "the web role"),
    "grants-web-operator.sql": ("web, operator", "the web role with the operator grants"),
    "grants-web-status-only.sql": ("web, status only", "the status-only web role"),
    "grants-worker.sql": ("worker", "the worker role"),
}
GRANTS_LINK = "../guides/security.md#the-grants"
REGION = re.compile(r"<!-- sql-reference: (\S+) -->\n.*?<!-- /sql-reference -->", re.S)
FUNCTION = re.compile(r"^CREATE OR REPLACE FUNCTION django_pgflow\.(\w+)\(", re.M)
VIEW = re.compile(r"^CREATE OR REPLACE VIEW (\w+) AS\s", re.M)
COMMENT = re.compile(r"^COMMENT ON (?:FUNCTION|VIEW) [^\n]*? IS\s*'((?:[^']|'')*)';", re.M | re.S)


@dataclass(frozen=True)
class Definition:
    """A function or view of the schema, as its file declares it."""

    name: str  # "django_pgflow.enqueue", or a view's name
    file: str  # relative to schema/: "queue/enqueue.sql"
    arguments: tuple[str, ...]  # a function's "p_queue text", ...; a view's columns
    returns: str  # a function's RETURNS clause, "" for a view
    comment: str
    definer: bool

    @property
    def is_view(self) -> bool:
        return not self.name.startswith("django_pgflow.")


def _balanced(text: str, start: int) -> int:
    """The index of the parenthesis closing the one at ``start - 1``."""
    depth, quoted = 1, False
    for index in range(start, len(text)):
        char = text[index]
        if char == "'":
            quoted = not quoted
        elif not quoted and char in "()":
            depth += 1 if char == "(" else -1
            if depth == 0:
                return index
    raise ValueError(f"unbalanced parentheses after {text[:start]!r:.80}")


def _split(text: str) -> tuple[str, ...]:
    """Comma-separated items outside parentheses and quotes, whitespace collapsed."""
    items, depth, quoted, current = [], 0, False, ""
    for char in text:
        quoted ^= char == "'"
        if not quoted:
            depth += {"(": 1, ")": -1}.get(char, 0)
        if char == "," and depth == 0 and not quoted:
            items.append(current)
            current = ""
        else:
            current += char
    items.append(current)
    return tuple(_collapse(item) for item in items if item.strip())


def _collapse(text: str) -> str:
    """One line, single spaces, none inside parentheses' edges."""
    return re.sub(r"\(\s+|\s+\)", lambda m: m[0].strip(), " ".join(text.split()))


def _fill(head: str, items: tuple[str, ...], tail: str, width: int = 88) -> str:
    """``head`` + the comma-separated ``items`` + ``tail``, wrapped under the first item."""
    lines, line = [], head
    for index, item in enumerate(items):
        piece = item + ("," if index < len(items) - 1 else tail)
        if line != head and len(line) + 1 + len(piece) > width:
            lines.append(line)
            line = " " * len(head) + piece
        else:
            line += ("" if line == head else " ") + piece
    return "\n".join([*lines, line])


def _comment(text: str, file: str) -> str:
    match = COMMENT.search(text)
    if match is None:
        raise ValueError(f"{file} has no COMMENT ON")
    return match[1].replace("''", "'")


def _function(file: str, text: str, match: re.Match[str]) -> Definition:
    close = _balanced(text, match.end())
    after = text[close + 1 :]
    # No RETURNS clause: OUT arguments say what it returns.
    returns = re.match(r"\s*RETURNS\s+(.*?)\n(?:LANGUAGE|SECURITY|SET|AS)\b", after, re.S)
    header = after[: after.index("AS $$")]
    return Definition(
        name=f"django_pgflow.{match[1]}",
        file=file,
        arguments=_split(text[match.end() : close]),
        returns=_collapse(returns[1]) if returns else "",
        comment=_comment(text, file),
        definer="SECURITY DEFINER" in header,
    )


def _view_columns(body: str) -> tuple[str, ...]:
    """The output columns of a view: the select list of its outermost SELECT."""
    body = re.sub(r"--[^\n]*", "", body)
    depth, start = 0, None
    for match in re.finditer(r"\(|\)|\bSELECT\b|\bFROM\b", body):
        token = match[0]
        if token in "()":
            depth += 1 if token == "(" else -1
        elif depth == 0 and token == "SELECT" and start is None:
            start = match.end()
        elif depth == 0 and token == "FROM" and start is not None:
            return tuple(_column_name(item) for item in _split(body[start : match.start()]))
    raise ValueError(f"no outer SELECT ... FROM in {body[:80]!r}")


def _column_name(item: str) -> str:
    named = re.search(r"\bAS\s+(\w+)$", item) or re.fullmatch(r"(?:\w+\.)?(\w+)", item)
    if named is None:
        raise ValueError(f"view column {item!r} has no name: give it AS <name>")
    return named[1]


def _view(file: str, text: str, match: re.Match[str]) -> Definition:
    body = text[match.end() : text.index("\nCOMMENT ON")]
    return Definition(match[1], file, _view_columns(body), "", _comment(text, file), False)


def definitions() -> list[Definition]:
    """Every function and view of the schema, in install order."""
    found = []
    for file in schema_files():
        text = read(file)
        found += [_function(file, text, match) for match in FUNCTION.finditer(text)]
        found += [_view(file, text, match) for match in VIEW.finditer(text)]
    return found


def documented() -> list[Definition]:
    """What the page documents one by one: entry points and views."""
    return [
        d
        for d in definitions()
        if d.definer or d.is_view or d.name.removeprefix("django_pgflow.") in OWNER_ENTRY_POINTS
    ]


def grants() -> dict[str, set[str]]:
    """Snippet file -> the functions (``django_pgflow.x``) and relations it grants."""
    granted: dict[str, set[str]] = {}
    for snippet in ROLES:
        text = re.sub(r"--[^\n]*", "", (SNIPPETS / snippet).read_text())
        names = {f"django_pgflow.{name}" for name in re.findall(r"django_pgflow\.(\w+)\(", text)}
        for statement in re.findall(r"GRANT SELECT\b.*?;", text, re.S):
            names |= set(re.findall(r"\b(pgflow_\w+)", statement))
        granted[snippet] = names
    return granted


def _callers(definition: Definition, granted: dict[str, set[str]]) -> str:
    files = [snippet for snippet, names in granted.items() if definition.name in names]
    roles = [f"{ROLES[f][1]} ([`{f}`]({GRANTS_LINK}))" for f in files]
    verb = "read it" if definition.is_view else "call it"
    if not roles:
        return f"**Who may {verb}:** the owner only; no grant file gives it to another role."
    return f"**Who may {verb}:** {', '.join(roles)}, and the owner."


def _rights(definition: Definition) -> str:
    if definition.is_view:
        return (
            "A reader needs `SELECT` on the view, not on the tables it reads, and `EXECUTE` "
            "on any function it calls."
        )
    if definition.definer:
        return (
            "It runs with the owner's rights (`SECURITY DEFINER`): a caller needs no table rights."
        )
    return "It runs with the caller's rights (`SECURITY INVOKER`)."


def signature(definition: Definition) -> str:
    """The code block's text: the call with its arguments, or a view's columns."""
    if definition.is_view:
        return _fill(f"{definition.name} (", definition.arguments, ")")
    returns = f"RETURNS {definition.returns}" if definition.returns else ""
    one_line = f"{definition.name}({', '.join(definition.arguments)}) {returns}".strip()
    if len(one_line) <= 88:
        return one_line
    arguments = ",\n".join(f"    {argument}" for argument in definition.arguments)
    table = re.fullmatch(r"TABLE \((.*)\)", definition.returns)
    if table:
        returns = _fill("RETURNS TABLE (", _split(table[1]), ")")
    return f"{definition.name}(\n{arguments}\n)\n{returns}".strip()


def render(definition: Definition, granted: dict[str, set[str]]) -> str:
    title = f"`{definition.name}`" + (" (view)" if definition.is_view else "")
    what = "What it shows" if definition.is_view else "What it guarantees"
    return "\n".join(
        [
            f"### {title}",
            "",
            "```sql",
            signature(definition),
            "```",
            "",
            f"{_callers(definition, granted)} {_rights(definition)}",
            "",
            f"**{what}** (its `COMMENT`, in `django_pgflow/sql/schema/{definition.file}`):",
            "",
            f"> {_literal(definition.comment)}",
        ]
    )


def _literal(text: str) -> str:
    """``text`` as Markdown that renders it as is (``<name>`` is no HTML tag)."""
    return html.escape(text, quote=False).replace("[", "\\[").replace("*", "\\*")


def rights_table(granted: dict[str, set[str]]) -> str:
    """Which role may call or read what, per the grant files of the security guide."""
    header = "| Entry point or view | " + " | ".join(role for role, _ in ROLES.values()) + " |"
    rows = [header, "|---" * (len(ROLES) + 1) + "|"]
    for definition in sorted(documented(), key=lambda d: (d.is_view, d.name)):
        marks = ["yes" if definition.name in granted[f] else "" for f in ROLES]
        rows.append(f"| `{definition.name}` | " + " | ".join(marks) + " |")
    return "\n".join(rows)


def internals() -> str:
    """The functions no role calls, listed by layer, each layer's folder named."""
    shown = {d.name for d in documented()}
    lines = []
    for layer in LAYERS:
        names = [
            d.name.removeprefix("django_pgflow.")
            for d in definitions()
            if d.file.startswith(f"{layer}/") and d.name not in shown
        ]
        if names:
            listed = ", ".join(f"`{name}`" for name in names)
            lines.append(f"- **{layer}** (`django_pgflow/sql/schema/{layer}/`): {listed}")
    triggers = sorted(p.stem for p in (ROOT / "django_pgflow/sql/schema/triggers").glob("*.sql"))
    listed = ", ".join(f"`{name}`" for name in triggers)
    lines.append(f"- **triggers** (`django_pgflow/sql/schema/triggers/`, bodies): {listed}")
    return "\n".join(lines)


def region(name: str) -> str:
    """The generated text of the region called ``name``."""
    granted = grants()
    if name == "rights":
        return rights_table(granted)
    if name == "internals":
        return internals()
    for definition in documented():
        if definition.name == name:
            return render(definition, granted)
    raise KeyError(f"the page has a region for {name!r}, which is no entry point or view")


def regions(page: str) -> list[str]:
    return REGION.findall(page)


def missing(page: str) -> list[str]:
    """Entry points and views the page has no region for."""
    present = set(regions(page))
    wanted = [d.name for d in documented()] + ["rights", "internals"]
    return [name for name in wanted if name not in present]


def update(page: str) -> str:
    """``page`` with every region rewritten from the schema."""

    def rewrite(match: re.Match[str]) -> str:
        return (
            f"<!-- sql-reference: {match[1]} -->\n\n{region(match[1])}\n\n<!-- /sql-reference -->"
        )

    return REGION.sub(rewrite, page)
