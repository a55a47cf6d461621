"""Start, cancel and resume runs, inside the caller's transaction.

Like ``queue.api``, these calls use Django's own connection: a run started
inside ``transaction.atomic()`` exists, and its first jobs are claimable, only
if that transaction commits.
"""

from __future__ import annotations

from typing import Any

from django.db import DataError, connections, transaction

from .. import signals, validation
from ..conf import pgflow_settings
from ..exceptions import FlowDefinitionError, InvalidJobError, UnknownFlowError
from ..models import WorkflowRun
from ..typed import to_plain
from ..validation import validate_slug
from . import registry as flow_registry

START_SQL = "SELECT django_pgflow.start_flow(%s, %s::jsonb, %s, %s::jsonb)"
# A run's own events in this process: those no worker caused (origin NULL).
OWN_EVENTS_SQL = (
    "SELECT id, run_id, flow_slug, step_slug, status, at FROM pgflow_event "
    "WHERE run_id = %s AND id > %s AND at >= %s AND origin IS NULL ORDER BY id"
)
INVALID_PARAMETER_VALUE = "22023"


def start_flow(
    slug: str,
    input: Any = None,
    *,
    run_key: str | None = None,
    metadata: dict[str, Any] | None = None,
    using: str = "default",
) -> WorkflowRun:
    """Start a run of the latest version of flow ``slug``; returns the ``WorkflowRun``.

    With a ``run_key`` used before for this flow, returns that run instead.
    ``metadata`` (a dict) travels with the run and every task of it, never
    passed to the steps.
    """
    _check_slug(slug)
    payload = validation.to_json(
        to_plain(input), "input", max_bytes=pgflow_settings.MAX_PAYLOAD_BYTES
    )
    _check_run_key(run_key)
    extra = _metadata_json(metadata)
    # A flow of this process is synced first. The Flow class does it: this layer
    # sits below the definitions and knows them only through the registry.
    flow = flow_registry.find_flow(slug)
    if flow is not None:
        flow._pgflow_sync(using)
    try:
        return _start(slug, payload, run_key, extra, using)
    except UnknownFlowError:
        if flow is None:
            raise
    # Defined here, yet not in the database: the synced rows were rolled back
    # (a test's transaction) or flushed since this process synced them.
    flow._pgflow_sync(using, again=True)
    return _start(slug, payload, run_key, extra, using)


def _metadata_json(metadata: Any) -> str | None:
    if metadata is None:
        return None
    if not isinstance(metadata, dict):
        raise InvalidJobError(f"metadata must be a dict, got {type(metadata).__name__}.")
    return validation.to_json(metadata, "metadata", max_bytes=65536)


def _check_slug(slug: Any) -> None:
    try:
        validate_slug(slug, "flow slug")
    except FlowDefinitionError as error:
        raise UnknownFlowError(str(error)) from None


def _check_run_key(run_key: Any) -> None:
    if run_key is not None:
        validation.validate_text(run_key, "run_key")


def _start(
    slug: str, payload: str, run_key: str | None, metadata: str | None, using: str
) -> WorkflowRun:
    try:
        # A savepoint, so that an unknown flow leaves the caller's transaction usable.
        with transaction.atomic(using=using), connections[using].cursor() as cursor:
            since = _now(cursor) if signals.run_signals_wanted() else None
            cursor.execute(START_SQL, [slug, payload, run_key, metadata])
            run_id = cursor.fetchone()[0]
        # A run key's earlier run is returned, not started: its events are older.
        _signal_after_commit(run_id, 0, since, using)
    except DataError as error:
        cause = error.__cause__
        if getattr(cause, "sqlstate", None) != INVALID_PARAMETER_VALUE:
            raise
        # The message alone, without PL/pgSQL's CONTEXT lines.
        message = getattr(getattr(cause, "diag", None), "message_primary", None) or str(cause)
        if message.startswith("pgflow: unknown flow"):
            raise UnknownFlowError(_unknown_flow_message(slug)) from None
        raise InvalidJobError(message.removeprefix("pgflow: ")) from error
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
        wanted = signals.run_signals_wanted()
        before = _latest_event(cursor, run_id) if wanted else 0
        since = _now(cursor) if wanted else None
        cursor.execute(sql, [run_id])
        row = cursor.fetchone()
    _signal_after_commit(run_id, before, since, using)
    return bool(row and row[0])


def _latest_event(cursor: Any, run_id: int) -> int:
    cursor.execute("SELECT coalesce(max(id), 0) FROM pgflow_event WHERE run_id = %s", [run_id])
    return int(cursor.fetchone()[0])


def _now(cursor: Any) -> Any:
    cursor.execute("SELECT now()")  # the transaction's start: earlier events are older
    return cursor.fetchone()[0]


def _signal_after_commit(run_id: int, after: int, since: Any, using: str) -> None:
    """Once committed, send the signals of the events this call caused (not a worker)."""
    if since is None:
        return

    def send() -> None:
        with connections[using].cursor() as cursor:
            cursor.execute(OWN_EVENTS_SQL, [run_id, after, since])
            rows = cursor.fetchall()
        for _id, run, flow, step, status, at in rows:
            signals.send_run_event(
                {"id": _id, "run_id": run, "flow": flow, "step": step, "status": status, "at": at}
            )

    transaction.on_commit(send, using=using)


__all__ = ["cancel_run", "resume_run", "start_flow"]
