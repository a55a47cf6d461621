"""Where flows are found by slug: the registry filled by defining ``Flow`` subclasses."""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..exceptions import FlowDefinitionError, UnknownFlowError

if TYPE_CHECKING:
    from ..definitions.flows.flow import Flow

_flows: dict[str, type[Flow]] = {}
# Bumped on every change, so "synced in this process" can notice new flows.
_generation = 0


def register(cls: type[Flow]) -> None:
    global _generation
    slug = cls._pgflow.slug
    existing = _flows.get(slug)
    if existing is not None and not _same_definition(existing, cls):
        raise FlowDefinitionError(
            f"Two flows declare slug = {slug!r}: {_where(existing)} and {_where(cls)}. "
            "Slugs name flows in the database; give each flow its own."
        )
    # The same class defined again (a module re-imported) replaces the old one.
    _flows[slug] = cls
    _generation += 1


def unregister(slug: str) -> None:
    """Forget a flow (tests that define flows of their own)."""
    global _generation
    _flows.pop(slug, None)
    _generation += 1


def _same_definition(a: type, b: type) -> bool:
    return (a.__module__, a.__qualname__) == (b.__module__, b.__qualname__)


def _where(cls: type) -> str:
    return f"{cls.__module__}.{cls.__qualname__}"


def find_flow(slug: str) -> type[Flow] | None:
    return _flows.get(slug)


def get_flow(slug: str) -> type[Flow]:
    flow = _flows.get(slug)
    if flow is None:
        raise UnknownFlowError(
            f"Unknown flow {slug!r}: no Flow subclass declares that slug in this process "
            f"(known: {', '.join(sorted(_flows)) or 'none'}). Check the slug, and that the "
            "module defining it is imported (flows.py modules of installed apps are "
            "imported automatically)."
        )
    return flow


def all_flows() -> dict[str, type[Flow]]:
    return dict(_flows)


def generation() -> int:
    return _generation
