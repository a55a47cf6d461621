"""The world a hostile call lands in: stored jobs, runs and workers in every
state, and a real worker (``runworkers`` as the worker role) that must survive.

``World.reset`` rebuilds the fixture rows through the SQL functions, as the
owner, so each example starts from the same shapes (with fresh ids).
``World.probe`` proves the real worker alive: the jobs the call stored are
moved to its queue, fresh jobs (plain, gated by a resource, gated by a lock
key) are enqueued behind them, and all must complete.
"""

from __future__ import annotations

import json
import secrets
from dataclasses import dataclass, field
from typing import Any

import psycopg
from django.db import connection

from ..conftest import WorkerProcess, wait_for
from ..roles import Roles, database_url

NOOP = "testproject.example.tasks.noop"
PROBE_QUEUE = "probe"
# What the real worker declares (it syncs them when it starts) and what every
# reset restores: a GPU for the probes, a TPU that the bystander holds.
RESOURCES = {"gpu": 1, "tpu": 1}
QUEUE_LIMITS = {"limited": {"concurrency": 2}, "rated": {"rate_count": 10, "rate_period": 1.0}}
WORKER_SETTINGS = {
    "RESOURCES": RESOURCES,
    "QUEUES": {
        "default": {},
        PROBE_QUEUE: {},
        "limited": {"concurrency": 2},
        "rated": {"rate_limit": "10/s"},
    },
    "HEARTBEAT_INTERVAL": 1.0,
    "POLL_INTERVAL": 0.5,
    # The bystander never heartbeats by itself: the real worker must not reap it.
    "WORKER_DEAD_AFTER": 3600.0,
}
LONG = 3600.0  # the timeout of held jobs: no lease expires during a test
# Jobs first: a completion the real worker reports afterwards finds no job,
# and cascades into no run.
RUNTIME_TABLES: tuple[str, ...] = (
    "pgflow_job",
    "pgflow_step_task",
    "pgflow_step_state",
    "pgflow_event",
)
RUNTIME_TABLES += ("pgflow_run", "pgflow_periodic")


def owner_connection() -> psycopg.Connection[Any]:
    settings = connection.settings_dict
    return psycopg.connect(
        host=settings["HOST"] or None,
        port=settings["PORT"] or None,
        dbname=settings["NAME"],
        user=settings["USER"] or None,
        password=settings["PASSWORD"] or None,
        autocommit=True,
        application_name="pgflow hostile owner",
        # Plans here are costed on tables a hostile call may have bloated:
        # compiling them (JIT) would cost more than running them.
        options="-c jit=off",
    )


@dataclass
class Pools:
    """Ids of the fixture rows, for arguments to name them."""

    workers: dict[str, int] = field(default_factory=dict)  # own, other, real, stopped
    jobs: dict[str, int] = field(default_factory=dict)  # by what state they are in
    attempts: dict[int, int] = field(default_factory=dict)  # job id -> attempts
    runs: dict[str, int] = field(default_factory=dict)
    ghost: int = 0  # an id no row has
    flows: list[Any] = field(default_factory=list)  # sync_flow() definitions

    def job_ids(self) -> list[int]:
        return list(self.jobs.values())


class RealWorker:
    """``manage.py runworkers --queues probe`` connected as the worker role."""

    def __init__(self, roles: Roles, owner: psycopg.Connection[Any]) -> None:
        self.roles, self.owner = roles, owner
        self.process: WorkerProcess | None = None
        self.id = 0

    def start(self) -> None:
        env = {"DATABASE_URL": database_url(self.roles.worker, self.roles), "PGFLOW_LOG": "INFO"}
        args = ["--queues", PROBE_QUEUE, "--concurrency", "4"]
        self.process = WorkerProcess(args, WORKER_SETTINGS, env=env)
        pid = self.process.pid
        query = "SELECT id FROM pgflow_worker WHERE pid = %s AND state = 'running'"

        def registered() -> int | None:
            assert self.process is not None and self.process.alive(), self.log()
            row = self.owner.execute(query, [pid]).fetchone()
            return row[0] if row else None

        self.id = wait_for(registered, timeout=120)

    def alive(self) -> bool:
        return self.process is not None and self.process.alive()

    def log(self, tail: int = 4000) -> str:
        return self.process.output()[-tail:] if self.process else ""

    def stop(self) -> None:
        if self.process is not None:
            self.process.kill_group()
            self.process = None

    def restart(self) -> None:
        self.stop()
        self.start()


