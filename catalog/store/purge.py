"""Purge: remove soft-deleted entities for good (Atlas's ``PUT admin/purge``).

Only entities already ``DELETED`` are purged (Atlas's rule): their rows, the lineage
edges that touch them and every classification on or propagated from them go; the
audit log keeps their history and records the purge.
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import delete, or_, select
from sqlalchemy.orm import Session

from catalog.canonical import canonical_json, chunks
from catalog.model import DELETED
from catalog.store.graph import recompute_propagation
from catalog.store.schema import AuditRow, ClassificationRow, EdgeRow, EntityRow, now_ms

__all__ = ["purge_entities"]


def purge_entities(session: Session, guids: Sequence[str], *, user: str, source: str, at: int | None = None) -> list[str]:
    """Purge the ``DELETED`` entities among ``guids``; returns the guids purged."""
    at = now_ms() if at is None else at
    rows = []
    for chunk in chunks(sorted(set(guids))):
        rows.extend(session.scalars(select(EntityRow).where(EntityRow.guid.in_(chunk), EntityRow.status == DELETED)))
    purged = [row.guid for row in rows]
    for row in rows:
        session.add(AuditRow(at=at, user=user, source=source, action="ENTITY_PURGE", entity_guid=row.guid,
                             type_name=row.type_name, qualified_name=row.qualified_name,
                             detail=canonical_json({"status": [DELETED, "PURGED"], "version": row.version})))
    for chunk in chunks(purged):
        session.execute(delete(EdgeRow).where(or_(EdgeRow.from_guid.in_(chunk), EdgeRow.to_guid.in_(chunk))))
        session.execute(delete(ClassificationRow).where(
            or_(ClassificationRow.entity_guid.in_(chunk), ClassificationRow.source_guid.in_(chunk))))
        session.execute(delete(EntityRow).where(EntityRow.guid.in_(chunk)))
    if purged:
        session.flush()
        recompute_propagation(session, user=user, source=source, at=at)
    return purged
