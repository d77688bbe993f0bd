"""The lineage graph of the web UI: a server-side layered layout, drawn as SVG and DOT.

The pages call four functions (two of them, the drawing, in ``web.graph_svg``) (issue 10, item 2); nothing here touches Flask or the store:

``layout(graph, *, max_per_layer=25, expanded=frozenset()) -> Layout``
    A left-to-right layered DAG of a ``catalog.model.LineageGraph``. The base entity's
    layer is 0, upstream layers are negative, downstream layers positive. Within a layer
    the order comes from python-igraph's Sugiyama layout (``Graph.layout_sugiyama``,
    barycentre crossing reduction). A layer with more than ``max_per_layer`` entities
    keeps ``max_per_layer`` of them and collapses the rest into one group node per layer,
    id ``group:<layer>`` (``group:-2``, ``group:3``), labelled ``"N more (drawn D / total
    T)"``; a group id in ``expanded`` is drawn in full. Edges to a collapsed entity go to
    its group, deduplicated (an edge inside one group is dropped).

``web.graph_svg.to_svg(layout, *, href, expand_href, open_href) -> str``
    A standalone SVG document (no XML declaration, so it can also be inlined in a page):
    no script, no external resource, presentation attributes only (no ``style``, so no
    Content-Security-Policy blocks it). Each entity node is an ``<a href=href(guid)>``, each
    group node an ``<a href=expand_href(group_id)>``; an entity node for which
    ``open_href(guid)`` is not None also gets a "+" control (``<a class="open">``) leading
    there (the page draws one more hop around it); each node has a ``<title>`` (its
    qualifiedName, then type and classifications) shown on hover. Families are told apart
    by shape and colour: data sets (blue rectangle), processes and runs (orange pill),
    models (purple hexagon), deployments (green pentagon), anything else (grey). The base
    node has a yellow halo. Direct classifications are solid red badges, propagated ones
    dashed outlines in italics (classes ``tag-direct`` / ``tag-propagated``). A legend
    sits below the graph. Every text and attribute value is XML-escaped and characters
    XML 1.0 forbids become U+FFFD, so any entity name renders as text only.

``web.graph_svg.to_dot(layout) -> str``
    The same nodes, edges and layers as Graphviz DOT (``rankdir=LR``, one ``rank=same``
    subgraph per layer), every id and label quoted and escaped, for download.

``cached_layout(key, build) -> Layout``
    A bounded, thread-safe LRU (``LAYOUT_CACHE``): returns the layout cached under
    ``key`` or calls ``build()`` and keeps its result. ``cache_key(graph, expanded=...,
    max_per_layer=...)`` is a ready key: (base_guid, direction, depth, expanded,
    max_per_layer, ``fingerprint(graph)``), the fingerprint a digest of every entity
    (guid, type, qualifiedName, name, status, classifications) and relation.

Layering rule. Relations point along the data flow. An entity reachable downstream from
the base gets the *longest* path length from the base (``+n``); one reachable upstream
the negated longest path length to the base (``-n``). Longest-path layering keeps every
edge inside the downstream (or upstream) part pointing strictly left to right, also when
an entity is reached at several distances. Cycles (which only a cyclic graph has) are
broken by dropping the back edges of a depth-first walk before the longest paths are
taken; an entity both upstream and downstream of the base (a cycle through it) goes
downstream, and the edges closing such cycles are the only ones drawn right to left.
Entities neither upstream nor downstream (a process's other inputs or outputs) are
placed next to an already placed neighbour, breadth first: one layer left of their
leftmost placed successor, else one layer right of their rightmost placed predecessor.
Entities with no edge at all go to layer 0.

Which entities a collapsed layer keeps: layers are filled from the base outwards
(0, 1, -1, 2, -2, ...); the base always stays, then entities linked to an entity already
kept, then those with more edges, then by label and guid, so the drawn part stays a
connected picture of the paths through the base.

Coordinates are SVG user units: ``Node.x``/``Node.y`` is the node's centre;
``Layout.width``/``height`` the drawing's size without the legend.
"""

