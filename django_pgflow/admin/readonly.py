"""Admin pages read the queue without ever holding up a worker.

Each page runs its queries in one read-only transaction (or savepoint):
PostgreSQL itself then refuses a write or a ``SELECT ... FOR UPDATE`` from
the page, so a page can never hold a row a claim wants. ``lock_timeout`` and
``statement_timeout`` bound the one wait a plain read can meet (a migration's
exclusive lock) and a query that turned slow: the page fails, the workers
go on. One statement sets all three.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from functools import wraps
from typing import Any

from django.db import connections, transaction
from django.http import HttpRequest, HttpResponse

GUARD_SQL = (
    "SET LOCAL transaction_read_only = on; "
    "SET LOCAL lock_timeout = '2s'; "
    "SET LOCAL statement_timeout = '20s'"
)


@contextlib.contextmanager
def read_only(using: str = "default") -> Iterator[None]:
    """A read-only transaction (a savepoint inside an outer one) with bounded waits.

    A savepoint's read-only mode ends with it, so a caller's own transaction
    can write again afterwards."""
    with transaction.atomic(using=using), connections[using].cursor() as cursor:
        cursor.execute(GUARD_SQL)
        yield


def render_read_only(
    view: Callable[..., HttpResponse],
) -> Callable[..., HttpResponse]:
    """Run a GET view and render its response inside ``read_only()``.

    Template responses run queries while they render (lazy querysets, display
    methods), so rendering happens inside the guard too. Other methods pass
    through: actions write, through the SQL functions."""

    @wraps(view)
    def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        if request.method not in ("GET", "HEAD"):
            return view(request, *args, **kwargs)
        with read_only():
            response = view(request, *args, **kwargs)
            render = getattr(response, "render", None)
            if callable(render):
                response = render()
        return response

    return wrapper
