"""Read queries over the store: entities, search, audit, findings, cursors.

Functions take a ``Session`` and return frozen values (``StoredEntity`` and friends),
safe to hand to templates after the session ends.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import literal, or_, select
from sqlalchemy.orm import Session

from catalog.canonical import chunks
from catalog.model import ACTIVE, StoredClassification, StoredEntity
from catalog.store.schema import (
    OUTPUT_EDGE,
    AuditRow,
    ClassificationRow,
    EdgeRow,
    EntityRow,
)

__all__ = [
    "AuditEvent",
    "get_entity",
    "get_entities",
    "find_by_qualified_name",
    "producers_of",
    "search",
    "audit_events",
]


@dataclass(frozen=True, slots=True)
class AuditEvent:
    id: int
    at: int
    user: str
    source: str
    action: str
    entity_guid: str
    type_name: str
    qualified_name: str
    detail: Mapping[str, Any]


_ENTITY_COLUMNS = (
    EntityRow.guid,
    EntityRow.type_name,
    EntityRow.qualified_name,
    EntityRow.status,
    EntityRow.attributes,
    EntityRow.relationship_attributes,
    EntityRow.version,
    EntityRow.created_at,
    EntityRow.updated_at,
    EntityRow.created_by,
    EntityRow.updated_by,
    EntityRow.source,
)


def _tags_for(session: Session, guids: Sequence[str]) -> dict[str, list[StoredClassification]]:
    tags: dict[str, list[StoredClassification]] = {}
    c = ClassificationRow.__table__
    for chunk in chunks(guids):
        for row in session.execute(
            select(c.c.entity_guid, c.c.type_name, c.c.source_guid, c.c.propagate, c.c.attributes).where(
                c.c.entity_guid.in_(chunk)
            )
        ):
            tags.setdefault(row.entity_guid, []).append(
                StoredClassification(
                    row.type_name, row.entity_guid, row.source_guid, row.propagate, json.loads(row.attributes)
                )
            )
    return tags


def _stored(rows: Iterable[Any], tags: Mapping[str, list[StoredClassification]]) -> list[StoredEntity]:
    return [
        StoredEntity(
            guid=row.guid,
            type_name=row.type_name,
            qualified_name=row.qualified_name,
            status=row.status,
            attributes=json.loads(row.attributes),
            relationship_attributes=json.loads(row.relationship_attributes),
            classifications=tuple(sorted(tags.get(row.guid, ()), key=lambda t: (t.type_name, t.source_guid))),
            version=row.version,
            created_at=row.created_at,
            updated_at=row.updated_at,
            created_by=row.created_by,
            updated_by=row.updated_by,
            source=row.source,
        )
        for row in rows
    ]


def get_entities(session: Session, guids: Sequence[str]) -> dict[str, StoredEntity]:
    rows = []
    for chunk in chunks(list(guids)):
        rows.extend(session.execute(select(*_ENTITY_COLUMNS).where(EntityRow.guid.in_(chunk))))
    tags = _tags_for(session, [r.guid for r in rows])
    return {e.guid: e for e in _stored(rows, tags)}


def get_entity(session: Session, guid: str) -> StoredEntity | None:
    return get_entities(session, [guid]).get(guid)


def producers_of(
    session: Session, guids: Sequence[str], *, type_names: Iterable[str] | None = None
) -> list[StoredEntity]:
    """The processes that have any of ``guids`` among their outputs (one indexed query per chunk)."""
    producers: set[str] = set()
    for chunk in chunks(list(guids)):
        producers.update(
            session.scalars(
                select(EdgeRow.from_guid).where(EdgeRow.to_guid.in_(chunk), EdgeRow.direction == OUTPUT_EDGE)
            )
        )
    found = get_entities(session, sorted(producers))
    wanted = None if type_names is None else set(type_names)
    return [e for _, e in sorted(found.items()) if wanted is None or e.type_name in wanted]


def find_by_qualified_name(
    session: Session, qualified_name: str, type_names: Iterable[str] | None = None
) -> list[StoredEntity]:
    query = select(*_ENTITY_COLUMNS).where(EntityRow.qualified_name == qualified_name)
    if type_names is not None:
        query = query.where(EntityRow.type_name.in_(sorted(type_names)))
    rows = list(session.execute(query.order_by(EntityRow.type_name)))
    return _stored(rows, _tags_for(session, [r.guid for r in rows]))


def _like_pattern(text: str) -> str:
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def search(
    session: Session,
    text: str = "",
    *,
    type_names: Iterable[str] | None = None,
    classification: str | None = None,
    include_deleted: bool = False,
    limit: int = 100,
    offset: int = 0,
) -> list[StoredEntity]:
    """Entities whose qualifiedName or name contains ``text`` (case-insensitive)."""
    query = select(*_ENTITY_COLUMNS)
    if text:
        pattern = _like_pattern(text)
        query = query.where(
            or_(
                EntityRow.qualified_name.ilike(pattern, escape="\\"),
                EntityRow.name.ilike(pattern, escape="\\"),
            )
        )
    if type_names is not None:
        query = query.where(EntityRow.type_name.in_(sorted(type_names)))
    if classification:
        query = query.where(
            select(literal(1))
            .where(
                ClassificationRow.entity_guid == EntityRow.guid,
                ClassificationRow.type_name == classification,
            )
            .exists()
        )
    if not include_deleted:
        query = query.where(EntityRow.status == ACTIVE)
    query = query.order_by(EntityRow.type_name, EntityRow.qualified_name).limit(limit).offset(offset)
    rows = list(session.execute(query))
    return _stored(rows, _tags_for(session, [r.guid for r in rows]))


def audit_events(session: Session, guid: str | None = None, *, limit: int = 100) -> list[AuditEvent]:
    query = select(AuditRow).order_by(AuditRow.id.desc()).limit(limit)
    if guid is not None:
        query = query.where(AuditRow.entity_guid == guid)
    return [
        AuditEvent(r.id, r.at, r.user, r.source, r.action, r.entity_guid, r.type_name, r.qualified_name, json.loads(r.detail))
        for r in session.scalars(query)
    ]