from __future__ import annotations

import hashlib
import heapq
import threading
from collections import OrderedDict, deque
from collections.abc import Callable, Hashable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from catalog.model import ACTIVE, EntityHeader, LineageGraph, StoredEntity

__all__ = [
    "LAYOUT_CACHE",
    "Edge",
    "Layout",
    "LayoutCache",
    "Node",
    "cache_key",
    "cached_layout",
    "family_of",
    "fingerprint",
    "group_id",
    "layout",
]

#: Node box, gaps between layers (x) and between slots of a layer (y), margin: SVG user units.
NODE_W = 180
NODE_H = 52
LAYER_GAP = 250
SLOT_GAP = 68
MARGIN = 16
LEGEND_H = 34
#: Characters of a node's label and type line before they are cut with an ellipsis.
LABEL_CHARS = 26
TYPE_CHARS = 30
#: Classification badges drawn on a node before "+N".
MAX_TAGS = 3

GROUP = "group"
FAMILIES = ("dataset", "process", "model", "deployment", "other")


@dataclass(frozen=True, slots=True)
class Node:
    """One drawn node: an entity (``guid`` set, ``id == guid``) or a group (``guid`` None).

    ``classifications`` are unique ``(type_name, propagated)`` pairs, direct ones first.
    ``group_count`` is how many entities a group stands for (0 for an entity).
    """

    id: str
    guid: str | None
    type_name: str
    label: str
    x: float
    y: float
    layer: int
    is_base: bool
    classifications: list[tuple[str, bool]]
    group_count: int
    qualified_name: str = ""
    family: str = "other"
    status: str = ACTIVE


@dataclass(frozen=True, slots=True)
class Edge:
    """An edge between two drawn node ids; ``points`` are bend points (centres of the layers it crosses)."""

    from_id: str
    to_id: str
    points: tuple[tuple[float, float], ...] = ()


@dataclass(frozen=True, slots=True)
class Layout:
    """A laid-out lineage neighbourhood. ``drawn``/``total``: entities drawn / in the graph."""

    nodes: list[Node]
    edges: list[Edge]
    partial: bool
    drawn: int
    total: int
    width: float
    height: float
    base_guid: str = ""
    direction: str = ""
    depth: int = 0
    groups: Mapping[str, tuple[str, ...]] = field(default_factory=dict)  # group id -> guids it collapses

    def node(self, node_id: str) -> Node:
        for n in self.nodes:
            if n.id == node_id:
                return n
        raise KeyError(node_id)


def group_id(layer: int) -> str:
    return f"group:{layer}"


# -- families ----------------------------------------------------------------------------------


def family_of(entity: StoredEntity | EntityHeader) -> str:
    """``dataset``, ``process``, ``model``, ``deployment`` or ``other``, from the type name and attributes."""
    name = entity.type_name.lower()
    attrs = entity.attributes
    if "deploy" in name and "process" not in name:
        return "deployment"
    if "inputs" in attrs or "outputs" in attrs or name.endswith(("_process", "_run", "_job")) or name in (
            "process", "ml_training_run"):
        return "process"
    if "model" in name:
        return "model"
    if any(word in name for word in ("table", "dataset", "data_set", "path", "column", "file", "topic", "view",
                                     "_db", "bucket", "object")):
        return "dataset"
    return "other"


# -- layering ----------------------------------------------------------------------------------


def _longest(start: str, nbrs: Mapping[str, list[str]]) -> dict[str, int]:
    """Longest path lengths from ``start`` along ``nbrs``, the back edges of a DFS dropped (cycles broken)."""
    state: dict[str, int] = {start: 1}  # 1 on the DFS stack, 2 finished
    order: list[str] = []
    back: set[tuple[str, str]] = set()
    stack: list[tuple[str, Any]] = [(start, iter(nbrs.get(start, ())))]
    while stack:
        node, it = stack[-1]
        for nxt in it:
            seen = state.get(nxt)
            if seen is None:
                state[nxt] = 1
                stack.append((nxt, iter(nbrs.get(nxt, ()))))
                break
            if seen == 1:
                back.add((node, nxt))
        else:
            state[node] = 2
            order.append(node)
            stack.pop()
    dist = {start: 0}
    for node in reversed(order):  # reverse post-order: topological once the back edges are gone
        d = dist[node] + 1
        for nxt in nbrs.get(node, ()):
            if (node, nxt) not in back and dist.get(nxt, -1) < d:
                dist[nxt] = d
    return dist


