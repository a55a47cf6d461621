"""Bad input at every public entry point: each call is refused at the call site
with an error naming the problem, nothing stored changes, and workers keep
working. ``test_enqueue.BAD_INPUT`` holds the basic cases of ``enqueue``; this
file adds the other entry points and the harder values (oversized, deeply
nested, cyclic, overflowing, hostile), and checks every table, not just jobs."""

from __future__ import annotations

import datetime as dt
import math
import signal
import subprocess
import sys
from collections.abc import Callable
from decimal import Decimal
from typing import Any

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import DataError, ProgrammingError, connection, transaction
from django.test import override_settings

from django_pgflow import (
    InvalidJobError,
    UnknownFlowError,
    cancel_job,
    cancel_run,
    enqueue,
    enqueue_many,
    resume_run,
    retry_job,
    start_flow,
)
from django_pgflow.checks import check_settings
from django_pgflow.models import Job
from testproject.example.models import Execution
from testproject.example.tasks import crash_worker, exits, record

from .conftest import ROOT, subprocess_env, wait_for

TABLES = ["pgflow_job", "pgflow_run", "pgflow_step_state", "pgflow_step_task", "pgflow_worker"]
HOSTILE_NAME = "x'; DROP TABLE pgflow_job;--"
TEN_MB = "x" * 10_000_000


def nested(levels: int) -> list[Any]:
    value: list[Any] = []
    for _ in range(levels):
        value = [value]
    return value


def cyclic() -> list[Any]:
    value: list[Any] = []
    value.append(value)
    return value


DEEP = nested(100_000)  # json.dumps would raise RecursionError on it


def snapshot() -> dict[str, list[str]]:
    """Every row of every pgflow table, as text."""
    rows = {}
    with connection.cursor() as cursor:
        for table in TABLES:
            cursor.execute(f"SELECT t::text FROM {table} t ORDER BY 1")
            rows[table] = [r[0] for r in cursor.fetchall()]
    return rows


def assert_refused(call: Callable[[], Any], error: type[BaseException], match: str) -> None:
    before = snapshot()
    # A savepoint: an error raised by PostgreSQL leaves the test's transaction usable.
    with pytest.raises(error, match=match), transaction.atomic():
        call()
    assert snapshot() == before


@pytest.fixture
def existing(db) -> dict[str, int]:
    """Rows that bad calls must leave alone: a queued job, a cancelled one, a started run."""
    queued = record.enqueue("kept")
    cancelled = record.enqueue("cancelled")
    cancel_job(cancelled.pk)
    run = start_flow("tiny_chain", {"n": 1})
    return {"queued": queued.pk, "cancelled": cancelled.pk, "run": run.pk}


# --- enqueue: task.enqueue, enqueue(name, ...), .using(...) ---------------------

ENQUEUE = [
    (lambda: record.enqueue(DEEP), "nested deeper than 100 levels"),
    (lambda: record.enqueue(cyclic()), "nested deeper than 100 levels"),
    (lambda: record.enqueue(TEN_MB), "over the limit of 1048576 bytes"),
    (lambda: record.enqueue({"k": [1, {"x": math.inf}]}), r"args\[0\]\['k'\]\[1\]\['x'\] is inf"),
    (lambda: record.enqueue(-math.nan), "nan"),
    (lambda: record.enqueue(Decimal("1.5")), "of type Decimal"),
    (lambda: record.enqueue(bytearray(b"x")), "of type bytearray"),
    (lambda: record.enqueue(dt.date(2030, 1, 1)), "of type date"),
    (lambda: record.enqueue("a", **{"k\x00": 1}), "NUL"),
    (lambda: record.enqueue({"\ud800": 1}), "not valid UTF-8"),
    (lambda: record.using(unique_key="\ud800").enqueue("x"), "unique_key must be valid UTF-8"),
    (lambda: record.using(unique_key="k\x00").enqueue("x"), "unique_key must not contain a NUL"),
    (lambda: record.using(unique_key="k" * 256).enqueue("x"), "at most 255 characters"),
    (lambda: record.using(timeout=1e300).enqueue("x"), "timeout must be at most 315360000"),
    (lambda: record.using(delay=1e300).enqueue("x"), "delay must be at most"),
    (lambda: record.using(retry_delay=1e300).enqueue("x"), "retry_delay must be at most"),
    (lambda: record.using(max_retry_delay=math.inf).enqueue("x"), "max_retry_delay must be"),
    (lambda: record.using(queue="a\x00").enqueue("x"), "Invalid queue name"),
    (lambda: record.using(queue="é").enqueue("x"), "Invalid queue name"),
    (lambda: record.using(queue=b"default").enqueue("x"), "Invalid queue name"),
    (lambda: record.using(priority=2**70).enqueue("x"), "between -32768 and 32767"),
    (lambda: record.using(max_attempts="3").enqueue("x"), "max_attempts must be an int"),
    (lambda: enqueue(HOSTILE_NAME), "Invalid task name"),
    (lambda: enqueue("a.b\x00c"), "Invalid task name"),
    (lambda: enqueue(b"testproject.example.tasks.record"), "Invalid task name"),
    (lambda: enqueue("a." * 200 + "b", allow_unknown=True), "at most 255 characters"),
    (lambda: enqueue("testproject.example.tasks.record", args=iter(["x"])), "list or tuple"),
    (lambda: enqueue("testproject.example.tasks.record", args=[DEEP]), "nested deeper"),
    (lambda: enqueue("testproject.example.tasks.record", kwargs={1: "x"}), "keys must be str"),
]


