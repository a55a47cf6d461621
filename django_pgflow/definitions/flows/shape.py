"""A flow as the rows of the definition tables, and the hash of its shape.

Options are resolved here (the step's value, else the flow's, else its
queue's default in ``PGFLOW["QUEUES"]``, else the ``PGFLOW`` setting: invariant
3), so the tables hold everything the SQL core needs. The shape is the graph
only (steps, their kind, their dependencies): options may change under runs
in flight, the graph may not.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import Any

from ...conf import pgflow_settings
from ...queue.options import queue_defaults
from .flow_graph import FlowSpec
from .flow_step import StepSpec


@dataclass(frozen=True)
class FlowRows:
    """What one flow version writes: its ``pgflow_flow``, ``pgflow_step`` and deps rows."""

    flow: dict[str, Any]
    steps: list[dict[str, Any]]
    deps: list[tuple[str, str]]  # (step_slug, dep_slug)
    shape_hash: str


def flow_rows(spec: FlowSpec) -> FlowRows:
    flow = {
        "slug": spec.slug,
        "version": spec.version,
        "max_attempts": _first(spec.max_attempts, pgflow_settings.DEFAULT_MAX_ATTEMPTS),
        "base_delay": float(_first(spec.base_delay, pgflow_settings.DEFAULT_RETRY_DELAY)),
        "timeout": float(_first(spec.timeout, pgflow_settings.DEFAULT_TIMEOUT)),
        "compensation_queue": _compensation_queue(spec),
    }
    steps = [_step_row(spec, s, index) for index, s in enumerate(spec.steps)]
    deps = [(s.slug, dep) for s in spec.steps for dep in s.depends_on]
    return FlowRows(flow=flow, steps=steps, deps=deps, shape_hash=_hash(flow, steps, deps))


def _step_row(flow: FlowSpec, spec: StepSpec, index: int) -> dict[str, Any]:
    o = spec.options
    queue = o.queue or flow.queue or pgflow_settings.DEFAULT_QUEUE
    of_queue = queue_defaults(queue)
    return {
        "slug": spec.slug,
        "index": index,
        "step_type": "map" if o.map else "single",
        "dep_count": len(o.depends_on),
        "is_leaf": spec.slug in flow.leaves,
        "max_attempts": _first(o.max_attempts, _first(flow.max_attempts, of_queue.max_attempts)),
        "base_delay": _float_or_none(
            _first(o.base_delay, _first(flow.base_delay, of_queue.retry_delay))
        ),
        "timeout": _float_or_none(_first(o.timeout, _first(flow.timeout, of_queue.timeout))),
        "start_delay": float(o.start_delay),
        "queue": queue,
        "priority": _first(o.priority, _first(of_queue.priority, pgflow_settings.DEFAULT_PRIORITY)),
        "on_failure": o.on_failure,
        "condition": o.condition,
        "condition_not": o.unless,
        "on_condition_false": o.on_condition_false,
        "resources": dict(o.resources) if o.resources else None,
    }


SHAPE_KEYS = ("slug", "step_type")


def _hash(flow: dict[str, Any], steps: list[dict[str, Any]], deps: list[tuple[str, str]]) -> str:
    # The graph only. Not the step index (any topological order of the same
    # graph is as good as another, so reordering methods changes nothing), and
    # not the options, which sync updates in place: a run in flight picks them
    # up for the steps it has yet to start.
    shape = {
        "steps": sorted(
            ({k: row[k] for k in SHAPE_KEYS} for row in steps), key=lambda row: row["slug"]
        ),
        "deps": sorted(deps),
    }
    return hashlib.sha256(canonical_json(shape).encode()).hexdigest()


def canonical_json(value: Any) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def _compensation_queue(spec: FlowSpec) -> str | None:
    """The queue of the compensation job; None when the flow declares no handler."""
    if spec.compensation is None:
        return None
    return spec.compensation.queue or spec.queue or pgflow_settings.DEFAULT_QUEUE


def _first(value: Any, default: Any) -> Any:
    return default if value is None else value


def _float_or_none(value: float | None) -> float | None:
    return None if value is None else float(value)
