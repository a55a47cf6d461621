"""Writing the registered flows into the definition tables the SQL core reads.

Runs after ``migrate``, when a worker starts, and before the first start of a
run in a process. A version that has runs is never changed under them.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any, cast

from django.db import OperationalError, connections, transaction

from ...exceptions import FlowDefinitionError
from ...models import FlowDefinition
from ...runs import registry as flow_registry
from .shape import FlowRows, flow_rows

if TYPE_CHECKING:
    from .flow import Flow

logger = logging.getLogger("django_pgflow.flows")

SYNC_SQL = "SELECT django_pgflow.sync_flow(%s::jsonb)"
OBJECT_IN_USE = "55006"  # sync_flow: a version with runs would change shape
TABLES = ("pgflow_flow", "pgflow_step", "pgflow_step_dep", "pgflow_run")


def sync_flows(using: str = "default", flows: Iterable[type[Flow]] | None = None) -> list[str]:
    """Write every registered flow (or ``flows``) in one transaction; returns what changed.

    Raises ``FlowDefinitionError`` when a version that already has runs would
    change shape; nothing is written then. Writes go through the SQL function
    ``sync_flow``, and only for a flow the database does not hold as it is
    here: a role that may only read the definitions (the web's) syncs nothing.
    """
    classes = list(flow_registry.all_flows().values()) if flows is None else list(flows)
    changes: list[str] = []
    with transaction.atomic(using=using):
        for cls in sorted(classes, key=lambda c: c._pgflow.slug):
            change = _sync_one(flow_rows(cls._pgflow), using)
            if change:
                changes.append(change)
    for change in changes:
        logger.info("flow definitions: %s", change)
    return changes


def _sync_one(rows: FlowRows, using: str) -> str | None:
    slug, version = rows.flow["slug"], rows.flow["version"]
    versions = {f.version: f for f in FlowDefinition.objects.using(using).filter(slug=slug)}
    _warn_if_behind(slug, version, max(versions, default=version))
    existing = versions.get(version)
    if existing is not None and _stored_as(existing, rows):
        return None
    try:
        with connections[using].cursor() as cursor:
            cursor.execute(SYNC_SQL, [json.dumps(_definition(rows))])
            return cast(str | None, cursor.fetchone()[0])
    except OperationalError as error:
        cause = error.__cause__
        if getattr(cause, "sqlstate", None) == OBJECT_IN_USE:
            message = cause.diag.message_primary or ""  # type: ignore[union-attr]
            raise FlowDefinitionError(message.removeprefix("pgflow: ")) from None
        raise


def _definition(rows: FlowRows) -> dict[str, Any]:
    """The JSON ``sync_flow`` takes: the flow's fields, its steps in order, its deps."""
    return {
        **rows.flow,
        "shape_hash": rows.shape_hash,
        "steps": rows.steps,
        "deps": [list(pair) for pair in rows.deps],
    }


def _stored_as(flow: FlowDefinition, rows: FlowRows) -> bool:
    """Does the database hold this version exactly as ``rows`` describe it?"""
    if any(getattr(flow, name) != value for name, value in rows.flow.items()):
        return False
    if flow.shape_hash != rows.shape_hash:
        return False
    stored = [
        {name: getattr(step, name) for name in row}
        for step, row in zip(flow.steps.order_by("index"), rows.steps, strict=False)
    ]
    deps = set(flow.deps.values_list("step_slug", "dep_slug"))
    return stored == rows.steps and deps == set(rows.deps)


def _warn_if_behind(slug: str, version: int, latest: int) -> None:
    # Runs start on the latest version in the database, which this code may not know.
    if latest > version:
        logger.warning(
            "flow %r: the database has version %s, newer than version %s defined here; "
            "new runs start on version %s, whose steps this code may not run.",
            slug,
            latest,
            version,
            latest,
        )


# Per database alias: the registry generation last synced (and committed) there.
_synced: dict[str, int] = {}


def ensure_synced(using: str = "default") -> None:
    """Sync once per process (and again when flows are added), before starting runs."""
    generation = flow_registry.generation()
    if _synced.get(using) == generation:
        return
    sync_flows(using)
    # Only once committed: a rolled-back sync must be done again.
    transaction.on_commit(lambda: _synced.__setitem__(using, generation), using=using)


def forget_synced() -> None:
    _synced.clear()


def sync_after_migrate(
    using: str = "default", plan: list[tuple[Any, bool]] | None = None, **kwargs: Any
) -> None:
    """``post_migrate`` receiver: sync once django_pgflow is fully migrated.

    Migrated backwards (any step of ``plan`` is a rollback), the tables may lack
    columns the models have: leave them alone until the next forward migrate.
    """
    if plan and any(backwards for _, backwards in plan):
        return
    existing = set(connections[using].introspection.table_names())
    if not set(TABLES) <= existing:
        return
    sync_flows(using)
