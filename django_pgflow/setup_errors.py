"""Turn a database that cannot be reached into one paragraph a person can act on."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from django.db import OperationalError


def unreachable_database_message(settings_dict: dict[str, Any], error: BaseException) -> str:
    """Describe which server could not be reached and how to fix it; never the password."""
    host = settings_dict.get("HOST") or "localhost (Unix socket)"
    port = settings_dict.get("PORT") or 5432
    name = settings_dict.get("NAME") or "(default)"
    user = settings_dict.get("USER") or "(default)"
    reason = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
    password = settings_dict.get("PASSWORD")
    if password:
        reason = reason.replace(str(password), "***")
    return (
        f"django-pgflow could not connect to PostgreSQL at host {host}, port {port} "
        f"(database {name!r}, user {user!r}): {reason}. Check that the server is running and "
        "reachable from here, that DATABASE_URL (postgres://USER:PASSWORD@HOST:PORT/NAME) names "
        "the right host, port and credentials, or unset DATABASE_URL to let the example "
        "project start its own embedded PostgreSQL."
    )


def _is_connection_error(error: BaseException) -> bool:
    text = str(error)
    return isinstance(error, OperationalError) and (
        "connection" in text.lower() or "could not" in text.lower() or "timeout" in text.lower()
    )


@contextmanager
def explain_setup_errors() -> Iterator[None]:
    """Exit with a one-paragraph explanation instead of a traceback for an unreachable DB."""
    try:
        yield
    except OperationalError as error:
        if not _is_connection_error(error):
            raise
        from django.db import connection

        print(unreachable_database_message(connection.settings_dict, error), file=sys.stderr)
        sys.exit(2)
