"""``python manage.py pgflow_import procrastinate|django-tasks``: bring waiting jobs over."""

from __future__ import annotations

from argparse import ArgumentParser, ArgumentTypeError
from typing import Any

from django.core.management.base import BaseCommand, CommandError
from django.db import DatabaseError

from ...importing.common import Mapping, Report, Source, import_waiting
from ...importing.django_tasks_db import DjangoTasksDbSource
from ...importing.procrastinate import ProcrastinateSource


def pair(value: str) -> tuple[str, str]:
    old, sep, new = value.partition("=")
    if not sep or not old or not new:
        raise ArgumentTypeError(f"{value!r} is not OLD=NEW")
    return old, new


class Command(BaseCommand):
    help = (
        "Import the waiting jobs of procrastinate or of django-tasks' database backend, "
        "keeping their times and priorities, and hand them over (idempotent)."
    )

    def add_arguments(self, parser: ArgumentParser) -> None:
        parser.add_argument("source", choices=["procrastinate", "django-tasks"])
        parser.add_argument(
            "--schema", default="public", help="procrastinate's schema (default: public)"
        )
        parser.add_argument(
            "--table",
            default="django_tasks_database_dbtaskresult",
            help="django-tasks-db's table (default: django_tasks_database_dbtaskresult)",
        )
        parser.add_argument(
            "--task-map", type=pair, action="append", default=[], help="OLD=NEW task name"
        )
        parser.add_argument(
            "--queue-map", type=pair, action="append", default=[], help="OLD=NEW queue"
        )
        parser.add_argument(
            "--keep-source",
            action="store_true",
            help="copy only: leave the old jobs where they are (do not run both systems' "
            "workers on them then)",
        )
        parser.add_argument("--dry-run", action="store_true", help="report, change nothing")
        parser.add_argument("--database", default="default", help="DATABASES alias")

    def handle(self, *args: Any, **options: Any) -> None:
        source: Source
        if options["source"] == "procrastinate":
            source = ProcrastinateSource(options["schema"])
        else:
            source = DjangoTasksDbSource(options["table"])
        mapping = Mapping(tasks=dict(options["task_map"]), queues=dict(options["queue_map"]))
        try:
            report = import_waiting(
                source,
                mapping,
                keep_source=options["keep_source"],
                dry_run=options["dry_run"],
                using=options["database"],
            )
        except DatabaseError as error:
            raise CommandError(
                f"Could not read {options['source']}'s jobs: {str(error).strip()}"
            ) from None
        self._describe(report, options)

    def _describe(self, report: Report, options: dict[str, Any]) -> None:
        verb = "Would import" if options["dry_run"] else "Imported"
        self.stdout.write(
            f"{verb} {len(report.imported)} job(s) from {options['source']}; "
            f"{report.already} already imported; {report.handed_over} handed over."
        )
        for reason, count in sorted(report.skipped.items()):
            self.stderr.write(f"Skipped {count} job(s): {reason}.")