@pytest.mark.parametrize(("call", "match"), ENQUEUE)
def test_enqueue_refuses_bad_values_and_stores_nothing(existing, call, match):
    assert_refused(call, InvalidJobError, match)


BATCH = "SELECT * FROM django_pgflow.enqueue_batch(%s, %s, %s, %s, %s)"
OPTS = '[{"queue": "default", "task_name": "t.x"}]'

# --- enqueue_many ----------------------------------------------------------------

ENQUEUE_MANY = [
    (lambda: enqueue_many(None), "iterable of job specs"),
    (lambda: enqueue_many(record.s("x")), "iterable of job specs"),
    (lambda: enqueue_many("abc"), "iterable of job specs"),
    (lambda: enqueue_many([record.s("ok"), record.s(DEEP)]), "nested deeper"),
    (lambda: enqueue_many([record.s("ok"), record.s(TEN_MB)]), "over the limit"),
    (lambda: enqueue_many([record.s("ok"), record.s("nul\x00")]), "NUL"),
    (lambda: enqueue_many([record.s("ok"), record.s("\udfff")]), "not valid UTF-8"),
    (lambda: enqueue_many([record.using(queue=HOSTILE_NAME).s("x")]), "Invalid queue name"),
    (lambda: enqueue_many([record.using(timeout=1e300).s("x")]), "timeout must be at most"),
    (lambda: enqueue_many([record.s("ok"), {"task_name": "x"}]), "item 1 is dict"),
]


@pytest.mark.parametrize(("call", "match"), ENQUEUE_MANY)
def test_enqueue_many_refuses_the_whole_batch_and_stores_nothing(existing, call, match):
    assert_refused(call, InvalidJobError, match)


# --- start_flow ------------------------------------------------------------------

START_FLOW = [
    (lambda: start_flow("tiny_chain", DEEP), InvalidJobError, "nested deeper than 100"),
    (lambda: start_flow("tiny_chain", cyclic()), InvalidJobError, "nested deeper than 100"),
    (lambda: start_flow("tiny_chain", TEN_MB), InvalidJobError, "MAX_PAYLOAD_BYTES"),
    (lambda: start_flow("tiny_chain", {"x": math.nan}), InvalidJobError, "nan"),
    (lambda: start_flow("tiny_chain", {"x": "\x00"}), InvalidJobError, "NUL"),
    (lambda: start_flow("tiny_chain", {"\ud800": 1}), InvalidJobError, "UTF-8"),
    (lambda: start_flow("tiny_chain", b"bytes"), InvalidJobError, "of type bytes"),
    (lambda: start_flow("tiny_chain", {1, 2}), InvalidJobError, "of type set"),
    (lambda: start_flow("tiny_chain", {}, run_key=""), InvalidJobError, "run_key"),
    (lambda: start_flow("tiny_chain", {}, run_key="\ud800"), InvalidJobError, "run_key must"),
    (lambda: start_flow("tiny_chain", {}, run_key="k\x00"), InvalidJobError, "run_key must"),
    (lambda: start_flow("tiny_chain", {}, run_key=42), InvalidJobError, "run_key must"),
    (lambda: start_flow(HOSTILE_NAME, {}), UnknownFlowError, "Invalid flow slug"),
    (lambda: start_flow(None, {}), UnknownFlowError, "Invalid flow slug"),
    (lambda: start_flow("tiny\x00chain", {}), UnknownFlowError, "Invalid flow slug"),
    (lambda: start_flow("no_such_flow", {}), UnknownFlowError, "Unknown flow 'no_such_flow'"),
]


