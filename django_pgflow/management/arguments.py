"""Argument types shared by the management commands: a bad value is an
argparse error naming it (exit 2), never a traceback."""

from __future__ import annotations

import math
from argparse import ArgumentTypeError
from typing import Any

from django.core.management.base import BaseCommand, CommandError

from ..exceptions import InvalidJobError
from ..validation import MAX_SECONDS, validate_queue_name

MAX_WHOLE = 100_000  # processes, counts: beyond this is a typo
# Threads per worker and jobs per claim: register_worker and claim refuse more.
MAX_PER_WORKER = 10_000


def _whole(value: str, minimum: int, maximum: int = MAX_WHOLE) -> int:
    try:
        number = int(value)
    except ValueError:
        raise ArgumentTypeError(f"{value!r} is not a whole number") from None
    if number < minimum:
        raise ArgumentTypeError(f"must be at least {minimum}, got {number}")
    if number > maximum:
        raise ArgumentTypeError(f"must be at most {maximum}, got {number}")
    return number


def count(value: str) -> int:
    """A whole number >= 0."""
    return _whole(value, 0)


def positive_int(value: str) -> int:
    """A whole number >= 1."""
    return _whole(value, 1)


def per_worker(value: str) -> int:
    """A whole number from 1 to 10,000: threads of a worker, jobs of a claim."""
    return _whole(value, 1, MAX_PER_WORKER)


def _seconds(value: str, *, allow_zero: bool) -> float:
    try:
        number = float(value)
    except ValueError:
        raise ArgumentTypeError(f"{value!r} is not a number of seconds") from None
    if math.isnan(number) or math.isinf(number) or number < 0 or (number == 0 and not allow_zero):
        bound = ">= 0" if allow_zero else "> 0"
        raise ArgumentTypeError(f"must be a finite number of seconds {bound}, got {value}")
    if number > MAX_SECONDS:
        raise ArgumentTypeError(f"must be at most {MAX_SECONDS} seconds (10 years), got {value}")
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


TYPES = (count, positive_int, per_worker, positive_float, nonnegative_float, queue_list)


def checked_options(command: BaseCommand, name: str, options: dict[str, Any]) -> dict[str, Any]:
    """Options with every typed value checked, as the command line would have been.

    ``call_command(name, concurrency="abc")`` hands keyword values to ``handle``
    untouched: argparse converts and checks strings from the command line only.
    """
    parser = command.create_parser("manage.py", name)
    checked = dict(options)
    for action in parser._actions:
        value = options.get(action.dest)
        if action.type not in TYPES or value is None:
            continue
        text = ",".join(map(str, value)) if isinstance(value, list | tuple) else str(value)
        try:
            checked[action.dest] = action.type(text)
        except ArgumentTypeError as error:
            raise CommandError(f"{action.option_strings[0]} {value!r}: {error}") from None
    return checked
