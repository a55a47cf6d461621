"""What a call may change, and the checks every stored row must pass.

A rule (see ``rules.py``) looks at the rows a call changed and *vets* those
its function documents, reporting what breaks the documented effect. Any
change no rule vetted is a violation too: the default is that nothing changes.
"""

from __future__ import annotations

import json
import math
from collections.abc import Collection, Iterable
from dataclasses import dataclass, field
from typing import Any

from django_pgflow.conf import pgflow_settings
from django_pgflow.validation import _find_non_json

from .snapshot import Change, Diff, Key, Row, Snapshot, as_key
from .values import Raw
from .world import Pools

JSON_COLUMNS = {
    "pgflow_job": ("args", "kwargs", "result", "errors", "resources", "metadata"),
    "pgflow_run": ("input", "output", "error", "metadata"),
    "pgflow_step_state": ("output", "error"),
    "pgflow_step_task": ("output", "error"),
    "pgflow_worker": ("queues",),
    "pgflow_periodic": ("job",),
}
FINISHED = ("completed", "failed", "cancelled")
RUN_TABLES = ("pgflow_step_state", "pgflow_step_task", "pgflow_event")  # rows of a run
ACTIVE = ("queued", "started")


@dataclass
class Call:
    function: str
    role: str
    args: dict[str, Any]
    rows: list[str] | None  # the result, as text, when the call succeeded
    before: Snapshot
    after: Snapshot
    diff: Diff
    pools: Pools
    vetted: set[tuple[str, Key]] = field(default_factory=set)
    violations: list[str] = field(default_factory=list)

    def vet(self, change: Change) -> None:
        self.vetted.add((change.table, change.key))

    def bad(self, message: str) -> None:
        self.violations.append(message)

    def changes(self, table: str) -> list[Change]:
        return self.diff.of(table)

    # --- the arguments, read back as Python values (None when unreadable) ---

    def integer(self, name: str) -> int | None:
        value = self.args.get(name)
        return value if isinstance(value, int) and not isinstance(value, bool) else None

    def number(self, name: str) -> float | None:
        value = self.args.get(name)
        return float(value) if isinstance(value, int | float) else None

    def text(self, name: str) -> str | None:
        value = self.args.get(name)
        if isinstance(value, Raw):
            try:
                return value.data.decode()
            except UnicodeDecodeError:
                return None
        return None

    def json(self, name: str) -> Any:
        text = self.text(name)
        return loads(text) if text is not None else None

    def ids(self, name: str) -> list[int] | None:
        value = self.args.get(name)
        if isinstance(value, list) and all(isinstance(x, int) for x in value):
            return value
        return None

    def names(self, name: str) -> list[str] | None:
        text = self.text(name)
        if text is None or not text.startswith("{"):
            return None
        parsed = loads("[" + text[1:-1] + "]")
        return parsed if isinstance(parsed, list) else None


def loads(text: str) -> Any:
    try:
        return json.loads(text)
    except (ValueError, RecursionError):
        return None


def num(row: Row | None, column: str) -> float | None:
    """A numeric column (ids, counts, epoch timestamps) of a snapshot row."""
    if row is None or row.get(column) is None:
        return None
    return float(row[column])  # type: ignore[arg-type]


def same_id(row: Row | None, column: str, value: int | None) -> bool:
    return value is not None and row is not None and row.get(column) == str(value)


# --- checks every stored row must pass, whatever the call --------------------------


def unreadable(text: str, what: str) -> str | None:
    """Why Python cannot read back this stored JSON (the worker and the admin
    must), or why the Python API would have refused it; None when fine."""
    try:
        value = json.loads(text)
    except (ValueError, RecursionError) as error:
        return f"{what} holds JSON Python cannot read back ({type(error).__name__}: {error!s:.80})"
    return _find_non_json(value, what, 0)


def payload_too_big(row: Row, columns: Iterable[str], what: str) -> str | None:
    size = 0
    for column in columns:
        value = loads(row.get(column) or "null")
        size += len(json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode())
    limit = pgflow_settings.MAX_PAYLOAD_BYTES
    if size > limit:
        return f"{what} stores {size} bytes of JSON, over MAX_PAYLOAD_BYTES ({limit})"
    return None


def check_stored(call: Call) -> None:
    for change in call.diff.changes:
        if change.after is None:
            continue
        new = change.before is None
        where = f"{change.table} {'/'.join(map(str, change.key))}"
        for column in JSON_COLUMNS.get(change.table, ()):
            text = change.after.get(column)
            if text is not None and (new or column in change.columns):
                problem = unreadable(text, f"{where}.{column}")
                if problem:
                    call.bad(problem)
        if change.table == "pgflow_job":
            check_job_row(call, change.after, where)


def check_job_row(call: Call, row: Row, where: str) -> None:
    for column in ("run_at", "lease_expires_at"):
        value = num(row, column)
        if value is not None and not math.isfinite(value):
            call.bad(f"{where}.{column} is {row[column]}")
    if row["status"] == "started" and row["lease_expires_at"] is None:
        call.bad(f"{where} is started with no lease")
    problem = payload_too_big(row, ("args", "kwargs"), where)
    if problem:
        call.bad(problem)
    errors = loads(row.get("errors") or "[]")
    if isinstance(errors, list) and not all(
        isinstance(e, dict) and isinstance(e.get("attempt"), int) for e in errors
    ):
        call.bad(
            f"{where}.errors holds an entry that is not an object with an attempt: {errors!s:.200}"
        )


def undocumented(call: Call) -> None:
    for change in call.diff.changes:
        if (change.table, change.key) not in call.vetted:
            call.bad(f"{call.function} changed what it does not document: {change.describe()}")


def job(snapshot: Snapshot, job_id: Any) -> Row | None:
    return snapshot.get("pgflow_job", job_id)


def run_of(change: Change) -> str | None:
    return change.value("run_id")


def vet_runs(call: Call, run_ids: Collection[str | None]) -> None:
    """The cascade through runs: their rows, their step states and tasks, and
    their step jobs (cancelled, or queued anew)."""
    for change in call.diff.changes:
        own_row = change.table == "pgflow_run" and change.key[0] in run_ids
        if own_row or (change.table in RUN_TABLES and run_of(change) in run_ids):
            call.vet(change)
        elif change.table == "pgflow_job" and run_of(change) in run_ids:
            status = change.after and change.after["status"]
            fresh = change.before is None and status == "queued"
            if (change.before is not None and status == "cancelled") or fresh:
                call.vet(change)


def vet_mirrors(call: Call, job_ids: Collection[str | None]) -> None:
    """What follows a job's change: its step task mirrors it, its slots free up."""
    for change in call.changes("pgflow_step_task"):
        if change.value("job_id") in job_ids:
            call.vet(change)
    for change in call.changes("pgflow_slot_state"):
        holders = {(change.before or {}).get("job_id"), (change.after or {}).get("job_id")}
        if (holders & set(job_ids)) - {None} and set(change.columns) <= {
            "held",
            "job_id",
            "attempt",
        }:
            call.vet(change)


def as_keys(values: Iterable[Any]) -> set[str]:
    return {as_key(v)[0] for v in values if v is not None}  # type: ignore[misc]
