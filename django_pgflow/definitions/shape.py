"""A flow as the rows of the definition tables, and the hash of its shape.

Options are resolved here (the step's value, else the flow's, else the
``PGFLOW`` setting), so the tables hold everything the SQL core needs and the
hash changes whenever what the tables would hold changes.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import Any

from ..conf import pgflow_settings
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
    }
    steps = [_step_row(spec, s, index) for index, s in enumerate(spec.steps)]
    deps = [(s.slug, dep) for s in spec.steps for dep in s.depends_on]
    return FlowRows(flow=flow, steps=steps, deps=deps, shape_hash=_hash(flow, steps, deps))


def _step_row(flow: FlowSpec, spec: StepSpec, index: int) -> dict[str, Any]:
    o = spec.options
    return {
        "slug": spec.slug,
        "index": index,
        "step_type": "map" if o.map else "single",
        "dep_count": len(o.depends_on),
        "is_leaf": spec.slug in flow.leaves,
        "max_attempts": o.max_attempts,
        "base_delay": _float_or_none(o.base_delay),
        "timeout": _float_or_none(o.timeout),
        "start_delay": float(o.start_delay),
        "queue": o.queue or flow.queue or pgflow_settings.DEFAULT_QUEUE,
        "priority": _first(o.priority, pgflow_settings.DEFAULT_PRIORITY),
        "on_failure": o.on_failure,
        "condition": o.condition,
        "on_condition_false": o.on_condition_false,
    }


def _hash(flow: dict[str, Any], steps: list[dict[str, Any]], deps: list[tuple[str, str]]) -> str:
    # The key (slug, version) is not part of the shape, and neither is the step
    # index: any topological order of the same graph is as good as another, so
    # reordering methods in the class body does not ask for a new version.
    shape = {
        "flow": {k: v for k, v in flow.items() if k not in ("slug", "version")},
        "steps": sorted(
            ({k: v for k, v in row.items() if k != "index"} for row in steps),
            key=lambda row: row["slug"],
        ),
        "deps": sorted(deps),
    }
    return hashlib.sha256(canonical_json(shape).encode()).hexdigest()


def canonical_json(value: Any) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def _first(value: Any, default: Any) -> Any:
    return default if value is None else value


def _float_or_none(value: float | None) -> float | None:
    return None if value is None else float(value)
