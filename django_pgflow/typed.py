"""Typed step boundaries: parse JSON into pydantic models or dataclasses, and back.

A step parameter annotated with a ``pydantic.BaseModel`` subclass or a
dataclass (alone or inside ``list[...]``, ``X | None``, ...) receives a parsed
instance; a returned model or dataclass is stored as JSON. pydantic is
optional: without it a dataclass is built with ``cls(**value)``.
"""

from __future__ import annotations

import dataclasses
import functools
import typing
from collections.abc import Callable, Hashable
from types import ModuleType
from typing import Any, cast

from .exceptions import StepInputError
from .validation import MAX_JSON_DEPTH


@functools.cache
def _pydantic() -> ModuleType | None:
    try:
        import pydantic
    except ImportError:
        return None
    return pydantic


def _is_model_class(tp: Any) -> bool:
    pydantic = _pydantic()
    return isinstance(tp, type) and pydantic is not None and issubclass(tp, pydantic.BaseModel)


def is_typed(annotation: Any) -> bool:
    """Does this annotation name a model or a dataclass, at any depth?"""
    if _is_model_class(annotation) or (
        isinstance(annotation, type) and dataclasses.is_dataclass(annotation)
    ):
        return True
    return any(is_typed(arg) for arg in typing.get_args(annotation))


@functools.cache
def param_types(func: Callable[..., Any]) -> dict[str, Any]:
    """The typed parameters of ``func``: name -> annotation, only those ``is_typed``."""
    try:
        hints = typing.get_type_hints(func)
    except Exception:  # noqa: BLE001 - a name the module cannot resolve: use what is plain
        hints = {k: v for k, v in func.__annotations__.items() if not isinstance(v, str)}
    hints.pop("return", None)
    return {name: tp for name, tp in hints.items() if is_typed(tp)}


def parse(value: Any, annotation: Any, where: str) -> Any:
    """``value`` as ``annotation`` says; ``StepInputError`` naming the field that failed.

    ``None`` passes as is: a skipped dependency's output is null, whatever its type.
    """
    if value is None:
        return None
    pydantic = _pydantic()
    if pydantic is not None:
        try:
            return _adapter(annotation).validate_python(value)
        except pydantic.ValidationError as error:
            raise StepInputError(f"{where}: {describe_errors(error)}") from None
    if isinstance(annotation, type) and dataclasses.is_dataclass(annotation):
        if not isinstance(value, dict):
            raise StepInputError(
                f"{where}: expected an object for {annotation.__name__}, "
                f"got {type(value).__name__}."
            )
        try:
            return annotation(**value)
        except TypeError as error:
            raise StepInputError(f"{where}: {error}") from None
    return value


@functools.lru_cache(maxsize=512)
def _adapter(annotation: Any) -> Any:
    pydantic = _pydantic()
    assert pydantic is not None
    return pydantic.TypeAdapter(annotation)


def describe_errors(error: Any, limit: int = 5) -> str:
    """A pydantic ``ValidationError`` as ``field 'a.b': message; ...``."""
    parts = []
    for item in error.errors()[:limit]:
        location = ".".join(str(part) for part in item["loc"])
        field = f"field {location!r}" if location else "value"
        parts.append(f"{field}: {item['msg']}")
    more = error.error_count() - limit
    if more > 0:
        parts.append(f"and {more} more error(s)")
    return f"{error.title} did not validate: " + "; ".join(parts)


def to_plain(value: Any, _depth: int = 0) -> Any:
    """Models and dataclasses (also inside lists and dicts) as plain JSON values.

    Stops converting below ``MAX_JSON_DEPTH`` levels (a cycle, or absurd nesting):
    ``validation.to_json`` then refuses the value with a message, instead of a
    ``RecursionError`` here.
    """
    if _depth > MAX_JSON_DEPTH:
        return value
    if isinstance(value, list | tuple):
        return [to_plain(item, _depth + 1) for item in value]
    if isinstance(value, dict):
        return {key: to_plain(item, _depth + 1) for key, item in value.items()}
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return _dataclass_to_plain(value)
    pydantic = _pydantic()
    if pydantic is not None and isinstance(value, pydantic.BaseModel):
        return value.model_dump(mode="json")
    return value


def _dataclass_to_plain(value: Any) -> Any:
    if _pydantic() is not None:
        return _adapter(cast(Hashable, type(value))).dump_python(value, mode="json")
    return to_plain(dataclasses.asdict(value))