def _layers(base: str, guids: Iterable[str], succ: Mapping[str, list[str]],
            pred: Mapping[str, list[str]]) -> dict[str, int]:
    down = _longest(base, succ)
    up = _longest(base, pred)
    layer: dict[str, int] = {g: -d for g, d in up.items()}
    layer.update(down)  # both ways (a cycle through the base): downstream
    layer[base] = 0
    # Side entities: next to a placed neighbour, breadth first from the placed part.
    queue: deque[str] = deque()
    for g in guids:
        if g not in layer and any(n in layer for n in (*succ.get(g, ()), *pred.get(g, ()))):
            queue.append(g)
    while queue:
        g = queue.popleft()
        if g in layer:
            continue
        after = [layer[s] for s in succ.get(g, ()) if s in layer]
        before = [layer[p] for p in pred.get(g, ()) if p in layer]
        if after:
            layer[g] = min(after) - 1
        elif before:
            layer[g] = max(before) + 1
        else:
            continue
        queue.extend(n for n in (*succ.get(g, ()), *pred.get(g, ())) if n not in layer)
    for g in guids:
        layer.setdefault(g, 0)
    return layer


# -- layout ------------------------------------------------------------------------------------


def _label(entity: StoredEntity | EntityHeader) -> str:
    name = entity.attributes.get("name")
    return str(name) if name not in (None, "") else entity.qualified_name


def _tags(entity: StoredEntity | EntityHeader) -> list[tuple[str, bool]]:
    pairs = {(c.type_name, c.source_guid != entity.guid) for c in entity.classifications}
    return sorted(pairs, key=lambda p: (p[1], p[0]))


def _layer_order(layers: Iterable[int]) -> list[int]:
    """0, 1, -1, 2, -2, ...: the base's layer first, then outwards."""
    return sorted(layers, key=lambda n: (abs(n), n < 0))


def _adjacency(graph: LineageGraph) -> tuple[dict[str, list[str]], dict[str, list[str]], list[tuple[str, str]]]:
    """Successors, predecessors and the distinct edges between the graph's entities (self-loops dropped)."""
    entities = graph.entities
    succ: dict[str, list[str]] = {}
    pred: dict[str, list[str]] = {}
    pairs: list[tuple[str, str]] = []
    seen_pairs: set[tuple[str, str]] = set()
    for r in graph.relations:
        a, b = r.from_guid, r.to_guid
        if a == b or a not in entities or b not in entities or (a, b) in seen_pairs:
            continue
        seen_pairs.add((a, b))
        pairs.append((a, b))
        succ.setdefault(a, []).append(b)
        pred.setdefault(b, []).append(a)
    return succ, pred, pairs


def _choose(by_layer: Mapping[int, list[str]], base: str, succ: Mapping[str, list[str]],
            pred: Mapping[str, list[str]], labels: Mapping[str, str], max_per_layer: int,
            expanded: frozenset[str]) -> tuple[dict[int, list[str]], dict[str, tuple[str, ...]]]:
    """Which entities each layer draws (layer -> guids); the rest collapse into the layer's group (id -> guids)."""
    kept: set[str] = set()
    groups: dict[str, tuple[str, ...]] = {}
    drawn_in: dict[int, list[str]] = {}
    for number in _layer_order(by_layer):
        members = by_layer[number]
        gid = group_id(number)
        if len(members) <= max_per_layer or gid in expanded:
            chosen = members
        else:
            def rank(g: str) -> tuple[Any, ...]:
                after, before = succ.get(g, ()), pred.get(g, ())
                linked = any(n in kept for n in after) or any(n in kept for n in before)
                return (g != base, not linked, -len(after) - len(before), labels[g], g)

            chosen = heapq.nsmallest(max_per_layer, members, key=rank)
            picked = set(chosen)
            groups[gid] = tuple(g for g in members if g not in picked)  # members are in guid order
        kept.update(chosen)
        drawn_in[number] = chosen
    return drawn_in, groups


