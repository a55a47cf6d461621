"""The one settings dict, ``PGFLOW = {...}``: its keys, their types and defaults.

Every key is optional. ``django_pgflow.checks`` validates the dict through
Django's system checks, so a typo or a wrong type is a ``manage.py check`` error
instead of a surprise at run time.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.conf import settings as django_settings


@dataclass(frozen=True)
class Option:
    """One key of ``PGFLOW``: its accepted types, its default and a short help text."""

    types: tuple[type, ...]
    default: Any
    help: str
    minimum: float | None = None
    maximum: float | None = None


NUMBER = (int, float)  # every NUMBER option is seconds, at most validation.MAX_SECONDS

OPTIONS: dict[str, Option] = {
    "DEFAULT_QUEUE": Option((str,), "default", "Queue used when a task names none."),
    "QUEUES": Option(
        (dict,),
        {},
        "Declared queues and their options. When non-empty, enqueueing to a queue not "
        "listed here (other than DEFAULT_QUEUE) is refused.",
    ),
    "DEFAULT_PRIORITY": Option(
        (int,), 0, "Priority of a job whose task names none.", -32768, 32767
    ),
    "DEFAULT_MAX_ATTEMPTS": Option(
        (int,), 3, "Attempts before a job fails for good.", 1, 1_000_000
    ),
    "DEFAULT_TIMEOUT": Option(NUMBER, 300, "Seconds a job may run before it times out.", 0.001),
    "DEFAULT_RETRY_DELAY": Option(NUMBER, 1.0, "Base of the exponential retry backoff (s).", 0),
    "DEFAULT_MAX_RETRY_DELAY": Option(NUMBER, 3600.0, "Cap of the retry backoff (s).", 0),
    "LEASE_MARGIN": Option(NUMBER, 30.0, "Seconds added to a job's timeout to form its lease.", 0),
    "HEARTBEAT_INTERVAL": Option(NUMBER, 5.0, "Seconds between worker heartbeats.", 0.05),
    "WORKER_DEAD_AFTER": Option(
        NUMBER,
        60.0,
        "A worker whose last heartbeat is older than this is stale; once its connections "
        "are gone too (or it has been silent five times as long), it is lost and its "
        "jobs fail with retry.",
        0.1,
    ),
    "POLL_INTERVAL": Option(
        NUMBER, 2.0, "Seconds an idle worker waits for a notification before polling.", 0.01
    ),
    # register_worker refuses more: a worker row must stay readable.
    "CONCURRENCY": Option((int,), 8, "Threads per worker process.", 1, 10_000),
    "CLAIM_BATCH_SIZE": Option(
        (int,),
        0,
        "Jobs claimed per round trip. 0 (the default) adapts: while jobs are short (mean "
        "under 50 ms) a worker claims up to 4 per thread (at most 10,000) and holds two "
        "such batches beyond its threads; otherwise it claims only for free threads. A "
        "value larger than the concurrency always holds that many (prefetch).",
        0,
        10_000,
    ),
    "SHUTDOWN_TIMEOUT": Option(
        NUMBER, 30.0, "Seconds running jobs get to finish after SIGTERM.", 0
    ),
    # The upper bounds below are the SQL core's: sync_limits stores at most
    # 64 MiB, a claim takes at most 10,000 jobs, a prune batch is an integer.
    "MAX_PAYLOAD_BYTES": Option(
        (int,),
        1_048_576,
        "Largest JSON payload (args plus kwargs, as PostgreSQL prints it) accepted.",
        1,
        67_108_864,
    ),
    "RETENTION": Option(
        (dict,),
        {"completed": 7 * 86400, "failed": 30 * 86400, "cancelled": 7 * 86400},
        "Seconds finished jobs are kept, per status, before pgflow_prune removes them; "
        "None keeps them forever. Statuses you leave out keep their default.",
    ),
    "PRUNE_INTERVAL": Option(
        NUMBER, 0, "Seconds between prunes run by runworkers; 0 disables them.", 0
    ),
    "PRUNE_BATCH_SIZE": Option(
        (int,), 10_000, "Rows deleted per prune statement.", 1, 2_147_483_647
    ),
    "RESOURCES": Option((dict,), {}, "Named resources and their capacities."),
    "PERIODIC": Option(
        (dict,),
        {},
        "Periodic schedules by name: {'nightly-report': {'task': 'myapp.tasks.report', "
        "'cron': '0 3 * * *', 'timezone': 'UTC', 'args': [], 'kwargs': {}}}; also queue, "
        "priority, max_attempts, retry_delay, max_retry_delay, timeout. Workers enqueue one "
        "job per tick; a name also used by @periodic is overridden by this setting.",
    ),
    "HOOKS": Option(
        (list, tuple),
        [],
        "Callables (or dotted paths) run around each job on a worker, outermost first: "
        "hook(context, proceed) returns proceed(). See docs/guides/signals-and-hooks.md.",
    ),
    "TRACING": Option(
        (bool,),
        True,
        "OpenTelemetry spans for enqueue and execution when opentelemetry-api is installed "
        "and a tracer provider is set; False turns them off.",
    ),
    "METRICS": Option((bool,), False, "Serve the Prometheus /metrics view of django_pgflow.urls."),
    "HEALTH": Option((bool,), False, "Serve the /health view of django_pgflow.urls."),
    "ENDPOINT_TOKEN": Option(
        (str, type(None)),
        None,
        "A bearer token /metrics and /health require (Authorization: Bearer <token>, or "
        "?token=). None: only ENDPOINT_ACCESS decides, and with neither set the views "
        "answer only staff users.",
    ),
    "ENDPOINT_ACCESS": Option(
        (str, type(None)),
        None,
        "Dotted path of a callable access(request) -> bool deciding who may read /metrics "
        "and /health (checked after ENDPOINT_TOKEN, either suffices).",
    ),
    "METRICS_WINDOW": Option(
        NUMBER, 3600.0, "Seconds of finished jobs the duration histograms cover.", 1
    ),
    "ROUTES": Option(
        (dict,),
        {},
        "Per task name (or '*' for every other): 'pgflow', 'legacy' or 'shadow'. Read by "
        ".delay()/.apply_async() and django_pgflow.router.send. See "
        "docs/migrating/side-by-side.md.",
    ),
    "ROUTER": Option(
        (str, type(None)),
        None,
        "Dotted path of a callable route(task_name) -> 'pgflow' | 'legacy' | 'shadow' | None "
        "(None: ROUTES decides). For switches that must flip without a deploy.",
    ),
    "LEGACY_ENQUEUE": Option(
        (str, type(None)),
        None,
        "Dotted path of send(task_name, args, kwargs, options) that hands a call to the "
        "old system and returns its id (e.g. a Celery AsyncResult id).",
    ),
    "LEGACY_RESULT": Option(
        (str, type(None)),
        None,
        "Dotted path of result(legacy_id) -> (finished, value), used by shadow mode to "
        "compare outcomes.",
    ),
}


class PgflowSettings:
    """Read access to ``settings.PGFLOW`` merged over the defaults.

    Read on every access, so ``override_settings`` in tests takes effect.
    """

    def __getattr__(self, name: str) -> Any:
        if name not in OPTIONS:
            raise AttributeError(f"PGFLOW has no setting {name!r}")
        user = getattr(django_settings, "PGFLOW", None) or {}
        return user.get(name, OPTIONS[name].default)


pgflow_settings = PgflowSettings()
