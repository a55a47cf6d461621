"""Validation of what callers hand us, with errors that name the culprit.

Everything here runs before anything is written, so a refused call stores
nothing.
"""

from __future__ import annotations

import datetime as dt
import json
import math
import re
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from decimal import Decimal
from typing import Any

from .exceptions import FlowDefinitionError, InvalidJobError

QUEUE_NAME_RE = re.compile(r"[a-z0-9][a-z0-9_.\-]{0,62}")
TASK_NAME_RE = re.compile(r"[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*")
# Flow slugs and step names.
SLUG_RE = re.compile(r"[a-z][a-z0-9_]{0,62}")
PRIORITY_MIN, PRIORITY_MAX = -32768, 32767
MAX_JSON_DEPTH = 100
# Numbers every reader can load: Python's json parses an integer of more than
# 4,300 digits with an error, and PostgreSQL writes 1e5000 out in full. The
# line is the largest double as JSON writes it, 1.7976931348623157e308: every
# float passes (its text is at most that), an int passes up to that value. The
# SQL core draws the same line (django_pgflow.json_problem).
MAX_JSON_NUMBER = sys.float_info.max
MAX_JSON_INT = int(Decimal(repr(MAX_JSON_NUMBER)))
# Longer spans overflow PostgreSQL's timestamps once added to now() (a lease,
# a retry's run_at), which would make every claim of the queue fail.
MAX_SECONDS = 10 * 365 * 86400
BIGINT_MAX = 2**63 - 1
# The bounds sync_limits stores (django_pgflow.check_limits): a rate of
# 1 to 1,000,000 starts per 0.001 s to 366 days, 1 to 10,000 jobs of a queue
# at once, 0 to 10,000 units of a resource (a slot row each).
RATE_COUNT_MAX = 1_000_000
RATE_PERIOD_MIN, RATE_PERIOD_MAX = 0.001, 366 * 86400
CONCURRENCY_MAX = 10_000
CAPACITY_MAX = 10_000


def validate_queue_name(name: Any) -> str:
    if not isinstance(name, str) or not QUEUE_NAME_RE.fullmatch(name):
        raise InvalidJobError(
            f"Invalid queue name {name!r}: use 1-63 lowercase letters, digits, '_', '-' "
            "or '.', starting with a letter or digit."
        )
    return name


def validate_priority(priority: Any) -> int:
    if isinstance(priority, bool) or not isinstance(priority, int):
        raise InvalidJobError(
            f"Invalid priority {priority!r} ({type(priority).__name__}): priority must be an int."
        )
    if not PRIORITY_MIN <= priority <= PRIORITY_MAX:
        raise InvalidJobError(
            f"Invalid priority {priority}: must be between {PRIORITY_MIN} and {PRIORITY_MAX}."
        )
    return priority


def validate_positive_number(name: str, value: Any, *, allow_zero: bool = False) -> float:
    # Compared as they are: an int too large for a float is simply too large.
    if isinstance(value, bool) or not isinstance(value, int | float) or value != value:
        raise InvalidJobError(f"{name} must be a number of seconds, got {value!r:.80}.")
    if value < 0 or (value == 0 and not allow_zero) or value == math.inf:
        bound = ">= 0" if allow_zero else "> 0"
        raise InvalidJobError(
            f"{name} must be a finite number of seconds {bound}, got {value!r:.80}."
        )
    if value > MAX_SECONDS:
        raise InvalidJobError(
            f"{name} must be at most {MAX_SECONDS} seconds (10 years), got {value!r:.80}."
        )
    return float(value)