def _drawn_ids(by_layer: Mapping[int, list[str]], drawn_in: Mapping[int, list[str]],
               groups: Mapping[str, tuple[str, ...]]) -> tuple[list[str], list[int], dict[str, str]]:
    """Drawn node ids layer by layer (entities, then the layer's group), their layers, guid -> drawn id."""
    ids: list[str] = []
    node_layer: list[int] = []
    owner: dict[str, str] = {}
    for number in sorted(by_layer):
        for g in drawn_in[number]:
            owner[g] = g
            ids.append(g)
            node_layer.append(number)
        gid = group_id(number)
        if gid in groups:
            for g in groups[gid]:
                owner[g] = gid
            ids.append(gid)
            node_layer.append(number)
    return ids, node_layer, owner


def layout(graph: LineageGraph, *, max_per_layer: int = 25, expanded: frozenset[str] = frozenset()) -> Layout:
    """Lay ``graph`` out left to right; see the module docstring for the layering and grouping rules."""
    import igraph

    if max_per_layer < 1:
        raise ValueError(f"max_per_layer must be at least 1, got {max_per_layer}")
    entities = graph.entities
    base = graph.base_guid
    if base not in entities:
        raise ValueError(f"the base entity {base} is not among the graph's entities")
    succ, pred, pairs = _adjacency(graph)
    guids = sorted(entities)
    layer_of = _layers(base, guids, succ, pred)
    by_layer: dict[int, list[str]] = {}
    for g in guids:
        by_layer.setdefault(layer_of[g], []).append(g)
    labels = {g: _label(entities[g]) for g in guids}
    drawn_in, groups = _choose(by_layer, base, succ, pred, labels, max_per_layer, expanded)
    ids, node_layer, owner = _drawn_ids(by_layer, drawn_in, groups)
    index = {node_id: i for i, node_id in enumerate(ids)}

    edges: list[tuple[str, str]] = []
    seen_edges: set[tuple[str, str]] = set()
    for a, b in pairs:
        pair = (owner[a], owner[b])
        if pair[0] != pair[1] and pair not in seen_edges:
            seen_edges.add(pair)
            edges.append(pair)

    low = min(node_layer)
    rows = [n - low for n in node_layer]
    g = igraph.Graph(n=len(ids), edges=[(index[a], index[b]) for a, b in edges], directed=True)
    sugiyama = g.layout_sugiyama(layers=rows)
    coords = sugiyama.coords[: len(ids)]
    top = min(c[0] for c in sugiyama.coords)  # dummy vertices (bends) included
    bottom = max(c[0] for c in sugiyama.coords)

    def at(slot: float, row: float) -> tuple[float, float]:
        return (round(MARGIN + NODE_W / 2 + row * LAYER_GAP, 1), round(MARGIN + NODE_H / 2 + (slot - top) * SLOT_GAP, 1))

    nodes: list[Node] = []
    for i, node_id in enumerate(ids):
        x, y = at(coords[i][0], rows[i])
        number = node_layer[i]
        if node_id in groups:
            hidden = len(groups[node_id])
            total = len(by_layer[number])
            nodes.append(Node(node_id, None, GROUP, f"{hidden} more (drawn {total - hidden} / total {total})", x, y,
                              number, False, [], hidden, "", GROUP, ACTIVE))
        else:
            e = entities[node_id]
            nodes.append(Node(node_id, node_id, e.type_name, labels[node_id], x, y, number, node_id == base,
                              _tags(e), 0, e.qualified_name, family_of(e), e.status))

    routed: list[Edge] = []
    for k, (a, b) in enumerate(edges):
        ra, rb = rows[index[a]], rows[index[b]]
        bends = sugiyama.edge_routing[k] if k < len(sugiyama.edge_routing) else []
        points: tuple[tuple[float, float], ...] = ()
        if rb - ra > 1 and bends and all(ra < p[1] < rb for p in bends):
            points = tuple(at(p[0], p[1]) for p in bends)
        routed.append(Edge(a, b, points))

    drawn = sum(1 for n in nodes if n.guid is not None)
    width = 2 * MARGIN + (max(rows) if rows else 0) * LAYER_GAP + NODE_W
    height = 2 * MARGIN + (bottom - top) * SLOT_GAP + NODE_H
    return Layout(nodes, routed, bool(groups), drawn, len(entities), round(width, 1), round(height, 1),
                  base, graph.direction, graph.depth, groups)


