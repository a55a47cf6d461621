"""The input rules of the Python API and of the SQL core agree, value for value.

Every rule is written twice: in Python (``django_pgflow.validation``, the
settings checks of ``django_pgflow.checks``), which gives a caller an error at
the call site, and in SQL (``sql/schema/checks/``, ``check_limits``), which
holds for every client of the database. Each test below feeds the same values
(hypothesis draws them, edges included) to both sides and requires the same
verdict: accepted by both, or refused by both (``InvalidJobError`` or a
``pgflow.E0xx`` error; ``invalid_parameter_value`` from SQL). Any other
exception, on either side, fails the test: a crash is not a refusal.

The SQL checks are called directly, as the owner, on a connection to the test
database whose writes (the limits synced for the resource rule) are rolled
back at the end.

Where a value cannot reach SQL at all it counts as refused there: PostgreSQL
text holds no NUL character and no lone surrogate, and JSON has no NaN or
infinity. Python refuses all of them too. ``None`` means "not given" on both
sides (an unset option, a JSON null), so it is left out where no rule is at
stake.
"""

from __future__ import annotations

import datetime as dt
import itertools
import math
from collections.abc import Callable, Iterator
from typing import Any

import psycopg
import pytest
from django.test import override_settings
from hypothesis import example, given, settings
from hypothesis import strategies as st
from psycopg.types.json import Jsonb

from django_pgflow.checks import check_settings
from django_pgflow.definitions.task import JobOptions
from django_pgflow.exceptions import InvalidJobError
from django_pgflow.validation import (
    MAX_SECONDS,
    QUEUE_NAME_RE,
    TASK_NAME_RE,
    parse_rate_limit,
    to_json,
    validate_declared_resources,
    validate_enqueueable,
    validate_lock_key,
    validate_max_attempts,
    validate_options,
    validate_positive_number,
    validate_priority,
    validate_queue_name,
    validate_rate,
    validate_resources,
    validate_unique_key,
)
from django_pgflow.worker.connection import connection_kwargs

# Marked so that pytest-django sets up the test database even when this file
# runs alone; the checks themselves go through the ``owner`` connection.
pytestmark = pytest.mark.django_db

EXAMPLES = settings(max_examples=150, deadline=None)
DECLARED = {"gpu": 2, "tpu": 0}  # the resources synced for the possible-resources rule
DECIMAL_DBL_MAX = 17976931348623157 * 10**292  # 1.7976931348623157e308, as written

# -- values -----------------------------------------------------------------

INT_EDGES = [0, 1, -1, 2, 1000, 10000, 10001, 32767, 32768, -32768, -32769, 1_000_000]
INT_EDGES += [1_000_001, 67_108_864, 67_108_865, 2**31 - 1, -(2**31), 2**63, 10**400]
INT_EDGES += [DECIMAL_DBL_MAX, DECIMAL_DBL_MAX + 1, -DECIMAL_DBL_MAX - 1]
INT_EDGES += [int(DECIMAL_DBL_MAX * 1.0), -int(DECIMAL_DBL_MAX * 1.0)]  # the double's own max
FLOAT_EDGES = [0.0, -0.0, 0.5, 1.0, 2.0, 1.5, 1e-7, 1e16, 1e300, 0.001, 0.0009999999999999998]
FLOAT_EDGES += [float(MAX_SECONDS), math.nextafter(MAX_SECONDS, math.inf), 31622400.0]
FLOAT_EDGES += [31622400.000000004, 1.7976931348623157e308, -1.7976931348623157e308]

NUMBER_EDGES = [*INT_EDGES, *FLOAT_EDGES, math.nan, math.inf, -math.inf]
SCALAR_EDGES = [*INT_EDGES, *FLOAT_EDGES, None, True, False, "1", ""]


