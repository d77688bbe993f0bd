"""Graph queries in SQL: Atlas lineage and classification propagation (recursive CTEs).

Edges in ``lineage_edge`` point along the data flow (dataset -> process for inputs,
process -> dataset for outputs), so lineage walks them backwards (INPUT) or forwards
(OUTPUT) and propagation walks them forwards, as Atlas's ``dataset_process_inputs``
(TWO_TO_ONE) and ``process_dataset_outputs`` (ONE_TO_TWO) relationships propagate tags.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from sqlalchemy import (
    CTE,
    CompoundSelect,
    Integer,
    Select,
    and_,
    bindparam,
    delete,
    func,
    literal_column,
    null,
    select,
    union_all,
)
from sqlalchemy.orm import Session

from catalog.canonical import canonical_json, chunks
from catalog.errors import NotFound
from catalog.model import ACTIVE, EntityHeader, LineageGraph, LineageRelation, StoredEntity
from catalog.store.queries import get_headers
from catalog.store.schema import (
    AuditRow,
    ClassificationRow,
    EdgeRow,
    EntityRow,
    insert_ignoring_conflicts,
    now_ms,
)

if TYPE_CHECKING:
    from catalog.types.registry import TypeRegistry

__all__ = ["recompute_propagation", "walk", "lineage"]


def recompute_propagation(session: Session, *, user: str, source: str, at: int | None = None) -> tuple[int, int]:
    """Bring propagated classifications in line with lineage, as Atlas propagates them.

    A direct classification with ``propagate`` on an ACTIVE entity flows along the
    data flow (dataset -> process, TWO_TO_ONE; process -> dataset, ONE_TO_TWO) to every
    ACTIVE entity downstream. Rows that no longer follow (edge gone, source deleted,
    propagate switched off) are removed. Returns (added, removed).
    """
    at = now_ms() if at is None else at
    c = ClassificationRow.__table__
    wanted = _propagation_reach(session)
    have = {
        (row.entity_guid, row.type_name, row.source_guid)
        for row in session.execute(
            select(c.c.entity_guid, c.c.type_name, c.c.source_guid).where(c.c.source_guid != c.c.entity_guid)
        )
    }
    add = sorted(wanted - have)
    remove = sorted(have - wanted)
    if not add and not remove:
        return 0, 0
    source_attrs: dict[tuple[str, str], str] = {}
    for chunk in chunks(sorted({k[2] for k in add})):
        for row in session.execute(
            select(c.c.entity_guid, c.c.type_name, c.c.attributes).where(
                c.c.entity_guid.in_(chunk), c.c.source_guid == c.c.entity_guid
            )
        ):
            source_attrs[(row.entity_guid, row.type_name)] = row.attributes
    for guid, tag, src in remove:
        session.execute(delete(ClassificationRow).where(
            c.c.entity_guid == guid, c.c.type_name == tag, c.c.source_guid == src
        ))
    if add:
        session.execute(insert_ignoring_conflicts(session, c), [
            {"entity_guid": guid, "type_name": tag, "source_guid": src, "propagate": True,
             "attributes": source_attrs.get((src, tag), "{}"), "origin": f"propagated:{src}"}
            for guid, tag, src in add
        ])
    _audit_propagation(session, add, remove, user=user, source=source, at=at)
    return len(add), len(remove)


def _propagation_reach(session: Session) -> set[tuple[str, str, str]]:
    """(entity, tag, source entity) for every tag that should have propagated: one recursive CTE."""
    c = ClassificationRow.__table__
    e = EntityRow.__table__
    edge = EdgeRow.__table__
    seed = (
        select(c.c.entity_guid.label("src"), c.c.type_name.label("tag"), c.c.entity_guid.label("node"))
        .join(e, e.c.guid == c.c.entity_guid)
        .where(c.c.source_guid == c.c.entity_guid, c.c.propagate.is_(True), e.c.status == ACTIVE)
        .cte("reach", recursive=True)
    )
    target = e.alias("target")
    step = (
        select(seed.c.src, seed.c.tag, edge.c.to_guid)
        .join(edge, edge.c.from_guid == seed.c.node)
        .join(target, and_(target.c.guid == edge.c.to_guid, target.c.status == ACTIVE))
    )
    reach = seed.union(step)
    query = select(reach.c.src, reach.c.tag, reach.c.node).where(reach.c.node != reach.c.src)
    return {(row.node, row.tag, row.src) for row in session.execute(query)}


def _audit_propagation(
    session: Session, add: list[tuple[str, str, str]], remove: list[tuple[str, str, str]], *,
    user: str, source: str, at: int,
) -> None:
    """One audit event per propagated tag added or removed, naming the entity it came from."""
    e = EntityRow.__table__
    info: dict[str, tuple[str, str]] = {}
    for chunk in chunks(sorted({k[0] for k in add + remove} | {k[2] for k in add + remove})):
        for row in session.execute(select(e.c.guid, e.c.type_name, e.c.qualified_name).where(e.c.guid.in_(chunk))):
            info[row.guid] = (row.type_name, row.qualified_name)
    audits = []
    for action, keys in (("CLASSIFICATION_PROPAGATED_ADD", add), ("CLASSIFICATION_PROPAGATED_REMOVE", remove)):
        for guid, tag, src in keys:
            type_name, qn = info.get(guid, ("?", "?"))
            detail = {"classification": tag, "from": src, "fromName": info.get(src, ("?", "?"))[1]}
            audits.append({"at": at, "user": user, "source": source, "action": action, "entity_guid": guid,
                           "type_name": type_name, "qualified_name": qn, "detail": canonical_json(detail)})
    session.execute(AuditRow.__table__.insert(), audits)


@functools.cache
def _walk_statement(upstream: bool) -> Select:
    """The recursive CTE of ``walk`` for one direction, built once and reused with binds."""
    edge = EdgeRow.__table__
    entity = EntityRow.__table__
    e1 = edge.alias("e1")
    e2 = edge.alias("e2")
    p = entity.alias("p")
    near1, far1 = (e1.c.to_guid, e1.c.from_guid) if upstream else (e1.c.from_guid, e1.c.to_guid)
    near2, far2 = (e2.c.to_guid, e2.c.from_guid) if upstream else (e2.c.from_guid, e2.c.to_guid)
    seed = (
        select(entity.c.guid.label("guid"), bindparam("first_depth", type_=Integer).label("depth"))
        .where(entity.c.guid.in_(bindparam("seeds", expanding=True)))
        .cte("walk", recursive=True)
    )
    step = (
        select(far2.label("guid"), (seed.c.depth + 1).label("depth"))
        .select_from(seed)
        .join(e1, near1 == seed.c.guid)
        .join(p, and_(p.c.guid == far1, p.c.status == ACTIVE))
        .join(e2, near2 == far1)
        .where(seed.c.depth < bindparam("max_depth", type_=Integer))
    )
    walk = seed.union(step)
    return select(walk.c.guid, func.min(walk.c.depth)).group_by(walk.c.guid)


def walk(session: Session, seeds: Sequence[str], first_depth: int, max_depth: int, upstream: bool) -> dict[str, int]:
    """Data sets reachable from ``seeds`` within ``max_depth`` data-set hops: guid -> depth.

    One hop is dataset -> process -> dataset against the data flow (upstream) or with
    it; only ACTIVE processes are crossed. Runs as one recursive CTE.
    """
    params = {"seeds": list(seeds), "first_depth": first_depth, "max_depth": max_depth}
    return {guid: depth for guid, depth in session.execute(_walk_statement(upstream), params)}


_DIRECTIONS = {"INPUT": (True,), "OUTPUT": (False,), "BOTH": (True, False)}


def _sides(edge: Any, upstream: bool) -> tuple[Any, Any]:
    """(near, far) ends of ``edge`` for a walk against (upstream) or with the data flow."""
    return (edge.c.to_guid, edge.c.from_guid) if upstream else (edge.c.from_guid, edge.c.to_guid)


def _reach(upstream: bool) -> CTE:
    """Recursive CTE ``(guid, depth)`` of the data sets one direction of ``lineage`` reaches.

    It starts at the base data set (depth 0) or, for a process base, at the data sets
    across the process's own edges (depth 1), and crosses ACTIVE processes only, as
    ``walk`` does. Binds: ``base``, ``max_depth``.
    """
    tag = "up" if upstream else "down"
    entity, edge = EntityRow.__table__, EdgeRow.__table__
    base, first, node = entity.alias(f"b_{tag}"), edge.alias(f"f_{tag}"), entity.alias(f"n_{tag}")
    f_near, f_far = _sides(first, upstream)
    from_dataset = select(base.c.guid.label("guid"), literal_column("0").label("depth")).where(
        base.c.guid == bindparam("base"), base.c.is_process.is_(False))
    from_process = (
        select(node.c.guid, literal_column("1"))
        .select_from(base.join(first, f_near == base.c.guid).join(node, node.c.guid == f_far))
        .where(base.c.guid == bindparam("base"), base.c.is_process.is_(True))
    )
    starts = union_all(from_dataset, from_process).subquery(f"s_{tag}")
    seed = select(starts.c.guid, starts.c.depth).cte(f"walk_{tag}", recursive=True)
    e1, e2, p = edge.alias(f"e1_{tag}"), edge.alias(f"e2_{tag}"), entity.alias(f"p_{tag}")
    near1, far1 = _sides(e1, upstream)
    near2, far2 = _sides(e2, upstream)
    step = (
        select(far2, seed.c.depth + 1)
        .select_from(seed)
        .join(e1, near1 == seed.c.guid)
        .join(p, and_(p.c.guid == far1, p.c.status == ACTIVE))
        .join(e2, near2 == far1)
        .where(seed.c.depth < bindparam("max_depth", type_=Integer))
    )
    return seed.union(step)


def _direction_selects(upstream: bool) -> list[Select]:
    """One direction of ``lineage`` as rows (kind, a, b, c): the data sets reached (``n``), edges (``e``).

    Edges: the process base's own; those reaching a data set short of ``max_depth``
    (from its producers, or to its consumers); those reaching the processes found so.
    """
    tag = "up" if upstream else "down"
    entity, edge = EntityRow.__table__, EdgeRow.__table__
    reached = _reach(upstream)
    short = select(reached.c.guid).where(reached.c.depth < bindparam("max_depth", type_=Integer))
    inner_edge = edge.alias(f"i_{tag}")
    i_near, i_far = _sides(inner_edge, upstream)
    inner = (
        select(inner_edge.c.from_guid, inner_edge.c.to_guid, inner_edge.c.relationship_guid, i_far.label("far"))
        .where(i_near.in_(short))
        .cte(f"inner_{tag}")
    )
    own, proc_edge, base = edge.alias(f"o_{tag}"), edge.alias(f"q_{tag}"), entity.alias(f"ob_{tag}")
    o_near, q_near = _sides(own, upstream)[0], _sides(proc_edge, upstream)[0]
    node_kind, edge_kind = literal_column("'n'"), literal_column("'e'")
    return [
        select(node_kind, reached.c.guid, null(), null()).distinct(),
        select(edge_kind, own.c.from_guid, own.c.to_guid, own.c.relationship_guid)
        .select_from(own.join(base, base.c.guid == o_near))
        .where(o_near == bindparam("base"), base.c.is_process.is_(True)),
        select(edge_kind, inner.c.from_guid, inner.c.to_guid, inner.c.relationship_guid),
        select(edge_kind, proc_edge.c.from_guid, proc_edge.c.to_guid, proc_edge.c.relationship_guid)
        .where(q_near.in_(select(inner.c.far))),
    ]


@functools.cache
def _lineage_statement(direction: str) -> CompoundSelect:
    """Everything ``lineage`` reads but the entities, in one statement: rows (kind, a, b, c).

    ``b`` (the base exists: ``a`` its guid), ``n`` (a data set reached: ``a``), ``e`` (an
    edge ``a`` -> ``b``, relationship ``c``). Binds: ``base``, ``max_depth``.
    """
    entity = EntityRow.__table__
    exists = select(literal_column("'b'"), entity.c.guid, null(), null()).where(entity.c.guid == bindparam("base"))
    return union_all(exists, *(s for upstream in _DIRECTIONS[direction] for s in _direction_selects(upstream)))


def lineage(
    session: Session,
    guid: str,
    *,
    direction: str = "BOTH",
    depth: int = 3,
    max_depth: int = 50,
    registry: TypeRegistry | None = None,
) -> LineageGraph:
    """Atlas lineage around ``guid``: data-set hops in ``direction``; depth 0 = up to ``max_depth``.

    Relations point along the data flow (input: dataset -> process; output:
    process -> dataset) and carry the relationship guid, as Atlas's AtlasLineageInfo.
    Entities are ``EntityHeader`` values, by guid in guid order. Two queries whatever
    the direction and size: the walks with their edges, then the headers.
    """
    direction = direction.upper()
    if direction not in _DIRECTIONS:
        raise ValueError(f"direction must be INPUT, OUTPUT or BOTH, got {direction!r}")
    if depth < 0:
        raise ValueError(f"depth must be 0 (unlimited) or positive, got {depth}")
    limit = max_depth if depth == 0 else min(depth, max_depth)
    found = False
    nodes: set[str] = {guid}
    relations: dict[tuple[str, str], LineageRelation] = {}
    for kind, a, b, c in session.execute(_lineage_statement(direction), {"base": guid, "max_depth": limit}):
        if kind == "e":
            relations[(a, b)] = LineageRelation(a, b, c)
        elif kind == "n":
            nodes.add(a)
        else:
            found = True
    if not found:
        raise NotFound(f"no entity with guid {guid}")
    nodes.update(g for r in relations.values() for g in (r.from_guid, r.to_guid))
    entities = get_headers(session, sorted(nodes))
    # Drop what a deleted process hides: relations must connect entities in the answer.
    deleted_processes = {g for g, e in entities.items() if e.status != ACTIVE and g != guid and _is_proc(e, registry)}
    kept = tuple(
        r
        for _, r in sorted(relations.items())
        if r.from_guid not in deleted_processes and r.to_guid not in deleted_processes
    )
    connected = {g for r in kept for g in (r.from_guid, r.to_guid)} | {guid}
    return LineageGraph(
        base_guid=guid,
        direction=direction,
        depth=depth,
        entities={g: e for g, e in entities.items() if g in connected},
        relations=kept,
    )


def _is_proc(entity: StoredEntity | EntityHeader, registry: TypeRegistry | None) -> bool:
    if registry is None:
        return "inputs" in entity.attributes or "outputs" in entity.attributes
    return registry.is_process(entity.type_name)
