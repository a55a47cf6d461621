"""Which values each parameter gets: sane ones (so that calls do reach the
stored rows) and hostile ones, chosen by parameter name, then by SQL type.

A parameter no rule here knows (a function added later) still gets the
hostile values of its type: it is covered without anyone listing it.
"""

from __future__ import annotations

import json as _json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from hypothesis import strategies as st

from . import values as v
from .world import NOOP, QUEUE_LIMITS, RESOURCES, Pools

STATUSES = ("completed", "failed", "cancelled", "queued", "started")
QUEUES = ("default", "held", "own", "limited", "rated", "done")
FLOWS = ("linear_chain", "square_sum", "tiny_chain")
STEPS = ("first", "second", "numbers", "square", "one")
STEP_TASK = "pgflow.step.linear_chain.first"


@dataclass
class Param:
    """How to draw one argument: its sane values, and its hostile ones."""

    sane: st.SearchStrategy[Any]
    hostile: st.SearchStrategy[Any]


def pick(pool: list[Any]) -> st.SearchStrategy[Any]:
    return st.sampled_from(pool)


def ids(pools: Pools, kind: str) -> list[int]:
    if kind == "worker":
        order = ("other", "own", "real", "stopped")
        return [pools.workers[k] for k in order]
    if kind == "run":
        return list(pools.runs.values())
    return pools.job_ids()


def bigint(pools: Pools, kind: str) -> Param:
    ghosts = [pools.ghost, None, 0, -1]
    return Param(pick(ids(pools, kind)), st.one_of(pick(ghosts), v.hostile_bigint()))


def attempts(pools: Pools) -> Param:
    seen = sorted(set(pools.attempts.values()) | {1})
    return Param(pick(seen), v.hostile_int())


def id_array(pools: Pools, kind: str, of_attempts: bool = False) -> Param:
    pool = sorted(set(pools.attempts.values()) | {1}) if of_attempts else ids(pools, kind)
    sane = st.lists(pick(pool), min_size=1, max_size=4)
    hostile = st.one_of(pick(v.HOSTILE_ID_ARRAYS), st.lists(v.hostile_bigint(), max_size=4))
    return Param(sane, hostile)


def number(*sane: float) -> Param:
    return Param(pick(list(sane)), v.hostile_float())


def integer(*sane: int) -> Param:
    return Param(pick(list(sane)), v.hostile_int())


def text(*sane: str) -> Param:
    return Param(v.sane_text(*sane), v.hostile_text())


def text_array(*sane: str) -> Param:
    names = st.lists(pick(list(sane)), min_size=0, max_size=3).map(v.text_array)
    return Param(names, st.one_of(pick(v.HOSTILE_TEXT_ARRAYS), v.hostile_text()))


def json(*sane: Any) -> Param:
    return Param(v.sane_json(*sane), v.hostile_json())


def json_text(*sane: str) -> Param:
    """A JSON string field: sane names, or hostile text as a JSON string, or hostile JSON."""
    as_string = v.hostile_text().map(
        lambda t: v.as_json(None if t is None else t.data.decode("utf-8", "replace"))
    )
    return Param(v.sane_json(*sane), st.one_of(as_string, v.hostile_json()))


def timestamp() -> Param:
    sane = pick([None, v.raw("now"), v.raw("2000-01-01 00:00:00+00")])
    return Param(sane, v.hostile_timestamp())


def boolean() -> Param:
    return Param(st.booleans(), st.none())


ERROR = {"error": "Boom", "message": "from the hostile suite", "traceback": None}
IMPOSSIBLE_RESOURCES = [{"gpu": 99}, {"undeclared": 1}, {"gpu": 0}, {"gpu": 1.5}, {"gpu": 2**40}]
IMPOSSIBLE_RESOURCES += [{"gpu": "1"}, {"GPU": 1}, {"": 1}, ["gpu"], {"gpu": -1}]


def resources() -> Param:
    hostile = st.one_of(pick([v.as_json(r) for r in IMPOSSIBLE_RESOURCES]), v.hostile_json())
    return Param(v.sane_json({"gpu": 1}, None, {"tpu": 1}, {}), hostile)


