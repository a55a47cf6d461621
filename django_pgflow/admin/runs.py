"""Workflow runs in the admin: a list with progress, and a run's page with its DAG.

A run's page reads its steps (a few dozen rows at most) and one page of one
step's tasks, through the unique (run, step, task index) index: a map of
10,000 tasks costs the same as a map of ten.
"""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.contrib.admin.views.main import ChangeList
from django.core.exceptions import PermissionDenied
from django.core.paginator import Page, Paginator
from django.db.models import F, QuerySet
from django.http import Http404, HttpRequest, HttpResponse
from django.template.response import TemplateResponse
from django.urls import URLPattern, path, reverse
from django.utils.safestring import SafeString

from ..models import StepDependency, StepState, StepTask, WorkflowRun
from ..runs.api import cancel_run, resume_run
from . import dag, display
from .filters import AgeFilter, RunFlowFilter
from .pages import CappedPaginator, page_changelist
from .permissions import OperatorAdmin
from .queries import rows, with_json_text
from .readonly import render_read_only

TASKS_PER_PAGE = 50
RUN_JSON_FIELDS = ("input", "output", "error", "metadata")
TASK_STATUSES = ("queued", "started", "completed", "failed", "cancelled")

# Steps and map tasks done per run, for a page of runs: counters kept by the
# SQL core, so a 10,000-task map is one row here, not 10,000.
PROGRESS_SQL = """
SELECT s.run_id,
       count(*) AS step_count,
       count(*) FILTER (WHERE s.status IN ('completed', 'skipped')) AS steps_done,
       coalesce(sum(s.initial_tasks) FILTER (WHERE d.step_type = 'map'), 0) AS map_tasks,
       coalesce(sum(s.initial_tasks - s.remaining_tasks)
                FILTER (WHERE d.step_type = 'map'), 0) AS map_done,
       bool_or(d.step_type = 'map') AS has_map
FROM pgflow_step_state s JOIN pgflow_step d ON d.id = s.step_id
WHERE s.run_id = ANY(%s)
GROUP BY s.run_id
"""
PROGRESS_DEFAULTS = {
    "step_count": 0,
    "steps_done": 0,
    "map_tasks": 0,
    "map_done": 0,
    "has_map": False,
}


def run_progress(ids: list[int]) -> dict[int, dict[str, Any]]:
    return {row.pop("run_id"): row for row in rows(PROGRESS_SQL, [ids])}


def tasks_done(step: Any) -> str:
    """``done/total`` tasks of a started or finished step; blank before it starts."""
    if step.initial_tasks is None:
        return ""
    done = step.initial_tasks - (step.remaining_tasks or 0)
    return f"{done}/{step.initial_tasks}"


