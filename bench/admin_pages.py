#!/usr/bin/env python
"""Server time of every admin page at volume (run by hand, not in CI).

    .venv/bin/python bench/admin_pages.py [--jobs 100000] [--runs 1000] [--map-size 10000]

It (re)creates its own database, ``pgflow_bench_admin``, on the server of
``DATABASE_URL`` (default: postgres://postgres@127.0.0.1:5432), migrates it
and seeds it as the table owner with ``generate_series`` INSERTs: ``--jobs``
jobs in every state (most finished in the last two hours, some failed with
errors, some waiting for the GPU or a lock key), ``--runs`` runs of the
``square_sum`` flow, one of them with a map of ``--map-size`` tasks (their
jobs count among ``--jobs``), 50 workers and 20 periodic schedules. Then it
loads each page with Django's test client (in-process: server time, no
network) and prints the median and worst of ``--repeat`` loads, and the
number of queries. The target is under 300 ms a page.
"""

from __future__ import annotations

import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
# bench/queue.py would shadow the standard library's ``queue`` module.
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != HERE]
sys.path.insert(0, str(ROOT))

import argparse  # noqa: E402
import os  # noqa: E402
import statistics  # noqa: E402
import time  # noqa: E402
from urllib.parse import urlsplit, urlunsplit  # noqa: E402

import psycopg  # noqa: E402

DEFAULT_SERVER = "postgres://postgres@127.0.0.1:5432/pgflow_bench_admin"