def with_edges(name: str, values: list[Any], **crossed: list[Any]) -> Callable[[Any], Any]:
    """Run ``values`` of ``name`` (each with every value of ``crossed``) every time,
    besides what hypothesis draws: the edges must not depend on luck."""

    def add(test: Any) -> Any:
        for combo in itertools.product(values, *crossed.values()):
            test = example(**dict(zip([name, *crossed], combo, strict=True)))(test)
        return test

    return add


integers = st.one_of(st.sampled_from(INT_EDGES), st.integers(), st.integers(-40000, 40000))
int32 = st.one_of(
    integers.filter(lambda v: -(2**31) <= v < 2**31), st.integers(-(2**31), 2**31 - 1)
)
floats = st.one_of(st.sampled_from(FLOAT_EDGES), st.floats(allow_nan=False, allow_infinity=False))
any_float = st.one_of(floats, st.floats())  # NaN and infinities too
numbers = st.one_of(integers, floats)
scalars = st.one_of(st.none(), st.booleans(), numbers, st.text(max_size=8))


def names_like(regex: Any, edges: list[str]) -> st.SearchStrategy[str]:
    """Names that pass, names that nearly pass, and any text at all."""
    return st.one_of(
        st.from_regex(regex, fullmatch=True),
        st.sampled_from(edges),
        st.text(alphabet="abz019_.-AZ é\n\x00", max_size=70),
        st.text(max_size=70),
    )


QUEUE_EDGES = ["", "a", "a" * 63, "a" * 64, "-a", ".a", "_a", "0", "a.b-c_d", "a\n", "ä", "A"]
QUEUE_EDGES += ["a b", "a$", "a\x00", "\ud800"]
TASK_EDGES = ["", "a", "a" * 255, "a" * 256, "a.", ".a", "a..b", "1a", "a.1b", "_a._b", "a-b"]
TASK_EDGES += ["pgflow.step", "pgflow.step.", "pgflow.step.f.s", "pgflow.stepx.a", "Pgflow.step.a"]
KEY_EDGES = ["", "k", "k" * 255, "k" * 256, "é" * 255, "é" * 256, "k\x00", "\ud800", " "]

queue_names = names_like(QUEUE_NAME_RE, QUEUE_EDGES)
task_names = st.one_of(
    names_like(TASK_NAME_RE, TASK_EDGES),
    st.from_regex(TASK_NAME_RE, fullmatch=True).map(lambda name: f"pgflow.step.{name}"),
)
keys = st.one_of(st.sampled_from(KEY_EDGES), st.text(max_size=300))


def json_values(max_leaves: int = 12) -> st.SearchStrategy[Any]:
    leaves = st.one_of(st.none(), st.booleans(), integers, floats, st.text(max_size=10))
    return st.recursive(
        leaves,
        lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=5), inner),
        max_leaves=max_leaves,
    )


def nested(levels: int, leaf: Any = 1) -> Any:
    """``leaf`` inside ``levels`` arrays: the leaf sits at depth ``levels``."""
    for _ in range(levels):
        leaf = [leaf]
    return leaf


@st.composite
def deep_values(draw: st.DrawFn) -> Any:
    """Containers nested 95 to 105 deep, around the 100-level line, with a leaf or not."""
    value = draw(st.sampled_from([[], {}, 1, "x", None]))
    for _ in range(draw(st.integers(95, 105))):
        value = [value] if draw(st.booleans()) else {"k": value}
    return value


# -- the two sides ----------------------------------------------------------


@pytest.fixture(scope="module")
def owner(django_db_setup: None, django_db_blocker: Any) -> Iterator[psycopg.Connection]:
    """The test database as its owner, in one transaction rolled back at the end."""
    with django_db_blocker.unblock(), psycopg.connect(**connection_kwargs()) as conn:
        conn.execute(
            "SELECT django_pgflow.sync_limits(%s, '{}', %s)",
            [Jsonb(DECLARED), Jsonb({"max_payload_bytes": 1_048_576})],
        )
        try:
            yield conn
        finally:
            conn.rollback()


