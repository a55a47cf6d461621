"""Old path of ``advisory_locks``, kept so that imports of ``django_pgflow.locks`` work."""

from .advisory_locks import resource_lock, validate_lock_name

__all__ = ["resource_lock", "validate_lock_name"]
