"""Drawing a laid-out lineage graph (``web.graph.layout``): SVG for the pages, DOT for download.

``to_svg`` and ``to_dot`` are described in ``web.graph``'s docstring: no script, presentation
attributes only, every text XML-escaped (DOT-escaped in DOT), characters XML forbids
replaced. Split from the layout so each module holds one concern.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping

from catalog.model import ACTIVE
from web.graph import GROUP, LABEL_CHARS, LEGEND_H, MARGIN, MAX_TAGS, NODE_H, NODE_W, TYPE_CHARS, Edge, Layout, Node

__all__ = ["to_dot", "to_svg"]


# -- escaping ----------------------------------------------------------------------------------

#: Characters XML 1.0 does not allow at all (a document holding one does not parse).
_NOT_XML = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


def _xml(value: object) -> str:
    """Text or attribute value, XML-escaped (quotes too), forbidden characters as U+FFFD."""
    text = _NOT_XML.sub("\ufffd", str(value))
    return (text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
            .replace('"', "&quot;").replace("'", "&#39;"))


def _cut(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "\u2026"


# -- SVG ---------------------------------------------------------------------------------------

#: (fill, stroke) per family.
COLOURS = {
    "dataset": ("#e3f0fb", "#2f6fa7"),
    "process": ("#fdebd3", "#c46f12"),
    "model": ("#efe3f7", "#7b3fa0"),
    "deployment": ("#e0f3e3", "#2e7d32"),
    "other": ("#eeeeee", "#757575"),
    GROUP: ("#f7f7f7", "#9e9e9e"),
}
_TAG = "#b3261e"


def _shape(family: str, extra: str) -> str:
    fill, stroke = COLOURS.get(family, COLOURS["other"])
    paint = f' fill="{fill}" stroke="{stroke}"{extra}'
    w, h = NODE_W, NODE_H
    if family == "process":
        return f'<rect width="{w}" height="{h}" rx="{h // 2}"{paint}/>'
    if family == "model":
        return f'<polygon points="12,0 {w - 12},0 {w},{h // 2} {w - 12},{h} 12,{h} 0,{h // 2}"{paint}/>'
    if family == "deployment":
        return f'<polygon points="0,0 {w - 16},0 {w},{h // 2} {w - 16},{h} 0,{h}"{paint}/>'
    if family == "dataset":
        return f'<rect width="{w}" height="{h}" rx="6"{paint}/>'
    return f'<rect width="{w}" height="{h}"{paint}/>'


def _badges(tags: list[tuple[str, bool]]) -> str:
    out: list[str] = []
    x = 8.0
    for n, (name, propagated) in enumerate(tags):
        text = _cut(name, 16)
        width = 6.0 * len(text) + 8
        if n >= MAX_TAGS or x + width > NODE_W - 28:
            out.append(f'<text x="{x:g}" y="47" font-size="9" fill="#555">+{len(tags) - n}</text>')
            break
        if propagated:
            out.append(f'<g class="tag tag-propagated"><rect x="{x:g}" y="37" width="{width:g}" height="12" rx="2" '
                       f'fill="#ffffff" stroke="{_TAG}" stroke-dasharray="2 1.5"/><text x="{x + 4:g}" y="46.5" '
                       f'font-size="9" font-style="italic" fill="{_TAG}">{_xml(text)}</text></g>')
        else:
            out.append(f'<g class="tag tag-direct"><rect x="{x:g}" y="37" width="{width:g}" height="12" rx="2" '
                       f'fill="{_TAG}"/><text x="{x + 4:g}" y="46.5" font-size="9" font-weight="bold" '
                       f'fill="#ffffff">{_xml(text)}</text></g>')
        x += width + 4
    return "".join(out)


def _title(node: Node) -> str:
    lines = [node.qualified_name, node.type_name + ("" if node.status == ACTIVE else f" ({node.status})")]
    if node.classifications:
        lines.append("classifications: " + ", ".join(
            f"{name} ({'propagated' if propagated else 'direct'})" for name, propagated in node.classifications))
    if node.is_base:
        lines.append("(this entity)")
    return "\n".join(lines)


def _entity_svg(node: Node, href: str) -> str:
    left, top = node.x - NODE_W / 2, node.y - NODE_H / 2
    extra = ' stroke-width="2.5"' if node.is_base else ' stroke-width="1.2"'
    if node.status != ACTIVE:
        extra += ' stroke-dasharray="5 3" opacity="0.7"'
    halo = (f'<rect x="-6" y="-6" width="{NODE_W + 12}" height="{NODE_H + 12}" rx="10" fill="#fff4c2" '
            f'stroke="#f2b705" stroke-width="3"/>' if node.is_base else "")
    label = _cut(node.label, LABEL_CHARS)
    kind = _cut(node.type_name + ("" if node.status == ACTIVE else f" · {node.status.lower()}"), TYPE_CHARS)
    weight = ' font-weight="bold"' if node.is_base else ""
    link = _xml(href)
    return (f'<a href="{link}" xlink:href="{link}"><g class="node node-{node.family}{" base" if node.is_base else ""}" '
            f'transform="translate({left:g},{top:g})"><title>{_xml(_title(node))}</title>{halo}'
            f'{_shape(node.family, extra)}<text x="10" y="17" font-size="12"{weight}>{_xml(label)}</text>'
            f'<text x="10" y="31" font-size="10" fill="#555">{_xml(kind)}</text>{_badges(node.classifications)}</g></a>')


def _group_svg(node: Node, href: str) -> str:
    left, top = node.x - NODE_W / 2, node.y - NODE_H / 2
    fill, stroke = COLOURS[GROUP]
    link = _xml(href)
    title = f"{node.group_count} more entities in this layer: click to draw them all"
    return (f'<a href="{link}" xlink:href="{link}"><g class="node node-group" transform="translate({left:g},{top:g})">'
            f'<title>{_xml(title)}</title>'
            f'<rect x="6" y="6" width="{NODE_W}" height="{NODE_H}" rx="6" fill="{fill}" stroke="{stroke}"/>'
            f'<rect width="{NODE_W}" height="{NODE_H}" rx="6" fill="{fill}" stroke="{stroke}" stroke-dasharray="4 3"/>'
            f'<text x="{NODE_W / 2:g}" y="23" font-size="11" text-anchor="middle">{_xml(node.label)}</text>'
            f'<text x="{NODE_W / 2:g}" y="39" font-size="10" text-anchor="middle" fill="#2f6fa7">expand</text></g></a>')


def _open_svg(node: Node, href: str) -> str:
    """The node's "+" control: its page again, with this entity opened one more hop."""
    cx, cy = node.x + NODE_W / 2 - 14, node.y + NODE_H / 2 - 11
    link = _xml(href)
    return (f'<a class="open" href="{link}" xlink:href="{link}"><g class="node-open">'
            f'<title>{_xml("draw one more hop around " + node.label)}</title>'
            f'<circle cx="{cx:g}" cy="{cy:g}" r="8" fill="#ffffff" stroke="#2f6fa7" stroke-width="1.2"/>'
            f'<path d="M{cx - 4:g},{cy:g}H{cx + 4:g}M{cx:g},{cy - 4:g}V{cy + 4:g}" stroke="#2f6fa7" '
            f'stroke-width="1.6"/></g></a>')


