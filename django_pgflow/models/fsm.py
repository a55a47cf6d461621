"""Legal status transitions, enforced by the database (invariant 9).

pgtrigger's FSM trigger runs a plpgsql function on every status change, legal
or not: about 25 us a row, which is a third of a no-op job's database time.
Here the list of legal transitions sits in the trigger's WHEN clause, which
PostgreSQL evaluates without calling a function; the function runs only to
refuse an illegal transition.
"""

from __future__ import annotations

import pgtrigger

from ..sql import trigger_body


def status_fsm(name: str, transitions: list[tuple[str, str]]) -> pgtrigger.Trigger:
    """A BEFORE UPDATE trigger refusing any change of ``status`` not in ``transitions``."""
    for old, new in transitions:
        if not (old.isidentifier() and new.isidentifier()):
            raise ValueError(f"status names must be identifiers, got {old!r} -> {new!r}")
    # Grouped by the old status, plain comparisons: the earlier form built the
    # string 'old:new' for every row and compared it with each legal pair.
    targets: dict[str, list[str]] = {}
    for old, new in transitions:
        targets.setdefault(old, []).append(new)
    legal = " OR ".join(
        f'(OLD."status" = \'{old}\' AND NEW."status" IN ({_literals(news)}))'
        for old, news in targets.items()
    )
    return pgtrigger.Trigger(
        name=name,
        when=pgtrigger.Before,
        operation=pgtrigger.Update,
        condition=pgtrigger.Condition(
            f'OLD."status" IS DISTINCT FROM NEW."status" AND NOT ({legal})'
        ),
        func=trigger_body("status_transition_refused"),
    )


def _literals(names: list[str]) -> str:
    return ", ".join(f"'{name}'" for name in names)
