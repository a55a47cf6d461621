"""A Prometheus collector that reads django-pgflow's tables at scrape time.

Every figure comes from the database, so one scrape of any web process sees
every worker on every host, and nothing is lost when a worker restarts. The
queries read active rows through the partial indexes that the claim uses, and
finished rows only within ``PGFLOW["METRICS_WINDOW"]`` (an hour by default)
through the finished-rows indexes: a scrape costs the same with a million
finished jobs kept as with none.

Families (all gauges: they describe the present or the window, not totals
since a process started):

- ``pgflow_queue_jobs{queue,state}``: ready, scheduled (run_at later), retrying
  (waiting to retry), running.
- ``pgflow_window_jobs{task,status}``: jobs finished in the window.
- ``pgflow_window_retries{task}``: extra attempts those jobs needed.
- ``pgflow_job_duration_seconds{task}``: a gauge histogram of started_at to
  finished_at of the jobs completed in the window (the last attempt's run time).
- ``pgflow_workers{state}``: alive, stale, stopping, lost; and
  ``pgflow_worker_threads``: the concurrency of the alive ones.
- ``pgflow_resource_in_use``, ``pgflow_resource_capacity``,
  ``pgflow_resource_waiting``, ``pgflow_resource_longest_wait_seconds``
  ``{kind,name}``: resources, limited queues and lock keys (``pgflow_contention``).
- ``pgflow_runs{flow,status}``: runs started and not finished, and runs finished in
  the window.
- ``pgflow_metrics_window_seconds``: the window itself.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from django.db import connections
from prometheus_client.core import GaugeHistogramMetricFamily, GaugeMetricFamily, Metric

from ..conf import pgflow_settings
from ..status import worker_health

BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 1800)

QUEUE_SQL = """
SELECT queue,
       count(*) FILTER (WHERE status = 'queued' AND run_at <= now()),
       count(*) FILTER (WHERE status = 'queued' AND run_at > now() AND failures = 0),
       count(*) FILTER (WHERE status = 'queued' AND run_at > now() AND failures > 0),
       count(*) FILTER (WHERE status = 'started')
FROM pgflow_job WHERE status IN ('queued', 'started')
GROUP BY queue ORDER BY queue
"""

FINISHED_SQL = """
SELECT task_name, status, count(*), coalesce(sum(greatest(attempts - 1, 0)), 0)
FROM pgflow_job
WHERE status IN ('completed', 'failed', 'cancelled')
  AND finished_at > now() - make_interval(secs => %s)
GROUP BY task_name, status ORDER BY task_name, status
"""

DURATION_SQL = """
SELECT task_name, count(*), coalesce(sum(d), 0), {buckets}
FROM (SELECT task_name, extract(epoch FROM finished_at - started_at)::float8 AS d
      FROM pgflow_job
      WHERE status = 'completed' AND finished_at > now() - make_interval(secs => %s)
        AND started_at IS NOT NULL) j
GROUP BY task_name ORDER BY task_name
""".format(buckets=", ".join(f"count(*) FILTER (WHERE d <= {b})" for b in BUCKETS))

WORKER_SQL = """
SELECT state, extract(epoch FROM now() - last_heartbeat)::float8, concurrency
FROM pgflow_worker WHERE state <> 'stopped'
"""

RUN_SQL = """
SELECT flow_slug, status, count(*) FROM pgflow_run
WHERE status = 'started'
   OR (status IN ('completed', 'failed', 'cancelled')
       AND finished_at > now() - make_interval(secs => %s))
