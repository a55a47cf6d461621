"""A run's DAG as inline SVG, laid out in Python: legible with JavaScript off.

Steps go in layers, left to right: a step's layer is one more than the
deepest of its dependencies, so every edge points right. Within a layer,
steps are ordered by the mean position of their neighbours (the barycentre
heuristic, a few sweeps each way), which keeps fan-outs and fan-ins from
crossing. A chain of 30 steps is a wide picture and a fan-out of 30 a tall
one; the page scrolls it, and every box keeps its size and its text.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString, mark_safe

NODE_W, NODE_H = 168, 46
COL_GAP, ROW_GAP, PAD = 64, 18, 16
SWEEPS = 4
MAX_LABEL = 20

# Fill and stroke per step state.
STEP_COLOURS = {
    "created": ("#f3f4f6", "#9ca3af"),
    "started": ("#dbeafe", "#2563eb"),
    "completed": ("#dcfce7", "#16a34a"),
    "failed": ("#fee2e2", "#dc2626"),
    "skipped": ("#f3f4f6", "#6b7280"),
    "cancelled": ("#ffedd5", "#ea580c"),
}


@dataclass
class Node:
    slug: str
    status: str
    href: str
    detail: str  # the second line: state, and done/total for a map
    tip: str  # the tooltip
    deps: list[str] = field(default_factory=list)
    layer: int = 0
    row: float = 0.0


def assign_layers(nodes: Mapping[str, Node], order: Sequence[str]) -> list[list[str]]:
    """Longest path from a root; ``order`` is a topological order of the slugs."""
    for slug in order:
        node = nodes[slug]
        node.layer = 1 + max((nodes[d].layer for d in node.deps if d in nodes), default=-1)
    layers: list[list[str]] = [
        [] for _ in range(1 + max((n.layer for n in nodes.values()), default=0))
    ]
    for slug in order:
        layers[nodes[slug].layer].append(slug)
    return layers


def _barycentre(
    slug: str, neighbours: Mapping[str, list[str]], position: Mapping[str, int]
) -> float:
    linked = [position[n] for n in neighbours.get(slug, []) if n in position]
    return sum(linked) / len(linked) if linked else float(position[slug])


def order_layers(layers: list[list[str]], nodes: Mapping[str, Node]) -> None:
    """Reorder each layer by the barycentre of its neighbours, sweeping both ways."""
    dependents: dict[str, list[str]] = {}
    for node in nodes.values():
        for dep in node.deps:
            dependents.setdefault(dep, []).append(node.slug)
    dependencies = {slug: node.deps for slug, node in nodes.items()}
    for sweep in range(SWEEPS):
        forward = sweep % 2 == 0
        indices = range(1, len(layers)) if forward else range(len(layers) - 2, -1, -1)
        neighbours = dependencies if forward else dependents
        for i in indices:
            position = {slug: p for layer in layers for p, slug in enumerate(layer)}
            layers[i].sort(key=lambda slug: _barycentre(slug, neighbours, position))


def layout(nodes: Mapping[str, Node], order: Sequence[str]) -> tuple[int, int]:
    """Place every node; returns the picture's width and height."""
    layers = assign_layers(nodes, order)
    order_layers(layers, nodes)
    tallest = max((len(layer) for layer in layers), default=0)
    for layer in layers:
        offset = (tallest - len(layer)) / 2  # centre short layers on the tallest
        for position, slug in enumerate(layer):
            nodes[slug].row = position + offset
    width = PAD * 2 + len(layers) * NODE_W + max(0, len(layers) - 1) * COL_GAP
    height = PAD * 2 + tallest * NODE_H + max(0, tallest - 1) * ROW_GAP
    return width, height


def _x(node: Node) -> int:
    return PAD + node.layer * (NODE_W + COL_GAP)


def _y(node: Node) -> float:
    return PAD + node.row * (NODE_H + ROW_GAP)


def _edge(dep: Node, node: Node) -> tuple[str, str]:
    x1, y1 = _x(dep) + NODE_W, _y(dep) + NODE_H / 2
    x2, y2 = _x(node) - 4, _y(node) + NODE_H / 2
    middle = (x1 + x2) / 2
    path = f"M{x1:.0f},{y1:.1f} C{middle:.0f},{y1:.1f} {middle:.0f},{y2:.1f} {x2:.0f},{y2:.1f}"
    colour = STEP_COLOURS.get(dep.status, STEP_COLOURS["created"])[1]
    return path, colour


def _label(slug: str) -> str:
    return slug if len(slug) <= MAX_LABEL else slug[: MAX_LABEL - 1] + "…"


def _node_svg(node: Node) -> SafeString:
    fill, stroke = STEP_COLOURS.get(node.status, STEP_COLOURS["created"])
    x, y = _x(node), _y(node)
    top, line1, line2 = (f"{v:.1f}" for v in (y, y + 19, y + 36))
    dash = ' stroke-dasharray="4 3"' if node.status == "skipped" else ""
    return format_html(
        '<a href="{}" class="pgflow-step" data-step="{}" data-status="{}"><title>{}</title>'
        '<rect x="{}" y="{}" width="{}" height="{}" rx="6" fill="{}" stroke="{}"'
        ' stroke-width="1.5"{}/>'
        '<text x="{}" y="{}" font-weight="600">{}</text>'
        '<text x="{}" y="{}" class="detail">{}</text></a>',
        node.href,
        node.slug,
        node.status,
        node.tip,
        x,
        top,
        NODE_W,
        NODE_H,
        fill,
        stroke,
        mark_safe(dash),  # a constant
        x + 10,
        line1,
        _label(node.slug),
        x + 10,
        line2,
        node.detail,
    )


def render(nodes: Mapping[str, Node], order: Sequence[str]) -> SafeString:
    """The whole picture: edges first, boxes on top, each box a link."""
    width, height = layout(nodes, order)
    edges = [_edge(nodes[d], n) for n in nodes.values() for d in n.deps if d in nodes]
    edge_svg = format_html_join(
        "",
        '<path d="{}" fill="none" stroke="{}" stroke-width="1.5" marker-end="url(#pgflow-arrow)"/>',
        edges,
    )
    node_svg = format_html_join("", "{}", ((_node_svg(nodes[s]),) for s in order))
    return format_html(
        '<svg xmlns="http://www.w3.org/2000/svg" width="{}" height="{}" viewBox="0 0 {} {}"'
        ' role="img" aria-label="steps of the run and their dependencies"'
        ' font-family="system-ui, sans-serif" font-size="12" fill="#111827">'
        '<defs><marker id="pgflow-arrow" viewBox="0 0 8 8" refX="7" refY="4" markerWidth="7"'
        ' markerHeight="7" orient="auto"><path d="M0,0 L8,4 L0,8 z" fill="#6b7280"/></marker>'
        "</defs><style>.detail {{ fill: #374151; font-size: 11px; }}</style>{}{}</svg>",
        width,
        height,
        width,
        height,
        edge_svg,
        node_svg,
    )