@pytest.mark.parametrize(("call", "error", "match"), START_FLOW)
def test_start_flow_refuses_bad_values_and_stores_nothing(existing, call, error, match):
    assert_refused(call, error, match)


# --- cancel_run, resume_run, cancel_job, retry_job --------------------------------

BAD_IDS = [
    ("abc", "must be an int, got str"),
    ("1; DROP TABLE pgflow_job", "must be an int, got str"),
    (None, "must be an int, got NoneType"),
    (1.0, "must be an int, got float"),
    (True, "must be an int, got bool"),
    (b"1", "must be an int, got bytes"),
    (2**70, "does not fit a 64-bit integer"),
]
BY_ID = [cancel_run, resume_run, cancel_job, retry_job]


@pytest.mark.parametrize("function", BY_ID, ids=lambda f: f.__name__)
@pytest.mark.parametrize(("value", "match"), BAD_IDS)
def test_calls_by_id_refuse_what_is_not_an_id(existing, function, value, match):
    assert_refused(lambda: function(value), InvalidJobError, match)


@pytest.mark.parametrize("function", BY_ID, ids=lambda f: f.__name__)
@pytest.mark.parametrize("unknown", [-1, 0, 2**63 - 1])
def test_calls_by_id_return_false_for_an_unknown_id(existing, function, unknown):
    before = snapshot()
    assert function(unknown) is False
    assert snapshot() == before


@pytest.mark.parametrize(
    ("delay", "match"),
    [
        (-1, "finite number of seconds >= 0"),
        (math.nan, "must be a number"),
        (math.inf, "finite"),
        (1e300, "at most 315360000"),
        ("5", "must be a number"),
        (dt.timedelta(seconds=5), "must be a number"),
    ],
)
def test_retry_job_refuses_a_bad_delay(existing, delay, match):
    assert_refused(lambda: retry_job(existing["cancelled"], delay=delay), InvalidJobError, match)


# --- management commands ----------------------------------------------------------

COMMANDS = [
    ("runworkers", ["--concurrency", "abc"], "--concurrency", "not a whole number"),
    ("runworkers", ["--concurrency", "0"], "--concurrency", "at least 1"),
    ("runworkers", ["--processes", "-3"], "--processes", "at least 1"),
    ("runworkers", ["--processes", "1000000"], "--processes", "at most 100000"),
    ("runworkers", ["--batch-size", "1.5"], "--batch-size", "not a whole number"),
    # More than register_worker and claim take: refused here, not by a worker that fails at start.
    ("runworkers", ["--concurrency", "10001"], "--concurrency", "at most 10000"),
    ("runworkers", ["--batch-size", "10001"], "--batch-size", "at most 10000"),
    ("runworkers", ["--queues", "Bad Queue"], "--queues", "Invalid queue name"),
    ("runworkers", ["--queues", HOSTILE_NAME], "--queues", "Invalid queue name"),
    ("runworkers", ["--queues", "a\x00"], "--queues", "Invalid queue name"),
    ("runworkers", ["--poll-interval", "nan"], "--poll-interval", "finite number"),
    ("runworkers", ["--poll-interval", "inf"], "--poll-interval", "finite number"),
    ("runworkers", ["--poll-interval", "0"], "--poll-interval", "> 0"),
    ("runworkers", ["--poll-interval", "1e300"], "--poll-interval", "at most 315360000"),
    ("runworkers", ["--shutdown-timeout", "-1"], "--shutdown-timeout", ">= 0"),
    ("pgflow_prune", ["--older-than", "-1"], "--older-than", ">= 0"),
    ("pgflow_prune", ["--older-than", "NaN"], "--older-than", "finite number"),
    ("pgflow_prune", ["--older-than", "a week"], "--older-than", "not a number of seconds"),
]


