"""Every code sample in docs/ (and the README) is checked; those marked run, run.

The convention (docs/contributing.md): each fenced ``python`` block must
compile. A block preceded by the line ``<!-- test: run -->`` is executed, in
page order, in one namespace per page, inside a transaction of the test
database that is rolled back afterwards; a ``sql`` block so marked is executed
there too. ``<!-- test: skip -->`` exempts the next block from compiling (for
deliberately partial code, say why on the same line). Other languages are left
alone. New pages are picked up by themselves.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import pytest
from django.db import connection, transaction

ROOT = Path(__file__).resolve().parent.parent
PAGES = [*sorted((ROOT / "docs").rglob("*.md")), ROOT / "README.md"]

FENCE = re.compile(r"^(?P<indent>[ \t]*)(?P<fence>```+|~~~+)\s*(?P<lang>[\w+-]*)[^\n]*$")
MARK = re.compile(r"<!--\s*test:\s*(?P<what>run|skip)\b[^>]*-->")


@dataclass
class Sample:
    page: Path
    line: int
    lang: str
    code: str
    mark: str | None

    @property
    def where(self) -> str:
        return f"{self.page.relative_to(ROOT)}:{self.line}"


def samples_of(page: Path) -> list[Sample]:
    found: list[Sample] = []
    lines = page.read_text().splitlines()
    index, mark = 0, None
    while index < len(lines):
        marked = MARK.search(lines[index])
        if marked:
            mark = marked.group("what")
        opened = FENCE.match(lines[index])
        if not opened:
            if lines[index].strip() and not marked:
                mark = None  # a mark applies to the block right after it
            index += 1
            continue
        indent, fence, lang = opened.group("indent", "fence", "lang")
        body: list[str] = []
        start = index + 1
        index += 1
        while index < len(lines) and not lines[index].strip().startswith(fence):
            body.append(
                lines[index][len(indent) :] if lines[index].startswith(indent) else lines[index]
            )
            index += 1
        found.append(Sample(page, start, lang.lower(), "\n".join(body) + "\n", mark))
        mark = None
        index += 1
    return found


ALL = [s for page in PAGES for s in samples_of(page)]
PYTHON = [s for s in ALL if s.lang in ("python", "py") and s.mark != "skip"]
RUNNABLE_PAGES = sorted({s.page for s in ALL if s.mark == "run"})


def test_the_convention_finds_samples_and_runnable_ones():
    assert len(PYTHON) > 50 and RUNNABLE_PAGES


@pytest.mark.parametrize("sample", PYTHON, ids=lambda s: s.where)
def test_python_sample_compiles(sample: Sample):
    try:
        compile(sample.code, sample.where, "exec")
    except SyntaxError as error:
        pytest.fail(f"{sample.where}: {error}\n{sample.code}")


@pytest.mark.django_db
@pytest.mark.parametrize("page", RUNNABLE_PAGES, ids=lambda p: str(p.relative_to(ROOT)))
def test_runnable_samples_of_a_page_run(page: Path):
    namespace: dict[str, object] = {"__name__": f"docs_{page.stem.replace('-', '_')}"}
    for sample in (s for s in samples_of(page) if s.mark == "run"):
        with transaction.atomic():
            if sample.lang == "sql":
                with connection.cursor() as cursor:
                    cursor.execute(sample.code)
            elif sample.lang in ("python", "py"):
                exec(compile(sample.code, sample.where, "exec"), namespace)
            else:
                pytest.fail(f"{sample.where}: only python and sql samples can be marked run")
