"""Resource capacities, queue limits and the payload limit, as the claim and the
SQL checks read them from the database.

They are declared in settings (``PGFLOW["RESOURCES"]``, ``concurrency`` or
``rate_limit`` under a queue of ``PGFLOW["QUEUES"]``, ``MAX_PAYLOAD_BYTES``)
and written to the database by ``sync_limits``, so they hold across all
workers and hosts. Only the owner of the schema may write them: ``migrate``,
``pgflow_sync`` and ``runworkers`` run by the owner do; a worker running as a
role without that right only warns when the database differs from its
settings.
"""

from __future__ import annotations

import logging
from typing import Any

from psycopg.types.json import Jsonb

from .conf import pgflow_settings
from .validation import parse_rate_limit

# The logger keeps the name it had before the module was renamed: logging configs name it.
logger = logging.getLogger("django_pgflow.limits")

SYNC_SQL = "SELECT django_pgflow.sync_limits(%s, %s, %s)"
MAY_SYNC_SQL = (
    "SELECT has_function_privilege('django_pgflow.sync_limits(jsonb, jsonb, jsonb)', 'EXECUTE')"
)
STORED_SQL = """
SELECT (SELECT coalesce(jsonb_object_agg(name, capacity), '{}') FROM pgflow_resource),
       (SELECT coalesce(jsonb_object_agg(queue, jsonb_strip_nulls(jsonb_build_object(
                'concurrency', concurrency, 'rate_count', rate_count, 'rate_period', rate_period))),
                '{}') FROM pgflow_queue_limit),
       (SELECT jsonb_build_object('max_payload_bytes', max_payload_bytes) FROM pgflow_config)
"""


def declared_resources() -> dict[str, int]:
    return dict(pgflow_settings.RESOURCES or {})


def declared_queue_limits() -> dict[str, dict[str, Any]]:
    """``{"emails": {"concurrency": 5, "rate_count": 100, "rate_period": 60.0}}``:
    only queues that declare a limit."""
    limits: dict[str, dict[str, Any]] = {}
    for queue, options in (pgflow_settings.QUEUES or {}).items():
        options = options or {}
        limit: dict[str, Any] = {}
        if options.get("concurrency") is not None:
            limit["concurrency"] = options["concurrency"]
        if options.get("rate_limit") is not None:
            limit["rate_count"], limit["rate_period"] = parse_rate_limit(options["rate_limit"])
        if limit:
            limits[queue] = limit
    return limits


def declared_settings() -> dict[str, Any]:
    return {"max_payload_bytes": pgflow_settings.MAX_PAYLOAD_BYTES}


def declared() -> tuple[dict[str, int], dict[str, dict[str, Any]], dict[str, Any]]:
    return declared_resources(), declared_queue_limits(), declared_settings()


def sync_limits(cursor: Any) -> bool:
    """Write the declared limits if this role may; returns whether it did.

    ``cursor`` is a Django cursor or a psycopg connection (both ``execute``).
    """
    if not _may_sync(cursor):
        _warn_if_stale(cursor)
        return False
    cursor.execute(SYNC_SQL, [Jsonb(part) for part in declared()])
    return True


def _may_sync(cursor: Any) -> bool:
    row = _fetchone(cursor, MAY_SYNC_SQL)
    return bool(row and row[0])


def _warn_if_stale(cursor: Any) -> None:
    row = _fetchone(cursor, STORED_SQL)
    resources, queues, settings = declared()
    stored = (row[0], row[1], row[2] or {"max_payload_bytes": 1_048_576}) if row else None
    if stored != (resources, queues, settings):
        logger.warning(
            "the resources, queue limits or MAX_PAYLOAD_BYTES stored in the database differ "
            "from this process's PGFLOW settings, and this database role may not change "
            "them: run `python manage.py pgflow_sync` as the role that runs migrate"
        )


def _fetchone(cursor: Any, query: str) -> Any:
    result = cursor.execute(query)
    # psycopg's execute returns the cursor; Django's returns None.
    return (result if result is not None else cursor).fetchone()


def sync_after_migrate(
    using: str = "default", plan: list[tuple[Any, bool]] | None = None, **kwargs: Any
) -> None:
    """``post_migrate`` receiver: the role that migrates writes the declared limits.

    Skipped when migrating backwards, or before the tables exist.
    """
    from django.db import connections

    if plan and any(backwards for _, backwards in plan):
        return
    if "pgflow_config" not in connections[using].introspection.table_names():
        return
    with connections[using].cursor() as cursor:
        sync_limits(cursor)
