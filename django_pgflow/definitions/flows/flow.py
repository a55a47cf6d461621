"""``Flow``: a DAG of ``@step`` methods, checked and registered when the class is defined.

::

    class Analysis(Flow):
        slug = "analysis"

        @step()
        def fetch(self, input): ...

        @step(depends_on=["fetch"])
        def analyze(self, fetch): ...

    run = Analysis.start({"url": "https://example.com"})
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar

from ...job_context import JobContext
from ...runs import registry as flow_registry
from .flow_graph import FlowSpec, build_flow_spec
from .flow_step import step

if TYPE_CHECKING:
    from ...models import WorkflowRun


@dataclass
class StepContext:
    """What a running step can know: its flow, step, job, and (looked up once) its run."""

    flow_slug: str
    step_slug: str
    job: JobContext | None = None
    _row: tuple[int | None, int | None] | None = field(default=None, repr=False)

    @property
    def attempt(self) -> int:
        return self.job.attempt if self.job else 1

    @property
    def run_id(self) -> int | None:
        return self._job_row()[0]

    @property
    def task_index(self) -> int | None:
        """The element's position for a map step's task; 0 for a single step."""
        return self._job_row()[1]

    def _job_row(self) -> tuple[int | None, int | None]:
        # Looked up on first use only: most steps never ask.
        if self._row is None:
            self._row = (None, None)
            if self.job is not None and self.job.job_id is not None:
                from ...models import Job

                row = Job.objects.filter(pk=self.job.job_id).values_list("run_id", "task_index")
                self._row = row.first() or (None, None)
        return self._row


class Flow:
    """Base class of workflows. Subclasses declare ``slug`` and ``@step`` methods.

    Optional class attributes: ``version`` (bump it when the steps change and
    runs of the old shape exist), and defaults for every step: ``max_attempts``,
    ``base_delay`` (retry backoff base, seconds), ``timeout`` (seconds), ``queue``.
    ``abstract = True`` makes a base class that only shares steps.
    """

    slug: ClassVar[str]
    version: ClassVar[int] = 1
    max_attempts: ClassVar[int | None] = None
    base_delay: ClassVar[float | None] = None
    timeout: ClassVar[float | None] = None
    queue: ClassVar[str | None] = None
    abstract: ClassVar[bool] = False
    _pgflow: ClassVar[FlowSpec]

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if vars(cls).get("abstract", False):
            return
        cls._pgflow = build_flow_spec(cls, reserved=RESERVED_NAMES)
        flow_registry.register(cls)

    def __init__(self, context: StepContext | None = None) -> None:
        # Workers make one instance per task; steps must not rely on state between them.
        self.context = context or StepContext(flow_slug=self._pgflow.slug, step_slug="")

    @property
    def run_id(self) -> int | None:
        """The run this step belongs to; None when the method is called directly."""
        return self.context.run_id

    @classmethod
    def start(
        cls,
        input: Any = None,
        *,
        run_key: str | None = None,
        metadata: dict[str, Any] | None = None,
        using: str = "default",
    ) -> WorkflowRun:
        """Start a run of this flow in the current transaction; returns the ``WorkflowRun``."""
        # runs.api reads the models, which cannot be imported before the apps are ready.
        from ...runs.api import start_flow

        return start_flow(cls._pgflow.slug, input, run_key=run_key, metadata=metadata, using=using)

    @classmethod
    def _pgflow_sync(cls, using: str, *, again: bool = False) -> None:
        """Write this process's flows to the database: once per change, or ``again``.

        ``runs.api.start_flow`` calls it on the flow it finds by slug, so that the
        run layer below needs no import of the definitions.
        """
        # sync reads the models, which cannot be imported before the apps are ready.
        from .sync import ensure_synced, sync_flows

        if again:
            sync_flows(using)
        else:
            ensure_synced(using)


# A step named like one of these would hide it.
RESERVED_NAMES = frozenset(vars(Flow)) | frozenset(Flow.__annotations__) | {"context"}

__all__ = ["Flow", "StepContext", "step"]