def limits_of_resources() -> Param:
    hostile = [{"gpu": 100_000_000}, {"gpu": -1}, {"gpu": 2**31}, {"gpu": 1.5}, {"GPU": 1}]
    hostile += [{"gpu": "x"}, {"gpu": None}, {"a" * 64: 1}]
    sane = v.sane_json(RESOURCES, {"gpu": 2, "tpu": 1}, {})
    return Param(sane, st.one_of(pick([v.as_json(h) for h in hostile]), v.hostile_json()))


def limits_of_queues() -> Param:
    hostile = [
        {"limited": {"concurrency": 100_000_000}},
        {"limited": {"concurrency": 0}},
        {"limited": {"concurrency": -5}},
        {"rated": {"rate_count": 0, "rate_period": 1}},
        {"rated": {"rate_count": 10, "rate_period": 0}},
        {"rated": {"rate_count": 10, "rate_period": -1}},
        {"rated": {"rate_count": 100_000_000, "rate_period": 1}},
        {"rated": {"rate_count": 10}},
        {"BAD NAME": {"concurrency": 1}},
        {"limited": "x"},
    ]
    sane = v.sane_json(QUEUE_LIMITS, {}, {"limited": {"concurrency": 1}})
    return Param(sane, st.one_of(pick([v.as_json(h) for h in hostile]), v.hostile_json()))


def job_fields(pools: Pools) -> dict[str, Param]:
    """The fields of an enqueue_many item (and of a periodic schedule's job)."""
    return {
        "queue": json_text(*QUEUES),
        "task_name": json_text(NOOP, "no.such.task", STEP_TASK),
        "args": json([], [1, 2], ["x"]),
        "kwargs": json({}, {"key": "v"}),
        "priority": Param(v.sane_json(0, 5, -5), v.hostile_json()),
        "run_at": Param(v.sane_json(None, "2000-01-01T00:00:00Z"), v.hostile_json()),
        "delay": Param(v.sane_json(None, 0, 10.5), v.hostile_json()),
        "max_attempts": Param(v.sane_json(3, 1), v.hostile_json()),
        "retry_delay": Param(v.sane_json(1, 0), v.hostile_json()),
        "max_retry_delay": Param(v.sane_json(3600), v.hostile_json()),
        "timeout": Param(v.sane_json(300, 1), v.hostile_json()),
        "unique_key": Param(v.sane_json(None, "u1", "u2"), v.hostile_json()),
        "lock_key": Param(v.sane_json(None, "k1", "k2"), v.hostile_json()),
        "resources": resources(),
    }


def job_object(pools: Pools, hostile: bool) -> st.SearchStrategy[v.Raw]:
    fields = job_fields(pools)
    chosen = {k: (p.hostile if hostile else p.sane) for k, p in fields.items()}
    if not hostile:  # a sane job names its queue and task
        sane = v.json_object(chosen)
        return sane.filter(lambda raw: b'"queue"' in raw.data and b'"task_name"' in raw.data)
    return v.json_object({k: st.one_of(fields[k].sane, chosen[k]) for k in fields})


def flow_json(pools: Pools) -> st.SearchStrategy[Any]:
    """A flow definition with one field made hostile, or hostile JSON."""
    base = pools.flows[0]
    fields = sorted(base)

    @st.composite
    def spoiled(draw: st.DrawFn) -> v.Raw:
        key = draw(st.sampled_from(fields), label="hostile field")
        value = draw(v.hostile_json(), label=key)
        parts = [
            _json.dumps(k).encode()
            + b":"
            + (
                (b"null" if value is None else value.data)
                if k == key
                else _json.dumps(base[k]).encode()
            )
            for k in fields
        ]
        return v.Raw(b"{" + b",".join(parts) + b"}", f"<flow definition, {key}: {value!r}>")

    return st.one_of(spoiled(), v.hostile_json())


def batch_part(sane: st.SearchStrategy[v.Raw], hostile: st.SearchStrategy[Any]) -> Param:
    """One of enqueue_batch's parallel JSON arrays: an element per job."""
    return Param(
        v.json_array(sane, min_size=2, max_size=2),
        st.one_of(
            v.json_array(hostile.filter(lambda x: x is not None), max_size=3), v.hostile_json()
        ),
    )