@pytest.mark.parametrize(("command", "args", "option", "match"), COMMANDS)
def test_command_options_are_refused_from_the_command_line(existing, command, args, option, match):
    assert_refused(lambda: call_command(command, *args), CommandError, f"{option}.*{match}")


@pytest.mark.parametrize(("command", "args", "option", "match"), COMMANDS)
def test_command_options_are_refused_as_keywords(existing, command, args, option, match):
    # call_command(name, key=value) skips argparse: the command checks them itself.
    dest = args[0].lstrip("-").replace("-", "_")
    kwargs = {dest: args[1]}
    assert_refused(lambda: call_command(command, **kwargs), CommandError, f"{option}.*{match}")


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"concurrency": True}, "--concurrency True"),
        ({"concurrency": 2.5}, "not a whole number"),
        ({"queues": ["ok", HOSTILE_NAME]}, "Invalid queue name"),
        ({"poll_interval": math.nan}, "finite number"),
    ],
)
def test_runworkers_refuses_wrongly_typed_keywords(existing, kwargs, match):
    assert_refused(lambda: call_command("runworkers", **kwargs), CommandError, match)


def test_unknown_command_options_are_refused(existing):
    assert_refused(lambda: call_command("pgflow_status", "--colour"), CommandError, "--colour")
    assert_refused(lambda: call_command("pgflow_prune", older=5), TypeError, "Unknown option")


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["runworkers", "--concurrency", "-2"], "argument --concurrency: must be at least 1"),
        (["runworkers", "--queues", HOSTILE_NAME], "argument --queues: Invalid queue name"),
        (["pgflow_prune", "--older-than", "inf"], "argument --older-than: must be a finite"),
    ],
)
def test_commands_exit_2_with_a_message_not_a_traceback(existing, args, needle):
    before = snapshot()
    done = subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env=subprocess_env(),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 2, done.stderr
    assert needle in done.stderr
    assert "Traceback" not in done.stderr
    assert snapshot() == before


# --- settings -------------------------------------------------------------------

SETTINGS = [
    ({"POLL_INTERVAL": math.nan}, "pgflow.E003", "finite number of seconds"),
    ({"LEASE_MARGIN": math.inf}, "pgflow.E003", "finite number of seconds"),
    ({"DEFAULT_TIMEOUT": 1e300}, "pgflow.E003", "at most 315360000"),
    ({"WORKER_DEAD_AFTER": 10**12}, "pgflow.E003", "at most 315360000"),
    ({"DEFAULT_PRIORITY": 40000}, "pgflow.E003", "at most 32767"),
    ({"DEFAULT_PRIORITY": -40000}, "pgflow.E003", "at least -32768"),
    ({"DEFAULT_MAX_ATTEMPTS": 10**9}, "pgflow.E003", "at most 1000000"),
    ({"MAX_PAYLOAD_BYTES": "1MB"}, "pgflow.E002", "must be int, got str"),
    ({"DEFAULT_QUEUE": HOSTILE_NAME}, "pgflow.E004", "invalid queue name"),
    ({"DEFAULT_QUEUE": None}, "pgflow.E002", "must be str, got NoneType"),
    ({"QUEUES": {HOSTILE_NAME: {}}}, "pgflow.E004", "invalid queue name"),
    ({"QUEUES": {"slow": {"timeout": 1e300}}}, "pgflow.E006", "timeout must be at most"),
    ({"QUEUES": {"slow": {"priority": "high"}}}, "pgflow.E006", "priority must be an int"),
    ({"RETENTION": {"completed": math.nan}}, "pgflow.E005", "number of seconds"),
]


@pytest.mark.parametrize(("config", "expected", "text"), SETTINGS)
def test_bad_settings_are_system_check_errors(config, expected, text):
    with override_settings(PGFLOW=config):
        errors = check_settings()
    assert [e.id for e in errors] == [expected], errors
    assert text in errors[0].msg


