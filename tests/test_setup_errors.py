"""A database that cannot be reached, or refuses us, is explained in one paragraph,
password hidden. (A worker's log with a password in its DATABASE_URL is checked
in test_grants.py, whose roles can log in.)"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from urllib.parse import quote

import pytest
from django.db import connection

from .conftest import ROOT

SECRET = "s3cret-pass"
UNREACHABLE = f"postgres://pgflow:{SECRET}@127.0.0.1:1/nowhere"


@pytest.mark.parametrize("command", [["migrate"], ["runworkers", "--burst"], ["pgflow_status"]])
def test_unreachable_database_url_is_explained(command):
    env = dict(os.environ, DATABASE_URL=UNREACHABLE)
    env.pop("DATABASE_NAME", None)
    done = subprocess.run(
        [sys.executable, "manage.py", *command],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    output = done.stdout + done.stderr
    assert done.returncode != 0
    assert "host 127.0.0.1, port 1" in output
    assert SECRET not in output
    assert "Traceback" not in output
    assert "DATABASE_URL" in output


def run_manage(command: list[str], database_url: str) -> tuple[int, str]:
    env = dict(os.environ, DATABASE_URL=database_url)
    env.pop("DATABASE_NAME", None)
    done = subprocess.run(
        [sys.executable, "manage.py", *command],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    return done.returncode, done.stdout + done.stderr


def reachable_url(user: str, password: str) -> str:
    """A URL of the test server, for ``user``: the server answers, and refuses."""
    settings = connection.settings_dict
    host = quote(settings["HOST"] or "localhost", safe="")
    return f"postgres://{user}:{password}@{host}:{settings['PORT'] or 5432}/{settings['NAME']}"


COMMANDS = [["migrate"], ["runworkers", "--burst"], ["pgflow_status"]]


@pytest.fixture
def nologin_role(django_db_blocker) -> Iterator[str]:
    # A cluster-wide role, named for this test database and process, dropped after.
    role = f"{connection.settings_dict['NAME']}_nologin_{os.getpid()}"
    with django_db_blocker.unblock(), connection.cursor() as cursor:
        cursor.execute(f'DROP ROLE IF EXISTS "{role}"')
        cursor.execute(f'CREATE ROLE "{role}" NOLOGIN')
    try:
        yield role
    finally:
        with django_db_blocker.unblock(), connection.cursor() as cursor:
            cursor.execute(f'DROP ROLE IF EXISTS "{role}"')


@pytest.mark.parametrize("command", COMMANDS)
def test_a_role_that_does_not_exist_is_explained_password_hidden(db, command):
    code, output = run_manage(command, reachable_url("pgflow_no_such_role", SECRET))
    assert code != 0
    assert "refused the connection" in output
    assert "pgflow_no_such_role" in output
    assert "DATABASE_URL" in output
    assert SECRET not in output
    assert "Traceback" not in output


@pytest.mark.parametrize("command", COMMANDS)
def test_a_role_that_may_not_log_in_is_explained_password_hidden(nologin_role, command):
    code, output = run_manage(command, reachable_url(nologin_role, SECRET))
    assert code != 0
    assert "not permitted to log in" in output
    assert SECRET not in output
    assert "Traceback" not in output


def test_a_malformed_url_is_explained_without_repeating_it():
    # An unencoded "/" ends the authority early: "pa" would read as the port.
    code, output = run_manage(["pgflow_status"], f"postgres://u:pa/{SECRET}@127.0.0.1:5432/x")
    assert code != 0
    assert "percent-encoded" in output
    assert SECRET not in output
    assert "Traceback" not in output
