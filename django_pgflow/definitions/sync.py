"""Writing the registered flows into the definition tables the SQL core reads.

Runs after ``migrate``, when a worker starts, and before the first start of a
run in a process. A version that has runs is never changed under them.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from django.db import connections, transaction

from ..exceptions import FlowDefinitionError
from ..models import FlowDefinition, StepDefinition, StepDependency, WorkflowRun
from . import flow_registry
from .shape import FlowRows, flow_rows

if TYPE_CHECKING:
    from .flow import Flow

logger = logging.getLogger("django_pgflow.flows")

# Two processes syncing at once (migrate and a worker) take turns.
SYNC_LOCK_SQL = "SELECT pg_advisory_xact_lock(hashtext('django_pgflow.sync_flows'))"
TABLES = ("pgflow_flow", "pgflow_step", "pgflow_step_dep", "pgflow_run")


def sync_flows(using: str = "default", flows: Iterable[type[Flow]] | None = None) -> list[str]:
    """Write every registered flow (or ``flows``) in one transaction; returns what changed.

    Raises ``FlowDefinitionError`` when a version that already has runs would
    change shape; nothing is written then.
    """
    classes = list(flow_registry.all_flows().values()) if flows is None else list(flows)
    changes: list[str] = []
    with transaction.atomic(using=using):
        with connections[using].cursor() as cursor:
            cursor.execute(SYNC_LOCK_SQL)
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
    if existing is None:
        _insert_steps(FlowDefinition.objects.using(using).create(**_flow_fields(rows)), rows)
        return f"{slug} v{version} created"
    if existing.shape_hash == rows.shape_hash:
        return _update_options(existing, rows)
    if WorkflowRun.objects.using(using).filter(flow=existing).exists():
        raise FlowDefinitionError(
            f"flow {slug!r} version {version} already has runs and its shape changed: "
            f"declare version = {version + 1} (runs in flight finish on version {version})."
        )
    _replace(existing, rows)
    return f"{slug} v{version} replaced (it had no runs)"


def _update_options(flow: FlowDefinition, rows: FlowRows) -> str | None:
    """Same graph: bring options (timeouts, attempts, queues...) up to date in place."""
    changed = False
    for name, value in rows.flow.items():
        if getattr(flow, name) != value:
            setattr(flow, name, value)
            changed = True
    if changed:
        flow.save()
    current = {s.slug: s for s in flow.steps.all()}
    for row in rows.steps:
        step = current[row["slug"]]
        updates = {k: v for k, v in row.items() if getattr(step, k) != v}
        if updates:
            StepDefinition.objects.using(flow._state.db).filter(pk=step.pk).update(**updates)
            changed = True
    return f"{flow.slug} v{flow.version} options updated" if changed else None


def _flow_fields(rows: FlowRows) -> dict[str, Any]:
    return {**rows.flow, "shape_hash": rows.shape_hash}


def _replace(flow: FlowDefinition, rows: FlowRows) -> None:
    # No run can have seen this version yet, so its rows can change in place.
    flow.steps.all().delete()
    flow.deps.all().delete()
    for name, value in _flow_fields(rows).items():
        setattr(flow, name, value)
    flow.save()
    _insert_steps(flow, rows)


def _insert_steps(flow: FlowDefinition, rows: FlowRows) -> None:
    using = flow._state.db
    StepDefinition.objects.using(using).bulk_create(
        StepDefinition(flow=flow, **row) for row in rows.steps
    )
    StepDependency.objects.using(using).bulk_create(
        StepDependency(flow=flow, step_slug=step_slug, dep_slug=dep_slug)
        for step_slug, dep_slug in rows.deps
    )


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
