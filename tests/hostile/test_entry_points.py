"""Every SQL function of the schema, called with hostile arguments by each role
of docs/guides/security.md: web, web with the optional operator grants, worker.

After each call: the call succeeded as documented or raised a clean
PostgreSQL error; no stored job, run, step state, step task, slot, worker,
resource, limit or schedule changed other than as that function documents
(``rules.py``); what it stored, Python can read back; and the real worker
(``runworkers`` as the worker role) still claims and completes fresh jobs
behind whatever the call stored. A call that changed nothing cannot have
disturbed the worker: then only its process is checked.

The CI form is derandomized (the same examples every run, no shrinking): 20
examples per entry point a role may call, 5 per other callable function, 2 per
function the role must be refused; the whole of tests/hostile takes about a
minute and a half on two busy cores. For a long run by hand (300 examples
each, new ones every run, failures shrunk)::

    PGFLOW_HOSTILE_LONG=1 pytest -q tests/hostile

``PGFLOW_HOSTILE_TRACE=1 pytest -s`` prints every call and its outcome.
"""

from __future__ import annotations

import os

import pytest
from hypothesis import given
from hypothesis import strategies as st

from .session import Hostile, describe, examples, profile
from .spec import SPEC

ROLES = ("web", "status", "operator", "worker")  # status: grants-web-status-only.sql
TRACE = os.environ.get("PGFLOW_HOSTILE_TRACE") == "1"  # print every call (pytest -s)


def test_every_function_is_listed(hostile: Hostile) -> None:
    schema = set(hostile.functions)
    unlisted, gone = sorted(schema - SPEC.keys()), sorted(SPEC.keys() - schema)
    assert not unlisted, (
        f"functions with no documented effect: {unlisted}; list each in "
        "tests/hostile/spec.py with the rule of what it may change"
    )
    assert not gone, f"listed in tests/hostile/spec.py but not in the schema: {gone}"


@pytest.mark.timeout(900)
@pytest.mark.parametrize("name", sorted(SPEC))
@pytest.mark.parametrize("kind", ROLES)
def test_hostile_calls(hostile: Hostile, kind: str, name: str) -> None:
    overloads = hostile.functions.get(name)
    assert overloads, f"{name} is not in the schema any more: update tests/hostile/spec.py"
    callable_by_role = any(hostile.may_execute(kind, fn) for fn in overloads)

    @profile(examples(callable_by_role, name))
    @given(data=st.data())
    def hostile_call(data: st.DataObject) -> None:
        fn = overloads[0] if len(overloads) == 1 else data.draw(st.sampled_from(overloads))
        args = hostile.draw(data, fn, callable_by_role)
        outcome = hostile.call(kind, fn, args)
        problems = hostile.judge(kind, fn, args, outcome)
        if TRACE:
            print(describe(kind, fn, args, outcome), problems and "\n  ".join(["", *problems]))
        assert not problems, "\n".join([describe(kind, fn, args, outcome), *problems])

    hostile_call()