GROUP BY flow_slug, status ORDER BY flow_slug, status
"""

CONTENTION_SQL = "SELECT kind, name, capacity, in_use, waiting, longest_wait FROM pgflow_contention"


def _rows(alias: str, query: str, params: list[Any] | None = None) -> list[tuple[Any, ...]]:
    with connections[alias].cursor() as cursor:
        cursor.execute(query, params or [])
        return cursor.fetchall()


class PgflowCollector:
    """``collect()`` runs the queries above on the ``alias`` database."""

    def __init__(self, alias: str = "default") -> None:
        self.alias = alias

    def collect(self) -> Iterator[Metric]:
        window = float(pgflow_settings.METRICS_WINDOW)
        yield GaugeMetricFamily(
            "pgflow_metrics_window_seconds", "Window of the pgflow_window_* figures.", window
        )
        yield self._queues()
        yield from self._finished(window)
        yield self._durations(window)
        yield from self._workers()
        yield from self._contention()
        yield self._runs(window)

    def _queues(self) -> Metric:
        family = GaugeMetricFamily(
            "pgflow_queue_jobs", "Jobs waiting or running, by queue and state.",
            labels=["queue", "state"],
        )  # fmt: skip
        for queue, ready, scheduled, retrying, running in _rows(self.alias, QUEUE_SQL):
            for state, value in (
                ("ready", ready), ("scheduled", scheduled),
                ("retrying", retrying), ("running", running),
            ):  # fmt: skip
                family.add_metric([queue, state], value)
        return family

    def _finished(self, window: float) -> Iterator[Metric]:
        jobs = GaugeMetricFamily(
            "pgflow_window_jobs", "Jobs finished within the window, by task and status.",
            labels=["task", "status"],
        )  # fmt: skip
        retries = GaugeMetricFamily(
            "pgflow_window_retries", "Extra attempts of the jobs finished within the window.",
            labels=["task"],
        )  # fmt: skip
        extra: dict[str, int] = {}
        for task, status, count, retried in _rows(self.alias, FINISHED_SQL, [window]):
            jobs.add_metric([task, status], count)
            extra[task] = extra.get(task, 0) + int(retried)
        for task, retried in extra.items():
            retries.add_metric([task], retried)
        yield jobs
        yield retries

    def _durations(self, window: float) -> Metric:
        family = GaugeHistogramMetricFamily(
            "pgflow_job_duration_seconds",
            "Run time (started_at to finished_at) of jobs completed within the window.",
            labels=["task"],
        )
        for task, count, total, *cumulative in _rows(self.alias, DURATION_SQL, [window]):
            buckets = [(str(b), c) for b, c in zip(BUCKETS, cumulative, strict=True)]
            family.add_metric([task], [*buckets, ("+Inf", count)], gsum_value=total)
        return family

    def _workers(self) -> Iterator[Metric]:
        states = {"alive": 0, "stale": 0, "stopping": 0, "lost": 0}
        threads = 0
        for state, age, concurrency in _rows(self.alias, WORKER_SQL):
            health = worker_health(state, age)
            states[health] = states.get(health, 0) + 1
            threads += concurrency if health == "alive" else 0
        workers = GaugeMetricFamily(
            "pgflow_workers", "Worker processes by health.", labels=["state"]
        )
        for state, count in states.items():
            workers.add_metric([state], count)
        yield workers
        yield GaugeMetricFamily(
            "pgflow_worker_threads", "Task threads of the alive workers.", threads
        )

    def _contention(self) -> Iterator[Metric]:
        labels = ["kind", "name"]
        families = {
            "capacity": GaugeMetricFamily(
                "pgflow_resource_capacity", "Capacity of a resource or queue limit.", labels=labels
            ),
            "in_use": GaugeMetricFamily(
                "pgflow_resource_in_use", "Units held by running jobs.", labels=labels
            ),
            "waiting": GaugeMetricFamily(
                "pgflow_resource_waiting", "Ready jobs waiting for it.", labels=labels
            ),
            "longest_wait": GaugeMetricFamily(
                "pgflow_resource_longest_wait_seconds",
                "How long the longest-waiting ready job has waited.",
                labels=labels,
            ),
        }
        for kind, name, capacity, in_use, waiting, longest in _rows(self.alias, CONTENTION_SQL):
            values = {"capacity": capacity, "in_use": in_use, "waiting": waiting,
                      "longest_wait": longest}  # fmt: skip
            for key, value in values.items():
                if value is not None:
                    families[key].add_metric([kind, name], float(value))
        yield from families.values()

    def _runs(self, window: float) -> Metric:
        family = GaugeMetricFamily(
            "pgflow_runs", "Runs in progress, and runs finished within the window.",
            labels=["flow", "status"],
        )  # fmt: skip
        for flow, status, count in _rows(self.alias, RUN_SQL, [window]):
            family.add_metric([flow, status], count)
        return family
