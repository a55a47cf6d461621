"""The package's layers, read from its imports with ``ast`` (nothing is imported).

DESIGN.md stacks the layers: the SQL core, the models, the definitions, the
worker, the surfaces. The queue and run APIs (``queue/``, ``runs/``) enqueue
and start runs by name: they sit on the models, and the definitions (``@task``,
``Flow``) sit on them. A lower layer must not import a higher one, at module
level or inside a function: either way the two can no longer be read, tested or
changed one without the other.

Imports under ``if TYPE_CHECKING:`` are left out: they never run, and only name
the types that a lower layer hands back (the registries hold ``Task`` and
``Flow`` objects).
"""

from __future__ import annotations

import ast
import functools
from dataclasses import dataclass
from pathlib import Path

PACKAGE = Path(__file__).resolve().parent.parent / "django_pgflow"

# Lower numbers are lower layers. Top-level modules (validation, conf,
# exceptions, signals, ...) are shared by every layer and are not ranked.
LAYERS = {
    "sql": 1,
    "models": 2,
    "queue": 3,
    "runs": 3,
    "definitions": 4,
    "worker": 5,
    "admin": 6,
    "management": 6,
    "backends": 6,
    "monitoring": 6,
}

# Imports that go up a layer today, each with why it is still there. Remove an
# entry when its import goes; the test fails on any new one.
KNOWN_UPWARD = {
    ("django_pgflow.models.runs", "django_pgflow.runs.events"): (
        "WorkflowRun.events() returns the run API's event stream (imported when called)"
    ),
    ("django_pgflow.runs.events", "django_pgflow.worker.connection"): (
        "the event stream opens its LISTEN connection with the worker's connection settings"
    ),
    ("django_pgflow.worker.execution", "django_pgflow.backends.adapter"): (
        "a worker runs Django Tasks through the backend's adapter (worker/ is being split)"
    ),
}


@dataclass(frozen=True)
class Import:
    source: str  # the importing module
    target: str  # the imported module (or module.name, for ``from m import name``)
    line: int


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _type_checking_nodes(tree: ast.AST) -> set[int]:
    skipped: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            for child in node.body:
                skipped.update(id(inner) for inner in ast.walk(child))
    return skipped


def _targets(node: ast.Import | ast.ImportFrom, module: str, is_package: bool) -> list[str]:
    if isinstance(node, ast.Import):
        return [alias.name for alias in node.names]
    if node.level:
        base = module.split(".") if is_package else module.split(".")[:-1]
        base = base[: len(base) - (node.level - 1)]
        source = ".".join([*base, node.module] if node.module else base)
    else:
        source = node.module or ""
    return [source, *(f"{source}.{alias.name}" for alias in node.names)]


@functools.cache
def package_imports() -> tuple[Import, ...]:
    """Every import of one django_pgflow module by another that runs (any depth)."""
    found: list[Import] = []
    for path in sorted(PACKAGE.rglob("*.py")):
        module = _module_name(path)
        tree = ast.parse(path.read_text(), str(path))
        skipped = _type_checking_nodes(tree)
        for node in ast.walk(tree):
            if id(node) in skipped or not isinstance(node, ast.Import | ast.ImportFrom):
                continue
            for target in _targets(node, module, path.name == "__init__.py"):
                if target.startswith("django_pgflow."):
                    found.append(Import(module, target, node.lineno))
    return tuple(found)


def _area(module: str) -> str:
    """``django_pgflow.queue.api`` -> ``queue``; a top-level module is its own area."""
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else ""


def _importers(lower: str, upper: str) -> list[str]:
    return sorted(
        f"{i.source}:{i.line} imports {i.target}"
        for i in package_imports()
        if _area(i.source) == lower and _area(i.target) == upper
    )


def test_the_import_reader_sees_imports_at_any_depth():
    # definitions.flows.flow imports runs.api inside Flow.start: downward, and seen.
    assert any(
        i.source == "django_pgflow.definitions.flows.flow"
        and i.target == "django_pgflow.runs.api.start_flow"
        for i in package_imports()
    )


def test_queue_does_not_import_definitions():
    # definitions import queue (Task.enqueue); the way back would close a cycle.
    assert _importers("queue", "definitions") == []


def test_runs_do_not_import_definitions():
    # definitions import runs (Flow.start); the way back would close a cycle.
    assert _importers("runs", "definitions") == []


def test_models_do_not_import_definitions():
    assert _importers("models", "definitions") == []


def test_no_layer_imports_a_higher_one():
    upward: dict[tuple[str, str], list[int]] = {}
    for i in package_imports():
        low, high = LAYERS.get(_area(i.source)), LAYERS.get(_area(i.target))
        if low is not None and high is not None and low < high:
            upward.setdefault((i.source, _owning_module(i.target)), []).append(i.line)
    new = {pair: lines for pair, lines in upward.items() if pair not in KNOWN_UPWARD}
    assert new == {}, "imports that go up a layer (see LAYERS): " + ", ".join(
        f"{source}:{lines[0]} -> {target}" for (source, target), lines in sorted(new.items())
    )
    gone = set(KNOWN_UPWARD) - set(upward)
    assert not gone, f"no longer imported: remove from KNOWN_UPWARD: {sorted(gone)}"


@functools.cache
def _modules() -> frozenset[str]:
    return frozenset({_module_name(path) for path in PACKAGE.rglob("*.py")})


def _owning_module(target: str) -> str:
    """``django_pgflow.worker.connection.connect`` -> ``django_pgflow.worker.connection``."""
    modules = _modules()
    while target not in modules and "." in target:
        target = target.rsplit(".", 1)[0]
    return target