@admin.register(WorkflowRun)
class WorkflowRunAdmin(OperatorAdmin):
    list_display = (
        "id",
        "flow_slug",
        "status_badge",
        "steps_progress",
        "tasks_progress",
        "started",
        "duration",
        "run_key",
    )
    list_display_links = ("id", "flow_slug")
    list_filter = (RunFlowFilter, "status", AgeFilter)
    search_fields = ("=id", "run_key")
    ordering = ("-id",)
    list_per_page = 100
    show_full_result_count = False
    paginator = CappedPaginator
    actions = None

    def get_search_results(
        self, request: HttpRequest, queryset: QuerySet[WorkflowRun], search_term: str
    ) -> tuple[QuerySet[WorkflowRun], bool]:
        """A number is a run id; other words search run keys."""
        term = search_term.strip()
        if term.isdigit():
            return queryset.filter(pk=int(term)), False
        return queryset.filter(run_key__icontains=term) if term else queryset, False

    def get_queryset(self, request: HttpRequest) -> QuerySet[WorkflowRun]:
        return super().get_queryset(request).defer(*RUN_JSON_FIELDS)

    def get_changelist(self, request: HttpRequest, **kwargs: Any) -> type[ChangeList]:
        return page_changelist(run_progress, PROGRESS_DEFAULTS)

    @admin.display(description="status", ordering="status")
    def status_badge(self, obj: WorkflowRun) -> SafeString:
        return display.badge(obj.status)

    @admin.display(description="steps")
    def steps_progress(self, obj: Any) -> str:
        return f"{obj.steps_done}/{obj.step_count}"

    @admin.display(description="map tasks")
    def tasks_progress(self, obj: Any) -> str:
        return f"{obj.map_done}/{obj.map_tasks}" if obj.has_map else "-"

    @admin.display(description="started", ordering="created_at")
    def started(self, obj: WorkflowRun) -> SafeString:
        return display.short_when(obj.created_at)

    @admin.display(description="duration")
    def duration(self, obj: WorkflowRun) -> str:
        return display.seconds_text(display.between(obj.created_at, obj.finished_at))

    # -- the run's page ------------------------------------------------------------

    def get_urls(self) -> list[URLPattern]:
        view = self.admin_site.admin_view
        return [
            path("<int:run_id>/cancel/", view(self.cancel_view), name=self.url_name("cancel")),
            path("<int:run_id>/resume/", view(self.resume_view), name=self.url_name("resume")),
            *super().get_urls(),
        ]

    def change_view(
        self,
        request: HttpRequest,
        object_id: str,
        form_url: str = "",
        extra_context: dict[str, Any] | None = None,
    ) -> HttpResponse:
        if request.method not in ("GET", "HEAD"):
            raise PermissionDenied("A run is changed through its buttons only.")
        return render_read_only(self.run_page)(request, object_id)

    def run_page(self, request: HttpRequest, object_id: str) -> HttpResponse:
        if not self.has_view_permission(request):
            raise PermissionDenied
        run = self._run(object_id)
        steps = self._steps(run)
        selected = self._selected_step(request, steps)
        context = {
            **self.admin_site.each_context(request),
            "opts": self.opts,
            "title": f"Run {run.pk} of {run.flow_slug}",
            "run": run,
            "steps": steps,
            "dag": self._dag(run, steps),
            "selected": selected,
            "task_status": request.GET.get("status", ""),
            "task_statuses": TASK_STATUSES,
            "tasks": self._tasks(request, run, selected),
            "buttons": self._buttons(request, run),
            "duration": display.seconds_text(display.between(run.created_at, run.finished_at)),
            "run_input": display.raw_json(run.input_text, run.input_size),
            "run_output": display.raw_json(run.output_text, run.output_size),
            "run_error": display.raw_json(run.error_text, run.error_size),
            "run_metadata": display.raw_json(run.metadata_text, run.metadata_size),
        }
        return TemplateResponse(request, "admin/django_pgflow/workflowrun/detail.html", context)

    def _run(self, object_id: str) -> Any:
        queryset = with_json_text(WorkflowRun.objects.all(), RUN_JSON_FIELDS)
        run = (
            queryset.defer(*RUN_JSON_FIELDS)
            .filter(pk=int(object_id) if object_id.isdigit() else 0)
            .select_related("flow")
            .first()
        )
        if run is None:
            raise Http404(f"No run {object_id}.")
        return run

    def _steps(self, run: WorkflowRun) -> list[Any]:
        queryset = (
            StepState.objects.filter(run=run)
            .annotate(step_type=F("step__step_type"), index=F("step__index"))
            .defer("output", "error")
            .order_by("step__index")
        )
        steps = list(with_json_text(queryset, ("output", "error")))
        for step in steps:
            step.tasks_done = tasks_done(step)
            step.duration = display.seconds_text(display.between(step.started_at, step.finished_at))
            step.error_line = display.error_line(display.parsed(step.error_text))
        return steps

    def _dag(self, run: WorkflowRun, steps: list[Any]) -> SafeString:
        deps: dict[str, list[str]] = {}
        for step_slug, dep_slug in StepDependency.objects.filter(flow_id=run.flow_id).values_list(
            "step_slug", "dep_slug"
        ):
            deps.setdefault(step_slug, []).append(dep_slug)
        nodes = {}
        for step in steps:
            detail = step.status
            if step.step_type == "map" and step.tasks_done:
                detail = f"{step.status} · {step.tasks_done}"
            nodes[step.step_slug] = dag.Node(
                slug=step.step_slug,
                status=step.status,
                href=f"?step={step.step_slug}#tasks",
                detail=detail,
                tip=f"{step.step_slug}: {detail}"
                + (f" ({step.error_line})" if step.error_line else ""),
                deps=sorted(deps.get(step.step_slug, [])),
            )
        return dag.render(nodes, [step.step_slug for step in steps])

    def _selected_step(self, request: HttpRequest, steps: list[Any]) -> Any:
        """The step asked for; else the first with a failure, else the first running."""
        wanted = request.GET.get("step")
        for choose in (
            lambda s: s.step_slug == wanted,
            lambda s: s.status == "failed",
            lambda s: s.status == "started",
        ):
            found = next((s for s in steps if choose(s)), None)
            if found is not None:
                return found
        return steps[0] if steps else None

    def _tasks(self, request: HttpRequest, run: WorkflowRun, step: Any) -> Page | None:
        if step is None:
            return None
        queryset = StepTask.objects.filter(run=run, step_slug=step.step_slug)
        status = request.GET.get("status")
        if status in TASK_STATUSES:
            queryset = queryset.filter(status=status)
        queryset = with_json_text(
            queryset.defer("output", "error").annotate(
                job_status=F("job__status"),
                job_started=F("job__started_at"),
            ),
            ("output", "error"),
        ).order_by("task_index")
        page = Paginator(queryset, TASKS_PER_PAGE).get_page(request.GET.get("page"))
        task: Any
        for task in page.object_list:
            task.error_line = display.error_line(display.parsed(task.error_text))
            task.finished = display.when(task.finished_at)
            task.started = display.when(task.job_started)
        return page

    def _buttons(self, request: HttpRequest, run: WorkflowRun) -> list[tuple[str, str]]:
        if not self.has_manage_permission(request):
            return []
        if run.status == "started":
            return [
                (reverse("admin:django_pgflow_workflowrun_cancel", args=[run.pk]), "Cancel run")
            ]
        if run.status in ("failed", "cancelled"):
            return [
                (reverse("admin:django_pgflow_workflowrun_resume", args=[run.pk]), "Resume run")
            ]
        return []

    def cancel_view(self, request: HttpRequest, run_id: int) -> HttpResponse:
        return self.operate(
            request,
            lambda: cancel_run(run_id),
            f"Run {run_id} cancelled.",
            f"Run {run_id} was not cancelled: it had already finished.",
            reverse("admin:django_pgflow_workflowrun_change", args=[run_id]),
        )

    def resume_view(self, request: HttpRequest, run_id: int) -> HttpResponse:
        return self.operate(
            request,
            lambda: resume_run(run_id),
            f"Run {run_id} resumed.",
            f"Run {run_id} was not resumed: only failed or cancelled runs can be.",
            reverse("admin:django_pgflow_workflowrun_change", args=[run_id]),
        )