def _path(edge: Edge, nodes: Mapping[str, Node]) -> str:
    a, b = nodes[edge.from_id], nodes[edge.to_id]
    points = [(a.x + NODE_W / 2, a.y)]
    for x, y in edge.points:  # through the layers it crosses, level across each
        points += [(x - NODE_W / 2, y), (x + NODE_W / 2, y)]
    points.append((b.x - NODE_W / 2 - (7 if b.is_base else 0), b.y))  # the base's halo would hide the arrow
    d = [f"M{points[0][0]:g},{points[0][1]:g}"]
    for (x0, y0), (x1, y1) in zip(points, points[1:]):
        if y0 == y1 and x1 > x0:
            d.append(f"H{x1:g}")
            continue
        dx = max(abs(x1 - x0) / 2, 40.0)
        d.append(f"C{x0 + dx:g},{y0:g} {x1 - dx:g},{y1:g} {x1:g},{y1:g}")
    return f'<path d="{"".join(d)}"/>'


def _legend(top: float) -> str:
    out = [f'<g class="legend" transform="translate({MARGIN},{top:g})" font-size="10">']
    x = 0
    for family, label in (("dataset", "data set"), ("process", "process / run"), ("model", "model"),
                          ("deployment", "deployment"), ("other", "other")):
        fill, stroke = COLOURS[family]
        out.append(f'<rect x="{x}" y="4" width="14" height="10" fill="{fill}" stroke="{stroke}"/>'
                   f'<text x="{x + 18}" y="13">{label}</text>')
        x += 24 + 6 * len(label)
    out.append(f'<rect x="{x}" y="3" width="26" height="12" rx="2" fill="{_TAG}"/>'
               f'<text x="{x + 30}" y="13">direct classification</text>')
    x += 30 + 6 * 21 + 10
    out.append(f'<rect x="{x}" y="3" width="26" height="12" rx="2" fill="#ffffff" stroke="{_TAG}" '
               f'stroke-dasharray="2 1.5"/><text x="{x + 30}" y="13" font-style="italic">propagated</text>')
    out.append("</g>")
    return "".join(out)


