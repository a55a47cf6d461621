"""``runworkers --processes N``: N worker processes under one supervisor.

The supervisor forwards SIGTERM/SIGINT to its children, restarts a child that
dies unexpectedly (after a short backoff), and exits once every child has.
The jobs a dead child had started fail at once, with an error saying how it
died: a job that kills its process (``os._exit``, a segfault, the OOM killer)
uses up its attempts and fails, instead of waiting for the reaper each time.
The jobs it held without starting them (prefetched, or waiting for a batch)
go back to the queue without spending a failure: the child records each job
it starts in a file the supervisor reads (see start_log).
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from types import FrameType
from typing import Any

from django.db import DatabaseError, connections

from .start_log import ENV as START_LOG_ENV
from .start_log import read_started

logger = logging.getLogger("django_pgflow.worker")

DEAD_WORKER_SQL = """
SELECT id FROM pgflow_worker
WHERE hostname = %s AND pid = %s AND state IN ('running', 'lost') ORDER BY id DESC LIMIT 1
"""
HELD_JOBS_SQL = "SELECT id, attempts FROM pgflow_job WHERE status = 'started' AND worker_id = %s"
FAIL_SQL = "SELECT django_pgflow.fail(%s, %s, %s, %s::jsonb)"
RELEASE_SQL = "SELECT django_pgflow.release(%s, %s)"
LOST_SQL = "SELECT django_pgflow.worker_lost(%s)"


def describe_exit(code: int) -> str:
    if code < 0:
        try:
            return f"was killed by signal {-code} ({signal.Signals(-code).name})"
        except ValueError:
            return f"was killed by signal {-code}"
    return f"exited with code {code}"


def fail_jobs_of_dead_child(
    pid: int, code: int, started_log: Path | None = None
) -> tuple[int, int]:
    """Fail (with retry) the jobs a crashed child had started, and hand back, with no
    failure spent, those it held unstarted; returns how many of each.

    Without a start log (or when it cannot be read) every held job counts as
    started: a job that crashes its process must never come back for free."""
    how = describe_exit(code)
    started = None if started_log is None else read_started(started_log)
    connection = connections["default"]
    try:
        with connection.cursor() as cursor:
            cursor.execute(DEAD_WORKER_SQL, [socket.gethostname(), pid])
            row = cursor.fetchone()
            if row is None:
                return 0, 0
            worker_id = row[0]
            cursor.execute(HELD_JOBS_SQL, [worker_id])
            held = cursor.fetchall()
            ran = [(j, a) for j, a in held if started is None or (j, a) in started]
            waited = [j for j, a in held if started is not None and (j, a) not in started]
            for job_id, attempt in ran:
                _fail_job(
                    cursor,
                    worker_id,
                    job_id,
                    attempt,
                    f"worker process {pid} (worker {worker_id}) {how}",
                )
            if waited:
                cursor.execute(RELEASE_SQL, [worker_id, waited])
            cursor.execute(LOST_SQL, [worker_id])
        return len(ran), len(waited)
    except DatabaseError:
        # The reaper of a live worker fails them later, as a lost lease.
        logger.exception("could not record the jobs of worker process %s that %s", pid, how)
        return 0, 0
    finally:
        connection.close()


def _fail_job(cursor: Any, worker_id: int, job_id: int, attempt: int, who: str) -> None:
    message = (
        f"{who} while running job {job_id} attempt {attempt}; a job that makes its process"
        " die (os._exit, a crash in C code, out of memory) fails once its attempts are used up"
    )
    error = {"error": "WorkerLostError", "message": message, "traceback": None}
    cursor.execute(FAIL_SQL, [worker_id, job_id, attempt, json.dumps(error)])


class Supervisor:
    def __init__(self, processes: int, child_args: list[str], restart: bool = True) -> None:
        self.processes = processes
        self.child_args = child_args
        self.restart = restart
        self.children: dict[int, subprocess.Popen[bytes]] = {}
        self.stopping = False
        self.signals = 0
        self.restarts = 0
        self.started_at: dict[int, float] = {}
        self.backoff: dict[int, float] = {}
        self.logs = Path(tempfile.mkdtemp(prefix="pgflow-started-"))

    def _command(self) -> list[str]:
        return [sys.executable, "-m", "django", "runworkers", *self.child_args, "--supervised"]

    def _start_log(self, slot: int) -> Path:
        return self.logs / f"slot-{slot}"

    def _environment(self, slot: int) -> dict[str, str]:
        env = dict(os.environ)
        env[START_LOG_ENV] = str(self._start_log(slot))
        # The child runs `python -m django`: give it the parent's import path so it
        # finds the same settings module wherever it is started from.
        paths = [p for p in sys.path if p] + env.get("PYTHONPATH", "").split(os.pathsep)
        env["PYTHONPATH"] = os.pathsep.join(p for p in paths if p)
        return env

    def _spawn(self, slot: int) -> None:
        # Its own process group: Ctrl-C in a terminal (or a KillMode=control-group
        # stop) reaches the supervisor only, which forwards it once. Two signals
        # would mean "stop at once" to the child.
        self._start_log(slot).unlink(missing_ok=True)  # a new child starts a new log
        env = self._environment(slot)
        child = subprocess.Popen(self._command(), env=env, process_group=0)
        self.started_at[slot] = time.monotonic()
        self.children[slot] = child
        logger.info("started worker process %s (slot %s)", child.pid, slot)

    def _on_signal(self, signum: int, frame: FrameType | None) -> None:
        self.stopping = True
        self.signals += 1
        for child in self.children.values():
            if child.poll() is None:
                child.send_signal(signum)

    def _restart_delay(self, slot: int, code: int) -> float:
        """Short after a planned restart (3: a timed-out job), growing in a crash loop."""
        if code == 3:
            return 0.5
        lived = time.monotonic() - self.started_at.get(slot, 0.0)
        previous = self.backoff.get(slot, 0.5)
        delay = 1.0 if lived > 60 else min(previous * 2, 30.0)
        self.backoff[slot] = delay
        return delay

    def _record_crash(self, slot: int, pid: int, code: int) -> None:
        failed, handed_back = fail_jobs_of_dead_child(pid, code, self._start_log(slot))
        if failed or handed_back:
            logger.warning(
                "worker process %s %s: failed the %s job(s) it had started; handed back the"
                " %s it held but had not started",
                pid,
                describe_exit(code),
                failed,
                handed_back,
            )

    def run(self) -> int:
        signal.signal(signal.SIGTERM, self._on_signal)
        signal.signal(signal.SIGINT, self._on_signal)
        for slot in range(self.processes):
            self._spawn(slot)
        worst = 0
        while self.children:
            time.sleep(0.2)
            for slot, child in list(self.children.items()):
                code = child.poll()
                if code is None:
                    continue
                del self.children[slot]
                if self.stopping or code == 0:
                    worst = worst if code in (0, -signal.SIGTERM) else max(worst, abs(code))
                    continue
                if code != 3:  # 3: it timed out a job and stopped cleanly
                    self._record_crash(slot, child.pid, code)
                if self.restart:
                    delay = self._restart_delay(slot, code)
                    logger.warning(
                        "worker process %s exited with %s; restarting in %.1fs",
                        child.pid,
                        code,
                        delay,
                    )
                    self.restarts += 1
                    time.sleep(delay)
                    if not self.stopping:
                        self._spawn(slot)
                else:
                    worst = max(worst, abs(code))
        shutil.rmtree(self.logs, ignore_errors=True)
        return worst
