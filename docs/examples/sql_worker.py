"""A django-pgflow worker with no Django: psycopg and the SQL functions only.

Runs the steps of the flow ``text_stats`` (defined in SQL: see
docs/reference/worker-protocol.md) from the queue ``text_stats``, one job at a
time, until SIGINT or SIGTERM, or, with ``--until-run ID``, until that run ends.

    python sql_worker.py postgres://worker@db/app [--until-run 42]
"""

import os
import signal
import socket
import sys
import time
from collections.abc import Callable
from typing import Any

import psycopg
from psycopg.types.json import Jsonb

QUEUES = ["text_stats"]
LEASE_MARGIN = 30.0  # seconds of lease beyond a job's timeout; heartbeats extend it
HEARTBEAT_EVERY = 5.0  # seconds: well under DEAD_AFTER
DEAD_AFTER = 60.0  # seconds without a heartbeat after which a worker's jobs are retried

REGISTER = "SELECT django_pgflow.register_worker(%s, %s, %s, 1)"  # -> worker id
HEARTBEAT = "SELECT django_pgflow.heartbeat(%s, %s)"
REAP = "SELECT django_pgflow.reap(%s)"  # any worker's jobs whose lease ran out: retried
CLAIM = "SELECT id, task_name, args, kwargs, attempts, run_id FROM django_pgflow.claim(%s, %s, 1, %s)"  # noqa: E501  # fmt: skip
COMPLETE = "SELECT django_pgflow.complete(%s, %s, %s, %s)"  # fenced by worker and attempt
FAIL = "SELECT django_pgflow.fail(%s, %s, %s, %s)"  # the same; retried while attempts last
STOP = "SELECT django_pgflow.stop_worker(%s)"  # hands back whatever it still holds
RUN_INPUT = "SELECT input FROM pgflow_run WHERE id = %s"
RUN_ENDED = "SELECT status <> 'started' FROM pgflow_run WHERE id = %s"

# A step gets its job's one argument (root step: the run input; map step: one
# element), or else its kwargs (its dependencies' outputs by step name, a
# skipped one left out), and the run input, read from pgflow_run.
STEPS: dict[str, Callable[[Any, Any], Any]] = {
    "pgflow.step.text_stats.words": lambda value, run: value["text"].split(),
    "pgflow.step.text_stats.length": lambda word, run: len(word),
    "pgflow.step.text_stats.summary": lambda deps, run: {
        "title": run["title"], "words": len(deps["words"]), "letters": sum(deps["length"])
    },
}  # fmt: skip


def one(db: psycopg.Connection, query: str, *params: Any) -> Any:
    row = db.execute(query, params).fetchone()
    return row[0] if row else None


def run_job(db: psycopg.Connection, me: int, job: tuple[Any, ...]) -> None:
    job_id, name, args, kwargs, attempt, run_id = job
    try:
        result = STEPS[name](args[0] if args else kwargs, one(db, RUN_INPUT, run_id))
    except Exception as error:  # noqa: BLE001 - any error fails this attempt
        report = {"error": type(error).__name__, "message": str(error)}
        one(db, FAIL, me, job_id, attempt, Jsonb(report))
    else:  # complete() answers false, and changes nothing, if this attempt lost the job
        one(db, COMPLETE, me, job_id, attempt, Jsonb(result))


def main(dsn: str, until_run: int | None = None) -> None:
    stopping: list[int] = []
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda signum, frame: stopping.append(signum))
    with psycopg.connect(dsn, autocommit=True) as db:
        db.execute("LISTEN django_pgflow")  # payload: the queue that has new work
        me = one(db, REGISTER, socket.gethostname(), os.getpid(), Jsonb(QUEUES))
        beat = 0.0
        while not stopping and not (until_run and one(db, RUN_ENDED, until_run)):
            if time.monotonic() - beat > HEARTBEAT_EVERY:  # extends the leases it holds
                one(db, HEARTBEAT, me, LEASE_MARGIN)
                one(db, REAP, DEAD_AFTER)
                beat = time.monotonic()
            jobs = db.execute(CLAIM, [me, QUEUES, LEASE_MARGIN]).fetchall()
            for job in jobs:
                run_job(db, me, job)
            if not jobs:  # wait for a notification, or look again in a second
                for _ in db.notifies(timeout=1.0, stop_after=1):
                    pass
        one(db, STOP, me)


if __name__ == "__main__":
    main(sys.argv[1], int(sys.argv[3]) if sys.argv[2:3] == ["--until-run"] else None)
