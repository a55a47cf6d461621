"""Which claimed jobs a supervised worker process actually started.

A worker holds more jobs than it runs (prefetch, batches filling up). When its
process dies, its supervisor must tell the jobs whose code ran, which may be
what killed it and must spend an attempt, from the bystanders that only
waited, which go back untouched. The process appends each job to a file as a
thread picks it up, before its code runs: one ``write`` to the page cache, no
database round trip, and it survives the process's death (not the machine's,
but then the supervisor dies too, and the reaper charges every job).
"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterable
from pathlib import Path

# The environment variable through which the supervisor names the file.
ENV = "PGFLOW_START_LOG"
# Past this size the file is rewritten with the jobs still running.
ROTATE_AT = 1 << 20


class StartLog:
    def __init__(self, path: str | None) -> None:
        self.path = path
        self._lock = threading.Lock()
        self._fd = -1 if path is None else self._open(path)
        self._size = 0

    @classmethod
    def from_environment(cls) -> StartLog:
        return cls(os.environ.get(ENV) or None)

    @staticmethod
    def _open(path: str) -> int:
        return os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)

    def record(self, jobs: Iterable[tuple[int, int]]) -> None:
        """Note ``(job id, attempt)`` pairs as started; call before their code runs."""
        if self._fd < 0:
            return
        data = "".join(f"{job_id} {attempt}\n" for job_id, attempt in jobs).encode()
        with self._lock:
            os.write(self._fd, data)
            self._size += len(data)

    def compact(self, running: Iterable[tuple[int, int]]) -> None:
        """Start a fresh file holding ``running`` once this one has grown large."""
        if self._fd < 0 or self._size < ROTATE_AT:
            return
        assert self.path is not None
        fresh = f"{self.path}.new"
        data = "".join(f"{job_id} {attempt}\n" for job_id, attempt in running).encode()
        with self._lock:
            Path(fresh).write_bytes(data)
            os.replace(fresh, self.path)
            os.close(self._fd)
            self._fd = self._open(self.path)
            self._size = len(data)

    def close(self) -> None:
        with self._lock:
            if self._fd >= 0:
                os.close(self._fd)
                self._fd = -1


def read_started(path: str | Path) -> set[tuple[int, int]]:
    """The ``(job id, attempt)`` pairs a dead process recorded (a torn last line is skipped)."""
    try:
        text = Path(path).read_text()
    except FileNotFoundError:
        return set()
    started = set()
    for line in text.split("\n")[:-1]:  # only whole lines: the last may be torn
        parts = line.split()
        if len(parts) == 2 and parts[0].isdigit() and parts[1].isdigit():
            started.add((int(parts[0]), int(parts[1])))
    return started
