"""What ``runworkers`` prints: a start banner, and each interval's throughput.

Printed to the command's stdout, whatever the project's logging says; ``-v 0``
prints nothing. ``-v 2`` also shows django-pgflow's log records (on stderr)
when the project has configured no handler for them.
"""

from __future__ import annotations

import logging
import sys
import threading
import time
from collections.abc import Callable
from typing import Any

from .. import __version__

STATS = ("completed", "failed", "retried", "timed_out", "late")


def database_label(settings_dict: dict[str, Any]) -> str:
    """Host, port, database and user: never the password."""
    host = settings_dict.get("HOST") or "localhost (socket)"
    port = settings_dict.get("PORT") or 5432
    return (
        f"{settings_dict.get('NAME') or '(default)'} on {host}:{port} "
        f"as {settings_dict.get('USER') or '(default user)'}"
    )


def banner(options: dict[str, Any], concurrency: int, settings_dict: dict[str, Any]) -> str:
    queues = ", ".join(options["queues"]) if options["queues"] else "all queues"
    mode = "burst (exits when the queues are empty)" if options["burst"] else "until stopped"
    return (
        f"django-pgflow {__version__} workers: {options['processes']} process(es) x "
        f"{concurrency} thread(s) on {queues}, {mode}\n"
        f"  database: {database_label(settings_dict)}\n"
        f"  Ctrl-C or SIGTERM stops them after running jobs finish."
    )


def interval_line(label: str, delta: dict[str, int], seconds: float) -> str:
    rate = delta["completed"] / seconds if seconds > 0 else 0.0
    extras = "".join(
        f", {delta[name]} {name.replace('_', ' ')}" for name in STATS[1:] if delta[name]
    )
    return f"{label}: {delta['completed']} completed{extras} in {seconds:.0f}s ({rate:,.1f}/s)"


class IntervalReporter(threading.Thread):
    """Every ``interval`` seconds, one line of what the worker did since the last one
    (nothing when it did nothing: an idle worker stays quiet)."""

    def __init__(
        self,
        stats: Callable[[], dict[str, int]],
        label: Callable[[], str],
        write: Callable[[str], None],
        interval: float,
    ) -> None:
        super().__init__(name="pgflow-reporter", daemon=True)
        self.stats, self.label, self.write = stats, label, write
        self.interval = interval
        self.stopped = threading.Event()

    def run(self) -> None:
        last, since = dict(self.stats()), time.monotonic()
        while not self.stopped.wait(self.interval):
            last, since = self.report(last, since)
        self.report(last, since)

    def report(self, last: dict[str, int], since: float) -> tuple[dict[str, int], float]:
        now, current = time.monotonic(), dict(self.stats())
        delta = {name: current.get(name, 0) - last.get(name, 0) for name in STATS}
        if any(delta.values()):
            self.write(interval_line(self.label(), delta, now - since))
        return current, now

    def stop(self) -> None:
        self.stopped.set()
        self.join(timeout=5)


def configure_logging(verbosity: int) -> None:
    logger = logging.getLogger("django_pgflow")
    if verbosity < 2:
        return
    logger.setLevel(logging.DEBUG if verbosity >= 3 else logging.INFO)
    if not logger.hasHandlers():
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
        logger.addHandler(handler)
