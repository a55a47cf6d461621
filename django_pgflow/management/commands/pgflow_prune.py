"""``python manage.py pgflow_prune``: delete finished jobs past their retention."""

from __future__ import annotations

from argparse import ArgumentParser, ArgumentTypeError
from typing import Any

from django.core.management.base import BaseCommand

from ...queue.retention import prune_all


def seconds(value: str) -> float:
    try:
        number = float(value)
    except ValueError:
        raise ArgumentTypeError(f"{value!r} is not a number of seconds") from None
    if number < 0 or number != number or number == float("inf"):
        raise ArgumentTypeError(f"must be a finite number of seconds >= 0, got {value}")
    return number


class Command(BaseCommand):
    help = "Delete finished jobs older than PGFLOW['RETENTION'] (or --older-than), in batches."

    def add_arguments(self, parser: ArgumentParser) -> None:
        parser.add_argument(
            "--older-than",
            type=seconds,
            help="override the retention of every finished status, in seconds",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        override = None
        if options["older_than"] is not None:
            age = options["older_than"]
            override = {"completed": age, "failed": age, "cancelled": age}
        deleted = prune_all(retention=override)
        summary = ", ".join(f"{count} {what}" for what, count in deleted.items())
        self.stdout.write(f"pruned: {summary}")