SEED_SQL = """
INSERT INTO pgflow_worker (hostname, pid, queues, concurrency, state, started_at, last_heartbeat)
SELECT 'host-' || (i %% 5), 1000 + i, '[]', 8, CASE WHEN i <= 40 THEN 'running' ELSE 'stopped' END,
       now() - interval '3 hours', now() - make_interval(secs => i %% 7)
FROM generate_series(1, 50) i;

-- The big run's map: numbers (done) -> square (map_size tasks, half done) -> total.
INSERT INTO pgflow_run (flow_id, flow_slug, status, input, output, remaining_steps, created_at)
SELECT f.id, 'square_sum', CASE WHEN r %% 10 = 0 THEN 'failed' WHEN r %% 3 = 0 THEN 'started'
                               ELSE 'completed' END,
       jsonb_build_object('numbers', '[1, 2, 3]'::jsonb), NULL, 0,
       now() - make_interval(mins => r)
FROM pgflow_flow f, generate_series(1, %(runs)s) r WHERE f.slug = 'square_sum';

INSERT INTO pgflow_step_state (run_id, step_id, step_slug, status, remaining_deps,
                               remaining_tasks, initial_tasks, created_at, started_at, finished_at)
SELECT r.id, s.id, s.slug,
       CASE WHEN r.status = 'completed' OR s.slug = 'numbers' THEN 'completed'
            WHEN s.slug = 'square' THEN 'started' ELSE 'created' END,
       0,
       CASE WHEN s.slug = 'square' AND r.id = %(big)s THEN %(map)s / 2
            WHEN r.status = 'completed' OR s.slug = 'numbers' THEN 0 ELSE 1 END,
       CASE WHEN s.slug = 'square' AND r.id = %(big)s THEN %(map)s
            WHEN s.slug = 'square' THEN 3 ELSE 1 END,
       r.created_at, r.created_at, CASE WHEN r.status = 'completed' THEN now() END
FROM pgflow_run r JOIN pgflow_step s ON s.flow_id = r.flow_id;

-- Jobs: the big map's tasks first, then plain jobs of every kind.
INSERT INTO pgflow_job (queue, task_name, args, kwargs, status, priority, run_at, attempts,
                        failures, max_attempts, retry_delay, max_retry_delay, timeout, errors,
                        created_at, started_at, finished_at, run_id, step_slug, task_index,
                        result, worker_id, gated)
SELECT 'default', 'pgflow.step.square_sum.square', jsonb_build_array(i), '{}',
       CASE WHEN i < %(map)s / 2 THEN 'completed' ELSE 'queued' END, 0, now() - interval '1 hour',
       CASE WHEN i < %(map)s / 2 THEN 1 ELSE 0 END, 0, 3, 1, 3600, 300, '[]',
       now() - interval '1 hour', CASE WHEN i < %(map)s / 2 THEN now() - interval '30 minutes' END,
       CASE WHEN i < %(map)s / 2 THEN now() - interval '29 minutes' END,
       %(big)s, 'square', i, CASE WHEN i < %(map)s / 2 THEN to_jsonb(i * i) END,
       CASE WHEN i < %(map)s / 2 THEN 1 END, false
FROM generate_series(0, %(map)s - 1) i;

INSERT INTO pgflow_step_task (run_id, step_slug, task_index, status, job_id, output, attempts,
                              created_at, finished_at)
SELECT j.run_id, j.step_slug, j.task_index, j.status, j.id, j.result, j.attempts, j.created_at,
       j.finished_at
FROM pgflow_job j WHERE j.run_id = %(big)s;

INSERT INTO pgflow_job (queue, task_name, args, kwargs, status, priority, run_at, attempts,
                        failures, max_attempts, retry_delay, max_retry_delay, timeout, errors,
                        created_at, started_at, finished_at, result, worker_id, resources,
                        lock_key, gated, waited)
SELECT (ARRAY['default', 'emails', 'embeddings', 'slow'])[1 + i %% 4],
       (ARRAY['testproject.example.tasks.noop', 'testproject.example.tasks.send_digest',
              'testproject.example.tasks.embed_document'])[1 + i %% 3],
       jsonb_build_array(i), '{}', k.status, 0,
       CASE WHEN k.status = 'queued' AND i %% 5 = 0 THEN now() + interval '1 hour'
            ELSE now() - make_interval(secs => i %% 7200) END,
       CASE WHEN k.status = 'queued' THEN 0 ELSE 1 END,
       CASE WHEN k.status = 'failed' THEN 1 ELSE 0 END, 3, 1, 3600, 300,
       CASE WHEN k.status = 'failed' THEN jsonb_build_array(jsonb_build_object(
           'attempt', 1, 'error', 'ValueError', 'message', 'boom ' || i,
           'traceback', repeat('  File "tasks.py", line 1, in task' || chr(10), 20)))
            ELSE '[]' END,
       now() - make_interval(secs => i %% 7200),
       CASE WHEN k.status <> 'queued' THEN now() - make_interval(secs => i %% 7200) END,
       CASE WHEN k.status IN ('completed', 'failed', 'cancelled')
            THEN now() - make_interval(secs => i %% 7200) + interval '1 second' END,
       CASE WHEN k.status = 'completed' THEN to_jsonb(i) END,
       CASE WHEN k.status IN ('started', 'completed', 'failed') THEN 1 + i %% 50 END,
       CASE WHEN i %% 20 = 0 THEN '{"gpu": 1}'::jsonb END,
       CASE WHEN i %% 20 = 1 THEN 'doc:' || (i %% 50) END,
       i %% 20 IN (0, 1),
       CASE WHEN i %% 20 IN (0, 1) AND k.status <> 'queued' THEN (i %% 30)::float8 END
FROM generate_series(1, %(plain)s) i
CROSS JOIN LATERAL (SELECT CASE
    WHEN i %% 100 < 88 THEN 'completed' WHEN i %% 100 < 93 THEN 'failed'
    WHEN i %% 100 < 98 THEN 'queued' WHEN i %% 100 < 99 THEN 'started' ELSE 'cancelled' END
    AS status) k;

INSERT INTO pgflow_periodic (name, task_name, cron, timezone, job, last_tick, next_tick,
                             last_job_id, created_at, updated_at)
SELECT 'schedule-' || i, 'testproject.example.tasks.noop', '*/5 * * * *', 'UTC',
       '{"queue": "default", "task_name": "testproject.example.tasks.noop"}',
       now() - interval '3 minutes', now() + interval '2 minutes', i, now(), now()
FROM generate_series(1, 20) i;

ANALYZE;
"""


def database_url(server_url: str, name: str) -> str:
    parts = urlsplit(server_url)
    return urlunsplit((parts.scheme, parts.netloc, "/" + name, parts.query, ""))


