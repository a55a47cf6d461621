"""A changelist that fetches what its columns add to a page in one query.

Counts and progress for the rows of a page (a worker's processed jobs, a run's
steps done) come from one grouped query over the page's ids, attached to each
row: the page costs the same number of queries whatever its size (no N+1).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.contrib.admin.views.main import ChangeList
from django.core.paginator import Paginator
from django.utils.functional import cached_property


def page_changelist(
    fetch: Callable[[list[Any]], dict[Any, dict[str, Any]]], defaults: dict[str, Any]
) -> type[ChangeList]:
    """A ChangeList class whose rows get the attributes ``fetch`` returns for their ids."""

    class PageChangeList(ChangeList):
        def get_results(self, request: Any) -> None:
            super().get_results(request)
            rows = list(self.result_list)
            extra = fetch([row.pk for row in rows]) if rows else {}
            for row in rows:
                for name, value in {**defaults, **extra.get(row.pk, {})}.items():
                    setattr(row, name, value)
            self.result_list = rows

    return PageChangeList


class CappedPaginator(Paginator):
    """Counts at most COUNT_CAP rows: a list of 100,000 jobs pages like one of 10,000.

    The count stops early (a LIMIT inside it) instead of walking the whole
    history; past the cap the list offers its first COUNT_CAP rows, and filters
    narrow it down."""

    COUNT_CAP = 10_000

    @cached_property
    def count(self) -> int:
        query = self.object_list
        if hasattr(query, "values"):
            return int(query.values("pk")[: self.COUNT_CAP].count())
        return len(query)
