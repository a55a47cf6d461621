"""Where tasks are found by name: the registry filled by ``@task``."""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

from ..exceptions import UnknownTaskError

if TYPE_CHECKING:
    from ..definitions.tasks.task import Task

_tasks: dict[str, Task] = {}


def register(task: Task) -> None:
    existing = _tasks.get(task.name)
    if existing is not None and existing.func is not task.func:
        # Re-importing a module (autoreload, tests) re-creates the same task.
        same_code = getattr(existing.func, "__code__", None) == getattr(task.func, "__code__", 0)
        if not same_code and existing.func.__module__ != task.func.__module__:
            raise ValueError(
                f"Two tasks are registered as {task.name!r}: {existing.func!r} and {task.func!r}. "
                "Give one of them another name with @task(name=...)."
            )
    _tasks[task.name] = task


def get_task(name: str) -> Task:
    """Return the task registered as ``name``, importing its module if needed."""
    task = _tasks.get(name)
    if task is not None:
        return task
    module_name, _, _attr = name.rpartition(".")
    if module_name:
        try:
            importlib.import_module(module_name)
        except ImportError:
            pass
    task = _tasks.get(name)
    if task is None:
        known = ", ".join(sorted(_tasks)[:20]) or "none"
        raise UnknownTaskError(
            f"Unknown task {name!r}: no @task is registered under that name "
            f"(known: {known}). Check the dotted path, and that the module defining it "
            "is imported (tasks.py modules of installed apps are imported automatically)."
        )
    return task


def all_tasks() -> dict[str, Task]:
    return dict(_tasks)
