"""Small rendering helpers shared by the admin pages."""

from __future__ import annotations

import json
from typing import Any

from django.utils.html import format_html
from django.utils.safestring import SafeString

STATUS_COLOURS = {
    "queued": "#6c757d",
    "started": "#0d6efd",
    "completed": "#198754",
    "failed": "#dc3545",
    "cancelled": "#fd7e14",
    "running": "#198754",
    "alive": "#198754",
    "stale": "#dc3545",
    "stopping": "#fd7e14",
    "stopped": "#6c757d",
}

PRE_STYLE = "white-space: pre-wrap; margin: 0; max-height: 40em; overflow: auto"


def badge(status: str) -> SafeString:
    """A status word in its colour."""
    colour = STATUS_COLOURS.get(status, "#6c757d")
    return format_html('<strong style="color: {}">{}</strong>', colour, status)


def pretty_json(value: Any) -> SafeString:
    """JSON indented in a <pre> block, escaped."""
    text = json.dumps(value, indent=2, ensure_ascii=False, default=str)
    return format_html('<pre style="{}">{}</pre>', PRE_STYLE, text)


def preformatted(text: str) -> SafeString:
    return format_html('<pre style="{}">{}</pre>', PRE_STYLE, text)
