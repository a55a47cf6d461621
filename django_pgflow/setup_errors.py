"""Turn a database that cannot be reached, or refuses us, into one paragraph a person can act on."""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from django.db import OperationalError, ProgrammingError

from .exceptions import PgflowError

# What PostgreSQL says when django-pgflow's migrations have not run.
NOT_MIGRATED = (
    'schema "django_pgflow" does not exist',
    'relation "pgflow_job" does not exist',
    'relation "pgflow_run" does not exist',
    "function django_pgflow.",
)


class NotMigratedError(PgflowError, ProgrammingError):
    """django-pgflow's tables or SQL functions are missing: ``migrate`` has not run."""


def not_migrated(error: BaseException, alias: str = "default") -> NotMigratedError | None:
    """The error to raise instead of ``error`` when it means "run migrate", else None."""
    text = str(error)
    if not any(marker in text for marker in NOT_MIGRATED):
        return None
    return NotMigratedError(
        f"django-pgflow is not installed in database {alias!r}: {text.strip().splitlines()[0]}. "
        "Run `python manage.py migrate` (it creates the django_pgflow schema, the pgflow_* "
        "tables and the SQL functions), then try again."
    )


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
            f"password and database name that {_where_configured()}, and that this role may "
            "log in and connect to that database."
        )
    return (
        f"django-pgflow could not connect to PostgreSQL at {where}: {reason}. Check that the "
        f"server is running and reachable from here, and that {_where_configured()} "
        "the right host, port and credentials."
        + (
            " Or unset DATABASE_URL to let the example project start its own embedded PostgreSQL."
            if _in_example_project()
            else ""
        )
    )


def _in_example_project() -> bool:
    """The embedded-PostgreSQL advice holds only for django-pgflow's own example project."""
    from django.conf import settings

    return getattr(settings, "SETTINGS_MODULE", None) == "testproject.settings"


def _where_configured() -> str:
    if _in_example_project() or "DATABASE_URL" in os.environ:
        return "DATABASE_URL (postgres://USER:PASSWORD@HOST:PORT/NAME) names"
    return "settings.DATABASES (HOST, PORT, NAME, USER, PASSWORD) names"


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
