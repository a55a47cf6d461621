"""Flows of the example app: small pipelines the demo runs, and flows the tests use.

Steps that tests count write an ``Execution`` row (task = step slug, key =
``run:<id>``), so a test can tell how many times each step body really ran.
"""

from __future__ import annotations

import importlib.util
import os
import time
from typing import Any

from django.utils import timezone

from django_pgflow import Flow, step
from django_pgflow.definitions.flow import StepContext

from .models import Document, Execution
from .tasks import embed_text


def record(flow: Flow, name: str) -> Execution:
    """Log one execution of a step body, keyed by its run."""
    context: StepContext = flow.context
    return Execution.objects.create(
        task=name,
        key=run_key(flow.run_id),
        job_id=context.job.job_id if context.job else None,
        attempt=context.attempt,
        pid=os.getpid(),
        started_at=timezone.now(),
    )


def run_key(run_id: int | None) -> str:
    return f"run:{run_id}"


def executions(name: str, run_id: int) -> int:
    """How many times step ``name`` ran in run ``run_id`` (for tests)."""
    return Execution.objects.filter(task=name, key=run_key(run_id)).count()


# --- pipelines ----------------------------------------------------------------


class Chain(Flow):
    """Three steps in a row: each gets the output of the one before."""

    slug = "linear_chain"

    @step()
    def first(self, input: dict[str, Any]) -> int:
        record(self, "first")
        return int(input["n"]) + 1

    @step(depends_on=["first"])
    def second(self, first: int) -> int:
        record(self, "second")
        return first * 2

    @step(depends_on=["second"])
    def third(self, second: int) -> str:
        record(self, "third")
        return f"result {second}"


class Analysis(Flow):
    """A diamond, ``fetch -> (analyze || summarize) -> save``: two branches joined again."""

    slug = "analysis"

    @step()
    def fetch(self, input: dict[str, Any]) -> dict[str, str]:
        record(self, "fetch")
        # A stand-in for an HTTP call: the "page" is made from the URL.
        url = input["url"]
        # "pause" lets a test hold the two branches long enough to see them overlap.
        return {
            "url": url,
            "text": f"the page at {url} says hello to the world",
            "pause": float(input.get("pause", 0)),
        }

    @step(depends_on=["fetch"])
    def analyze(self, fetch: dict[str, Any]) -> dict[str, int]:
        record(self, "analyze")
        time.sleep(fetch["pause"])
        words = fetch["text"].split()
        return {"words": len(words), "distinct": len(set(words))}

    @step(depends_on=["fetch"])
    def summarize(self, fetch: dict[str, Any]) -> str:
        record(self, "summarize")
        time.sleep(fetch["pause"])
        return " ".join(fetch["text"].split()[:4])

    @step(depends_on=["analyze", "summarize"])
    def save(self, analyze: dict[str, int], summarize: str) -> dict[str, Any]:
        record(self, "save")
        return {"summary": summarize, **analyze}


class SquareSum(Flow):
    """A map over a list, then an aggregate that sees the outputs in element order."""

    slug = "square_sum"

    @step()
    def numbers(self, input: dict[str, Any]) -> list[int]:
        return [int(n) for n in input["numbers"]]

    @step(depends_on=["numbers"], map=True)
    def square(self, item: int) -> int:
        record(self, "square")
        return item * item

    @step(depends_on=["square"])
    def total(self, square: list[int]) -> dict[str, Any]:
        return {"squares": square, "total": sum(square)}


