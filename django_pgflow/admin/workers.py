"""Workers in the admin: who is alive, by the database clock, and what each has done.

One vocabulary for the filter, the list and the detail page: ``alive`` and
``stale`` (a running worker whose heartbeat is older than WORKER_DEAD_AFTER),
``stopping``, ``lost`` (a reaper gave its jobs back), ``stopped``.
"""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.contrib.admin.views.main import ChangeList
from django.db.models import DurationField, ExpressionWrapper, F, QuerySet
from django.db.models.functions import Now
from django.http import HttpRequest
from django.urls import reverse
from django.utils.html import format_html
from django.utils.http import urlencode
from django.utils.safestring import SafeString

from ..models import Worker
from ..status import worker_health
from . import display
from .filters import WorkerStateFilter
from .pages import page_changelist
from .permissions import OperatorAdmin
from .queries import rows

# Jobs the table still holds (pgflow_prune removes old ones): one grouped scan
# for the whole page of workers.
WORKER_JOBS_SQL = """
SELECT worker_id,
       count(*) FILTER (WHERE status = 'started') AS running,
       count(*) FILTER (WHERE status = 'completed') AS processed,
       count(*) FILTER (WHERE status = 'failed') AS failed
FROM pgflow_job WHERE worker_id = ANY(%s) GROUP BY worker_id
"""
COUNT_DEFAULTS = {"running": 0, "processed": 0, "failed": 0}


def worker_counts(ids: list[int]) -> dict[int, dict[str, Any]]:
    return {row.pop("worker_id"): row for row in rows(WORKER_JOBS_SQL, [ids])}


@admin.register(Worker)
class WorkerAdmin(OperatorAdmin):
    list_display = (
        "id",
        "host",
        "queue_list",
        "threads",
        "health",
        "heartbeat",
        "running_jobs",
        "processed",
        "failed",
    )
    list_filter = (WorkerStateFilter,)
    search_fields = ("hostname",)
    ordering = ("-id",)
    actions = None
    fields = (
        "id",
        "hostname",
        "pid",
        "queue_list",
        "concurrency",
        "health",
        "heartbeat",
        "started",
        "stopped",
        "running_jobs",
        "processed",
        "failed",
    )
    readonly_fields = fields

    def get_queryset(self, request: HttpRequest) -> QuerySet[Any]:
        age = ExpressionWrapper(Now() - F("last_heartbeat"), output_field=DurationField())
        return super().get_queryset(request).annotate(heartbeat_age=age)

    def get_changelist(self, request: HttpRequest, **kwargs: Any) -> type[ChangeList]:
        return page_changelist(worker_counts, COUNT_DEFAULTS)

    def get_object(self, request: HttpRequest, object_id: str, from_field: Any = None) -> Any:
        worker = super().get_object(request, object_id, from_field)
        if worker is not None:
            counts = worker_counts([worker.pk]).get(worker.pk, {})
            for name, value in {**COUNT_DEFAULTS, **counts}.items():
                setattr(worker, name, value)
        return worker

    @admin.display(description="host:pid", ordering="hostname")
    def host(self, obj: Worker) -> str:
        return f"{obj.hostname}:{obj.pid}"

    @admin.display(description="threads", ordering="concurrency")
    def threads(self, obj: Worker) -> int:
        return obj.concurrency

    @admin.display(description="queues")
    def queue_list(self, obj: Worker) -> str:
        return ", ".join(obj.queues) if obj.queues else "all"

    @admin.display(description="state", ordering="state")
    def health(self, obj: Any) -> SafeString:
        """alive or stale (by the database clock), stopping, lost, stopped."""
        return display.badge(worker_health(obj.state, obj.heartbeat_age.total_seconds()))

    @admin.display(description="heartbeat", ordering="-last_heartbeat")
    def heartbeat(self, obj: Any) -> SafeString:
        age = display.seconds_text(obj.heartbeat_age.total_seconds())
        return format_html('<span title="{}">{} ago</span>', display.when(obj.last_heartbeat), age)

    @admin.display(description="started", ordering="started_at")
    def started(self, obj: Worker) -> str:
        return display.when(obj.started_at)

    @admin.display(description="stopped")
    def stopped(self, obj: Worker) -> str:
        return display.when(obj.stopped_at)

    @admin.display(description="running")
    def running_jobs(self, obj: Any) -> SafeString | str:
        return self._jobs_link(obj, obj.running, "started")

    @admin.display(description="completed")
    def processed(self, obj: Any) -> SafeString | str:
        return self._jobs_link(obj, obj.processed, "completed")

    @admin.display(description="failed")
    def failed(self, obj: Any) -> SafeString | str:
        return self._jobs_link(obj, obj.failed, "failed")

    def _jobs_link(self, obj: Any, count: int, status: str) -> SafeString | str:
        if not count:
            return "0"
        url = reverse("admin:django_pgflow_job_changelist")
        query = urlencode({"worker__id__exact": obj.pk, "status__exact": status})
        return format_html('<a href="{}?{}">{}</a>', url, query, count)
