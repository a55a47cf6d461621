"""Stored data is JSON and only JSON: nothing in the package can unpickle or evaluate it.

That a value JSON cannot carry is refused at enqueue, naming it, is tested in
``test_enqueue.py`` (``test_bad_input_is_refused_at_the_call_site_and_stores_nothing``
and ``test_enqueue_many_refuses_the_whole_batch_on_one_bad_spec``). Here: a
result that is not JSON fails its job, and a scan of the source.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from django_pgflow.models import Job
from testproject.example.tasks import returns_object

from .conftest import wait_for

PACKAGE = Path(__file__).resolve().parent.parent / "django_pgflow"

# Modules that turn bytes back into arbitrary objects.
UNSAFE_MODULES = {"pickle", "_pickle", "cPickle", "marshal", "shelve", "dill", "cloudpickle"}
UNSAFE_MODULES |= {"jsonpickle", "yaml"}
# Builtins that run text as code.
UNSAFE_BUILTINS = {"eval", "exec", "compile", "__import__"}


def unsafe_uses(source: str, filename: str = "<source>") -> list[str]:
    """Every import of an unsafe module and every call of an unsafe builtin, as 'file:line what'."""
    found = []
    for node in ast.walk(ast.parse(source, filename)):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            names = [node.module or ""]
        elif isinstance(node, ast.Call) and isinstance(node.func, ast.Name):
            if node.func.id in UNSAFE_BUILTINS:
                found.append(f"{filename}:{node.lineno} calls {node.func.id}()")
            continue
        else:
            continue
        for name in names:
            if name.split(".")[0] in UNSAFE_MODULES:
                found.append(f"{filename}:{node.lineno} imports {name}")
    return found


@pytest.mark.parametrize(
    "source",
    [
        "import pickle",
        "from marshal import loads",
        "import yaml.loader",
        "x = eval('1')",
        "exec(code)",
        "from shelve import open as o",
    ],
)
def test_the_scan_finds_what_it_looks_for(source):
    assert unsafe_uses(source)


def test_the_scan_leaves_safe_code_alone():
    assert not unsafe_uses("import json\nimport re\nre.compile('x')\njson.loads('[]')")


def test_no_module_of_the_package_can_unpickle_or_evaluate():
    files = sorted(PACKAGE.rglob("*.py"))
    assert len(files) > 20, f"found only {len(files)} modules under {PACKAGE}"
    found = [use for f in files for use in unsafe_uses(f.read_text(), str(f.relative_to(PACKAGE)))]
    assert not found, "Stored data must stay JSON (DESIGN invariant 6): " + "; ".join(found)


@pytest.mark.django_db(transaction=True)
def test_a_result_that_is_not_json_fails_its_job_without_retry(worker_thread):
    job = returns_object.using(max_attempts=3).enqueue()
    worker_thread()
    wait_for(lambda: Job.objects.get(pk=job.pk).status == "failed")
    job.refresh_from_db()
    assert job.attempts == 1
    assert job.result is None
    assert "object" in job.errors[-1]["message"]