def holdable(value: Any) -> bool:
    """Whether PostgreSQL text or JSON can carry ``value`` at all."""
    if isinstance(value, str):
        return "\x00" not in value and not any(0xD800 <= ord(c) <= 0xDFFF for c in value)
    if isinstance(value, float):
        return math.isfinite(value)
    if isinstance(value, list | tuple):
        return all(holdable(item) for item in value)
    if isinstance(value, dict):
        return all(holdable(k) and holdable(v) for k, v in value.items())
    return True


def sql_accepts(conn: psycopg.Connection, query: str, *params: Any) -> bool:
    if not all(holdable(p.obj if isinstance(p, Jsonb) else p) for p in params):
        return False
    try:
        with conn.transaction():
            conn.execute(query, params)
    except psycopg.errors.InvalidParameterValue:
        return False
    return True


def python_accepts(check: Callable[[Any], Any], value: Any) -> bool:
    try:
        check(value)
    except InvalidJobError:
        return False
    return True


def settings_accept(pgflow: dict[str, Any]) -> bool:
    with override_settings(PGFLOW=pgflow):
        return not check_settings()


def agree(rule: str, value: Any, python: bool, sql: bool) -> None:
    said = {True: "accepts", False: "refuses"}
    assert python == sql, f"{rule}: Python {said[python]} {value!r:.300}, SQL {said[sql]} it"


# -- names ------------------------------------------------------------------


@with_edges("name", QUEUE_EDGES)
@EXAMPLES
@given(name=queue_names)
def test_queue_names(owner: psycopg.Connection, name: str) -> None:
    sql = sql_accepts(owner, "SELECT django_pgflow.check_queue_name(%s)", name)
    agree("queue name", name, python_accepts(validate_queue_name, name), sql)


CHECK_JOB = (
    "SELECT django_pgflow.check_job(%s, %s, %s::jsonb, %s::jsonb, %s::integer, %s::timestamptz,"
    " %s::float8, %s::integer, %s::float8, %s::float8, %s::float8, %s, %s)"
)
JOB_DEFAULTS = {
    "queue": "default",
    "task_name": "app.tasks.x",
    "args": "[]",
    "kwargs": "{}",
    "priority": 0,
    "run_at": None,
    "delay": None,
    "max_attempts": 3,
    "retry_delay": 1.0,
    "max_retry_delay": 3600.0,
    "timeout": 300.0,
    "unique_key": None,
    "lock_key": None,
}


def check_job(conn: psycopg.Connection, **given: Any) -> bool:
    """``check_job`` with enqueue()'s defaults, and ``given`` instead of them."""
    return sql_accepts(conn, CHECK_JOB, *{**JOB_DEFAULTS, **given}.values())


@with_edges("name", TASK_EDGES)
@EXAMPLES
@given(name=task_names)
def test_task_names_and_the_step_task_prefix(owner: psycopg.Connection, name: str) -> None:
    sql = check_job(owner, task_name=name)
    agree("task name", name, python_accepts(validate_enqueueable, name), sql)


@with_edges("key", KEY_EDGES, which=["unique_key", "lock_key"])
@EXAMPLES
@given(key=keys, which=st.sampled_from(["unique_key", "lock_key"]))
def test_unique_and_lock_keys(owner: psycopg.Connection, key: str, which: str) -> None:
    check = validate_unique_key if which == "unique_key" else validate_lock_key
    agree(which, key, python_accepts(check, key), check_job(owner, **{which: key}))
    sql = sql_accepts(owner, "SELECT django_pgflow.check_key(%s, %s)", which, key)
    agree(f"check_key {which}", key, python_accepts(check, key), sql)


# -- numbers of a job -------------------------------------------------------


@with_edges(
    "value", [v for v in INT_EDGES if -(2**31) <= v < 2**31], which=["priority", "max_attempts"]
)
@EXAMPLES
@given(value=int32, which=st.sampled_from(["priority", "max_attempts"]))
def test_priority_and_max_attempts(owner: psycopg.Connection, value: int, which: str) -> None:
    check = validate_priority if which == "priority" else validate_max_attempts
    agree(which, value, python_accepts(check, value), check_job(owner, **{which: value}))


