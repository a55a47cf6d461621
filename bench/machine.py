"""What a run ran on: the machine, PostgreSQL's version and settings, every version."""

from __future__ import annotations

import os
import platform
from datetime import UTC, datetime
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

import psycopg

from .db import one

SETTINGS = (
    "shared_buffers",
    "synchronous_commit",
    "fsync",
    "wal_level",
    "full_page_writes",
    "wal_sync_method",
    "wal_compression",
    "commit_delay",
    "max_connections",
    "max_wal_size",
    "checkpoint_timeout",
    "work_mem",
    "autovacuum",
    "jit",
    "track_functions",
)
PACKAGES = (
    "django",
    "psycopg",
    "psycopg-binary",
    "django-pgtrigger",
    "pgqueuer",
    "asyncpg",
    "uvloop",
    "procrastinate",
)


def cpu_model() -> str:
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            return line.split(":", 1)[1].strip()
    return platform.processor() or "?"


def memory() -> str:
    for line in Path("/proc/meminfo").read_text().splitlines():
        if line.startswith("MemTotal"):
            return f"{int(line.split()[1]) / 1024 / 1024:.1f} GiB"
    return "?"


def postgres(admin: psycopg.Connection[Any]) -> dict[str, str]:
    found = {"version": str(one(admin, "SHOW server_version")[0])}
    for name in SETTINGS:
        row = admin.execute(
            "SELECT setting, unit FROM pg_settings WHERE name = %s", [name]
        ).fetchone()
        if row is not None:
            found[name] = pretty(row[0], row[1])
    return found


def pretty(setting: str, unit: str | None) -> str:
    """``16384`` of ``8kB`` as ``128 MB``: settings as a reader writes them."""
    sizes = {"8kB": 8 * 1024, "kB": 1024, "MB": 1024**2}
    if unit in sizes and setting.isdigit():
        size = int(setting) * sizes[unit]
        return f"{size / 1024**3:g} GB" if size >= 1024**3 else f"{size / 1024**2:g} MB"
    return f"{setting} {unit}" if unit else setting


def packages() -> dict[str, str]:
    found = {"python": platform.python_version()}
    for name in PACKAGES:
        try:
            found[name] = version(name)
        except PackageNotFoundError:
            continue
    return found


def machine() -> dict[str, str]:
    return {
        "date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "cpu": cpu_model(),
        "cores": str(os.cpu_count()),
        "memory": memory(),
        "kernel": platform.release(),
    }