def batch_options(pools: Pools) -> Param:
    fields = {k: p for k, p in job_fields(pools).items() if k not in ("args", "kwargs")}
    sane = v.json_object({k: p.sane for k, p in fields.items()}).filter(
        lambda raw: b'"queue"' in raw.data and b'"task_name"' in raw.data
    )
    hostile = v.json_object({k: st.one_of(p.sane, p.hostile) for k, p in fields.items()})
    return Param(
        v.json_array(sane, min_size=1, max_size=2),
        st.one_of(v.json_array(hostile, max_size=3), v.hostile_json()),
    )


def job_list(pools: Pools) -> Param:
    sane = v.json_array(job_object(pools, False), min_size=1)
    hostile = st.one_of(
        v.json_array(job_object(pools, True), min_size=1, max_size=3),
        v.hostile_json(),
    )
    return Param(sane, hostile)


def periodic_job(pools: Pools) -> Param:
    return Param(job_object(pools, False), st.one_of(job_object(pools, True), v.hostile_json()))


Rule = Callable[[Pools], Param]
# (function, parameter) first, then the parameter's name alone.
BY_FUNCTION: dict[tuple[str, str], Rule] = {
    ("register_worker", "p_queues"): lambda p: json(["default"], [], ["held", "own"]),
    ("sync_limits", "p_queues"): lambda p: limits_of_queues(),
    ("sync_limits", "p_resources"): lambda p: limits_of_resources(),
    ("enqueue_many", "p_jobs"): job_list,
    ("sync_periodic", "p_job"): periodic_job,
    ("check_job_json", "p_job"): periodic_job,
    ("enqueue_batch", "p_options"): batch_options,
    ("enqueue_batch", "p_option"): lambda p: Param(
        pick([[0, 0], [0, 1], [1, 0]]),
        st.one_of(pick(v.HOSTILE_ID_ARRAYS), st.lists(v.hostile_int(), max_size=3)),
    ),
    ("enqueue_batch", "p_args"): lambda p: batch_part(v.sane_json([], [1, 2]), v.hostile_json()),
    ("enqueue_batch", "p_kwargs"): lambda p: batch_part(
        v.sane_json({}, {"k": 1}), v.hostile_json()
    ),
    ("enqueue_batch", "p_metadata"): lambda p: batch_part(
        v.sane_json({}, {"trace": "t"}), v.hostile_json()
    ),
}
BY_NAME: dict[str, Rule] = {
    "p_worker_id": lambda p: bigint(p, "worker"),
    "p_job_id": lambda p: bigint(p, "job"),
    "p_run_id": lambda p: bigint(p, "run"),
    "p_attempt": attempts,
    "p_attempts": lambda p: id_array(p, "job", of_attempts=True),
    "p_ids": lambda p: id_array(p, "job"),
    "p_job_ids": lambda p: id_array(p, "job"),
    "p_known": lambda p: id_array(p, "job"),
    "p_run_ids": lambda p: id_array(p, "run"),
    "p_queues": lambda p: text_array(*QUEUES),
    "p_step_slugs": lambda p: text_array(*STEPS),
    "p_limit": lambda p: integer(1, 2, 4),
    "p_want": lambda p: integer(1, 2),
    "p_lease_margin": lambda p: number(30.0, 0.0),
    "p_delay": lambda p: number(0.0, 10.0),
    "p_timeout": lambda p: number(300.0, 1.0),
    "p_retry_delay": lambda p: number(1.0, 0.0),
    "p_max_retry_delay": lambda p: number(3600.0, 10.0),
    "p_dead_after": lambda p: number(60.0, 1.0),
    "p_older_than": lambda p: number(0.0, 86400.0),
    "p_priority": lambda p: integer(0, 5),
    "p_max_attempts": lambda p: integer(3, 1),
    "p_batch_size": lambda p: integer(10, 1000),
    "p_concurrency": lambda p: integer(4, 1),
    "p_pid": lambda p: integer(4242, 1),
    "p_task_index": lambda p: integer(0, 1),
    "p_status": lambda p: text(*STATUSES),
    "p_queue": lambda p: text(*QUEUES),
    "p_task_name": lambda p: text(NOOP, "no.such.task", STEP_TASK),
    "p_flow_slug": lambda p: text(*FLOWS),
    "p_step_slug": lambda p: text(*STEPS),
    "p_name": lambda p: text("nightly", "hourly"),
    "p_hostname": lambda p: text("host-a"),
    "p_cron": lambda p: text("0 3 * * *", "* * * * *"),
    "p_timezone": lambda p: text("UTC", "Europe/Paris"),
    "p_unique_key": lambda p: Param(pick([None, v.raw("u1"), v.raw("u9")]), v.hostile_text()),
    "p_lock_key": lambda p: Param(pick([None, v.raw("k1"), v.raw("k9")]), v.hostile_text()),
    "p_run_key": lambda p: Param(pick([None, v.raw("held"), v.raw("r9")]), v.hostile_text()),
    "p_policy": lambda p: text("fail", "skip", "skip-cascade"),
    "p_what": lambda p: text("delay"),
    "p_args": lambda p: json([], [1, 2]),
    "p_kwargs": lambda p: json({}, {"key": "v"}),
    "p_input": lambda p: json({"n": 1}, {"numbers": [1, 2]}, {}),
    "p_result": lambda p: json(1, "ok", {"a": [1, 2]}, None),
    "p_results": lambda p: Param(
        st.lists(v.sane_json(1, "ok"), min_size=1, max_size=4),
        st.lists(v.hostile_json().filter(lambda x: x is not None), max_size=3),
    ),
    "p_output": lambda p: json(1, [1, 2], None),
    "p_error": lambda p: json(ERROR),
    "p_errors": lambda p: json([ERROR]),
    "p_reason": lambda p: json(ERROR),
    "p_resources": lambda p: resources(),
    "p_flow": lambda p: Param(v.sane_json(*p.flows), flow_json(p)),
    "p_deps": lambda p: text_array("first", "one"),
    "p_step_type": lambda p: text("single", "map"),
    "p_on_failure": lambda p: text("fail", "skip", "skip-cascade"),
    "p_on_condition_false": lambda p: text("skip", "skip-cascade"),
    "p_condition": lambda p: json(None, {"n": 1}),
    "p_condition_not": lambda p: json(None, {"n": 1}),
    "p_version": lambda p: integer(1, 2),
    "p_base_delay": lambda p: number(1.0, 0.0),
    "p_start_delay": lambda p: number(0.0, 5.0),
    "p_force": lambda p: boolean(),
    "p_metadata": lambda p: json(None, {"trace": "abc"}, {}),
    "p_settings": lambda p: json({}, {"max_payload_bytes": 1048576}),
}
# The type each name above was written for: another type falls back to BY_TYPE.
NAME_TYPES = {
    "p_queues": "text[]",
    "p_resources": "jsonb",
    "p_job": "jsonb",
    "p_attempt": "integer",
}
NAME_TYPES |= dict.fromkeys(("p_ids", "p_job_ids", "p_known", "p_run_ids"), "bigint[]")
NAME_TYPES |= {"p_attempts": "integer[]", "p_results": "jsonb[]", "p_step_slugs": "text[]"}
BY_TYPE: dict[str, Rule] = {
    "bigint": lambda p: bigint(p, "job"),
    "integer": lambda p: integer(0, 1, 2),
    "double precision": lambda p: number(0.0, 1.0, 30.0),
    "text": lambda p: text("default"),
    "jsonb": lambda p: json({}, []),
    "boolean": lambda p: boolean(),
    "timestamp with time zone": lambda p: timestamp(),
    "text[]": lambda p: text_array(*QUEUES),
    "bigint[]": lambda p: id_array(p, "job"),
    "integer[]": lambda p: id_array(p, "job", of_attempts=True),
    "jsonb[]": lambda p: BY_NAME["p_results"](p),
}


SCALAR = "a scalar type"


def is_scalar(kind: str, name: str) -> bool:
    """A name's rule was written for one type: an array or a row type of the
    same name falls back to its type's values."""
    return name in NAME_TYPES or not (kind.endswith("[]") or kind.startswith("pgflow_"))


def param(function: str, name: str, kind: str, pools: Pools) -> Param:
    rule = BY_FUNCTION.get((function, name))
    if rule is None and NAME_TYPES.get(name, SCALAR) in (kind, SCALAR) and is_scalar(kind, name):
        rule = BY_NAME.get(name)
    rule = rule or BY_TYPE.get(kind)
    if rule is None:  # a type no rule knows: NULL, and text its cast must refuse
        return Param(st.none(), v.hostile_text())
    return rule(pools)
