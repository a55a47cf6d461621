"""Jobs in the admin: read-only pages, and retry/cancel actions through the SQL core."""

from __future__ import annotations

from collections.abc import Callable

from django.contrib import admin, messages
from django.db import DatabaseError, transaction
from django.db.models import QuerySet
from django.http import HttpRequest
from django.urls import reverse
from django.utils.html import format_html
from django.utils.safestring import SafeString

from ..models import Job, Worker
from ..queue.api import cancel_job, retry_job
from .display import badge, preformatted, pretty_json
from .filters import QueueFilter

JOB_FIELDS = [f.name for f in Job._meta.get_fields() if f.concrete]


@admin.register(Job)
class JobAdmin(admin.ModelAdmin):
    list_display = (
        "id",
        "task_name",
        "status_badge",
        "queue",
        "attempts",
        "priority",
        "run_at",
        "created_at",
        "started_at",
        "finished_at",
    )
    list_display_links = ("id", "task_name")
    list_filter = ("status", QueueFilter)
    search_fields = ("task_name",)
    date_hierarchy = "created_at"
    ordering = ("-id",)
    list_per_page = 100
    show_full_result_count = False  # no second count(*) over the whole table
    actions = ("retry_selected", "cancel_selected")
    readonly_fields = (
        *JOB_FIELDS,
        "status_badge",
        "worker_link",
        "args_json",
        "kwargs_json",
        "result_json",
        "errors_json",
        "last_traceback",
    )
    fieldsets = (
        (None, {"fields": ("id", "task_name", "queue", "status_badge", "priority")}),
        ("Call", {"fields": ("args_json", "kwargs_json", "unique_key")}),
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
                    "created_at",
                    "run_at",
                    "started_at",
                    "finished_at",
                    "lease_expires_at",
                    "worker_link",
                )
            },
        ),
        ("Outcome", {"fields": ("result_json", "errors_json", "last_traceback")}),
    )

    # -- permissions: look, don't touch ---------------------------------------

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Job | None = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Job | None = None) -> bool:
        return False  # finished jobs leave through pgflow_prune

    def has_manage_permission(self, request: HttpRequest) -> bool:
        """May retry and cancel: Django's "change job" permission, used for nothing else."""
        return request.user.has_perm("django_pgflow.change_job")

    # -- columns and fields ----------------------------------------------------

    @admin.display(description="status", ordering="status")
    def status_badge(self, obj: Job) -> SafeString:
        return badge(obj.status)

    @admin.display(description="worker")
    def worker_link(self, obj: Job) -> str:
        if obj.worker_id is None:
            return "-"
        if not Worker.objects.filter(pk=obj.worker_id).exists():
            return f"worker {obj.worker_id} (pruned)"
        url = reverse("admin:django_pgflow_worker_change", args=[obj.worker_id])
        return format_html('<a href="{}">worker {}</a>', url, obj.worker_id)

    @admin.display(description="args")
    def args_json(self, obj: Job) -> SafeString:
        return pretty_json(obj.args)

    @admin.display(description="kwargs")
    def kwargs_json(self, obj: Job) -> SafeString:
        return pretty_json(obj.kwargs)

    @admin.display(description="result")
    def result_json(self, obj: Job) -> SafeString:
        return pretty_json(obj.result)

    @admin.display(description="errors")
    def errors_json(self, obj: Job) -> SafeString:
        return pretty_json(obj.errors)

    @admin.display(description="last traceback")
    def last_traceback(self, obj: Job) -> SafeString | str:
        tracebacks = [e.get("traceback") for e in obj.errors or [] if isinstance(e, dict)]
        latest = next((tb for tb in reversed(tracebacks) if tb), None)
        return preformatted(latest) if latest else "-"

    # -- actions: every state change goes through a SQL function -------------

    @admin.action(description="Retry selected jobs", permissions=["manage"])
    def retry_selected(self, request: HttpRequest, queryset: QuerySet[Job]) -> None:
        self._apply(request, queryset, retry_job, "requeued", "failed or cancelled")

    @admin.action(description="Cancel selected jobs", permissions=["manage"])
    def cancel_selected(self, request: HttpRequest, queryset: QuerySet[Job]) -> None:
        self._apply(request, queryset, cancel_job, "cancelled", "queued or running")

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
