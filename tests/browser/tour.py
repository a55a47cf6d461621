"""A flow and two tasks for the browser test: each holds until the test lets it go.

Worker threads of the test process run them, so a ``threading.Event`` is the
switch: the test opens a page while the work is provably in the state the
page must show.
"""

from __future__ import annotations

import threading
from typing import Any

from django_pgflow import Flow, step, task
from django_pgflow.definitions.context import JobContext

ANALYZE_GOES = threading.Event()
GPU_FREE = threading.Event()
HOLD_LIMIT = 60.0  # never hold a worker thread past the test


class AdminTour(Flow):
    """fetch -> (embed as a map || analyze || summarize) -> save; analyze holds."""

    slug = "admin_tour"

    @step()
    def fetch(self, input: dict[str, Any]) -> list[int]:
        return list(range(input["n"]))

    @step(depends_on=["fetch"], map=True)
    def embed(self, item: int) -> int:
        return item * 2

    @step(depends_on=["fetch"])
    def analyze(self, fetch: list[int]) -> int:
        ANALYZE_GOES.wait(HOLD_LIMIT)
        return len(fetch)

    @step(depends_on=["fetch"])
    def summarize(self, fetch: list[int]) -> str:
        return f"{len(fetch)} items"

    @step(depends_on=["embed", "analyze", "summarize"])
    def save(self, embed: list[int], analyze: int, summarize: str) -> dict[str, Any]:
        return {"embedded": len(embed), "analyzed": analyze, "summary": summarize}


@task(takes_context=True, max_attempts=1)
def fails_first_time(context: JobContext, key: str) -> str:
    if context.attempt == 1:
        raise ConnectionError(f"{key}: the upstream API timed out (attempt 1)")
    return f"{key} done on attempt {context.attempt}"


@task(resources={"gpu": 1})
def on_the_gpu(key: str) -> str:
    GPU_FREE.wait(HOLD_LIMIT)
    return key