def validate_id(value: Any, what: str) -> int:
    """A row id: an int (not a bool) that fits PostgreSQL's bigint."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise InvalidJobError(f"{what} must be an int, got {type(value).__name__} ({value!r:.80}).")
    if not -BIGINT_MAX - 1 <= value <= BIGINT_MAX:
        raise InvalidJobError(f"{what} {value} does not fit a 64-bit integer.")
    return value


def validate_text(value: Any, what: str, max_length: int = 255) -> str:
    """A non-empty string that PostgreSQL can store: no NUL, valid UTF-8."""
    problem = None
    if not isinstance(value, str) or not value or len(value) > max_length:
        problem = f"must be a non-empty string of at most {max_length} characters"
    elif "\x00" in value:
        problem = "must not contain a NUL character"
    elif not _is_utf8(value):
        problem = "must be valid UTF-8 text (it holds a lone surrogate)"
    if problem:
        raise InvalidJobError(f"{what} {problem}, got {value!r:.80}.")
    return value


def _is_utf8(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def validate_max_attempts(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise InvalidJobError(f"max_attempts must be an int >= 1, got {value!r}.")
    if value > 1_000_000:
        raise InvalidJobError(f"max_attempts must be at most 1000000, got {value!r}.")
    return value


def validate_run_at(run_at: Any) -> dt.datetime:
    if not isinstance(run_at, dt.datetime):
        raise InvalidJobError(
            f"run_at must be a datetime, got {type(run_at).__name__} ({run_at!r})."
        )
    if run_at.tzinfo is None or run_at.tzinfo.utcoffset(run_at) is None:
        raise InvalidJobError(
            f"run_at {run_at.isoformat()} has no time zone: pass an aware datetime, "
            "e.g. django.utils.timezone.now() + timedelta(...)."
        )
    return run_at


def validate_unique_key(key: Any) -> str:
    return validate_text(key, "unique_key")


def validate_resources(value: Any) -> tuple[tuple[str, int], ...] | None:
    """``{"gpu": 1}`` (or its sorted pairs) as sorted pairs; None or {} for none."""
    if isinstance(value, tuple):
        value = dict(value)
    if not isinstance(value, dict):
        raise InvalidJobError(
            f"resources must be a dict of resource names to amounts such as {{'gpu': 1}}, "
            f"got {type(value).__name__} ({value!r:.80})."
        )
    for name, amount in value.items():
        if not isinstance(name, str) or not QUEUE_NAME_RE.fullmatch(name):
            raise InvalidJobError(
                f"Invalid resource name {name!r}: use 1-63 lowercase letters, digits, '_', "
                "'-' or '.', starting with a letter or digit."
            )
        # No capacity exceeds CAPACITY_MAX: a larger amount could never be given.
        if (
            isinstance(amount, bool)
            or not isinstance(amount, int)
            or not 1 <= amount <= CAPACITY_MAX
        ):
            raise InvalidJobError(
                f"Resource {name!r} needs a whole amount >= 1 and at most {CAPACITY_MAX}, "
                f"got {amount!r:.80}."
            )
    return tuple(sorted(value.items())) or None


def validate_declared_resources(resources: tuple[tuple[str, int], ...]) -> None:
    """Refuse what no worker could ever run: an undeclared resource, or more than it has."""
    from .conf import pgflow_settings

    declared = pgflow_settings.RESOURCES
    for name, amount in resources:
        if name not in declared:
            known = ", ".join(sorted(declared)) or "none"
            raise InvalidJobError(
                f"Unknown resource {name!r}: PGFLOW['RESOURCES'] declares {known}. "
                f"Declare it there with its capacity, e.g. {{{name!r}: 1}}."
            )
        if amount > declared[name]:
            raise InvalidJobError(
                f"The job needs {amount} of resource {name!r}, whose capacity is "
                f"{declared[name]} (PGFLOW['RESOURCES']): it could never run."
            )


def validate_lock_key(key: Any) -> str:
    return validate_text(key, "lock_key")


RATE_LIMIT_RE = re.compile(
    r"\s*(\d+)\s*/\s*(\d*(?:\.\d+)?)\s*(s|sec|second|m|min|minute|h|hour|d|day)\s*"
)
RATE_UNITS = {
    "s": 1,
    "sec": 1,
    "second": 1,
    "m": 60,
    "min": 60,
    "minute": 60,
    "h": 3600,
    "hour": 3600,
    "d": 86400,
    "day": 86400,
}


def parse_rate_limit(text: Any) -> tuple[int, float]:
    """``"100/m"`` -> (100, 60.0): at most 100 starts in any 60 seconds. Also ``"5/10s"``."""
    match = RATE_LIMIT_RE.fullmatch(text) if isinstance(text, str) else None
    if match is None:
        raise InvalidJobError(
            f"Invalid rate limit {text!r:.80}: use '<count>/<unit>' such as '10/s', '100/m', "
            "'1000/h' or '5/10s'."
        )
    return validate_rate(int(match[1]), float(match[2] or 1) * RATE_UNITS[match[3]])


def validate_rate(count: Any, period: Any) -> tuple[int, float]:
    """``count`` starts (1 to 1,000,000) in any ``period`` seconds (0.001 to 366 days)."""
    if isinstance(count, bool) or not isinstance(count, int) or not 1 <= count <= RATE_COUNT_MAX:
        raise InvalidJobError(
            f"Invalid rate limit: the count must be a whole number from 1 to {RATE_COUNT_MAX}, "
            f"got {count!r:.80}."
        )
    if (
        isinstance(period, bool)
        or not isinstance(period, int | float)
        or not RATE_PERIOD_MIN <= period <= RATE_PERIOD_MAX
    ):
        raise InvalidJobError(
            f"Invalid rate limit: the period must be from {RATE_PERIOD_MIN} to "
            f"{RATE_PERIOD_MAX} seconds (366 days), got {period!r:.80}."
        )
    return count, float(period)


def validate_queue_limit(name: str, value: Any) -> int | tuple[int, float]:
    """A queue's ``concurrency`` (1 to 10,000) or ``rate_limit`` ("100/m")."""
    if name == "rate_limit":
        return parse_rate_limit(value)
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= CONCURRENCY_MAX:
        raise InvalidJobError(
            f"concurrency must be an int from 1 to {CONCURRENCY_MAX}, got {value!r:.80}."
        )
    return value


