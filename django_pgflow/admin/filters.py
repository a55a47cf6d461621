"""List filters that stay cheap however many finished jobs the table holds."""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.db.models import QuerySet
from django.http import HttpRequest

from ..conf import pgflow_settings


class QueueFilter(admin.SimpleListFilter):
    """The queues declared in ``PGFLOW["QUEUES"]``, without a DISTINCT over every job."""

    title = "queue"
    parameter_name = "queue"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        names = set(pgflow_settings.QUEUES) | {pgflow_settings.DEFAULT_QUEUE}
        selected = self.value()
        if selected:
            names.add(selected)  # an undeclared queue reached through a link
        return [(name, name) for name in sorted(names)]

    def queryset(self, request: HttpRequest, queryset: QuerySet[Any]) -> QuerySet[Any]:
        value = self.value()
        return queryset.filter(queue=value) if value else queryset