@pytest.mark.parametrize(
    ("config", "match"),
    [
        ({"DEFAULT_TIMEOUT": 1e300}, "timeout must be at most"),
        ({"DEFAULT_QUEUE": HOSTILE_NAME}, "Invalid queue name"),
        ({"DEFAULT_PRIORITY": 40000}, "between -32768 and 32767"),
        ({"MAX_PAYLOAD_BYTES": 10}, "over the limit of 10 bytes"),
    ],
)
def test_bad_settings_that_escaped_the_checks_refuse_the_enqueue(existing, config, match):
    with override_settings(PGFLOW=config):
        assert_refused(
            lambda: enqueue("other.tasks.remote", ["x" * 20], allow_unknown=True),
            InvalidJobError,
            match,
        )


# --- the SQL functions, called directly --------------------------------------------

ENQUEUE_SQL = (
    "SELECT id FROM django_pgflow.enqueue(%s, %s, %s::jsonb, %s::jsonb"
    + ", %s" * 8
    + ", NULL, %s)"  # no resources; the lock key
)


def enqueue_sql(**bad: Any) -> tuple[str, list[Any]]:
    params = {
        "queue": "default",
        "task_name": "t.x",
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
    params.update(bad)
    return ENQUEUE_SQL, list(params.values())


SQL_CALLS = [
    (*enqueue_sql(queue=None), "pgflow: invalid queue name 'NULL'"),
    (*enqueue_sql(queue=HOSTILE_NAME), "pgflow: invalid queue name"),
    (*enqueue_sql(task_name=None), "pgflow: invalid task name 'NULL'"),
    (*enqueue_sql(task_name=HOSTILE_NAME), "pgflow: invalid task name"),
    (*enqueue_sql(args=None), "pgflow: args must be a JSON array, got NULL"),
    (*enqueue_sql(args='{"a": 1}'), "pgflow: args must be a JSON array, got object"),
    (*enqueue_sql(kwargs="[]"), "pgflow: kwargs must be a JSON object, got array"),
    (*enqueue_sql(priority=None), "pgflow: priority must be an integer"),
    (*enqueue_sql(priority=40000), "pgflow: priority must be an integer between"),
    (*enqueue_sql(delay=-1), "pgflow: delay must be >= 0 seconds"),
    (*enqueue_sql(delay=math.nan), "pgflow: delay must be .* got NaN"),
    (*enqueue_sql(delay=math.inf), "pgflow: delay must be .* got Infinity"),
    (*enqueue_sql(max_attempts=0), "pgflow: max_attempts must be between 1 and 1000000"),
    (*enqueue_sql(max_attempts=None), "pgflow: max_attempts must be .* got NULL"),
    (*enqueue_sql(retry_delay=math.nan), "pgflow: retry_delay must be"),
    (*enqueue_sql(max_retry_delay=-5), "pgflow: max_retry_delay must be"),
    (*enqueue_sql(timeout=0), "pgflow: timeout must be > 0 seconds"),
    (*enqueue_sql(timeout=1e300), "pgflow: timeout must be .* at most 315360000"),
    (*enqueue_sql(timeout=None), "pgflow: timeout must be .* got NULL"),
    (*enqueue_sql(unique_key=""), "pgflow: unique_key must be NULL or a non-empty string"),
    (*enqueue_sql(run_at="infinity"), "pgflow: run_at must be a finite time"),
    ("SELECT * FROM django_pgflow.enqueue_many(%s)", [None], "pgflow: enqueue_many takes a JSON"),
    (
        "SELECT * FROM django_pgflow.enqueue_many(%s)",
        ["{}"],
        "takes a JSON array of jobs, got object",
    ),
    ("SELECT * FROM django_pgflow.enqueue_many(%s)", ["[1]"], "pgflow: enqueue_many job 1 must be"),
    (
        "SELECT * FROM django_pgflow.enqueue_many(%s)",
        [
            '[{"queue": "default", "task_name": "t.x"}, {"queue": "default", "task_name": "t.x", '
            '"priority": "high"}]'
        ],
        "pgflow: enqueue_many job 2: priority must be a JSON number, got string",
    ),
    (
        "SELECT * FROM django_pgflow.enqueue_many(%s)",
        ['[{"queue": "default", "task_name": "t.x", "priority": 1.5}]'],
        "pgflow: enqueue_many job 1: priority and max_attempts must be whole numbers",
    ),
    (
        "SELECT * FROM django_pgflow.enqueue_many(%s)",
        ['[{"queue": "default", "task_name": "t.x", "run_at": "soon"}]'],
        "pgflow: enqueue_many job 1: run_at 'soon' is not a timestamp",
    ),
    (
        "SELECT * FROM django_pgflow.enqueue_many(%s)",
        ['[{"queue": "default", "task_name": "t.x", "args": {}}]'],
        "pgflow: enqueue_many job 1: args must be a JSON array, got object",
    ),
    (
        "SELECT * FROM django_pgflow.enqueue_many(%s)",
        ['[{"queue": "default", "task_name": "t.x", "delay": -5}]'],
        "pgflow: enqueue_many job 1: delay must be >= 0 seconds",
    ),
    (
        "SELECT * FROM django_pgflow.enqueue_many(%s)",
        ['[{"queue": "default", "task_name": "t.x", "timeout": 1e300, "unique_key": "u"}]'],
        "pgflow: enqueue_many job 1: timeout must be",
    ),
    # enqueue_batch: options once per group, payloads per job, named by position.
    (BATCH, ["{}", [0], "[[]]", None, None], "enqueue_batch takes JSON arrays"),
    (BATCH, [OPTS, [0, 0], "[[]]", None, None], "one option index, args, kwargs and metadata"),
    (BATCH, [OPTS, [0], "[[]]", "[{}, {}]", None], "one option index, args, kwargs and metadata"),
    (BATCH, [OPTS, [0, 1], "[[], []]", None, None], "enqueue_batch job 2: no options at index 1"),
    (BATCH, [OPTS, [0, None], "[[], []]", None, None], "job 2: no options at index <NULL>"),
    (BATCH, [OPTS, [0, 0], '[[], {"a": 1}]', None, None], "job 2: args must be a JSON array"),
    (BATCH, [OPTS, [0, 0], "[[], []]", "[{}, [1]]", None], "job 2: kwargs must be a JSON object"),
    (BATCH, [OPTS, [0, 0], "[[], []]", None, "[null, 1]"], "job 2: metadata must be a JSON obj"),
    (BATCH, [OPTS, [0, 0], f"[[], {'[' * 150}{']' * 150}]", None, None], "job 2: args is nested"),
    (BATCH, [OPTS, [0, 0], "[[], [1e400]]", None, None], "job 2: args holds a number beyond"),
    (
        BATCH,
        [OPTS, [0, 0], f'[[], ["{"x" * 2_000_000}"]]', None, None],
        "job 2: args is 2000004 bytes of JSON, over the limit",
    ),
    (
        BATCH,
        [
            '[{"queue": "default", "task_name": "t.x"}, {"queue": "default", "task_name": "t.x", '
            '"priority": 99999}]',
            [0, 0, 1],
            "[[], [], []]",
            None,
            None,
        ],
        "enqueue_many job 3: priority must be between",
    ),
    (
        BATCH,
        ['[{"queue": "no such queue!", "task_name": "t.x"}]', [0], "[[]]", None, None],
        "enqueue_many job 1: invalid queue name",
    ),
    ("SELECT django_pgflow.retry(%s, %s)", [1, -1], "pgflow: retry delay must be"),
    ("SELECT django_pgflow.retry(%s, %s)", [1, math.nan], "pgflow: retry delay must be"),
    ("SELECT django_pgflow.retry(%s, %s)", [1, None], "pgflow: retry delay must be .* got NULL"),
    ("SELECT django_pgflow.start_flow(%s, '{}')", [None], "pgflow: unknown flow 'NULL'"),
    ("SELECT django_pgflow.start_flow(%s, '{}')", [HOSTILE_NAME], "pgflow: unknown flow"),
    ("SELECT django_pgflow.prune(%s, 1)", [None], "pgflow: prune only removes finished jobs"),
    ("SELECT django_pgflow.prune(%s, 1)", ["queued"], "pgflow: prune only removes finished"),
    ("SELECT django_pgflow.prune('failed', %s)", [-1], "pgflow: prune age must be"),
    ("SELECT django_pgflow.prune('failed', %s)", [math.inf], "pgflow: prune age must be"),
    ("SELECT django_pgflow.prune('failed', 1, %s)", [-1], "pgflow: prune batch size must be"),
    ("SELECT django_pgflow.prune_runs(%s, 1)", ["started"], "pgflow: prune_runs only removes"),
    ("SELECT django_pgflow.prune_runs('failed', %s)", [math.nan], "pgflow: prune age must be"),
    ("SELECT django_pgflow.prune_runs('failed', 1, %s)", [0], "pgflow: prune batch size must"),
    ("SELECT django_pgflow.prune_workers(%s)", [-1], "pgflow: worker prune age must be"),
    ("SELECT django_pgflow.prune_workers(%s)", [None], "pgflow: worker prune age must be"),
    ("SELECT django_pgflow.reap(%s)", [-1], "pgflow: dead_after must be"),
    ("SELECT django_pgflow.reap(%s)", [None], "pgflow: dead_after must be"),
    ("SELECT django_pgflow.reap(%s)", [math.nan], "pgflow: dead_after must be"),
    # Issue 12 item 4: arguments that went unchecked.
    (
        "SELECT django_pgflow.sync_limits(%s, '{}')",
        ['{"gpu": 100000000}'],
        "pgflow: capacity of resource gpu must be a whole number from 0 to 10000",
    ),
    (
        "SELECT django_pgflow.sync_limits('{}', %s)",
        ['{"emails": {"concurrency": 0}}'],
        "pgflow: concurrency of queue emails must be a whole number from 1 to 10000",
    ),
    (
        "SELECT django_pgflow.sync_limits('{}', %s)",
        ['{"emails": {"rate_count": 5}}'],
        "pgflow: queue emails needs a rate_period",
    ),
    (
        "SELECT django_pgflow.sync_limits('{}', '{}', %s)",
        ['{"max_payload_bytes": 0}'],
        "pgflow: max_payload_bytes must be a whole number from 1",
    ),
    ("SELECT * FROM django_pgflow.claim(%s, NULL, 10)", [None], "pgflow: worker NULL is not"),
    ("SELECT * FROM django_pgflow.claim(%s, NULL, 10)", [-1], "pgflow: worker -1 is not"),
    ("SELECT django_pgflow.start_flow('linear_chain', %s)", [None], "got SQL NULL"),
    (
        "SELECT django_pgflow.start_flow('linear_chain', '{}', %s)",
        [""],
        "pgflow: run_key must be NULL or a non-empty string",
    ),
    (
        "SELECT * FROM django_pgflow.enqueue_many(%s)",
        ['[{"queue": "default", "task_name": "t.x", "lock_key": ""}]'],
        "pgflow: enqueue_many job 1: lock_key must be NULL or a non-empty string",
    ),
    (*enqueue_sql(lock_key=""), "pgflow: lock_key must be NULL or a non-empty string"),
    (
        *enqueue_sql(task_name="pgflow.step.linear_chain.first"),
        "pgflow: 'pgflow.step.linear_chain.first' is the task of a flow step",
    ),
]


@pytest.mark.parametrize(("sql", "params", "match"), SQL_CALLS)
def test_sql_functions_raise_a_pgflow_error_and_change_nothing(existing, sql, params, match):
    def call() -> None:
        with connection.cursor() as cursor:
            cursor.execute(sql, params)

    assert_refused(call, DataError, match)


@pytest.mark.parametrize(
    ("sql", "params", "error", "match"),
    [
        # PostgreSQL refuses these before any pgflow function runs.
        ("SELECT django_pgflow.cancel(%s)", ["abc"], DataError, "type bigint"),
        ("SELECT django_pgflow.cancel_run(%s)", ["1; DROP TABLE pgflow_job"], DataError, "bigint"),
        ("SELECT django_pgflow.resume_run(%s::bigint)", [2**70], DataError, "out of range"),
        ("SELECT django_pgflow.retry(1, %s)", ["soon"], DataError, "double precision"),
        (
            "SELECT id FROM django_pgflow.enqueue('default', 't.x', %s::jsonb)",
            ['["\\u0000"]'],
            DataError,
            "unsupported Unicode escape",
        ),
        (
            "SELECT id FROM django_pgflow.enqueue('default', 't.x', %s::jsonb)",
            ["[NaN]"],
            DataError,
            "invalid input syntax for type json",
        ),
        ("SELECT django_pgflow.cancel(%s)", [True], ProgrammingError, "does not exist"),
    ],
)
def test_sql_functions_wrongly_typed_arguments_are_refused_by_postgres(
    existing, sql, params, error, match
):
    def call() -> None:
        with connection.cursor() as cursor:
            cursor.execute(sql, params)

    assert_refused(call, error, match)


@pytest.mark.parametrize(
    "sql",
    [
        "SELECT django_pgflow.cancel(NULL)",
        "SELECT django_pgflow.cancel(-1)",
        "SELECT django_pgflow.retry(-1)",
        "SELECT django_pgflow.cancel_run(NULL)",
        "SELECT django_pgflow.resume_run(-1)",
        "SELECT django_pgflow.complete(-1, -1, 1, '1')",
        "SELECT django_pgflow.fail(-1, -1, 1, '{}')",
        "SELECT django_pgflow.fail(NULL, NULL, NULL, NULL)",
        "SELECT django_pgflow.heartbeat(-1, 30)",
    ],
)
def test_sql_functions_ignore_unknown_ids(existing, sql):
    before = snapshot()
    with connection.cursor() as cursor:
        cursor.execute(sql)
        assert cursor.fetchone()[0] in (False, None, -1)
    assert snapshot() == before


# --- workers keep working ---------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_a_worker_survives_bad_input_and_jobs_whose_args_make_the_task_raise(worker_thread):
    worker = worker_thread(concurrency=1)
    for call, match in [(ENQUEUE[0][0], "nested"), (ENQUEUE[13][0], "timeout")]:
        with pytest.raises(InvalidJobError, match=match):
            call()
    with pytest.raises(DataError, match="pgflow: timeout"), connection.cursor() as cursor:
        cursor.execute(*enqueue_sql(timeout=1e300))
    # Stored args that make the body raise: a wrong type, a wrong arity, an unknown
    # task, and a body calling sys.exit() (which must not end the only task thread).
    wrong_type = record.using(max_attempts=1).enqueue("k", sleep="not a number")
    wrong_arity = enqueue(record.name, args=[1, 2, 3, 4], max_attempts=1)
    unknown = enqueue("elsewhere.tasks.gone", args=[1], allow_unknown=True, max_attempts=1)
    exiting = exits.using(max_attempts=1).enqueue(3)
    good = record.enqueue("good")

    wait_for(lambda: good.refresh().status == "completed", 30)
    errors = {}
    for job in (wrong_type, wrong_arity, unknown, exiting):
        wait_for(lambda job=job: job.refresh().status == "failed", 30)
        errors[job.pk] = job.errors[0]["error"]
    assert errors == {
        wrong_type.pk: "TypeError",
        wrong_arity.pk: "TypeError",
        unknown.pk: "UnknownTaskError",
        exiting.pk: "SystemExit",
    }
    assert good.result == "good"
    worker.stop()
    assert worker.exit_code == 0


FAST = {"LEASE_MARGIN": 1, "WORKER_DEAD_AFTER": 3, "HEARTBEAT_INTERVAL": 0.3}


@pytest.mark.django_db(transaction=True)
def test_a_job_that_kills_its_worker_process_fails_and_the_queue_keeps_going(worker_process):
    sup = worker_process(
        "--processes", "2", "--concurrency", "1", "--batch-size", "1", overrides=FAST
    )
    poison = crash_worker.using(max_attempts=3).enqueue("poison")
    good = enqueue_many([record.s(f"g{n}", sleep=0.05) for n in range(20)])

    wait_for(lambda: poison.refresh().status == "failed", 90)
    assert poison.attempts == 3
    assert [e["error"] for e in poison.errors] == ["WorkerLostError"] * 3
    for attempt, entry in enumerate(poison.errors, 1):
        assert "exited with code 1 while running job" in entry["message"]
        assert f"attempt {attempt}" in entry["message"]
    crashed = set(Execution.objects.filter(task="crash_worker").values_list("pid", flat=True))
    assert len(crashed) == 3  # one process per attempt, each died

    # Every good job on the same queue completed; the supervisor restarted children.
    wait_for(lambda: Job.objects.filter(pk__in=good, status="completed").count() == 20, 60)
    assert sup.proc.poll() is None
    for pid in crashed:
        assert f"worker process {pid} exited with 1; restarting" in sup.output()
    after = record.enqueue("after-the-poison")
    wait_for(lambda: after.refresh().status == "completed", 30)
    sup.signal(signal.SIGTERM)
    assert sup.wait(30) == 0, sup.output()