def validate_capacity(name: str, value: Any) -> int:
    """The capacity of a resource of ``PGFLOW["RESOURCES"]``: 0 to 10,000 units."""
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= CAPACITY_MAX:
        raise InvalidJobError(
            f"PGFLOW['RESOURCES'][{name!r}] must be a whole capacity from 0 to {CAPACITY_MAX}, "
            f"got {value!r:.80}."
        )
    return value


def _find_non_json(value: Any, path: str, depth: int) -> str | None:
    """Return a description of the first value that is not plain JSON, or None."""
    if depth > MAX_JSON_DEPTH:
        where = path if len(path) <= 60 else f"{path[:60]}..."
        return f"{where} is nested deeper than {MAX_JSON_DEPTH} levels"
    if value is None or isinstance(value, bool):
        return None
    if isinstance(value, int):
        if abs(value) > MAX_JSON_INT:
            return f"{path} is an integer beyond ±{MAX_JSON_NUMBER!r}, which a float cannot hold"
        return None
    if isinstance(value, float):
        if math.isnan(value) or math.isinf(value):
            return f"{path} is {value!r}, which JSON cannot represent"
        return None
    if isinstance(value, str):
        if "\x00" in value:
            return f"{path} contains a NUL character, which PostgreSQL JSON cannot store"
        if not _is_utf8(value):
            return f"{path} is not valid UTF-8 text ({value!r:.60})"
        return None
    if isinstance(value, list | tuple):
        for index, item in enumerate(value):
            found = _find_non_json(item, f"{path}[{index}]", depth + 1)
            if found:
                return found
        return None
    if isinstance(value, dict):
        for key, item in value.items():
            if not isinstance(key, str):
                return f"{path} has a key {key!r} of type {type(key).__name__}; keys must be str"
            found = _find_non_json(key, f"{path} key {key!r:.40}", depth + 1)
            found = found or _find_non_json(item, f"{path}[{key!r}]", depth + 1)
            if found:
                return found
        return None
    return f"{path} is {value!r:.80} of type {type(value).__name__}, which is not JSON"


def to_json(value: Any, what: str, max_bytes: int | None = None) -> str:
    """Serialise ``value`` to JSON text or raise ``InvalidJobError`` naming the culprit.

    The text is the one PostgreSQL prints for the stored ``jsonb``, so its size
    is the size the SQL core checks against the same limit.
    """
    problem = _find_non_json(value, what, 0)
    if problem:
        raise InvalidJobError(f"Not JSON: {problem}.")
    text = as_postgres_prints(value)
    if max_bytes is not None and len(text.encode("utf-8")) > max_bytes:
        raise InvalidJobError(
            f"{what} is {len(text.encode('utf-8'))} bytes of JSON, over the limit of "
            f"{max_bytes} bytes (PGFLOW['MAX_PAYLOAD_BYTES']). Store large data elsewhere "
            "and pass a reference."
        )
    return text


# PostgreSQL prints jsonb with a space after each "," and ":" and writes a
# number out in full: 1e-05 as 0.00001, 1e+16 as 10000000000000000, -0.0 as
# 0.0. Floats that Python writes otherwise go through a marked string; user
# strings never hold the mark, a NUL (_find_non_json refuses it).
_FLOAT_MARK = "\x00n"
_MARKED_FLOAT = re.compile(r'"\\u0000n([^"]*)"')
_MAY_DIFFER = re.compile(r"[0-9]e[-+][0-9]|-0\.0")


def as_postgres_prints(value: Any) -> str:
    """``value`` (plain JSON, checked) as the text of the ``jsonb`` it becomes."""
    text = json.dumps(value, separators=(", ", ": "), ensure_ascii=False, allow_nan=False)
    # Substring tests are fast; the regex confirms the rare texts that pass them.
    if ("e-" in text or "e+" in text or "-0.0" in text) and _MAY_DIFFER.search(text):
        marked = json.dumps(_mark_floats(value), separators=(", ", ": "), ensure_ascii=False)
        return _MARKED_FLOAT.sub(lambda match: match[1], marked)
    return text


