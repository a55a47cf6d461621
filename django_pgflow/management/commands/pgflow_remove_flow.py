"""``python manage.py pgflow_remove_flow <slug> [--force]``: delete a flow, its runs and jobs.

For development, and for flows retired from the code: every version of the
flow goes, with its runs, their step states and tasks, their jobs and events.
Refused while a run is active, unless ``--force``. Only the role that runs
``migrate`` may do it (``django_pgflow.remove_flow`` is granted to no one).
"""

from __future__ import annotations

from argparse import ArgumentParser
from typing import Any

from django.core.management.base import BaseCommand, CommandError
from django.db import DatabaseError, connections, transaction

from ...exceptions import FlowDefinitionError
from ...runs import registry as flow_registry
from ...validation import validate_slug

REMOVE_SQL = "SELECT django_pgflow.remove_flow(%s, %s)"
INVALID_PARAMETER_VALUE = "22023"
OBJECT_IN_USE = "55006"
INSUFFICIENT_PRIVILEGE = "42501"


class Command(BaseCommand):
    help = (
        "Delete a flow (every version) with its runs, their steps, tasks, jobs and events. "
        "Refused while a run of it is active, unless --force. Needs the role that runs migrate."
    )

    def add_arguments(self, parser: ArgumentParser) -> None:
        parser.add_argument("slug", help="the flow's slug")
        parser.add_argument(
            "--force",
            action="store_true",
            help="delete active runs too; their workers' late reports are then ignored",
        )
        parser.add_argument("--database", default="default", help="database alias")

    def handle(self, *args: Any, **options: Any) -> None:
        slug = options["slug"]
        try:
            validate_slug(slug, "flow slug")
        except FlowDefinitionError as error:
            raise CommandError(str(error)) from None
        runs = self._remove(slug, options["force"], options["database"])
        self.stdout.write(f"flow {slug!r} removed, with {runs} run(s)")
        defined = flow_registry.find_flow(slug)
        if defined is not None:
            self.stderr.write(
                f"warning: {defined.__module__}.{defined.__qualname__} still defines flow "
                f"{slug!r}: the next migrate, worker start or start of a run writes it again. "
                "Remove the class from the code to retire the flow."
            )

    def _remove(self, slug: str, force: bool, using: str) -> int:
        try:
            with transaction.atomic(using=using), connections[using].cursor() as cursor:
                cursor.execute(REMOVE_SQL, [slug, force])
                return int(cursor.fetchone()[0])
        except DatabaseError as error:
            raise _refusal(error) from error


def _refusal(error: DatabaseError) -> Exception:
    """The database's refusal as a CommandError the user can act on; anything else as is."""
    cause = error.__cause__
    state = getattr(cause, "sqlstate", None)
    message = getattr(getattr(cause, "diag", None), "message_primary", None) or str(error)
    message = message.removeprefix("pgflow: ")
    if state == INVALID_PARAMETER_VALUE:
        return CommandError(message)
    if state == OBJECT_IN_USE:
        return CommandError(f"{message.replace('or force', 'or run again with --force')}.")
    if state == INSUFFICIENT_PRIVILEGE:
        return CommandError(
            "this database role may not remove flows (EXECUTE on django_pgflow.remove_flow): "
            "run pgflow_remove_flow as the role that runs migrate"
        )
    return error
