"""``python manage.py runworkers``: run worker processes until stopped."""

from __future__ import annotations

import logging
from argparse import ArgumentParser
from typing import Any

import psycopg
from django.core.management.base import BaseCommand, CommandError
from django.db import connections

from ...definitions.sync import sync_flows
from ...setup_errors import unreachable_database_message
from ...worker.options import WorkerOptions
from ...worker.runner import Worker
from ...worker.supervisor import Supervisor
from ..arguments import (
    checked_options,
    nonnegative_float,
    positive_float,
    positive_int,
    queue_list,
)


class Command(BaseCommand):
    help = "Run django-pgflow workers: claim jobs from the queues and execute them."

    def add_arguments(self, parser: ArgumentParser) -> None:
        parser.add_argument(
            "--queues", type=queue_list, default=[], help="a,b: queues (default: all)"
        )
        parser.add_argument("--concurrency", type=positive_int, help="threads per process")
        parser.add_argument("--processes", type=positive_int, default=1, help="worker processes")
        parser.add_argument("--batch-size", type=positive_int, help="jobs claimed per round trip")
        parser.add_argument(
            "--burst", action="store_true", help="exit 0 once nothing is ready or running"
        )
        parser.add_argument("--poll-interval", type=positive_float, help="seconds between polls")
        parser.add_argument(
            "--shutdown-timeout",
            type=nonnegative_float,
            help="seconds running jobs get to finish after SIGTERM",
        )
        parser.add_argument("--supervised", action="store_true", help="(internal) run as a child")

    def handle(self, *args: Any, **options: Any) -> None:
        options = checked_options(self, "runworkers", options)
        self._configure_logging(options["verbosity"])
        self._check_database()
        sync_flows()
        if options["processes"] > 1:
            code = Supervisor(options["processes"], self._child_args(options)).run()
        else:
            worker_options = WorkerOptions.from_settings(
                queues=options["queues"],
                concurrency=options["concurrency"],
                batch_size=options["batch_size"],
                burst=options["burst"],
                poll_interval=options["poll_interval"],
                shutdown_timeout=options["shutdown_timeout"],
                exit_on_timeout=options["supervised"],
            )
            code = Worker(worker_options).run()
        if code:
            raise SystemExit(code)

    def _child_args(self, options: dict[str, Any]) -> list[str]:
        args: list[str] = []
        if options["queues"]:
            args += ["--queues", ",".join(options["queues"])]
        for name in ("concurrency", "batch_size", "poll_interval", "shutdown_timeout"):
            if options[name] is not None:
                args += [f"--{name.replace('_', '-')}", str(options[name])]
        if options["burst"]:
            args.append("--burst")
        args += ["--verbosity", str(options["verbosity"])]
        return args

    def _check_database(self) -> None:
        connection = connections["default"]
        try:
            connection.ensure_connection()
            with connection.cursor() as cursor:
                cursor.execute("SELECT to_regproc('django_pgflow.claim') IS NOT NULL")
                installed = cursor.fetchone()[0]
        except (psycopg.OperationalError, Exception) as error:
            if "connect" not in str(error).lower() and not isinstance(
                getattr(error, "__cause__", None), psycopg.OperationalError
            ):
                raise
            raise CommandError(
                unreachable_database_message(connection.settings_dict, error)
            ) from None
        finally:
            connection.close()
        if not installed:
            raise CommandError(
                "django-pgflow's SQL functions are not installed in this database: "
                "run `python manage.py migrate` first."
            )

    def _configure_logging(self, verbosity: int) -> None:
        logger = logging.getLogger("django_pgflow")
        if verbosity >= 2:
            logger.setLevel(logging.INFO)
        if verbosity >= 3:
            logger.setLevel(logging.DEBUG)