def recreate_database(url: str) -> None:
    name = urlsplit(url).path.lstrip("/")
    with psycopg.connect(database_url(url, "postgres"), autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')


def seed(jobs: int, runs: int, map_size: int) -> int:
    from django.db import connection

    from django_pgflow.definitions.sync import sync_flows
    from django_pgflow.limit_sync import declared_queue_limits, declared_resources

    sync_flows()
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT django_pgflow.sync_limits(%s::jsonb, %s::jsonb)",
            [json_text(declared_resources()), json_text(declared_queue_limits())],
        )
        cursor.execute("SELECT coalesce(max(id), 0) + 1 FROM pgflow_run")
        big = cursor.fetchone()[0]
        params = {"runs": runs, "big": big, "map": map_size, "plain": jobs - map_size}
        cursor.execute(SEED_SQL, params)
    return int(big)


def json_text(value: object) -> str:
    import json

    return json.dumps(value)


def pages(big: int) -> dict[str, str]:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SELECT max(id) FROM pgflow_job WHERE status = 'failed'")
        failed = cursor.fetchone()[0]
    admin = "/admin/django_pgflow"
    return {
        "jobs": f"{admin}/job/",
        "jobs: has errors": f"{admin}/job/?errors=yes",
        "jobs: queue + failed": f"{admin}/job/?queue=emails&status__exact=failed",
        "jobs: flow": f"{admin}/job/?flow=square_sum",
        "jobs: search id": f"{admin}/job/?q={failed}",
        "job (failed)": f"{admin}/job/{failed}/change/",
        "runs": f"{admin}/workflowrun/",
        "runs: flow + failed": f"{admin}/workflowrun/?flow=square_sum&status__exact=failed",
        "run (10,000-task map)": f"{admin}/workflowrun/{big}/change/?step=square",
        "run, task page 100": f"{admin}/workflowrun/{big}/change/?step=square&page=100",
        "run, failed tasks": f"{admin}/workflowrun/{big}/change/?step=square&status=failed",
        "workers": f"{admin}/worker/",
        "queues": f"{admin}/queueoverview/",
        "lock contention": f"{admin}/lockcontention/",
        "periodic": f"{admin}/periodicschedule/",
    }


def measure(repeat: int, urls: dict[str, str]) -> None:
    from django.contrib.auth.models import User
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext

    user = User.objects.create_superuser("bench", "bench@example.com", "pw")
    client = Client()
    client.force_login(user)
    print(f"{'page':<26} {'median ms':>10} {'worst ms':>9} {'queries':>8}")
    for name, url in urls.items():
        assert client.get(url).status_code == 200, url  # warm: templates, plans
        times = []
        for _ in range(repeat):
            with CaptureQueriesContext(connection) as queries:
                start = time.perf_counter()
                response = client.get(url)
                times.append((time.perf_counter() - start) * 1000)
            assert response.status_code == 200, url
        mark = "" if max(times) < 300 else "  over 300 ms"
        print(
            f"{name:<26} {statistics.median(times):>10.1f} {max(times):>9.1f}"
            f" {len(queries):>8}{mark}"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--jobs", type=int, default=100_000)
    parser.add_argument("--runs", type=int, default=1_000)
    parser.add_argument("--map-size", type=int, default=10_000)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()

    server = os.environ.get("DATABASE_URL") or DEFAULT_SERVER
    url = database_url(server, "pgflow_bench_admin")
    recreate_database(url)
    os.environ["DATABASE_URL"] = url
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "testproject.settings")
    os.environ["DJANGO_DEBUG"] = "0"
    import django
    from django.core.management import call_command

    django.setup()
    from django.conf import settings

    settings.ALLOWED_HOSTS = ["testserver"]
    call_command("migrate", verbosity=0)
    started = time.perf_counter()
    big = seed(args.jobs, args.runs, args.map_size)
    print(
        f"seeded {args.jobs} jobs, {args.runs} runs (run {big}: a map of {args.map_size})"
        f" in {time.perf_counter() - started:.1f}s"
    )
    measure(args.repeat, pages(big))


if __name__ == "__main__":
    main()