DEFINITIONS = ("pgflow_step_dep", "pgflow_step", "pgflow_flow")


def flow_definitions() -> list[Any]:
    """What sync_flow() takes: a flow of the example project as it is, renamed,
    and as a next version."""
    from django_pgflow.definitions import sync
    from testproject.example.flows import TinyChain

    flow = sync._definition(sync.flow_rows(TinyChain._pgflow))
    return [flow, {**flow, "slug": "hostile_chain"}, {**flow, "version": flow["version"] + 1}]


class World:
    def __init__(self, roles: Roles, blocker: Any) -> None:
        self.owner = owner_connection()
        self.worker = RealWorker(roles, self.owner)
        self.blocker = blocker  # Django's, to sync flow definitions as migrate does
        self.pools = Pools()
        self.flows = flow_definitions()
        self.baseline = self.definitions()
        self.dirty = True

    def definitions(self) -> Any:
        return [
            self.owner.execute(f"SELECT * FROM {t} ORDER BY id").fetchall() for t in DEFINITIONS
        ]

    def restore_definitions(self) -> None:
        """Flow definitions as migrate leaves them: what a call defined goes."""
        if self.definitions() == self.baseline:
            return
        from django_pgflow.definitions.sync import sync_flows

        with self.owner.transaction():
            for table, rows in zip(DEFINITIONS, self.baseline, strict=True):
                kept = [row[0] for row in rows]
                self.owner.execute(f"DELETE FROM {table} WHERE NOT id = ANY (%s)", [kept])
        with self.blocker.unblock():
            sync_flows()

    def sql(self, query: str, *params: Any) -> Any:
        row = self.owner.execute(query, params).fetchone()
        return row[0] if row else None

    # --- the fixture -------------------------------------------------------------

    def reset(self) -> Pools:
        """Empty the runtime tables (the real worker's row excepted) and rebuild the fixture."""
        self.empty()
        self.restore_definitions()
        # A capacity a call set too high, cancelled by the statement timeout,
        # leaves its slot rows dead behind it: every scan would read them.
        if self.sql("SELECT pg_relation_size('pgflow_slot') > 8 * 1024 * 1024"):
            self.owner.execute("VACUUM FULL pgflow_slot")
        self.sql(
            "SELECT django_pgflow.sync_limits(%s::jsonb, %s::jsonb)",
            json.dumps(RESOURCES),
            json.dumps(QUEUE_LIMITS),
        )
        self.pools = Pools(flows=self.flows)
        self._workers()
        self._runs()
        self._jobs()
        self._periodic()
        for job_id, attempts in self.owner.execute("SELECT id, attempts FROM pgflow_job"):
            self.pools.attempts[job_id] = attempts
        top = self.sql("SELECT greatest((SELECT max(id) FROM pgflow_job), 0)")
        self.pools.ghost = int(top) + 1000
        self.dirty = False
        return self.pools

    def empty(self) -> None:
        """Delete the runtime rows. The real worker may still be finishing a job
        a call stored, whose cascade adds rows to its run meanwhile: try again."""
        for attempt in range(5):
            try:
                with self.owner.transaction():
                    for table in RUNTIME_TABLES:
                        self.owner.execute(f"DELETE FROM {table}")
                    self.owner.execute("DELETE FROM pgflow_worker WHERE id <> %s", [self.worker.id])
                    self.owner.execute(
                        "UPDATE pgflow_worker SET state = 'running', stopped_at = NULL,"
                        " last_heartbeat = now() WHERE id = %s",
                        [self.worker.id],
                    )
                return
            except (psycopg.errors.IntegrityError, psycopg.errors.DeadlockDetected):
                if attempt == 4:
                    raise

    def register(self, label: str, queues: list[str]) -> int:
        wid = self.sql(
            "SELECT django_pgflow.register_worker(%s, %s, %s::jsonb, 4)",
            f"hostile-{label}",
            1000 + len(self.pools.workers),
            json.dumps(queues),
        )
        self.pools.workers[label] = int(wid)
        return int(wid)

    def _workers(self) -> None:
        self.pools.workers["real"] = self.worker.id
        self.register("other", ["held"])  # the bystander: holds jobs, never reports
        self.register("own", ["own"])  # the hostile caller's own worker id
        stopped = self.register("stopped", [])
        self.sql("SELECT django_pgflow.stop_worker(%s)", stopped)

    def enqueue(self, label: str, queue: str, **options: Any) -> int:
        names = ", ".join(f"p_{k} => %s" for k in options)
        job_id = self.sql(
            f"SELECT (django_pgflow.enqueue(%s, %s{', ' if names else ''}{names})).id",
            queue,
            NOOP,
            *options.values(),
        )
        self.pools.jobs[label] = int(job_id)
        return int(job_id)

    def claim(self, who: str, queue: str, limit: int = 1) -> list[tuple[int, int]]:
        rows = self.owner.execute(
            "SELECT id, attempts FROM django_pgflow.claim(%s, %s, %s, 60)",
            [self.pools.workers[who], [queue], limit],
        ).fetchall()
        assert len(rows) == limit, f"{who} claimed {rows} from {queue}"
        return rows

    def report(self, who: str, how: str, job: int, attempt: int, value: str, *more: Any) -> None:
        """complete() or fail() as worker ``who``, which holds the job."""
        extra = "".join(", %s" for _ in more)
        query = f"SELECT django_pgflow.{how}(%s, %s, %s, %s::jsonb{extra})"
        self.sql(query, self.pools.workers[who], job, attempt, value, *more)

    def _runs(self) -> None:
        """Runs in each state; the step jobs they queue go to 'default' first of all."""
        start = "SELECT django_pgflow.start_flow(%s, %s::jsonb, %s)"
        runs = self.pools.runs
        runs["held"] = self.sql(start, "linear_chain", '{"n": 1}', "held")
        ((job, _),) = self.claim("other", "default")  # the bystander runs its first step
        self.pools.jobs["step held by other"] = job
        runs["completed"] = self.sql(start, "tiny_chain", "{}", None)
        for _ in range(3):
            ((job, attempt),) = self.claim("own", "default")
            self.report("own", "complete", job, attempt, "1")
        self.pools.jobs["step completed"] = job
        runs["cancelled"] = self.sql(start, "linear_chain", '{"n": 3}', None)
        self.sql("SELECT django_pgflow.cancel_run(%s)", runs["cancelled"])
        runs["queued"] = self.sql(start, "square_sum", '{"numbers": [1, 2]}', None)
        self.pools.jobs["step queued"] = self.sql(
            "SELECT id FROM pgflow_job WHERE run_id = %s", runs["queued"]
        )
        # Finished a month ago: retention may take it.
        self.owner.execute(
            "UPDATE pgflow_run SET finished_at = now() - interval '30 days' WHERE id = %s",
            [runs["completed"]],
        )

    def _jobs(self) -> None:
        self.enqueue("held by other", "held", timeout=LONG)
        self.enqueue("gated held by other", "held", timeout=LONG, resources='{"tpu": 1}')
        self.claim("other", "held", 2)
        self.enqueue("held by own", "own", timeout=LONG)
        self.claim("own", "own")
        self.enqueue("queued", "default")
        self.enqueue("queued waiting for the tpu", "default", resources='{"tpu": 1}', lock_key="k1")
        self.enqueue("queued unique", "default", unique_key="u1")
        self.enqueue("queued limited", "limited")
        self.enqueue("delayed", "default", delay=86400.0)
        for status in ("completed", "failed", "cancelled"):
            self.enqueue(status, "done", max_attempts=1)
        done = self.claim("own", "done", 2)
        self.report("own", "complete", *done[0], '"ok"')
        self.report("own", "fail", *done[1], '{"error": "Boom", "message": "fixture"}', False)
        self.sql("SELECT django_pgflow.cancel(%s)", self.pools.jobs["cancelled"])
        self.owner.execute(
            "UPDATE pgflow_job SET finished_at = now() - interval '30 days' WHERE id = %s",
            [self.pools.jobs["completed"]],
        )

    def _periodic(self) -> None:
        job = json.dumps({"queue": "default", "task_name": NOOP})
        self.sql(
            "SELECT (django_pgflow.sync_periodic('nightly', %s, '0 3 * * *', 'UTC', %s::jsonb,"
            " now() - interval '1 day', now() + interval '1 hour')).id",
            NOOP,
            job,
        )

    # --- the real worker ------------------------------------------------------------

    def probe(self, stored: list[int]) -> str | None:
        """Hand the jobs a call stored to the real worker, then fresh ones behind
        them; None when every fresh one completed, else what went wrong."""
        self.owner.execute(
            "UPDATE pgflow_job SET queue = %s, run_at = now() - interval '1 hour',"
            " gated = (resources IS NOT NULL OR lock_key IS NOT NULL)"
            " WHERE id = ANY (%s) AND status = 'queued'",
            [PROBE_QUEUE, stored],
        )
        key = f"probe-{secrets.token_hex(4)}"
        labelled = dict(self.pools.jobs)
        fresh = [
            self.enqueue("probe", PROBE_QUEUE, priority=-32768),
            self.enqueue("probe gpu", PROBE_QUEUE, priority=-32768, resources='{"gpu": 1}'),
            self.enqueue("probe key", PROBE_QUEUE, priority=-32768, lock_key=key),
        ]
        self.pools.jobs = labelled  # the pools name the fixture's jobs only
        done = "SELECT count(*) = %s FROM pgflow_job WHERE id = ANY (%s) AND status = 'completed'"

        def finished() -> bool:
            return bool(self.sql(done, len(fresh), fresh)) or not self.worker.alive()

        try:
            wait_for(finished, timeout=60, interval=0.02)
        except AssertionError:
            pass
        if self.worker.alive() and self.sql(done, len(fresh), fresh):
            return None
        return self._probe_failure(fresh)

    def _probe_failure(self, fresh: list[int]) -> str:
        states = self.owner.execute(
            "SELECT id, status, attempts, errors::text FROM pgflow_job WHERE id = ANY (%s)", [fresh]
        ).fetchall()
        alive = self.worker.alive()
        log = self.worker.log()
        self.worker.restart()  # the next example gets a live worker again
        self.dirty = True
        state = "still running" if alive else "DEAD"
        return (
            f"the real worker ({state}) did not complete fresh jobs after the call: {states}\n"
            f"--- its log (tail) ---\n{log}"
        )

    def close(self) -> None:
        self.worker.stop()
        with self.owner.transaction():
            for table in (*RUNTIME_TABLES, "pgflow_worker", "pgflow_slot"):
                self.owner.execute(f"DELETE FROM {table}")
            for table in ("pgflow_queue_rate_shard", "pgflow_queue_limit", "pgflow_resource"):
                self.owner.execute(f"DELETE FROM {table}")
            self.owner.execute("DELETE FROM example_execution")
        self.owner.close()