SECONDS = {"delay": True, "retry_delay": True, "max_retry_delay": True, "timeout": False}


@with_edges("value", NUMBER_EDGES, which=sorted(SECONDS))
@EXAMPLES
@given(value=st.one_of(any_float, integers), which=st.sampled_from(sorted(SECONDS)))
def test_seconds(owner: psycopg.Connection, value: float, which: str) -> None:
    allow_zero = SECONDS[which]
    python = python_accepts(
        lambda v: validate_positive_number(which, v, allow_zero=allow_zero), value
    )
    if isinstance(value, int) and abs(value) > 2**53:
        return  # not a float8 as it is; the JSON test below takes such numbers
    sql = sql_accepts(
        owner, "SELECT django_pgflow.check_seconds(%s, %s::float8, %s)", which, value, allow_zero
    )
    agree(f"{which} (check_seconds)", value, python, sql)
    agree(f"{which} (check_job)", value, python, check_job(owner, **{which: value}))


OPTION_FIELDS = ["priority", "max_attempts", "delay", "retry_delay", "max_retry_delay", "timeout"]
OPTION_FIELDS += ["unique_key", "lock_key"]


@with_edges("fields", [{k: v} for k in OPTION_FIELDS for v in SCALAR_EDGES])
@with_edges("fields", [{"delay": 1, "timeout": 0}, {"unique_key": ""}, {"lock_key": "k" * 256}])
@EXAMPLES
@given(fields=st.dictionaries(st.sampled_from(OPTION_FIELDS), st.one_of(scalars, keys), max_size=4))
def test_enqueue_many_items(owner: psycopg.Connection, fields: dict[str, Any]) -> None:
    """An enqueue_many item's fields, as JSON, against the same options in Python."""
    given_options = {k: v for k, v in fields.items() if v is not None}
    python = python_accepts(lambda o: validate_options(JobOptions(**o)), given_options)
    item = {"queue": "default", "task_name": "app.tasks.x", **fields}
    sql = sql_accepts(owner, "SELECT django_pgflow.check_job_json(%s, 1)", Jsonb(item))
    agree("enqueue_many item", fields, python, sql)


def test_run_at_and_delay_together(owner: psycopg.Connection) -> None:
    """Python refuses both at once; so do enqueue() and enqueue_many() in SQL."""
    run_at = dt.datetime.now(dt.UTC)
    python = python_accepts(validate_options, JobOptions(run_at=run_at, delay=1.0))
    agree("run_at with delay", (run_at, 1.0), python, check_job(owner, run_at=run_at, delay=1.0))
    item = {"queue": "default", "task_name": "app.tasks.x", "run_at": run_at.isoformat()}
    sql = sql_accepts(
        owner, "SELECT django_pgflow.check_job_json(%s, 1)", Jsonb(item | {"delay": 1})
    )
    agree("run_at with delay in enqueue_many", item, python, sql)
    assert check_job(owner, run_at=run_at) and python_accepts(
        validate_options, JobOptions(run_at=run_at)
    )


# -- resources --------------------------------------------------------------

resource_requests = st.one_of(
    st.dictionaries(queue_names, st.one_of(numbers, scalars), max_size=3),
    st.dictionaries(st.sampled_from(["gpu", "tpu", "cpu"]), numbers, min_size=1, max_size=2),
    st.one_of(st.lists(st.integers(), max_size=2), st.text(max_size=5), numbers, st.booleans()),
)


@with_edges("request", [{"gpu": v} for v in SCALAR_EDGES])
@with_edges("request", [{}, [], "gpu", 1, True, {"GPU": 1}, {"": 1}, {"g" * 64: 1}])
@EXAMPLES
@given(request=resource_requests)
def test_resource_requests(owner: psycopg.Connection, request: Any) -> None:
    sql = sql_accepts(owner, "SELECT django_pgflow.check_resources(%s)", Jsonb(request))
    agree("resources", request, python_accepts(validate_resources, request), sql)


