"""Periodic schedules in the admin: the cron, the last and next tick, the last job made."""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.urls import reverse
from django.utils.html import format_html
from django.utils.safestring import SafeString

from ..models import PeriodicSchedule
from . import display
from .permissions import OperatorAdmin


@admin.register(PeriodicSchedule)
class PeriodicScheduleAdmin(OperatorAdmin):
    list_display = ("name", "task", "schedule", "last", "next", "last_job")
    search_fields = ("name", "task_name")
    ordering = ("name",)
    actions = None
    fields = ("name", "task_name", "schedule", "last", "next", "last_job", "job_json", "updated")
    readonly_fields = fields

    @admin.display(description="task", ordering="task_name")
    def task(self, obj: PeriodicSchedule) -> SafeString:
        return format_html(
            '<span title="{}">{}</span>', obj.task_name, obj.task_name.rsplit(".", 1)[-1]
        )

    @admin.display(description="schedule", ordering="cron")
    def schedule(self, obj: PeriodicSchedule) -> SafeString:
        return format_html("<code>{}</code> ({})", obj.cron, obj.timezone)

    @admin.display(description="last tick", ordering="last_tick")
    def last(self, obj: PeriodicSchedule) -> str:
        return display.when(obj.last_tick)

    @admin.display(description="next tick", ordering="next_tick")
    def next(self, obj: PeriodicSchedule) -> str:
        return display.when(obj.next_tick)

    @admin.display(description="updated")
    def updated(self, obj: PeriodicSchedule) -> str:
        return display.when(obj.updated_at)

    @admin.display(description="last job")
    def last_job(self, obj: PeriodicSchedule) -> SafeString | str:
        """The job the last tick enqueued (it may since have been pruned)."""
        if obj.last_job_id is None:
            return "-"
        url = reverse("admin:django_pgflow_job_change", args=[obj.last_job_id])
        return format_html('<a href="{}">job {}</a>', url, obj.last_job_id)

    @admin.display(description="job each tick enqueues")
    def job_json(self, obj: Any) -> SafeString:
        return display.pretty_json(obj.job)
