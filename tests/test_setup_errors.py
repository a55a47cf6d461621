"""A database that cannot be reached is explained in one paragraph, password hidden."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from .conftest import ROOT

UNREACHABLE = "postgres://pgflow:s3cret-pass@127.0.0.1:1/nowhere"


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
    assert "s3cret-pass" not in output
    assert "Traceback" not in output
    assert "DATABASE_URL" in output
