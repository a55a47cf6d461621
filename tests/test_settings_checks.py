"""PGFLOW settings are checked by `manage.py check`, with clear messages."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
from django.test import override_settings

from django_pgflow.checks import check_settings

from .conftest import ROOT


def ids(errors) -> list[str]:
    return [e.id for e in errors]


def test_defaults_pass():
    with override_settings(PGFLOW={}):
        assert check_settings() == []


@pytest.mark.parametrize(
    ("config", "expected", "text"),
    [
        ({"UNKNOWN": 1}, "pgflow.E001", "unknown key 'UNKNOWN'"),
        ({"CONCURRENCY": "8"}, "pgflow.E002", "must be int, got str"),
        ({"CONCURRENCY": True}, "pgflow.E002", "got bool"),
        ({"POLL_INTERVAL": -1}, "pgflow.E003", "at least"),
        ({"QUEUES": {"Bad Name": {}}}, "pgflow.E004", "invalid queue name"),
        ({"RETENTION": {"done": 5}}, "pgflow.E005", "unknown status"),
        ({"RETENTION": {"completed": -5}}, "pgflow.E005", ">= 0"),
    ],
)
def test_bad_settings_are_reported(config, expected, text):
    with override_settings(PGFLOW=config):
        errors = check_settings()
    assert ids(errors) == [expected]
    assert text in errors[0].msg


def test_pgflow_must_be_a_dict():
    with override_settings(PGFLOW=[1]):
        assert ids(check_settings()) == ["pgflow.E001"]


@pytest.mark.parametrize(
    ("override", "needle"),
    [({"UNKNOWN": 1}, "PGFLOW has an unknown key 'UNKNOWN'"), ({"CONCURRENCY": "x"}, "E002")],
)
def test_manage_py_check_reports_bad_settings(override, needle):
    env = dict(os.environ, PGFLOW_OVERRIDES=json.dumps(override))
    done = subprocess.run(
        [sys.executable, "manage.py", "check"], cwd=ROOT, env=env, capture_output=True, text=True
    )
    assert done.returncode == 1
    assert needle in done.stderr
    assert "Traceback" not in done.stderr


@pytest.mark.parametrize(
    ("queues", "text"),
    [
        ({"emails": {"colour": "red"}}, "unknown option 'colour'"),
        ({"emails": {"timeout": -1}}, "timeout must be"),
        ({"emails": ["timeout"]}, "must be a dict"),
    ],
)
def test_bad_queue_options_are_reported(queues, text):
    with override_settings(PGFLOW={"QUEUES": queues}):
        errors = check_settings()
    assert ids(errors) == ["pgflow.E006"]
    assert text in errors[0].msg
