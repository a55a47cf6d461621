"""List filters that stay cheap however many finished jobs and runs the tables hold.

Choices come from settings, the task registry and the (small) flow table, never
from a DISTINCT over the jobs.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.contrib import admin
from django.db.models import DateTimeField, ExpressionWrapper, Q, QuerySet, Value
from django.db.models.functions import Now
from django.http import HttpRequest
from django.utils import timezone

from ..conf import pgflow_settings
from ..models import FlowDefinition
from ..queue import registry

AGES = {
    "1h": ("last hour", dt.timedelta(hours=1)),
    "24h": ("last 24 hours", dt.timedelta(days=1)),
    "7d": ("last 7 days", dt.timedelta(days=7)),
}
OLDER = "older"


class ChoiceFilter(admin.SimpleListFilter):
    """A filter over a fixed set of names; a value reached through a link is kept."""

    field = ""

    def names(self) -> set[str]:
        raise NotImplementedError

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        names = self.names()
        selected = self.value()
        if selected:
            names.add(selected)
        return [(name, name) for name in sorted(names)]

    def queryset(self, request: HttpRequest, queryset: QuerySet[Any]) -> QuerySet[Any]:
        value = self.value()
        return queryset.filter(**{self.field: value}) if value else queryset


class QueueFilter(ChoiceFilter):
    """The queues declared in ``PGFLOW["QUEUES"]``."""

    title = "queue"
    parameter_name = "queue"
    field = "queue"

    def names(self) -> set[str]:
        return set(pgflow_settings.QUEUES) | {pgflow_settings.DEFAULT_QUEUE}


class TaskFilter(ChoiceFilter):
    """The tasks this process registered (``@task``), by dotted path, shown by name."""

    title = "task"
    parameter_name = "task"
    field = "task_name"

    def names(self) -> set[str]:
        return set(registry.all_tasks())

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        choices = super().lookups(request, model_admin)
        short = [path.rsplit(".", 1)[-1] for path, _ in choices]
        # The last part of the path, unless two tasks share it.
        return [
            (path, name if short.count(name) == 1 else path)
            for (path, _), name in zip(choices, short, strict=True)
        ]


class FlowSlugFilter(ChoiceFilter):
    """The flows synced to the database (one row per version: a small table)."""

    title = "flow"
    parameter_name = "flow"

    def names(self) -> set[str]:
        return set(FlowDefinition.objects.values_list("slug", flat=True).distinct())


class JobFlowFilter(FlowSlugFilter):
    """Step jobs of one flow: their task names start with the flow's prefix."""

    def queryset(self, request: HttpRequest, queryset: QuerySet[Any]) -> QuerySet[Any]:
        value = self.value()
        if not value:
            return queryset
        return queryset.filter(task_name__startswith=f"pgflow.step.{value}.")


class RunFlowFilter(FlowSlugFilter):
    field = "flow_slug"


class HasErrorsFilter(admin.SimpleListFilter):
    """Jobs with at least one failed attempt on record."""

    title = "errors"
    parameter_name = "errors"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        return [("yes", "has errors"), ("no", "no errors")]

    def queryset(self, request: HttpRequest, queryset: QuerySet[Any]) -> QuerySet[Any]:
        if self.value() == "yes":
            return queryset.exclude(errors=[])
        if self.value() == "no":
            return queryset.filter(errors=[])
        return queryset


class AgeFilter(admin.SimpleListFilter):
    """Started (created) within the last hour, day or week, or before that."""

    title = "started"
    parameter_name = "age"
    field = "created_at"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        return [*((key, label) for key, (label, _) in AGES.items()), (OLDER, "more than 7 days")]

    def queryset(self, request: HttpRequest, queryset: QuerySet[Any]) -> QuerySet[Any]:
        value = self.value()
        if value in AGES:
            return queryset.filter(**{f"{self.field}__gte": timezone.now() - AGES[value][1]})
        if value == OLDER:
            return queryset.filter(**{f"{self.field}__lt": timezone.now() - AGES["7d"][1]})
        return queryset


class WorkerStateFilter(admin.SimpleListFilter):
    """The words of the state column: alive and stale split "running" by heartbeat age."""

    title = "state"
    parameter_name = "state"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        return [(s, s) for s in ("alive", "stale", "stopping", "lost", "stopped")]

    def queryset(self, request: HttpRequest, queryset: QuerySet[Any]) -> QuerySet[Any]:
        value = self.value()
        if not value:
            return queryset
        # The database clock, as the state column reads it (invariant 4).
        dead_after = dt.timedelta(seconds=float(pgflow_settings.WORKER_DEAD_AFTER))
        horizon = ExpressionWrapper(Now() - Value(dead_after), output_field=DateTimeField())
        if value == "alive":
            return queryset.filter(state="running", last_heartbeat__gte=horizon)
        if value == "stale":
            return queryset.filter(Q(state="running") & Q(last_heartbeat__lt=horizon))
        return queryset.filter(state=value)
