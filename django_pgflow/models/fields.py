"""A JSON column that shows, rather than raises on, a value Python cannot load."""

from __future__ import annotations

from typing import Any

from django.db import models


class PayloadField(models.JSONField):
    """``JSONField`` for payloads: args, results, inputs, outputs, errors.

    The SQL core refuses JSON that Python's json cannot load (an integer of
    thousands of digits, nesting thousands deep), but rows written before it
    did, or by hand, may hold some. Django's own field raises then (ValueError,
    RecursionError) and takes the whole page with it; this one returns the
    stored text, which the admin shows as it is.
    """

    def from_db_value(self, value: Any, expression: Any, connection: Any) -> Any:
        try:
            return super().from_db_value(value, expression, connection)
        except (ValueError, RecursionError):
            return value

    def deconstruct(self) -> Any:
        # Migrations see a plain JSONField: the column is the same jsonb.
        name, _path, args, kwargs = super().deconstruct()
        return name, "django.db.models.JSONField", args, kwargs
