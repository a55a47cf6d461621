"""Argument types shared by the management commands: a bad value is an
argparse error naming it (exit 2), never a traceback."""

from __future__ import annotations

import math
from argparse import ArgumentTypeError

from ..exceptions import InvalidJobError
from ..validation import validate_queue_name


def _whole(value: str, minimum: int) -> int:
    try:
        number = int(value)
    except ValueError:
        raise ArgumentTypeError(f"{value!r} is not a whole number") from None
    if number < minimum:
        raise ArgumentTypeError(f"must be at least {minimum}, got {number}")
    return number


def count(value: str) -> int:
    """A whole number >= 0."""
    return _whole(value, 0)


def positive_int(value: str) -> int:
    """A whole number >= 1."""
    return _whole(value, 1)


def _seconds(value: str, *, allow_zero: bool) -> float:
    try:
        number = float(value)
    except ValueError:
        raise ArgumentTypeError(f"{value!r} is not a number of seconds") from None
    if math.isnan(number) or math.isinf(number) or number < 0 or (number == 0 and not allow_zero):
        bound = ">= 0" if allow_zero else "> 0"
        raise ArgumentTypeError(f"must be a finite number of seconds {bound}, got {value}")
    return number


def positive_float(value: str) -> float:
    """Seconds > 0."""
    return _seconds(value, allow_zero=False)


def nonnegative_float(value: str) -> float:
    """Seconds >= 0."""
    return _seconds(value, allow_zero=True)


def queue_list(value: str) -> list[str]:
    """``a,b``: validated queue names."""
    names = [name.strip() for name in value.split(",") if name.strip()]
    try:
        return [validate_queue_name(name) for name in names]
    except InvalidJobError as error:
        raise ArgumentTypeError(str(error)) from error