# -- the cache ---------------------------------------------------------------------------------


def fingerprint(graph: LineageGraph) -> str:
    """A digest of what the drawing shows: every entity (names, status, classifications) and relation."""
    h = hashlib.blake2b(digest_size=16)
    h.update(f"{graph.base_guid}\x1e{graph.direction}\x1e{graph.depth}\x1e".encode())
    for guid in sorted(graph.entities):
        e = graph.entities[guid]
        tags = sorted((c.type_name, c.source_guid) for c in e.classifications)
        h.update(repr((guid, e.type_name, e.qualified_name, e.attributes.get("name"), e.status, tags,
                       "inputs" in e.attributes or "outputs" in e.attributes)).encode("utf-8", "surrogatepass"))
    for r in graph.relations:
        h.update(f"\x1d{r.from_guid}>{r.to_guid}".encode())
    return h.hexdigest()


def cache_key(graph: LineageGraph, *, expanded: frozenset[str] = frozenset(), max_per_layer: int = 25) -> tuple:
    """(base_guid, direction, depth, expanded, max_per_layer, fingerprint): a key for ``cached_layout``."""
    return (graph.base_guid, graph.direction, graph.depth, frozenset(expanded), max_per_layer, fingerprint(graph))


class LayoutCache:
    """A thread-safe LRU bounded by entries and by the nodes and edges of the layouts it holds.

    ``build`` runs outside the lock (two threads may build the same key once each; the
    second result replaces the first).
    """

    def __init__(self, maxsize: int = 128, max_weight: int = 500_000) -> None:
        self.maxsize = maxsize
        self.max_weight = max_weight
        self.hits = 0
        self.misses = 0
        self._items: OrderedDict[Hashable, tuple[Any, int]] = OrderedDict()
        self._weight = 0
        self._lock = threading.Lock()

    def get(self, key: Hashable, build: Callable[[], Any]) -> Any:
        with self._lock:
            found = self._items.get(key)
            if found is not None:
                self._items.move_to_end(key)
                self.hits += 1
                return found[0]
            self.misses += 1
        value = build()
        weight = len(value.nodes) + len(value.edges) if isinstance(value, Layout) else 1
        with self._lock:
            old = self._items.pop(key, None)
            if old is not None:
                self._weight -= old[1]
            self._items[key] = (value, weight)
            self._weight += weight
            while len(self._items) > 1 and (len(self._items) > self.maxsize or self._weight > self.max_weight):
                _, (_, dropped) = self._items.popitem(last=False)
                self._weight -= dropped
        return value

    def clear(self) -> None:
        with self._lock:
            self._items.clear()
            self._weight = 0
            self.hits = self.misses = 0

    def __len__(self) -> int:
        return len(self._items)

    def __contains__(self, key: Hashable) -> bool:
        return key in self._items


LAYOUT_CACHE = LayoutCache()


def cached_layout(key: Hashable, build: Callable[[], Layout]) -> Layout:
    """The layout cached under ``key`` in ``LAYOUT_CACHE``, else ``build()`` (then cached)."""
    return LAYOUT_CACHE.get(key, build)
