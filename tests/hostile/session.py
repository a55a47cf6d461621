"""One hostile call, end to end: draw its arguments, snapshot, call, snapshot,
judge the difference, and make sure the real worker still works.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

import psycopg
from hypothesis import HealthCheck, Phase, settings
from hypothesis import strategies as st

from ..roles import Roles, connect_as
from .catalog import Function, functions, may_execute
from .effects import Call, check_stored, undocumented
from .params import param
from .snapshot import Key, Reader, Snapshot, diff
from .spec import ENTRY_POINTS, MAY_CALL, SPEC
from .values import Raw, RawDumper
from .world import World

# PGFLOW_HOSTILE_LONG=1 for a long run by hand: many more examples, new ones
# each run. The CI form is derandomized: the same examples every run.
LONG = os.environ.get("PGFLOW_HOSTILE_LONG") == "1"
STATEMENT_TIMEOUT = "15s"
# SQLSTATE classes that are not a clean refusal: an internal error, the
# statement timeout or another operator intervention, a system error, a lost
# connection, resources exhausted.
UNCLEAN = {"XX": "internal error", "57": "operator intervention", "58": "system error"}
UNCLEAN |= {"08": "connection exception", "53": "insufficient resources"}
MODES = ("sane", "one hostile argument", "every argument hostile")


def examples(callable_by_role: bool, name: str) -> int:
    if not callable_by_role:
        return 2  # refused before any argument is read: a check, not a search
    if LONG:
        return 300
    return 20 if name in ENTRY_POINTS else 5  # the rest must change nothing at all


def profile(max_examples: int) -> settings:
    return settings(
        max_examples=max_examples,
        deadline=None,
        derandomize=not LONG,
        database=None,
        print_blob=False,
        suppress_health_check=list(HealthCheck),
        # In CI a failure is reported as found (the report shows the call in
        # full); shrinking it can take minutes of real calls. Long runs shrink.
        phases=list(Phase) if LONG else [Phase.explicit, Phase.generate],
    )


@dataclass
class Outcome:
    rows: list[str] | None
    error: psycopg.Error | None
    before: Snapshot
    after: Snapshot


class Hostile:
    def __init__(self, roles: Roles, blocker: Any) -> None:
        self.roles = roles
        self.world = World(roles, blocker)
        self.world.worker.start()
        self.world.reset()
        self.reader = Reader(self.world.owner)
        self.functions = functions(self.world.owner)
        self.callers: dict[str, psycopg.Connection[Any]] = {}

    def role(self, kind: str) -> str:
        return str(getattr(self.roles, kind))

    def caller(self, kind: str) -> psycopg.Connection[Any]:
        conn = self.callers.get(kind)
        if conn is None or conn.closed or conn.broken:
            conn = connect_as(
                self.role(kind), self.roles, application_name=f"pgflow hostile {kind}"
            )
            conn.execute(f"SET statement_timeout = '{STATEMENT_TIMEOUT}'")
            conn.adapters.register_dumper(Raw, RawDumper)
            self.callers[kind] = conn
        return conn

    def may_execute(self, kind: str, fn: Function) -> bool:
        return may_execute(self.world.owner, self.role(kind), fn)

    def close(self) -> None:
        for conn in self.callers.values():
            conn.close()
        self.world.close()

    # --- one example -------------------------------------------------------------

    def draw(self, data: st.DataObject, fn: Function, callable_by_role: bool) -> dict[str, Any]:
        pools = self.world.reset() if self.world.dirty else self.world.pools
        # A role refused the function is refused before any argument is read,
        # but after the arguments are parsed: sane ones, so that it gets that far.
        modes = MODES if callable_by_role else MODES[:1]
        mode = data.draw(st.sampled_from(modes), label="mode")
        hostile = -1
        if mode == MODES[1] and fn.params:
            hostile = data.draw(st.integers(0, len(fn.params) - 1), label="hostile argument")
        args = {}
        for index, (name, kind) in enumerate(fn.params):
            found = param(fn.name, name, kind, pools)
            chosen = found.hostile if mode == MODES[2] or index == hostile else found.sane
            args[name] = data.draw(chosen, label=name)
        return args

    def call(self, kind: str, fn: Function, args: dict[str, Any], named: bool = False) -> Outcome:
        query, params = fn.call_named(args, named)
        conn = self.caller(kind)
        before = self.reader.read()
        rows, error = None, None
        try:
            rows = [r[0] for r in conn.execute(query, params).fetchall()]
        except psycopg.Error as raised:
            error = raised
        return Outcome(rows, error, before, self.reader.read())

    def judge(self, kind: str, fn: Function, args: dict[str, Any], outcome: Outcome) -> list[str]:
        problems = self.refusal_problems(kind, fn, outcome)
        real = self.world.worker.id
        noise: dict[tuple[str, Key], set[str]] = {
            ("pgflow_worker", (str(real),)): {"last_heartbeat"}
        }
        changes = diff(outcome.before, outcome.after, noise)
        call = Call(
            fn.name,
            kind,
            args,
            outcome.rows,
            outcome.before,
            outcome.after,
            changes,
            self.world.pools,
        )
        if outcome.error is None:
            SPEC[fn.name](call)
        check_stored(call)
        undocumented(call)
        problems += call.violations
        if changes:
            self.world.dirty = True
            stored = [
                int(c.key[0]) for c in changes.of("pgflow_job") if c.before is None and c.key[0]
            ]
            failure = self.world.probe(stored)
            problems += [failure] if failure else []
        elif not self.world.worker.alive():
            problems.append(f"the real worker died:\n{self.world.worker.log()}")
            self.world.worker.restart()
            self.world.dirty = True
        return problems

    def refusal_problems(self, kind: str, fn: Function, outcome: Outcome) -> list[str]:
        error, problems = outcome.error, []
        conn = self.callers[kind]
        if error is not None:
            state = error.sqlstate
            if conn.closed or conn.broken:
                problems.append(f"the server connection broke: {error!r}")
            elif state is not None and state[:2] in UNCLEAN:
                what = "ran past the statement timeout" if state == "57014" else UNCLEAN[state[:2]]
                problems.append(f"not a clean error: {state} ({what}): {error}")
        if fn.name not in MAY_CALL[kind] and (error is None or error.sqlstate != "42501"):
            problems.append(
                f"the {kind} role must be refused {fn.signature}, got {error or 'success'}"
            )
        if not conn.closed and not conn.broken:
            try:
                conn.execute("SELECT 1")
            except psycopg.Error as broken:
                problems.append(f"the connection is unusable after the call: {broken!r}")
        return problems


def describe(kind: str, fn: Function, args: dict[str, Any], outcome: Outcome) -> str:
    result = (
        outcome.rows
        if outcome.error is None
        else f"{type(outcome.error).__name__}: {outcome.error}"
    )
    shown = ", ".join(f"{k}={v!r:.120}" for k, v in args.items())
    return f"the {kind} role called {fn.name}({shown})\n  -> {str(result)[:300]}"
