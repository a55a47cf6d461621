"""Hostile values for the arguments of the SQL entry points.

Text and JSON travel as ``Raw`` literals: bytes handed to the server as they
are, with no type, for the cast in the call to read. That is how a hostile
client sends what a well-behaved driver would refuse to (a NUL in text, bytes
that are not UTF-8) and JSON that Python could not even build (5,000 levels
deep, a 5,000-digit number). Every other value is a Python int, float or bool,
a list of ints, or None (SQL NULL).
"""

from __future__ import annotations

import json
import math
from typing import Any

from hypothesis import strategies as st
from psycopg.adapt import Dumper
from psycopg.pq import Format

MIB = 1024 * 1024


class Raw:
    """A literal sent as raw bytes; ``label`` is what a failure report shows."""

    __slots__ = ("data", "label")

    def __init__(self, data: bytes, label: str) -> None:
        self.data, self.label = data, label

    def __repr__(self) -> str:
        return self.label

    def _repr_pretty_(self, printer: Any, cycle: bool) -> None:  # how hypothesis prints it
        printer.text(self.label)


class RawDumper(Dumper):
    """Sends the bytes as a binary ``text`` parameter: the server gets every
    byte (a text-format parameter would stop at a NUL) and checks the
    encoding itself; the cast in the query then reads the text as its type."""

    format = Format.BINARY
    oid = 25  # text

    def dump(self, obj: Raw) -> bytes:
        return obj.data


def raw(data: bytes | str, label: str | None = None) -> Raw:
    data = data.encode("utf-8", "surrogatepass") if isinstance(data, str) else data
    if label is None:
        label = repr(data)[1:] if len(data) <= 60 else f"{data[:40]!r}... ({len(data)} bytes)"
    return Raw(data, label)


def as_json(value: Any) -> Raw:
    return raw(json.dumps(value, separators=(",", ":"), ensure_ascii=False))


# --- JSON ---------------------------------------------------------------------------


def nested(depth: int, kind: str = "array") -> Raw:
    if kind == "array":
        return raw("[" * depth + "]" * depth, f"<array nested {depth} deep>")
    return raw('{"a":' * depth + "1" + "}" * depth, f"<object nested {depth} deep>")


# What PostgreSQL refuses, what it stores but Python cannot read back, and
# what Python reads but the Python API refuses (deeper than 100, over 1 MiB).
HOSTILE_JSON: list[Raw] = [
    raw("[" + "9" * 5000 + "]", "<[5,000-digit integer]>"),
    raw("9" * 5000, "<5,000-digit integer>"),
    raw("[-" + "9" * 5000 + ".5e-3]", "<[-5,000-digit decimal]>"),
    nested(5000),
    nested(5000, "object"),
    nested(101),
    nested(102),
    raw("[1e400]"),  # numeric to PostgreSQL, inf to Python
    raw("-1e400"),
    raw("NaN"),
    raw("[Infinity]"),
    raw('"\\u0000"', "<JSON string holding \\u0000>"),
    raw('"\\ud800"', "<JSON string holding a lone surrogate>"),
    raw(b'["\xff\xfe"]', "<JSON holding non-UTF-8 bytes>"),
    raw(b'["a\x00b"]', "<JSON holding a NUL byte>"),
    raw('["' + "x" * (MIB + 10) + '"]', "<[a string over 1 MiB]>"),
    raw("[" + ",".join(["0"] * 200_000) + "]", "<an array of 200,000 zeros>"),
    raw("", "<empty text>"),
    raw("{"),
    raw('{"a":1,"a":2}'),
]
WRONG_TYPES = [raw(t) for t in ("null", "true", "0", "-1", '""', '"x"', "[]", "{}", "[null]")]
WRONG_TYPES += [raw(t) for t in ('{"": null}', "1.5")]

plain_json: st.SearchStrategy[Any] = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(2**70), 2**70)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(st.characters(exclude_categories=["Cs"], exclude_characters="\x00"), max_size=8),
    lambda children: (
        st.lists(children, max_size=3)
        | st.dictionaries(st.text(st.characters(exclude_categories=["Cs"]), max_size=4), children)
    ),
    max_leaves=8,
)


def hostile_json() -> st.SearchStrategy[Raw | None]:
    return st.one_of(
        st.sampled_from(HOSTILE_JSON + WRONG_TYPES), st.none(), plain_json.map(as_json)
    )


def sane_json(*values: Any) -> st.SearchStrategy[Raw]:
    return st.sampled_from([as_json(v) for v in values])


