"""Small rendering helpers shared by the admin pages: badges, times, JSON, errors."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

from django.utils import timezone
from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString

# One colour per word, whatever the page: jobs, tasks, steps, runs and workers
# share the vocabulary of DESIGN.md ("started" is the running state).
STATUS_COLOURS = {
    "queued": "#6c757d",
    "created": "#6c757d",
    "scheduled": "#6c757d",
    "started": "#0d6efd",
    "completed": "#198754",
    "failed": "#dc3545",
    "cancelled": "#fd7e14",
    "skipped": "#8a8f98",
    "alive": "#198754",
    "stale": "#dc3545",
    "lost": "#dc3545",
    "stopping": "#fd7e14",
    "stopped": "#6c757d",
}

PRE_STYLE = "white-space: pre-wrap; margin: 0; max-height: 24em; overflow: auto"
# Past this, a JSON value is shown cut, with its full size: a 10,000-element
# map output must not make a page of megabytes.
MAX_JSON_CHARS = 20_000


def badge(status: str) -> SafeString:
    """A status word in its colour."""
    colour = STATUS_COLOURS.get(status, "#6c757d")
    return format_html(
        '<strong class="pgflow-status" style="color: {}">{}</strong>', colour, status
    )


def seconds_text(seconds: float | None) -> str:
    """A duration to the second: ``42s``, ``3m 07s``, ``2h 05m``, ``3d 04h``."""
    if seconds is None:
        return "-"
    total = max(0, round(seconds))
    if total < 60:
        return f"{total}s"
    minutes, secs = divmod(total, 60)
    if minutes < 60:
        return f"{minutes}m {secs:02d}s"
    hours, minutes = divmod(minutes, 60)
    if hours < 24:
        return f"{hours}h {minutes:02d}m"
    days, hours = divmod(hours, 24)
    return f"{days}d {hours:02d}h"


def between(start: dt.datetime | None, end: dt.datetime | None) -> float | None:
    """Seconds from ``start`` to ``end`` (None: until now), or None without a start."""
    if start is None:
        return None
    return ((end or timezone.now()) - start).total_seconds()


def when(value: dt.datetime | None) -> str:
    """A time to the second in the current time zone: ``2026-12-07 19:48:03``."""
    if value is None:
        return "-"
    return timezone.localtime(value).strftime("%Y-%m-%d %H:%M:%S")


def short_when(value: dt.datetime | None) -> SafeString:
    """To the second, in few characters: ``19:48:03`` today, ``12-06 19:48:03`` before;
    the full date on hover."""
    if value is None:
        return format_html("{}", "-")
    local = timezone.localtime(value)
    today = local.date() == timezone.localtime().date()
    text = local.strftime("%H:%M:%S" if today else "%m-%d %H:%M:%S")
    return format_html('<span title="{}">{}</span>', when(value), text)


def json_text(value: Any) -> str:
    return json.dumps(value, indent=2, ensure_ascii=False, default=str)


def pretty_json(value: Any) -> SafeString:
    """JSON indented in a <pre> block, escaped, cut past MAX_JSON_CHARS."""
    return preformatted(json_text(value))


def parsed(text: str | None) -> Any:
    """The value of JSON stored as text, or None when Python cannot read it back."""
    if text is None:
        return None
    try:
        return json.loads(text)
    except (ValueError, RecursionError):
        return None


def raw_json(text: str | None, size: int | None = None) -> SafeString:
    """JSON read from the database as text (never decoded whole): indented when it
    parses, shown as stored when Python cannot read it (a 5,000-digit number)."""
    if text is None:
        return preformatted("null")
    shown = text
    if size is None or size <= MAX_JSON_CHARS:
        try:
            shown = json_text(json.loads(text))
        except (ValueError, RecursionError):
            shown = text
    return preformatted(shown, size)


def preformatted(text: str, size: int | None = None) -> SafeString:
    size = len(text) if size is None else size
    if size <= MAX_JSON_CHARS and len(text) <= MAX_JSON_CHARS:
        return format_html('<pre style="{}">{}</pre>', PRE_STYLE, text)
    return format_html(
        '<pre style="{}">{}</pre><p class="help">Cut at {} of {} characters.</p>',
        PRE_STYLE,
        text[:MAX_JSON_CHARS],
        MAX_JSON_CHARS,
        size,
    )


def error_line(error: Any) -> str:
    """``ValueError: boom`` from one recorded error (a dict with error/message)."""
    if not isinstance(error, dict):
        return "" if error is None else str(error)[:500]
    kind = str(error.get("error") or "Error")
    message = str(error.get("message") or "")
    return f"{kind}: {message}"[:500] if message else kind


def error_list(errors: Any) -> SafeString | str:
    """Each failed attempt: its number, time, error line and traceback, newest first."""
    if not isinstance(errors, list) or not errors:
        return "-"
    rows = []
    for error in reversed(errors):
        entry = error if isinstance(error, dict) else {"message": str(error)}
        traceback = entry.get("traceback")
        rows.append(
            (
                entry.get("attempt", "?"),
                entry.get("at", ""),
                error_line(entry),
                preformatted(str(traceback)) if traceback else "",
            )
        )
    items = format_html_join(
        "",
        '<li class="pgflow-error"><strong>attempt {}</strong> <span class="help">{}</span>'
        "<br><code>{}</code>{}</li>",
        rows,
    )
    return format_html('<ol class="pgflow-errors" reversed>{}</ol>', items)
