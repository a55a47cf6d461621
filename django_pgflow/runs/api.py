"""Start, cancel and resume runs, inside the caller's transaction.

Like ``queue.api``, these calls use Django's own connection: a run started
inside ``transaction.atomic()`` exists, and its first jobs are claimable, only
if that transaction commits.
"""

from __future__ import annotations

from typing import Any

from django.db import DataError, connections, transaction

from .. import validation
from ..conf import pgflow_settings
from ..definitions import flow_registry, sync
from ..definitions.flow_step import validate_slug
from ..definitions.typed import to_plain
from ..exceptions import FlowDefinitionError, InvalidJobError, UnknownFlowError
from ..models import WorkflowRun

START_SQL = "SELECT django_pgflow.start_flow(%s, %s::jsonb, %s)"
INVALID_PARAMETER_VALUE = "22023"


def start_flow(
    slug: str, input: Any = None, *, run_key: str | None = None, using: str = "default"
) -> WorkflowRun:
    """Start a run of the latest version of flow ``slug``; returns the ``WorkflowRun``.

    With a ``run_key`` used before for this flow, returns that run instead.
    """
    _check_slug(slug)
    payload = validation.to_json(
        to_plain(input), "input", max_bytes=pgflow_settings.MAX_PAYLOAD_BYTES
    )
    _check_run_key(run_key)
    defined_here = flow_registry.find_flow(slug) is not None
    if defined_here:
        sync.ensure_synced(using)
    try:
        return _start(slug, payload, run_key, using)
    except UnknownFlowError:
        if not defined_here:
            raise
    # Defined here, yet not in the database: the synced rows were rolled back
    # (a test's transaction) or flushed since this process synced them.
    sync.sync_flows(using)
    return _start(slug, payload, run_key, using)


def _check_slug(slug: Any) -> None:
    try:
        validate_slug(slug, "flow slug")
    except FlowDefinitionError as error:
        raise UnknownFlowError(str(error)) from None


def _check_run_key(run_key: Any) -> None:
    if run_key is not None:
        validation.validate_text(run_key, "run_key")


def _start(slug: str, payload: str, run_key: str | None, using: str) -> WorkflowRun:
    try:
        # A savepoint, so that an unknown flow leaves the caller's transaction usable.
        with transaction.atomic(using=using), connections[using].cursor() as cursor:
            cursor.execute(START_SQL, [slug, payload, run_key])
            run_id = cursor.fetchone()[0]
    except DataError as error:
        cause = error.__cause__
        if getattr(cause, "sqlstate", None) != INVALID_PARAMETER_VALUE:
            raise
        if str(cause).startswith("pgflow: unknown flow"):
            raise UnknownFlowError(_unknown_flow_message(slug)) from None
        raise InvalidJobError(str(cause).removeprefix("pgflow: ")) from error
    # A second statement: the one that called start_flow cannot see the row it inserted.
    return WorkflowRun.objects.using(using).get(pk=run_id)


def _unknown_flow_message(slug: str) -> str:
    known = ", ".join(sorted(flow_registry.all_flows())) or "none"
    return (
        f"Unknown flow {slug!r}: it is not in the database, and no Flow subclass of this "
        f"process declares that slug (known: {known}). Check the slug, and that the module "
        "defining it is imported (flows.py modules of installed apps are imported "
        "automatically)."
    )


def cancel_run(run_id: int, *, using: str = "default") -> bool:
    """Cancel a started run and its queued and running tasks; False if it had finished."""
    return _call_bool("SELECT django_pgflow.cancel_run(%s)", run_id, using)


def resume_run(run_id: int, *, using: str = "default") -> bool:
    """Resume a failed or cancelled run from where it stopped; False if it cannot be."""
    return _call_bool("SELECT django_pgflow.resume_run(%s)", run_id, using)


def _call_bool(sql: str, run_id: int, using: str) -> bool:
    validation.validate_id(run_id, "run_id")
    with connections[using].cursor() as cursor:
        cursor.execute(sql, [run_id])
        row = cursor.fetchone()
    return bool(row and row[0])


__all__ = ["cancel_run", "resume_run", "start_flow"]
