"""Jobs in the admin: read-only pages; retry, cancel and run now through the SQL core."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.contrib import admin, messages
from django.db import DatabaseError, connections, transaction
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse
from django.urls import URLPattern, path, reverse
from django.utils import timezone
from django.utils.html import format_html
from django.utils.safestring import SafeString

from .. import validation
from ..models import Job, Worker
from ..queue.api import cancel_job, retry_job
from . import display
from .filters import HasErrorsFilter, JobFlowFilter, QueueFilter, TaskFilter
from .pages import CappedPaginator
from .permissions import OperatorAdmin
from .queries import JOB_JSON_FIELDS, with_json_text

STEP_PREFIX = "pgflow.step."


def run_job_now(job_id: int, *, using: str = "default") -> bool:
    """Make a scheduled job ready now (``django_pgflow.run_now``); False if it was not
    queued for later."""
    validation.validate_id(job_id, "job_id")
    with connections[using].cursor() as cursor:
        cursor.execute("SELECT django_pgflow.run_now(%s)", [job_id])
        return bool(cursor.fetchone()[0])


def queued_for(job: Job) -> str:
    """How long the job has been (or was, before its last start) ready and unclaimed."""
    now = timezone.now()
    if job.status == "queued" and job.run_at > now:
        return "in " + display.seconds_text((job.run_at - now).total_seconds())
    end = job.started_at if job.started_at and job.started_at >= job.run_at else None
    if job.status != "queued" and end is None:
        return "-"
    return display.seconds_text(display.between(job.run_at, end))


def ran_for(job: Job) -> str:
    if job.started_at is None:
        return "-"
    end = None if job.status == "started" else job.finished_at
    return display.seconds_text(display.between(job.started_at, end))


@admin.register(Job)
class JobAdmin(OperatorAdmin):
    # Narrow columns, a step job's run under its task: the list fits a 1280 px
    # screen beside the admin's sidebar and the filters (a browser test checks).
    list_display = (
        "id",
        "task",
        "status_badge",
        "queue",
        "tries",
        "created",
        "queued_for",
        "ran_for",
    )
    list_display_links = ("id",)
    list_filter = ("status", QueueFilter, HasErrorsFilter, TaskFilter, JobFlowFilter)
    search_fields = ("=id", "task_name")
    ordering = ("-id",)
    list_per_page = 100
    show_full_result_count = False  # no second count(*) over the whole table
    paginator = CappedPaginator
    actions = ("retry_selected", "cancel_selected", "run_now_selected")
    change_form_template = "admin/django_pgflow/job/change_form.html"
    readonly_fields = (
        "id",
        "task_name",
        "queue",
        "status_badge",
        "priority",
        "run_step",
        "args_json",
        "kwargs_json",
        "metadata_json",
        "unique_key",
        "resources_json",
        "lock_key",
        "waited_for",
        "attempts",
        "failures",
        "max_attempts",
        "retry_delay",
        "max_retry_delay",
        "timeout",
        "created_time",
        "run_at_time",
        "started",
        "finished",
        "queued_for_time",
        "ran_for_time",
        "lease_expires",
        "worker_link",
        "result_json",
        "error_history",
    )
    fieldsets = (
        (None, {"fields": ("id", "task_name", "queue", "status_badge", "priority", "run_step")}),
        ("Call", {"fields": ("args_json", "kwargs_json", "metadata_json", "unique_key")}),
        ("Gates", {"fields": ("resources_json", "lock_key", "waited_for")}),
        (
            "Attempts",
            {
                "fields": (
                    "attempts",
                    "failures",
                    "max_attempts",
                    "retry_delay",
                    "max_retry_delay",
                    "timeout",
                )
            },
        ),
        (
            "Timing (database clock)",
            {
                "fields": (
                    "created_time",
                    "run_at_time",
                    "started",
                    "finished",
                    "queued_for_time",
                    "ran_for_time",
                    "lease_expires",
                    "worker_link",
                )
            },
        ),
        ("Outcome", {"fields": ("result_json", "error_history")}),
    )

    def get_queryset(self, request: HttpRequest) -> QuerySet[Job]:
        # Payloads are never decoded for a list; the detail reads them as text.
        return super().get_queryset(request).defer(*JOB_JSON_FIELDS)

    def get_search_results(
        self, request: HttpRequest, queryset: QuerySet[Job], search_term: str
    ) -> tuple[QuerySet[Job], bool]:
        """A number is a job id (an index lookup); other words search task names."""
        term = search_term.strip()
        if term.isdigit():
            return queryset.filter(pk=int(term)), False
        return queryset.filter(task_name__icontains=term) if term else queryset, False

    def get_object(self, request: HttpRequest, object_id: str, from_field: Any = None) -> Any:
        queryset = with_json_text(self.get_queryset(request), JOB_JSON_FIELDS)
        try:
            return queryset.get(pk=int(object_id))
        except (ValueError, Job.DoesNotExist):
            return None

    # -- list columns ------------------------------------------------------------

    @admin.display(description="task", ordering="task_name")
    def task(self, obj: Job) -> SafeString:
        """The task's own name (the dotted path on hover); under it, a step job's run."""
        name = obj.task_name
        if obj.run_id is None:
            return format_html('<span title="{}">{}</span>', name, name.rsplit(".", 1)[-1])
        return format_html(
            '<span title="{}">{}</span><br>{}',
            name,
            name.removeprefix(STEP_PREFIX),
            self.step_link(obj),
        )

    @admin.display(description="status", ordering="status")
    def status_badge(self, obj: Job) -> SafeString:
        return display.badge(obj.status)

    @admin.display(description="tries", ordering="attempts")
    def tries(self, obj: Job) -> str:
        return f"{obj.attempts}/{obj.max_attempts}"

    def step_link(self, obj: Job) -> SafeString | str:
        if obj.run_id is None:
            return "-"
        url = reverse("admin:django_pgflow_workflowrun_change", args=[obj.run_id])
        return format_html(
            '<a class="pgflow-run-link" href="{}?step={}#tasks">run {} · task {}</a>',
            url,
            obj.step_slug,
            obj.run_id,
            obj.task_index,
        )

    @admin.display(description="created", ordering="created_at")
    def created(self, obj: Job) -> SafeString:
        return display.short_when(obj.created_at)

    @admin.display(description="waited")
    def queued_for(self, obj: Job) -> str:
        return queued_for(obj)

    @admin.display(description="ran")
    def ran_for(self, obj: Job) -> str:
        return ran_for(obj)

    # -- detail fields -----------------------------------------------------------

    @admin.display(description="run and step")
    def run_step(self, obj: Job) -> SafeString | str:
        if obj.run_id is None:
            return "-"
        url = reverse("admin:django_pgflow_workflowrun_change", args=[obj.run_id])
        return format_html(
            '<a href="{}">run {}</a>, step <a href="{}?step={}#tasks">{}</a>, task {}',
            url,
            obj.run_id,
            url,
            obj.step_slug,
            obj.step_slug,
            obj.task_index,
        )

    @admin.display(description="created")
    def created_time(self, obj: Job) -> str:
        return display.when(obj.created_at)

    @admin.display(description="queued for")
    def queued_for_time(self, obj: Job) -> str:
        return queued_for(obj)

    @admin.display(description="ran for")
    def ran_for_time(self, obj: Job) -> str:
        return ran_for(obj)

    @admin.display(description="run at")
    def run_at_time(self, obj: Job) -> str:
        return display.when(obj.run_at)

    @admin.display(description="started")
    def started(self, obj: Job) -> str:
        return display.when(obj.started_at)

    @admin.display(description="finished")
    def finished(self, obj: Job) -> str:
        return display.when(obj.finished_at)

    @admin.display(description="lease expires")
    def lease_expires(self, obj: Job) -> str:
        return display.when(obj.lease_expires_at)

    @admin.display(description="waited for its gates")
    def waited_for(self, obj: Job) -> str:
        """The last attempt's wait for resources, lock key or queue limits."""
        gated = obj.resources is not None or obj.lock_key
        if obj.status == "queued" and gated and obj.run_at <= timezone.now():
            waiting = display.seconds_text(display.between(obj.run_at, None))
            return f"waiting for {waiting} so far"
        return display.seconds_text(obj.waited) if obj.waited is not None else "-"

    @admin.display(description="resources")
    def resources_json(self, obj: Any) -> SafeString | str:
        return display.raw_json(obj.resources_text) if obj.resources_text else "-"

    @admin.display(description="worker")
    def worker_link(self, obj: Job) -> str:
        if obj.worker_id is None:
            return "-"
        if not Worker.objects.filter(pk=obj.worker_id).exists():
            return f"worker {obj.worker_id} (pruned)"
        url = reverse("admin:django_pgflow_worker_change", args=[obj.worker_id])
        return format_html('<a href="{}">worker {}</a>', url, obj.worker_id)

    @admin.display(description="args")
    def args_json(self, obj: Any) -> SafeString:
        return display.raw_json(obj.args_text, obj.args_size)

    @admin.display(description="kwargs")
    def kwargs_json(self, obj: Any) -> SafeString:
        return display.raw_json(obj.kwargs_text, obj.kwargs_size)

    @admin.display(description="metadata")
    def metadata_json(self, obj: Any) -> SafeString:
        """What travels with the job beside its arguments: trace, tenant, request id."""
        return display.raw_json(obj.metadata_text, obj.metadata_size)

    @admin.display(description="result")
    def result_json(self, obj: Any) -> SafeString:
        return display.raw_json(obj.result_text, obj.result_size)

    @admin.display(description="errors (newest first)")
    def error_history(self, obj: Any) -> SafeString | str:
        errors = display.parsed(obj.errors_text)
        if errors is None:  # stored, but not readable by Python: show it as it is
            return display.raw_json(obj.errors_text, obj.errors_size)
        return display.error_list(errors)

    # -- detail page buttons -----------------------------------------------------

    def get_urls(self) -> list[URLPattern]:
        view = self.admin_site.admin_view
        return [
            path("<int:job_id>/retry/", view(self.retry_view), name=self.url_name("retry")),
            path("<int:job_id>/cancel/", view(self.cancel_view), name=self.url_name("cancel")),
            path("<int:job_id>/run-now/", view(self.run_now_view), name=self.url_name("run_now")),
            *super().get_urls(),
        ]

    def _back(self, job_id: int) -> str:
        return reverse("admin:django_pgflow_job_change", args=[job_id])

    def retry_view(self, request: HttpRequest, job_id: int) -> HttpResponse:
        return self.operate(
            request,
            lambda: retry_job(job_id),
            f"Job {job_id} requeued.",
            f"Job {job_id} was not retried: only failed or cancelled jobs can be.",
            self._back(job_id),
        )

    def cancel_view(self, request: HttpRequest, job_id: int) -> HttpResponse:
        return self.operate(
            request,
            lambda: cancel_job(job_id),
            f"Job {job_id} cancelled.",
            f"Job {job_id} was not cancelled: it had already finished.",
            self._back(job_id),
        )

    def run_now_view(self, request: HttpRequest, job_id: int) -> HttpResponse:
        return self.operate(
            request,
            lambda: run_job_now(job_id),
            f"Job {job_id} is ready now.",
            f"Job {job_id} was not scheduled for later.",
            self._back(job_id),
        )

    def detail_context(self, request: HttpRequest, object_id: str) -> dict[str, Any]:
        if not (self.has_manage_permission(request) and object_id.isdigit()):
            return {"pgflow_buttons": []}
        return {"pgflow_buttons": self._buttons(int(object_id))}

    def _buttons(self, job_id: int) -> list[tuple[str, str]]:
        """The actions that apply to the job as it is now: (url, label)."""
        job = Job.objects.filter(pk=job_id).only("status", "run_at", "run_id").first()
        if job is None:
            return []
        buttons = []
        if job.status in ("failed", "cancelled") and job.run_id is None:
            buttons.append(("retry", "Retry"))
        if job.status == "queued" and job.run_at > timezone.now():
            buttons.append(("run_now", "Run now"))
        if job.status in ("queued", "started"):
            buttons.append(("cancel", "Cancel"))
        return [
            (reverse(f"admin:django_pgflow_job_{name}", args=[job_id]), label)
            for name, label in buttons
        ]

    # -- list actions: every state change goes through a SQL function ----------

    @admin.action(description="Retry selected jobs", permissions=["manage"])
    def retry_selected(self, request: HttpRequest, queryset: QuerySet[Job]) -> None:
        self._apply(request, queryset, retry_job, "requeued", "failed or cancelled")

    @admin.action(description="Cancel selected jobs", permissions=["manage"])
    def cancel_selected(self, request: HttpRequest, queryset: QuerySet[Job]) -> None:
        self._apply(request, queryset, cancel_job, "cancelled", "queued or running")

    @admin.action(description="Run selected scheduled jobs now", permissions=["manage"])
    def run_now_selected(self, request: HttpRequest, queryset: QuerySet[Job]) -> None:
        self._apply(request, queryset, run_job_now, "made ready now", "scheduled")

    def _apply(
        self,
        request: HttpRequest,
        queryset: QuerySet[Job],
        change: Callable[..., bool],
        done: str,
        eligible: str,
    ) -> None:
        ids = list(queryset.order_by("pk").values_list("pk", flat=True))
        changed, refused = 0, []
        for pk in ids:
            try:
                # One savepoint each: a refusal (a taken unique key, a step job)
                # must not undo the jobs already changed.
                with transaction.atomic(using=queryset.db):
                    changed += change(pk, using=queryset.db)
            except DatabaseError as error:
                refused.append(f"job {pk}: {str(error).splitlines()[0]}")
        skipped = len(ids) - changed - len(refused)
        message = f"{changed} job(s) {done}."
        if skipped:
            message += f" {skipped} skipped: only {eligible} jobs can be {done}."
        if refused:
            message += " Refused: " + "; ".join(refused)
        level = messages.SUCCESS if changed and not (skipped or refused) else messages.WARNING
        self.message_user(request, message, level)
