"""Turn a database that cannot be reached, or refuses us, into one paragraph a person can act on."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from django.db import OperationalError

# What a server that was reached says when it will not let these credentials in.
REFUSALS = (
    "authentication failed",
    "does not exist",
    "not permitted to log in",
    "no pg_hba.conf entry",
    "permission denied for database",
    "no password supplied",
)


def unreachable_database_message(settings_dict: dict[str, Any], error: BaseException) -> str:
    """Describe which server could not be reached, or refused us, and what to check.

    Never the password: libpq does not repeat it, and should a message ever
    contain it, it is masked.
    """
    host = settings_dict.get("HOST") or "localhost (Unix socket)"
    port = settings_dict.get("PORT") or 5432
    name = settings_dict.get("NAME") or "(default)"
    user = settings_dict.get("USER") or "(default)"
    where = f"host {host}, port {port} (database {name!r}, user {user!r})"
    reason = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
    password = settings_dict.get("PASSWORD")
    if password:
        reason = reason.replace(str(password), "***")
    if any(refusal in reason for refusal in REFUSALS):
        return (
            f"PostgreSQL at {where} refused the connection: {reason}. Check the user name, "
            "password and database name that DATABASE_URL "
            "(postgres://USER:PASSWORD@HOST:PORT/NAME) gives, and that this role may log in "
            "and connect to that database."
        )
    return (
        f"django-pgflow could not connect to PostgreSQL at {where}: {reason}. Check that the "
        "server is running and reachable from here, that DATABASE_URL "
        "(postgres://USER:PASSWORD@HOST:PORT/NAME) names the right host, port and credentials, "
        "or unset DATABASE_URL to let the example project start its own embedded PostgreSQL."
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
