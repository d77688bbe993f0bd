"""Apply: write a ``WritePlan`` (rows, edges, direct tags, audit); soft delete.

Entities are keyed by (typeName, qualifiedName) through a deterministic guid;
Process inputs/outputs become indexed edges oriented along the data flow; every
change appends an audit event. Functions take a ``Session``; the caller owns the
transaction (``with session.begin(): ...``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from sqlalchemy import bindparam, delete, update
from sqlalchemy.orm import Session

from catalog.canonical import canonical_json, chunks
from catalog.model import ACTIVE, DELETED, Finding, SourceBatch
from catalog.store import outbox
from catalog.store.graph import recompute_propagation
from catalog.store.plan import EDGE_COLUMNS, ENTITY_COLUMNS, WritePlan, plan_upsert
from catalog.store.schema import (
    INPUT_EDGE,
    OUTPUT_EDGE,
    AuditRow,
    ClassificationRow,
    EdgeRow,
    EntityRow,
    bulk_insert,
    bulk_insert_values,
    now_ms,
)

if TYPE_CHECKING:
    from catalog.types.registry import TypeRegistry

__all__ = ["IngestResult", "apply_plan", "upsert_batch", "delete_entity"]


@dataclass
class IngestResult:
    """What one applied plan changed; all lists hold guids."""

    created: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    unchanged_guids: list[str] = field(default_factory=list)
    propagated_added: int = 0
    propagated_removed: int = 0
    findings: list[Finding] = field(default_factory=list)
    #: Edges, direct tags or a status changed: propagated tags are due for a recompute.
    lineage_changed: bool = False

    @property
    def unchanged(self) -> int:
        return len(self.unchanged_guids)

    @property
    def changed(self) -> bool:
        return bool(self.created or self.updated or self.propagated_added or self.propagated_removed)

    def summary(self) -> str:
        return (
            f"{len(self.created)} created, {len(self.updated)} updated, {self.unchanged} unchanged, "
            f"{self.propagated_added} tags propagated, {self.propagated_removed} propagated tags removed, "
            f"{len(self.findings)} findings"
        )


def upsert_batch(
    session: Session,
    batch: SourceBatch,
    registry: TypeRegistry,
    *,
    user: str,
    at: int | None = None,
    recompute_tags: bool = True,
) -> IngestResult:
    """Plan and apply a batch: create new entities, update changed ones, skip the rest.

    ``recompute_tags=False`` leaves the propagated-tag recompute to the caller, which
    applies several plans in one transaction and recomputes once at the end. Raises
    ``EntityValidationError`` (or ``UnknownTypeError``) before anything is written.
    """
    plan = plan_upsert(session, batch, registry, user=user, at=at)
    return apply_plan(session, plan, recompute_tags=recompute_tags)


_UPDATE_COLUMNS = (
    "name", "status", "attributes", "relationship_attributes", "content_hash", "incoming_hash",
    "version", "updated_at", "updated_by", "source",
)


_AUDIT_COLUMNS = ("at", "user", "source", "action", "entity_guid", "type_name", "qualified_name", "detail")


def apply_plan(session: Session, plan: WritePlan, *, recompute_tags: bool = True) -> IngestResult:
    """Write exactly what ``plan`` says, in the caller's transaction."""
    bulk_insert_values(session, EntityRow.__table__, ENTITY_COLUMNS, plan.inserts)
    if plan.digest_refresh:
        table = EntityRow.__table__
        session.execute(
            update(table).where(table.c.guid == bindparam("b_guid")).values(incoming_hash=bindparam("digest")),
            [{"b_guid": g, "digest": d} for g, d in plan.digest_refresh],
            execution_options={"synchronize_session": False},
        )
    if plan.updates:
        table = EntityRow.__table__
        statement = update(table).where(table.c.guid == bindparam("b_guid"))
        statement = statement.values(**{c: bindparam(c) for c in _UPDATE_COLUMNS})
        session.execute(statement, plan.updates, execution_options={"synchronize_session": False})
    _write_edges(session, plan.replaced_edges, plan.edges)
    _write_tags(session, plan)
    at, user, source = plan.at, plan.user, plan.source
    bulk_insert_values(session, AuditRow.__table__, _AUDIT_COLUMNS, [
        (at, user, source, c.action, c.guid, c.type_name, c.qualified_name, c.detail_json or canonical_json(c.detail))
        for c in plan.changes
    ])
    if plan.changes:  # the push's duty, committed with the change (no rows while no sink is registered)
        outbox.enqueue(session, ((c.guid, c.type_name, c.qualified_name) for c in plan.changes), at=at)
    result = IngestResult(
        created=plan.created, updated=plan.updated, unchanged_guids=list(plan.unchanged),
        findings=list(plan.findings), lineage_changed=plan.lineage_changed,
    )
    if recompute_tags and plan.lineage_changed:
        added, removed = recompute_propagation(session, user=plan.user, source=plan.source, at=plan.at)
        result.propagated_added, result.propagated_removed = added, removed
    return result


def _write_edges(session: Session, replaced: Sequence[str], edges: list[tuple[str, str, str, str]]) -> None:
    for chunk in chunks(list(replaced)):
        session.execute(delete(EdgeRow).where(EdgeRow.to_guid.in_(chunk), EdgeRow.direction == INPUT_EDGE))
        session.execute(delete(EdgeRow).where(EdgeRow.from_guid.in_(chunk), EdgeRow.direction == OUTPUT_EDGE))
    if edges:
        unique = list({(e[0], e[1]): e for e in edges}.values())
        bulk_insert_values(session, EdgeRow.__table__, EDGE_COLUMNS, unique)


def _write_tags(session: Session, plan: WritePlan) -> None:
    table = ClassificationRow.__table__
    direct = (table.c.entity_guid == bindparam("b_guid")) & (table.c.type_name == bindparam("b_type"))
    direct &= table.c.source_guid == bindparam("b_guid")
    if plan.tag_removals:
        session.execute(
            delete(table).where(direct), [{"b_guid": g, "b_type": t} for g, t in plan.tag_removals]
        )
    if plan.tag_updates:
        session.execute(
            update(table).where(direct).values(
                propagate=bindparam("propagate"), attributes=bindparam("attributes"), origin=bindparam("origin")
            ),
            [{**r, "b_guid": r["entity_guid"], "b_type": r["type_name"]} for r in plan.tag_updates],
        )
    bulk_insert(session, table, plan.tag_inserts)


def delete_entity(session: Session, guid: str, *, user: str, source: str, at: int | None = None) -> bool:
    """Soft delete (Atlas ``status: DELETED``); tags it propagated are withdrawn. False if absent."""
    at = now_ms() if at is None else at
    row = session.get(EntityRow, guid)
    if row is None or row.status == DELETED:
        return False
    row.status = DELETED
    row.version += 1
    row.updated_at = at
    row.updated_by = user
    session.add(
        AuditRow(
            at=at,
            user=user,
            source=source,
            action="ENTITY_DELETE",
            entity_guid=guid,
            type_name=row.type_name,
            qualified_name=row.qualified_name,
            detail=canonical_json({"status": [ACTIVE, DELETED]}),
        )
    )
    # The stored hashes described the ACTIVE entity; make them differ so re-ingesting that
    # same content counts as a change (not skipped, not unchanged) and reactivates the entity.
    row.content_hash = "deleted:" + row.content_hash[:56]
    row.incoming_hash = ""
    outbox.enqueue(session, [(guid, row.type_name, row.qualified_name)], at=at)
    session.flush()
    recompute_propagation(session, user=user, source=source, at=at)
    return True

