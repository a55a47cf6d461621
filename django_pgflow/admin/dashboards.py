"""The queues dashboard and the lock contention page.

Both are the changelist of a proxy model (``QueueOverview``,
``LockContention``), so that they appear on the admin index; both need the
view permission of jobs, whose rows they summarise, and take no action.
"""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.template.response import TemplateResponse
from django.urls import URLPattern, path
from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString

from ..conf import pgflow_settings
from ..models import LockContention, QueueOverview
from . import display, queries
from .permissions import OperatorAdmin
from .readonly import render_read_only

WAITERS_SHOWN = 10
PG_LOCKS_SHOWN = 200
CHART_W, CHART_H, BAR = 180, 32, 3


def throughput_chart(minutes: list[tuple[int, int]]) -> SafeString:
    """60 bars, one a minute, oldest left: completed in green, failed stacked in red."""
    peak = max((c + f for c, f in minutes), default=0) or 1
    bars = []
    for i, (completed, failed) in enumerate(minutes):
        x = i * BAR
        done_h = CHART_H * completed / peak
        fail_h = CHART_H * failed / peak
        tip = f"{59 - i} min ago: {completed} completed, {failed} failed"
        heights = (CHART_H - done_h, done_h, CHART_H - done_h - fail_h, fail_h)
        y_done, h_done, y_fail, h_fail = (f"{v:.1f}" for v in heights)
        bars.append((x, y_done, h_done, x, y_fail, h_fail, tip))
    body = format_html_join(
        "",
        '<g><title>{6}</title><rect x="{0}" y="{1}" width="2" height="{2}" fill="#16a34a"/>'
        '<rect x="{3}" y="{4}" width="2" height="{5}" fill="#dc2626"/></g>',
        bars,
    )
    total = sum(c for c, _ in minutes), sum(f for _, f in minutes)
    return format_html(
        '<svg xmlns="http://www.w3.org/2000/svg" width="{}" height="{}" role="img"'
        ' aria-label="{} completed, {} failed in the last hour">'
        '<rect width="100%" height="100%" fill="none" stroke="#e5e7eb"/>{}</svg>',
        CHART_W,
        CHART_H,
        total[0],
        total[1],
        body,
    )


class DashboardAdmin(OperatorAdmin):
    """A page of its own in place of the proxy model's changelist."""

    template = ""
    title = ""

    def has_view_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return request.user.has_perm("django_pgflow.view_job") or request.user.has_perm(
            "django_pgflow.change_job"
        )

    def get_urls(self) -> list[URLPattern]:
        view = self.admin_site.admin_view(self.dashboard_view)
        return [path("", view, name=self.url_name("changelist"))]

    def dashboard_view(self, request: HttpRequest) -> HttpResponse:
        if not self.has_view_permission(request):
            raise PermissionDenied
        return render_read_only(self.render_page)(request)

    def render_page(self, request: HttpRequest) -> HttpResponse:
        context = {
            **self.admin_site.each_context(request),
            "opts": self.opts,
            "title": self.title,
            **self.page_context(request),
        }
        return TemplateResponse(request, self.template, context)

    def page_context(self, request: HttpRequest) -> dict[str, Any]:
        raise NotImplementedError


@admin.register(QueueOverview)
class QueueOverviewAdmin(DashboardAdmin):
    template = "admin/django_pgflow/queues.html"
    title = "Queues"

    def page_context(self, request: HttpRequest) -> dict[str, Any]:
        counts = {row["queue"]: row for row in queries.queue_counts()}
        limits = queries.queue_limits()
        series = queries.throughput()
        names = set(pgflow_settings.QUEUES) | {pgflow_settings.DEFAULT_QUEUE}
        names |= set(counts) | set(limits) | set(series)
        empty = {"ready": 0, "gated": 0, "scheduled": 0, "retrying": 0, "running": 0, "failed": 0}
        queues = []
        for name in sorted(names):
            row = {"queue": name, **empty, "oldest_ready": None, **counts.get(name, {})}
            minutes = series.get(name, [(0, 0)] * 60)
            row["completed_hour"] = sum(c for c, _ in minutes)
            row["failed_hour"] = sum(f for _, f in minutes)
            row["chart"] = throughput_chart(minutes)
            row["oldest"] = display.seconds_text(row["oldest_ready"])
            row["limits"] = self._limits(row, limits.get(name))
            queues.append(row)
        return {"queues": queues}

    def _limits(self, row: dict[str, Any], limit: dict[str, Any] | None) -> str:
        """``2/5 running`` and ``37/100 per 60s``: each limit and how much of it is in use."""
        if limit is None:
            return "-"
        parts = []
        if limit["concurrency"] is not None:
            parts.append(f"{row['running']}/{limit['concurrency']} running")
        if limit["rate_count"] is not None:
            period = f"{limit['rate_period']:g}"
            parts.append(f"{limit['rate_used']}/{limit['rate_count']} started per {period}s")
        return ", ".join(parts) or "-"


@admin.register(LockContention)
class LockContentionAdmin(DashboardAdmin):
    template = "admin/django_pgflow/contention.html"
    title = "Lock contention"

    def page_context(self, request: HttpRequest) -> dict[str, Any]:
        gates = queries.contention()
        holder_rows = queries.holders(sorted({i for g in gates for i in g["holders"] or []}))
        lines: dict[tuple[str, str], list[dict[str, Any]]] = {}
        for waiter in queries.waiters(WAITERS_SHOWN):
            waiter["since"] = display.when(waiter["run_at"])
            waiter["for"] = display.seconds_text(waiter["waiting_for"])
            lines.setdefault((waiter["kind"], waiter["name"]), []).append(waiter)
        percentiles = queries.wait_percentiles()
        for gate in gates:
            key = (gate["kind"], gate["name"])
            gate["holder_jobs"] = [self._holder(holder_rows, i) for i in gate["holders"] or []]
            gate["waiter_jobs"] = lines.get(key, [])
            waits = percentiles.get(key, {})
            gate["p50"] = display.seconds_text(waits.get("p50"))
            gate["p95"] = display.seconds_text(waits.get("p95"))
            gate["started_hour"] = waits.get("started", 0)
            gate["longest"] = display.seconds_text(gate["longest_wait"])
        locks = queries.pg_locks(PG_LOCKS_SHOWN)
        for lock in locks:
            lock["for"] = display.seconds_text(lock["waiting_for"])
        return {"gates": gates, "pg_locks": locks, "waiters_shown": WAITERS_SHOWN}

    def _holder(self, rows: dict[int, dict[str, Any]], job_id: int) -> dict[str, Any]:
        row = rows.get(job_id, {"id": job_id, "task_name": "", "worker_id": None})
        return {
            **row,
            "since": display.when(row.get("started_at")),
            "for": display.seconds_text(display.between(row.get("started_at"), None)),
        }