def _possible(request: Any) -> None:
    pairs = validate_resources(request)
    if pairs:
        validate_declared_resources(pairs)


@with_edges("request", [{"gpu": 1}, {"gpu": 2}, {"gpu": 3}, {"tpu": 1}, {"cpu": 1}, {}])
@EXAMPLES
@given(request=st.dictionaries(st.sampled_from(["gpu", "tpu", "cpu"]), integers, max_size=2))
def test_resource_requests_a_worker_could_meet(owner: psycopg.Connection, request: Any) -> None:
    """Declared, and within capacity: settings in Python, pgflow_resource in SQL."""
    sql = sql_accepts(
        owner,
        "SELECT django_pgflow.check_possible(django_pgflow.check_resources(%s))",
        Jsonb(request),
    )
    with override_settings(PGFLOW={"RESOURCES": DECLARED}):
        python = python_accepts(_possible, request)
    agree("possible resources", request, python, sql)


# -- payloads ---------------------------------------------------------------


@with_edges("value", [[v] for v in SCALAR_EDGES])
@with_edges("value", [nested(99), nested(100), nested(101), nested(100, {}), nested(101, {})])
@EXAMPLES
@given(value=st.one_of(json_values(), deep_values()))
def test_json_depth_and_numbers(owner: psycopg.Connection, value: Any) -> None:
    python = python_accepts(lambda v: to_json(v, "args"), value)
    sql = holdable(value) and owner.execute(
        "SELECT django_pgflow.json_problem(%s) IS NULL", [Jsonb(value)]
    ).fetchone() == (True,)
    agree("JSON depth and numbers", value, python, sql)


@EXAMPLES
@given(value=json_values(30), delta=st.integers(-2, 2))
def test_payload_size(owner: psycopg.Connection, value: Any, delta: int) -> None:
    """Sizes around the limit: both sides count the bytes of the JSON as stored."""
    if not holdable(value):
        return  # not JSON at all: the test above
    (size,) = owner.execute("SELECT octet_length(%s::text)", [Jsonb(value)]).fetchone()
    limit = max(1, size + delta)
    python = python_accepts(lambda v: to_json(v, "args", max_bytes=limit), value)
    sql = sql_accepts(owner, "SELECT django_pgflow.check_json('args', %s, %s)", Jsonb(value), limit)
    agree(f"payload size (limit {limit})", value, python, sql)


# -- settings that sync_limits stores ---------------------------------------

CHECK_LIMITS = "SELECT django_pgflow.check_limits(%s, %s, %s)"


def check_limits(
    conn: psycopg.Connection, resources: Any = None, queues: Any = None, settings: Any = None
) -> bool:
    parts = (resources or {}, queues or {}, settings or {})
    return sql_accepts(conn, CHECK_LIMITS, *(Jsonb(part) for part in parts))


@EXAMPLES
@given(name=queue_names, where=st.sampled_from(["RESOURCES", "QUEUES"]))
def test_resource_and_limited_queue_names(owner: psycopg.Connection, name: str, where: str) -> None:
    if where == "RESOURCES":
        python, sql = settings_accept({where: {name: 1}}), check_limits(owner, {name: 1})
    else:
        limit = {name: {"concurrency": 1}}
        python, sql = settings_accept({where: limit}), check_limits(owner, queues=limit)
    agree(f"a name in {where}", name, python, sql)


@with_edges("capacity", SCALAR_EDGES)
@EXAMPLES
@given(capacity=scalars)
def test_resource_capacities(owner: psycopg.Connection, capacity: Any) -> None:
    python = settings_accept({"RESOURCES": {"gpu": capacity}})
    agree("capacity", capacity, python, check_limits(owner, {"gpu": capacity}))


