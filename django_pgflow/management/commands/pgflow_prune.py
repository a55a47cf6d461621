"""``python manage.py pgflow_prune``: delete finished jobs past their retention."""

from __future__ import annotations

from argparse import ArgumentParser
from typing import Any

from django.core.management.base import BaseCommand

from ...queue.retention import prune_all
from ..arguments import checked_options, nonnegative_float


class Command(BaseCommand):
    help = "Delete finished jobs older than PGFLOW['RETENTION'] (or --older-than), in batches."

    def add_arguments(self, parser: ArgumentParser) -> None:
        parser.add_argument(
            "--older-than",
            type=nonnegative_float,
            help="override the retention of every finished status, in seconds",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        options = checked_options(self, "pgflow_prune", options)
        override = None
        if options["older_than"] is not None:
            age = options["older_than"]
            override = {"completed": age, "failed": age, "cancelled": age}
        deleted = prune_all(retention=override)
        summary = ", ".join(f"{count} {what}" for what, count in deleted.items())
        self.stdout.write(f"pruned: {summary}")