def _postgres_float(value: float) -> str:
    text = repr(value)
    if "e" in text:
        text = format(Decimal(text), "f")
    return "0.0" if text == "-0.0" else text


def _mark_floats(value: Any) -> Any:
    if isinstance(value, float):
        text = _postgres_float(value)
        return value if text == repr(value) else _FLOAT_MARK + text
    if isinstance(value, list | tuple):
        return [_mark_floats(item) for item in value]
    if isinstance(value, dict):
        return {key: _mark_floats(item) for key, item in value.items()}
    return value


STEP_TASK_PREFIX = "pgflow.step."


def validate_slug(slug: Any, what: str) -> str:
    if not isinstance(slug, str) or not SLUG_RE.fullmatch(slug):
        raise FlowDefinitionError(
            f"Invalid {what} {slug!r}: use 1-63 lowercase letters, digits or '_', "
            "starting with a letter."
        )
    return slug


def validate_task_name(name: Any) -> str:
    if not isinstance(name, str) or len(name) > 255 or not TASK_NAME_RE.fullmatch(name):
        raise InvalidJobError(
            f"Invalid task name {name!r}: use a dotted Python path such as "
            "'myapp.tasks.send_welcome' (at most 255 characters)."
        )
    return name


def validate_enqueueable(name: Any) -> str:
    """A task name a job may carry: a step's task runs only as part of its run."""
    validate_task_name(name)
    if name.startswith(STEP_TASK_PREFIX):
        raise InvalidJobError(
            f"{name!r} is the task of a flow step: it runs only as part of a run. "
            "Start the flow with start_flow() instead."
        )
    return str(name)


def validate_declared_queue(name: str) -> str:
    """Refuse a queue that ``PGFLOW['QUEUES']`` does not declare, when it declares any."""
    from .conf import pgflow_settings

    declared = pgflow_settings.QUEUES
    if declared and name not in declared and name != pgflow_settings.DEFAULT_QUEUE:
        raise InvalidJobError(
            f"Unknown queue {name!r}: PGFLOW['QUEUES'] declares "
            f"{', '.join(sorted(declared))}. Declare it there, or use one of those."
        )
    return name


def validate_options(options: Any, *, check_queue_declared: bool = True) -> None:
    """Check every option that is set; unset ones (None) are left to defaults."""
    if options.queue is not None:
        validate_queue_name(options.queue)
        if check_queue_declared:
            validate_declared_queue(options.queue)
    if options.priority is not None:
        validate_priority(options.priority)
    if options.max_attempts is not None:
        validate_max_attempts(options.max_attempts)
    if options.retry_delay is not None:
        validate_positive_number("retry_delay", options.retry_delay, allow_zero=True)
    if options.max_retry_delay is not None:
        validate_positive_number("max_retry_delay", options.max_retry_delay, allow_zero=True)
    if options.timeout is not None:
        validate_positive_number("timeout", options.timeout)
    if getattr(options, "delay", None) is not None:
        if isinstance(options.delay, dt.timedelta):
            raise InvalidJobError("delay takes seconds (a number); pass delay.total_seconds().")
        validate_positive_number("delay", options.delay, allow_zero=True)
    if getattr(options, "run_at", None) is not None:
        validate_run_at(options.run_at)
        if options.delay is not None:
            raise InvalidJobError("Pass run_at or delay, not both.")
    if getattr(options, "unique_key", None) is not None:
        validate_unique_key(options.unique_key)
    if getattr(options, "lock_key", None) is not None:
        validate_lock_key(options.lock_key)


INVALID_PARAMETER_VALUE = "22023"


@contextmanager
def refused_by_sql() -> Iterator[None]:
    """Turn the SQL core's refusals (invalid_parameter_value) into ``InvalidJobError``.

    The SQL functions check what the Python API checks, for callers that reach
    them directly; a Python caller meets them only where the two disagree (a
    payload limit changed in settings but not yet synced, say).
    """
    from django.db import DataError

    try:
        yield
    except DataError as error:
        cause = error.__cause__
        if getattr(cause, "sqlstate", None) != INVALID_PARAMETER_VALUE:
            raise
        message = getattr(getattr(cause, "diag", None), "message_primary", None) or str(cause)
        raise InvalidJobError(message.removeprefix("pgflow: ")) from error
