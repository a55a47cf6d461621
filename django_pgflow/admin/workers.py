"""Workers in the admin: who is alive, by the database clock, and what each is running."""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.db.models import Count, DurationField, ExpressionWrapper, F, Q, QuerySet
from django.db.models.functions import Now
from django.http import HttpRequest
from django.urls import reverse
from django.utils.html import format_html
from django.utils.http import urlencode
from django.utils.safestring import SafeString

from ..models import Worker
from ..status import worker_health
from .display import badge


@admin.register(Worker)
class WorkerAdmin(admin.ModelAdmin):
    list_display = (
        "id",
        "hostname",
        "pid",
        "queue_list",
        "concurrency",
        "health",
        "last_heartbeat",
        "running_jobs",
        "started_at",
        "stopped_at",
    )
    list_filter = ("state",)
    search_fields = ("hostname",)
    ordering = ("-id",)
    readonly_fields = (
        "id",
        "hostname",
        "pid",
        "queue_list",
        "concurrency",
        "state",
        "health",
        "started_at",
        "last_heartbeat",
        "stopped_at",
        "running_jobs",
    )
    fields = readonly_fields

    def get_queryset(self, request: HttpRequest) -> QuerySet[Any]:
        return (
            super()
            .get_queryset(request)
            .annotate(
                heartbeat_age=ExpressionWrapper(
                    Now() - F("last_heartbeat"), output_field=DurationField()
                ),
                running=Count("jobs", filter=Q(jobs__status="started")),
            )
        )

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Worker | None = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Worker | None = None) -> bool:
        return False  # stopped workers leave through pgflow_prune

    @admin.display(description="queues")
    def queue_list(self, obj: Worker) -> str:
        return ", ".join(obj.queues) if obj.queues else "all"

    @admin.display(description="state", ordering="state")
    def health(self, obj: Any) -> SafeString:
        """alive or stale (by the database clock), stopping, stopped."""
        return badge(worker_health(obj.state, obj.heartbeat_age.total_seconds()))

    @admin.display(description="running jobs", ordering="running")
    def running_jobs(self, obj: Any) -> SafeString | str:
        if not obj.running:
            return "0"
        url = reverse("admin:django_pgflow_job_changelist")
        query = urlencode({"worker__id__exact": obj.pk, "status__exact": "started"})
        return format_html('<a href="{}?{}">{}</a>', url, query, obj.running)
