"""``python manage.py runworkers``: run worker processes until stopped."""

from __future__ import annotations

import argparse
from argparse import ArgumentParser
from typing import Any

import psycopg
from django.core.management.base import BaseCommand, CommandError
from django.db import connections

from ...conf import pgflow_settings
from ...definitions.flows.sync import sync_flows
from ...setup_errors import unreachable_database_message
from ...worker.options import WorkerOptions
from ...worker.pooler import pooled_pids, pooler_message
from ...worker.runner import Worker
from ...worker.supervisor import Supervisor
from ..arguments import (
    checked_options,
    nonnegative_float,
    per_worker,
    positive_float,
    positive_int,
    queue_list,
)
from ..worker_output import IntervalReporter, banner, configure_logging

DEFAULT_REPORT_INTERVAL = 60.0


class Command(BaseCommand):
    help = (
        "Run django-pgflow workers: claim jobs from the queues and execute them. Defaults "
        "come from settings.PGFLOW; flags override them."
    )

    def add_arguments(self, parser: ArgumentParser) -> None:
        s = pgflow_settings
        parser.add_argument(
            "--queues", type=queue_list, default=[], help="a,b: the queues to serve (default: all)"
        )
        parser.add_argument(
            "--concurrency",
            type=per_worker,
            help=f"threads per process (default: PGFLOW['CONCURRENCY'], now {s.CONCURRENCY})",
        )
        parser.add_argument(
            "--processes", type=positive_int, default=1, help="worker processes (default: 1)"
        )
        parser.add_argument(
            "--batch-size",
            type=per_worker,
            help="jobs claimed per round trip (default: PGFLOW['CLAIM_BATCH_SIZE'], now "
            f"{s.CLAIM_BATCH_SIZE or 'adaptive'})",
        )
        parser.add_argument(
            "--burst", action="store_true", help="exit 0 once nothing is ready or running"
        )
        parser.add_argument(
            "--poll-interval",
            type=positive_float,
            help="seconds between polls when no notification arrives (default: "
            f"PGFLOW['POLL_INTERVAL'], now {s.POLL_INTERVAL:g})",
        )
        parser.add_argument(
            "--shutdown-timeout",
            type=nonnegative_float,
            help="seconds running jobs get to finish after SIGTERM (default: "
            f"PGFLOW['SHUTDOWN_TIMEOUT'], now {s.SHUTDOWN_TIMEOUT:g})",
        )
        parser.add_argument(
            "--report-interval",
            type=positive_float,
            default=DEFAULT_REPORT_INTERVAL,
            help="seconds between throughput lines at verbosity 1 (default: "
            f"{DEFAULT_REPORT_INTERVAL:g})",
        )
        parser.add_argument(
            "--database",
            default="default",
            help="the DATABASES alias workers connect to, directly (default: default)",
        )
        parser.add_argument(
            "--allow-pooler",
            action="store_true",
            help="run through a connection pooler in session mode (refused by default)",
        )
        parser.add_argument("--supervised", action="store_true", help=argparse.SUPPRESS)

    def handle(self, *args: Any, **options: Any) -> None:
        options = checked_options(self, "runworkers", options)
        configure_logging(options["verbosity"])
        self._check_database(options["database"], options["allow_pooler"])
        sync_flows()
        if options["verbosity"] >= 1 and not options["supervised"]:
            concurrency = options["concurrency"] or pgflow_settings.CONCURRENCY
            settings_dict = connections[options["database"]].settings_dict
            self.stdout.write(banner(options, concurrency, settings_dict))
        if options["processes"] > 1:
            code = Supervisor(options["processes"], self._child_args(options)).run()
        else:
            code = self._run_worker(options)
        if code:
            raise SystemExit(code)

    def _run_worker(self, options: dict[str, Any]) -> int:
        worker = Worker(
            WorkerOptions.from_settings(
                queues=options["queues"],
                concurrency=options["concurrency"],
                batch_size=options["batch_size"],
                burst=options["burst"],
                poll_interval=options["poll_interval"],
                shutdown_timeout=options["shutdown_timeout"],
                exit_on_timeout=options["supervised"],
                alias=options["database"],
            )
        )
        if options["verbosity"] < 1:
            return worker.run()
        reporter = IntervalReporter(
            stats=lambda: worker.stats,
            label=lambda: f"worker {worker.worker_id}",
            write=self._write_now,
            interval=options["report_interval"],
        )
        reporter.start()
        try:
            return worker.run()
        finally:
            reporter.stop()
            totals = ", ".join(f"{n} {k.replace('_', ' ')}" for k, n in worker.stats.items())
            self.stdout.write(f"worker {worker.worker_id} stopped: {totals}.")

    def _write_now(self, line: str) -> None:
        # Flushed at once: under systemd, Docker or a pipe, stdout is block-buffered,
        # and a report that waits for the buffer to fill says nothing while it matters.
        self.stdout.write(line)
        self.stdout.flush()

    def _child_args(self, options: dict[str, Any]) -> list[str]:
        args: list[str] = []
        if options["queues"]:
            args += ["--queues", ",".join(options["queues"])]
        for name in (
            "concurrency", "batch_size", "poll_interval", "shutdown_timeout", "report_interval"
        ):  # fmt: skip
            if options[name] is not None:
                args += [f"--{name.replace('_', '-')}", str(options[name])]
        if options["burst"]:
            args.append("--burst")
        if options["allow_pooler"]:
            args.append("--allow-pooler")
        args += ["--database", options["database"], "--verbosity", str(options["verbosity"])]
        return args

    def _check_database(self, alias: str, allow_pooler: bool) -> None:
        if alias not in connections:
            raise CommandError(f"--database {alias!r}: no such alias in settings.DATABASES.")
        connection = connections[alias]
        try:
            connection.ensure_connection()
            pooled = None if allow_pooler else pooled_pids(connection)
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
        if pooled is not None:
            raise CommandError(pooler_message(alias, pooled))
        if not installed:
            raise CommandError(
                "django-pgflow's SQL functions are not installed in this database: "
                "run `python manage.py migrate` first."
            )
