"""Cost per job: commits (pg_stat_database.xact_commit) and WAL bytes of one database.

Each peer has a database of its own, so its commits are its own. WAL is shared by the
whole server, where other databases (the neighbours' test suites) write too: when the
server's pg_wal is readable here (a local server, run as root or postgres), the WAL
between the two LSNs is read with ``pg_waldump`` and only the records of this
database's relations, and of the transactions that wrote them, are counted. Otherwise
the raw ``pg_current_wal_lsn()`` delta is kept and flagged as server-wide.

A backend reports its counters to the statistics system when it exits (or when idle,
at most once a second), so a window opens and closes only once the database has no
sessions left: the measured work runs in subprocesses, and the probe itself is
connected to the ``postgres`` database.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import time
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psycopg

from .db import database_url, one, wait_until

RECORD = re.compile(r"len \(rec/tot\):\s*\d+/\s*(\d+), tx:\s*(\d+),")
RELATION = re.compile(r"rel \d+/(\d+)/(\d+)")
KIND = re.compile(r"rmgr: (\w+)\s.*?desc: (\w+)")
LOCK_DB = re.compile(r"\bdb (\d+)\b")
SUBXACTS = re.compile(r"subxacts: ([\d ]+)")


@dataclass(frozen=True)
class Mark:
    dbname: str
    commits: int
    lsn: str
    others: int  # commits of every other database: the neighbours' activity


@dataclass(frozen=True)
class Cost:
    commits: int
    wal_bytes: int
    wal_exact: bool  # False: server-wide LSN delta, neighbours included
    neighbour_commits: int
    error: str = ""  # why the WAL could not be attributed to the database
    # WAL bytes and records by "relation record-type", when attributed
    split: dict[str, tuple[int, int]] = field(default_factory=dict)


class WalDump:
    """Sums the WAL records of one database between two LSNs with pg_waldump."""

    def __init__(self, binary: str, wal_dir: Path) -> None:
        self.binary = binary
        self.wal_dir = wal_dir

    @classmethod
    def find(cls, admin: psycopg.Connection[Any]) -> WalDump | None:
        data_dir = Path(one(admin, "SHOW data_directory")[0]) / "pg_wal"
        bindir = Path(f"/usr/lib/postgresql/{one(admin, 'SHOW server_version_num')[0][:2]}/bin")
        binary = shutil.which("pg_waldump") or str(bindir / "pg_waldump")
        if not (Path(binary).exists() and os.access(data_dir, os.R_OK)):
            return None
        return cls(binary, data_dir)

    def split_of(self, db_oid: int, start: str, end: str) -> Counter[tuple[str, str]] | str:
        """The database's WAL (see ``attribute``), or pg_waldump's error when it could not
        read the range."""
        if start == end:
            return Counter()
        done = subprocess.run(
            [self.binary, "-p", str(self.wal_dir), "-s", start, "-e", end],
            capture_output=True,
            text=True,
            check=False,
        )
        if done.returncode != 0:
            return (done.stderr.strip().splitlines() or ["pg_waldump failed"])[-1]
        return attribute(done.stdout.splitlines(), str(db_oid))


def attribute(lines: list[str], db_oid: str) -> Counter[tuple[str, str]]:
    """WAL of the records that touch database ``db_oid``, and of every record (commits
    included) of the transactions that wrote them: bytes by (relfilenode or "-", record
    type), and the record counts under ("#", ...) keys."""
    per_tx: dict[str, list[tuple[int, str, str]]] = defaultdict(list)
    ours: set[str] = set()
    split: Counter[tuple[str, str]] = Counter()
    parents: dict[str, list[str]] = {}
    for line in lines:
        record, kind = RECORD.search(line), KIND.search(line)
        if record is None or kind is None:
            continue
        size, tx, op = int(record[1]), record[2], f"{kind[1]} {kind[2]}"
        rel = RELATION.search(line)
        lock = LOCK_DB.search(line) if rel is None and kind[1] == "Standby" else None
        mine = (rel is not None and rel[1] == db_oid) or (lock is not None and lock[1] == db_oid)
        filenode = rel[2] if rel is not None and mine else "-"
        if tx == "0":
            if mine:
                split[(filenode, op)] += size
                split[("#", f"{filenode} {op}")] += 1
            continue
        per_tx[tx].append((size, filenode, op))
        if mine:
            ours.add(tx)
        if subs := SUBXACTS.search(line):
            parents[tx] = subs[1].split()
    ours |= {top for top, subs in parents.items() if any(sub in ours for sub in subs)}
    for tx in ours:
        for size, filenode, op in per_tx[tx]:
            split[(filenode, op)] += size
            split[("#", f"{filenode} {op}")] += 1
    return split


def total(split: Counter[tuple[str, str]]) -> int:
    return sum(size for (filenode, _), size in split.items() if filenode != "#")


class CostProbe:
    """Opens and closes cost windows on one database, from the ``postgres`` database."""

    def __init__(self, admin: psycopg.Connection[Any], server_url: str) -> None:
        self.admin = admin
        self.server_url = server_url
        self.waldump = WalDump.find(admin)
        self.slot = f"pgflow_bench_probe_{os.getpid()}"
        if self.waldump is not None:
            # A temporary slot (dropped with this session) keeps the server from recycling
            # the WAL of an open window before pg_waldump has read it: the neighbours'
            # checkpoints would otherwise remove it. It is moved up at each window's start.
            admin.execute("SELECT pg_create_physical_replication_slot(%s, true, true)", [self.slot])

    def _quiet(self, dbname: str) -> None:
        """Wait until ``dbname`` has no sessions and its commit count has settled."""
        wait_until(
            lambda: (
                not one(
                    self.admin, "SELECT count(*) FROM pg_stat_activity WHERE datname = %s", [dbname]
                )[0]
            ),
            60,
            f"the sessions of {dbname} to end",
        )
        last = -1
        while True:
            now = self._commits(dbname)
            if now == last:
                return
            last = now
            time.sleep(0.05)

    def _commits(self, dbname: str) -> int:
        self.admin.execute("SELECT pg_stat_clear_snapshot()")
        return int(
            one(
                self.admin,
                "SELECT xact_commit FROM pg_stat_database WHERE datname = %s",
                [dbname],
            )[0]
        )

    def _others(self, dbname: str) -> int:
        return int(
            one(
                self.admin,
                "SELECT coalesce(sum(xact_commit), 0) FROM pg_stat_database "
                "WHERE datname IS DISTINCT FROM %s AND datname <> 'postgres'",
                [dbname],
            )[0]
        )

    def start(self, dbname: str) -> Mark:
        self._quiet(dbname)
        lsn = str(one(self.admin, "SELECT pg_current_wal_lsn()")[0])
        if self.waldump is not None:
            self.admin.execute("SELECT pg_replication_slot_advance(%s, %s)", [self.slot, lsn])
        return Mark(dbname, self._commits(dbname), lsn, self._others(dbname))

    def stop(self, mark: Mark) -> Cost:
        self._quiet(mark.dbname)
        end = str(one(self.admin, "SELECT pg_current_wal_lsn()")[0])
        commits = self._commits(mark.dbname) - mark.commits
        others = self._others(mark.dbname) - mark.others
        error = "pg_wal is not readable here"
        if self.waldump is not None:
            (oid,) = one(
                self.admin, "SELECT oid FROM pg_database WHERE datname = %s", [mark.dbname]
            )
            split = self.waldump.split_of(int(oid), mark.lsn, end)
            if isinstance(split, Counter):
                named = name_split(split, database_url(self.server_url, mark.dbname))
                return Cost(commits, total(split), True, others, "", named)
            error = split
        (delta,) = one(self.admin, "SELECT pg_wal_lsn_diff(%s, %s)::bigint", [end, mark.lsn])
        return Cost(commits, int(delta), False, others, error)


def name_split(split: Counter[tuple[str, str]], url: str) -> dict[str, tuple[int, int]]:
    """``split`` keyed by "relation record-type", relation names read from ``url``'s
    database (after the window: this session's commit is not counted)."""
    with psycopg.connect(url, autocommit=True) as conn:
        rows = conn.execute(
            "SELECT pg_relation_filenode(oid)::text, relname FROM pg_class "
            "WHERE pg_relation_filenode(oid) IS NOT NULL"
        ).fetchall()
    names = dict(rows)
    return {
        f"{names.get(filenode, filenode)} {op}": (size, split[("#", f"{filenode} {op}")])
        for (filenode, op), size in split.items()
        if filenode != "#"
    }
