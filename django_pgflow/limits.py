"""Resource capacities and queue limits, as the claim reads them from the database.

They are declared in settings (``PGFLOW["RESOURCES"]``, and ``concurrency`` or
``rate_limit`` under a queue of ``PGFLOW["QUEUES"]``) and written to the
database by every worker at start, so they hold across all workers and hosts.
"""

from __future__ import annotations

from typing import Any

from .conf import pgflow_settings
from .validation import parse_rate_limit


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