class EmbedDocuments(Flow):
    """documents -> chunk -> embed (one task per chunk) -> aggregate -> save."""

    slug = "embed_documents"
    queue = "embeddings"
    timeout = 120

    @step()
    def documents(self, input: dict[str, Any]) -> list[dict[str, Any]]:
        ids = input.get("document_ids")
        found = Document.objects.order_by("pk")
        if ids is not None:
            found = found.filter(pk__in=ids)
        return [{"id": d.pk, "text": d.text} for d in found]

    @step(depends_on=["documents"])
    def chunk(self, documents: list[dict[str, Any]]) -> list[dict[str, Any]]:
        size = 50  # words per chunk
        chunks = []
        for document in documents:
            words = document["text"].split() or [""]
            for start in range(0, len(words), size):
                text = " ".join(words[start : start + size])
                chunks.append({"document_id": document["id"], "text": text})
        return chunks

    # One task per chunk, each holding the GPU while it runs: however many
    # workers and threads, never more at once than PGFLOW["RESOURCES"]["gpu"].
    @step(depends_on=["chunk"], map=True, max_attempts=5, base_delay=0.2, resources={"gpu": 1})
    def embed(self, item: dict[str, Any]) -> dict[str, Any]:
        record(self, "embed")
        return {"document_id": item["document_id"], "vector": embed_text(item["text"])}

    @step(depends_on=["embed"])
    def aggregate(self, embed: list[dict[str, Any]]) -> dict[str, list[float]]:
        # One vector per document: the mean of its chunks' vectors.
        sums: dict[str, list[float]] = {}
        counts: dict[str, int] = {}
        for chunk in embed:
            key = str(chunk["document_id"])
            current = sums.setdefault(key, [0.0] * len(chunk["vector"]))
            sums[key] = [a + b for a, b in zip(current, chunk["vector"], strict=True)]
            counts[key] = counts.get(key, 0) + 1
        return {key: [round(v / counts[key], 6) for v in vector] for key, vector in sums.items()}

    @step(depends_on=["aggregate"])
    def save(self, aggregate: dict[str, list[float]]) -> dict[str, int]:
        now = timezone.now()
        for document_id, vector in aggregate.items():
            Document.objects.filter(pk=int(document_id)).update(embedding=vector, embedded_at=now)
        return {"saved": len(aggregate)}


# --- flows the tests use -------------------------------------------------------


class RetryThenSucceed(Flow):
    """``flaky`` fails its first attempt and succeeds on the second."""

    slug = "retry_then_succeed"
    base_delay = 0.05

    @step(max_attempts=3)
    def flaky(self, input: Any) -> str:
        record(self, "flaky")
        attempts = executions("flaky", self._run_id())
        if attempts == 1:
            raise ConnectionError(f"flaky step fails attempt {attempts} (simulated)")
        return f"ok after {attempts} attempts"

    @step(depends_on=["flaky"])
    def after(self, flaky: str) -> str:
        record(self, "after")
        return f"after: {flaky}"

    def _run_id(self) -> int:
        run_id = self.run_id
        assert run_id is not None, "run through a worker"
        return run_id


class AlwaysFails(Flow):
    """``boom`` fails every attempt; ``never`` must never run."""

    slug = "always_fails"
    base_delay = 0.05

    @step(max_attempts=2)
    def boom(self, input: Any) -> None:
        record(self, "boom")
        raise ValueError("boom always fails (simulated)")

    @step(depends_on=["boom"])
    def never(self, boom: Any) -> None:
        record(self, "never")


class SkipOnFailure(Flow):
    """``optional`` fails with on_failure="skip": its dependent runs and gets None."""

    slug = "skip_on_failure"

    @step()
    def begin(self, input: Any) -> str:
        return "begun"

    @step(depends_on=["begin"], on_failure="skip", max_attempts=1)
    def optional(self, begin: str) -> str:
        record(self, "optional")
        raise RuntimeError("optional step fails (simulated)")

    @step(depends_on=["optional"])
    def downstream(self, optional: str | None) -> dict[str, Any]:
        record(self, "downstream")
        return {"optional": optional}


class SkipCascade(Flow):
    """``fragile`` fails with on_failure="skip_cascade": ``dependent`` is skipped too,
    while ``independent`` still runs and the run completes."""

    slug = "skip_cascade"

    @step()
    def begin(self, input: Any) -> str:
        return "begun"

    @step(depends_on=["begin"], on_failure="skip_cascade", max_attempts=1)
    def fragile(self, begin: str) -> str:
        record(self, "fragile")
        raise RuntimeError("fragile step fails (simulated)")

    @step(depends_on=["fragile"])
    def dependent(self, fragile: str) -> str:
        record(self, "dependent")
        return "should not run"

    @step(depends_on=["begin"])
    def independent(self, begin: str) -> str:
        record(self, "independent")
        return f"independent of fragile ({begin})"