def to_svg(layout: Layout, *, href: Callable[[str], str], expand_href: Callable[[str], str],
           open_href: Callable[[str], str | None] = lambda guid: None) -> str:
    """The layout as a standalone SVG document (see the module docstring).

    ``open_href(guid)``: where an entity node's "+" control leads (the page with that entity
    opened one more hop), or None for no control.
    """
    width = max(layout.width, 760.0)
    height = layout.height + LEGEND_H
    summary = (f"lineage of {layout.base_guid}: {layout.drawn} of {layout.total} entities drawn"
               + (" (partial)" if layout.partial else ""))
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" xmlns:xlink="http://www.w3.org/1999/xlink" '
           f'class="lineage-graph" width="{width:g}" height="{height:g}" viewBox="0 0 {width:g} {height:g}" '
           f'font-family="Helvetica, Arial, sans-serif" fill="#1f1f1f" role="img">',
           f"<title>{_xml(summary)}</title>",
           '<defs><marker id="lineage-arrow" viewBox="0 0 10 10" refX="10" refY="5" markerWidth="7" '
           'markerHeight="7" orient="auto-start-reverse"><path d="M0,0L10,5L0,10z" fill="#7a7f87"/></marker></defs>',
           '<g class="edges" fill="none" stroke="#7a7f87" stroke-width="1.3" marker-end="url(#lineage-arrow)">']
    by_id = {n.id: n for n in layout.nodes}
    out.extend(_path(e, by_id) for e in layout.edges)
    out.append('</g><g class="nodes">')
    for node in layout.nodes:
        if node.guid is None:
            out.append(_group_svg(node, expand_href(node.id)))
            continue
        out.append(_entity_svg(node, href(node.guid)))
        if (more := open_href(node.guid)) is not None:
            out.append(_open_svg(node, more))
    out.append("</g>")
    out.append(_legend(layout.height))
    out.append("</svg>")
    return "".join(out)


# -- DOT ---------------------------------------------------------------------------------------

#: (shape, style) per family.
_DOT_SHAPES = {
    "dataset": ("box", "rounded,filled"),
    "process": ("ellipse", "filled"),
    "model": ("hexagon", "filled"),
    "deployment": ("cds", "filled"),
    "other": ("box", "filled"),
    GROUP: ("folder", "dashed,filled"),
}
_CONTROL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


def _dq(text: object) -> str:
    """A DOT double-quoted string: backslashes and quotes escaped, line breaks as DOT's ``\\n``."""
    value = _CONTROL.sub(" ", str(text)).replace("\\", "\\\\").replace('"', '\\"')
    return '"' + value.replace("\r\n", "\\n").replace("\n", "\\n").replace("\r", "\\n") + '"'


def to_dot(layout: Layout) -> str:
    """The layout as Graphviz DOT: same nodes, edges and layers (``rank=same`` per layer)."""
    title = f"lineage of {layout.base_guid} ({layout.drawn} of {layout.total} entities drawn"
    title += ", partial)" if layout.partial else ")"
    lines = ["digraph lineage {", f"  graph [rankdir=LR, label={_dq(title)}, labelloc=t, fontsize=11];",
             '  node [fontname="Helvetica", fontsize=10];', '  edge [color="#7a7f87"];']
    for node in layout.nodes:
        fill, stroke = COLOURS.get(node.family, COLOURS["other"])
        shape, style = _DOT_SHAPES.get(node.family, _DOT_SHAPES["other"])
        if node.status != ACTIVE:
            style = "dashed," + style
        attrs = [f"shape={shape}", f'style="{style}"', f'fillcolor="{fill}"', f'color="{stroke}"']
        if node.guid is None:
            text = node.label
            tooltip = f"{node.group_count} more entities in layer {node.layer}"
        else:
            text = f"{node.label}\n{node.type_name}"
            if node.classifications:
                text += "\n" + ", ".join(f"{n} (propagated)" if p else n for n, p in node.classifications)
            tooltip = node.qualified_name
        if node.is_base:
            attrs.append("penwidth=3")
        lines.append(f"  {_dq(node.id)} [label={_dq(text)}, tooltip={_dq(tooltip)}, {', '.join(attrs)}];")
    for number in sorted({n.layer for n in layout.nodes}):
        members = " ".join(f"{_dq(n.id)};" for n in layout.nodes if n.layer == number)
        lines.append(f"  {{ rank=same; {members} }}")
    for e in layout.edges:
        lines.append(f"  {_dq(e.from_id)} -> {_dq(e.to_id)};")
    lines.append("}")
    return "\n".join(lines) + "\n"