def json_object(fields: dict[str, st.SearchStrategy[Raw | None]]) -> st.SearchStrategy[Raw]:
    """A JSON object with some of ``fields``, each drawn from its strategy."""

    @st.composite
    def build(draw: st.DrawFn) -> Raw:
        keys = draw(st.lists(st.sampled_from(sorted(fields)), unique=True, max_size=len(fields)))
        parts = []
        for key in keys:
            value = draw(fields[key], label=key)
            parts.append(
                json.dumps(key).encode() + b":" + (b"null" if value is None else value.data)
            )
        labels = ", ".join(f"{k}: {draw_label(p)}" for k, p in zip(keys, parts, strict=True))
        return Raw(b"{" + b",".join(parts) + b"}", "{" + labels + "}")

    return build()


def draw_label(part: bytes) -> str:
    value = part.split(b":", 1)[1]
    return value.decode("utf-8", "replace") if len(value) <= 40 else f"<{len(value)} bytes>"


def json_array(items: st.SearchStrategy[Raw], min_size: int = 0, max_size: int = 4) -> Any:
    def join(xs: list[Raw]) -> Raw:
        return Raw(
            b"[" + b",".join(x.data for x in xs) + b"]", "[" + ", ".join(map(repr, xs)) + "]"
        )

    return st.lists(items, min_size=min_size, max_size=max_size).map(join)


# --- scalars ------------------------------------------------------------------

FLOATS: list[float | None] = [math.nan, math.inf, -math.inf, -0.0, -1.0, -1e308, 1e308]
FLOATS += [5e-324, 315360000.0, 315360001.0, 1e-7, None]
INT4: list[int | None] = [0, -1, 2**31 - 1, -(2**31), 32767, 32768, -32769, 1_000_001, None]
INT8: list[int | None] = [0, -1, 2**63 - 1, -(2**63), None]
OUT_OF_RANGE = [2**63, -(2**63) - 1, 10**40]  # numeric to the server: its cast refuses them
TIMESTAMPS = [raw(t) for t in ("infinity", "-infinity", "epoch", "not a time", "")]
TIMESTAMPS += [raw("4713-01-01 00:00:00+00 BC"), raw("294276-12-31 23:59:59+00")]
TEXTS: list[Raw | None] = [
    raw(""),
    raw(b"a\x00b", "<text holding a NUL byte>"),
    raw(b"\xff\xfe", "<non-UTF-8 bytes>"),
    raw(b"\xc3", "<a truncated UTF-8 sequence>"),
    raw("x" * (MIB + 1), "<1 MiB of text>"),
    raw("a" * 64),
    raw("UPPER"),
    raw("with space"),
    raw("'; DROP TABLE pgflow_job; --"),
    raw("pgflow.step.linear_chain.first"),
    raw("\u202eé日本"),
    None,
]


def hostile_text() -> st.SearchStrategy[Raw | None]:
    made = st.text(st.characters(exclude_characters="\x00"), max_size=12)
    return st.one_of(st.sampled_from(TEXTS), made.map(raw))


def sane_text(*values: str) -> st.SearchStrategy[Raw]:
    return st.sampled_from([raw(v) for v in values])


def hostile_int(edges: list[int | None] = INT4) -> st.SearchStrategy[int | None]:
    return st.one_of(st.sampled_from(edges), st.integers(-(2**31), 2**31 - 1))


def hostile_bigint() -> st.SearchStrategy[int | None]:
    return st.one_of(st.sampled_from(INT8 + OUT_OF_RANGE), st.integers(-(2**63), 2**63 - 1))


def hostile_float() -> st.SearchStrategy[float | None]:
    return st.one_of(st.sampled_from(FLOATS), st.floats())


def hostile_timestamp() -> st.SearchStrategy[Raw | None]:
    return st.sampled_from([*TIMESTAMPS, None])


def text_array(values: list[str]) -> Raw:
    return raw("{" + ",".join(json.dumps(v) for v in values) + "}")


HOSTILE_TEXT_ARRAYS: list[Raw | None] = [
    raw("{NULL}"),
    raw('{""}'),
    raw(b'{"\xff"}', "<{non-UTF-8}>"),
    raw("{{a},{b}}", "<a 2-D array>"),
    raw("{" + ",".join(["q"] * 100_000) + "}", "<100,000 names>"),
    raw("{"),
    None,
]
HOSTILE_ID_ARRAYS: list[Any] = [None, [None], raw("{{1},{2}}", "<a 2-D array>"), raw("{")]
HOSTILE_ID_ARRAYS += [raw("{" + ",".join(map(str, range(1, 100_001))) + "}", "<100,000 ids>")]
HOSTILE_ID_ARRAYS += [[2**63]]