class Conditional(Flow):
    """``premium`` runs only when ``classify`` says so; otherwise it is skipped."""

    slug = "conditional"

    @step()
    def classify(self, input: dict[str, Any]) -> dict[str, str]:
        return {"tier": "premium" if input.get("amount", 0) >= 100 else "standard"}

    @step(depends_on=["classify"], condition={"classify": {"tier": "premium"}})
    def premium(self, classify: dict[str, str]) -> str:
        record(self, "premium")
        return "premium treatment"

    @step(depends_on=["classify", "premium"])
    def report(self, classify: dict[str, str], premium: str | None) -> dict[str, Any]:
        return {"tier": classify["tier"], "premium": premium}


class MapTypeViolation(Flow):
    """``listing`` returns an object where ``each`` (a map step) needs an array."""

    slug = "map_type_violation"

    @step()
    def listing(self, input: Any) -> dict[str, str]:
        return {"not": "a list"}

    @step(depends_on=["listing"], map=True)
    def each(self, item: Any) -> Any:
        record(self, "each")
        return item


class SlowMap(Flow):
    """A map whose tasks sleep: for cancellation, crashes and sharing between workers."""

    slug = "slow_map"
    timeout = 30

    @step()
    def plan(self, input: dict[str, Any]) -> list[float]:
        return [float(input["seconds"])] * int(input["tasks"])

    @step(depends_on=["plan"], map=True)
    def work(self, item: float) -> int:
        record(self, "work")
        time.sleep(item)
        return os.getpid()

    @step(depends_on=["work"])
    def done(self, work: list[int]) -> dict[str, int]:
        record(self, "done")
        return {"tasks": len(work), "processes": len(set(work))}


class FailsUntilResumed(Flow):
    """``shaky`` fails its first execution for good (max_attempts=1), so the run
    fails; after ``resume_run`` it succeeds, and ``prepare`` must not run again."""

    slug = "fails_until_resumed"

    @step()
    def prepare(self, input: Any) -> str:
        record(self, "prepare")
        return "prepared"

    @step(depends_on=["prepare"], max_attempts=1)
    def shaky(self, prepare: str) -> str:
        record(self, "shaky")
        assert self.run_id is not None
        if executions("shaky", self.run_id) == 1:
            raise RuntimeError("shaky fails its first execution (simulated)")
        return f"{prepare}, then shaky succeeded"


class HangsOnFirstAttempt(Flow):
    """``work`` hangs on its first attempt (long enough to kill its worker) and
    returns at once on a retry: the run completes if a lost task is retried."""

    slug = "hangs_on_first_attempt"
    timeout = 60

    @step()
    def work(self, input: Any) -> int:
        record(self, "work")
        if self.context.attempt == 1:
            time.sleep(float(input["seconds"]))
        return self.context.attempt

    @step(depends_on=["work"])
    def after(self, work: int) -> str:
        return f"work finished on attempt {work}"


class TinyChain(Flow):
    """Three no-op steps in a row: the cost of the engine itself, for bench/."""

    slug = "tiny_chain"

    @step()
    def one(self, input: Any) -> int:
        return 1

    @step(depends_on=["one"])
    def two(self, one: int) -> int:
        return one + 1

    @step(depends_on=["two"])
    def three(self, two: int) -> int:
        return two + 1


class TinyDiamond(Flow):
    """``one -> (left || right) -> join``, no-op steps: a diamond's engine cost, for bench/."""

    slug = "tiny_diamond"

    @step()
    def one(self, input: Any) -> int:
        return 1

    @step(depends_on=["one"])
    def left(self, one: int) -> int:
        return one + 1

    @step(depends_on=["one"])
    def right(self, one: int) -> int:
        return one + 2

    @step(depends_on=["left", "right"])
    def join(self, left: int, right: int) -> int:
        return left + right


class WideMap(Flow):
    """A map as wide as the input asks, with no-op tasks: for scale tests and bench."""

    slug = "wide_map"

    @step()
    def size(self, input: dict[str, Any]) -> list[int]:
        return list(range(int(input["size"])))

    @step(depends_on=["size"], map=True)
    def double(self, item: int) -> int:
        return item * 2

    @step(depends_on=["double"])
    def check(self, double: list[int]) -> dict[str, Any]:
        return {"count": len(double), "ordered": double == [i * 2 for i in range(len(double))]}


from . import event_flows  # noqa: E402, F401  (issue 15's flows: events, inputs, compensation)

# The typed flow needs pydantic, which only the test extra installs.
if importlib.util.find_spec("pydantic") is not None:
    from . import typed_flows  # noqa: F401
