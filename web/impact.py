"""Impact analysis (everything downstream of an entity, with owners) and the small helpers the pages and the JSON API share."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote

from catalog.model import LineageGraph, StoredEntity

__all__ = ["IMPACT_KINDS", "ImpactRow", "entity_url", "impact_of", "when"]

#: Types whose entities the impact analysis lists, with a plural label, in this order.
IMPACT_KINDS = (
    ("ml_training_run", "training runs"), ("ml_model_version", "model versions"),
    ("ml_deployment", "deployments"), ("ml_scoring_process", "scoring runs"),
)


def entity_url(type_name: str, qualified_name: str) -> str:
    """The page of an entity: ``/entity/<type>/<qualifiedName>`` (``/``, ``@`` and ``:`` kept, the rest quoted)."""
    return f"/entity/{quote(type_name, safe='')}/{quote(qualified_name, safe='/@:')}"


def epoch_ms(value: Any) -> int:
    """An Atlas ``date`` as epoch milliseconds: an int as it is, an ISO-8601 string converted
    (naive means UTC), anything else 0."""
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if isinstance(value, str):
        try:
            parsed = datetime.fromisoformat(value)
        except ValueError:
            return 0
        return int((parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)).timestamp() * 1000)
    return 0


def when(ms: Any) -> str:
    """An Atlas ``date`` (epoch milliseconds or ISO-8601) as a UTC date and time ("" for anything else)."""
    value = epoch_ms(ms)
    if not value and ms != 0:
        return ""
    try:
        return datetime.fromtimestamp(value / 1000, tz=UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
    except (OverflowError, OSError, ValueError):
        return ""


@dataclass(frozen=True)
class ImpactRow:
    kind: str
    type_name: str
    qualified_name: str
    name: str
    owner: str
    status: str
    hops: int
    url: str

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


def impact_of(catalog: Any, entity: StoredEntity) -> list[ImpactRow]:
    """Everything downstream of ``entity`` (as deep as the catalog answers), nearest first."""
    graph = catalog.lineage(entity.guid, direction="OUTPUT", depth=catalog.settings.lineage_max_depth)
    hops = _hops(graph, entity.guid)
    labels = dict(IMPACT_KINDS)
    rows = []
    for guid, node in graph.entities.items():
        if guid == entity.guid:
            continue
        owner = node.attributes.get("owner") or node.attributes.get("userName") or ""
        name = str(node.attributes.get("name") or node.qualified_name)
        rows.append(ImpactRow(labels.get(node.type_name, "data set"), node.type_name, node.qualified_name, name,
                              str(owner), node.status, hops.get(guid, 0), entity_url(node.type_name,
                                                                                     node.qualified_name)))
    return sorted(rows, key=lambda r: (r.hops, r.type_name, r.qualified_name))


def _hops(graph: LineageGraph, base: str) -> dict[str, int]:
    """Edges from ``base`` to each entity of ``graph``, along the data flow (breadth first)."""
    nexts: dict[str, list[str]] = {}
    for r in graph.relations:
        nexts.setdefault(r.from_guid, []).append(r.to_guid)
    seen = {base: 0}
    frontier = [base]
    while frontier:
        following = []
        for guid in frontier:
            for nxt in nexts.get(guid, ()):
                if nxt not in seen:
                    seen[nxt] = seen[guid] + 1
                    following.append(nxt)
        frontier = following
    return seen
