"""A changelist that fetches what its columns add to a page in one query.

Counts and progress for the rows of a page (a worker's processed jobs, a run's
steps done) come from one grouped query over the page's ids, attached to each
row: the page costs the same number of queries whatever its size (no N+1).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.contrib.admin.views.main import ChangeList


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