@with_edges("concurrency", SCALAR_EDGES)
@EXAMPLES
@given(concurrency=scalars)
def test_queue_concurrency(owner: psycopg.Connection, concurrency: Any) -> None:
    python = settings_accept({"QUEUES": {"q": {"concurrency": concurrency}}})
    sql = check_limits(owner, queues={"q": {"concurrency": concurrency}})
    agree("concurrency", concurrency, python, sql)


@with_edges("count", [0, 1, 1_000_000, 1_000_001, 1.0, True], period=[60])
@with_edges("period", [*NUMBER_EDGES, 366 * 86400, 366 * 86400 + 1, True], count=[1])
@EXAMPLES
@given(count=st.one_of(integers, floats), period=st.one_of(numbers, any_float))
def test_rate_limits(owner: psycopg.Connection, count: Any, period: Any) -> None:
    python = python_accepts(lambda pair: validate_rate(*pair), (count, period))
    sql = check_limits(owner, queues={"q": {"rate_count": count, "rate_period": period}})
    agree("rate limit (count, period)", (count, period), python, sql)


@EXAMPLES
@given(
    text=st.one_of(
        st.from_regex(r"[0-9]{1,8}/[0-9]{0,9}(\.[0-9]{1,4})?(s|m|h|d|min|day)", fullmatch=True),
        st.text(max_size=12),
    )
)
def test_rate_limit_settings(owner: psycopg.Connection, text: str) -> None:
    """What the settings check lets through, the database takes."""
    if not settings_accept({"QUEUES": {"q": {"rate_limit": text}}}):
        return
    count, period = parse_rate_limit(text)
    sql = check_limits(owner, queues={"q": {"rate_count": count, "rate_period": period}})
    agree("rate_limit setting", text, True, sql)


@with_edges("value", [v for v in SCALAR_EDGES if v is not None])
@EXAMPLES
@given(value=scalars.filter(lambda v: v is not None))
def test_max_payload_bytes(owner: psycopg.Connection, value: Any) -> None:
    python = settings_accept({"MAX_PAYLOAD_BYTES": value})
    agree(
        "MAX_PAYLOAD_BYTES",
        value,
        python,
        check_limits(owner, settings={"max_payload_bytes": value}),
    )


# -- worker settings that become arguments of the SQL functions -------------


def _worker(conn: psycopg.Connection) -> int:
    row = conn.execute("SELECT django_pgflow.register_worker('rules', 1, '[]', 1)").fetchone()
    return int(row[0])


INT32_OR_FLOAT_EDGES = [v for v in NUMBER_EDGES if not isinstance(v, int) or abs(v) < 2**31]
WORKER_SETTINGS: dict[str, tuple[str, Callable[[int, Any], list[Any]]]] = {
    "CLAIM_BATCH_SIZE": (
        "SELECT count(*) FROM django_pgflow.claim(%s, NULL, %s::integer)",
        lambda worker, v: [worker, v],
    ),
    "LEASE_MARGIN": (
        "SELECT count(*) FROM django_pgflow.claim(%s, NULL, 0, %s::float8)",
        lambda worker, v: [worker, v],
    ),
    "PRUNE_BATCH_SIZE": (
        "SELECT django_pgflow.prune('completed', 315360000, %s::integer)",
        lambda worker, v: [v],
    ),
}


@with_edges("value", INT32_OR_FLOAT_EDGES, key=sorted(WORKER_SETTINGS))
@EXAMPLES
@given(value=st.one_of(int32, any_float), key=st.sampled_from(sorted(WORKER_SETTINGS)))
def test_worker_settings(owner: psycopg.Connection, value: Any, key: str) -> None:
    """What the settings check lets a worker pass, the function takes, and no more."""
    query, params = WORKER_SETTINGS[key]
    if key.endswith("_SIZE") and not isinstance(value, int):
        return  # an integer argument: PostgreSQL's type refuses a float before any rule
    python = settings_accept({key: value})
    sql = sql_accepts(owner, query, *params(_worker(owner), value))
    agree(key, value, python, sql)
