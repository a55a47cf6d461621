"""``python manage.py pgflow_sync``: write PGFLOW's limits and the flows to the database."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError
from django.db import connections, transaction

from ...definitions.flows.sync import sync_flows
from ...limit_sync import sync_limits


class Command(BaseCommand):
    help = (
        "Write PGFLOW['RESOURCES'], the queue limits of PGFLOW['QUEUES'] and "
        "PGFLOW['MAX_PAYLOAD_BYTES'] to the database, and the Flow definitions of this code. "
        "migrate does the same; run this after changing those settings without a migration. "
        "Needs the role that runs migrate."
    )

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--database", default="default", help="database alias")

    def handle(self, *args: Any, **options: Any) -> None:
        using = options["database"]
        with transaction.atomic(using=using), connections[using].cursor() as cursor:
            if not sync_limits(cursor):
                raise CommandError(
                    "this database role may not change resources and queue limits "
                    "(EXECUTE on django_pgflow.sync_limits): run pgflow_sync as the role "
                    "that runs migrate"
                )
            changes = sync_flows(using)
        self.stdout.write("limits written; flows: " + ("; ".join(changes) or "unchanged"))
