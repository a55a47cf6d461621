"""Old path of ``models.gates``: migration 0001 names ``IntegerArrayField`` here."""

from .gates import Config, IntegerArrayField, QueueLimit, QueueRateShard, Resource, Slot

__all__ = ["Config", "IntegerArrayField", "QueueLimit", "QueueRateShard", "Resource", "Slot"]
