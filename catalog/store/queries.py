"""Read queries over the store: entities, search, audit, findings, cursors.

Functions take a ``Session`` and return frozen values (``StoredEntity`` and friends),
safe to hand to templates after the session ends.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Select, String, any_, bindparam, case, func, literal, literal_column, or_, select
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.orm import Session

from catalog.canonical import chunks
from catalog.model import ACTIVE, LINEAGE_HEADER_KEYS, EntityHeader, StoredClassification, StoredEntity
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
    "get_headers",
    "classifications_of",
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


#: Statements built once (an expanding ``IN``): building a ``select`` per call costs more
#: than SQLite's own work on the entity page's hot path (``GET entity/guid``).
_TAG_COLUMNS = ClassificationRow.__table__.c
_TAGS_OF = select(
    _TAG_COLUMNS.entity_guid, _TAG_COLUMNS.type_name, _TAG_COLUMNS.source_guid, _TAG_COLUMNS.propagate,
    _TAG_COLUMNS.attributes,
).where(_TAG_COLUMNS.entity_guid.in_(bindparam("guids", expanding=True)))


def classifications_of(session: Session, guids: Sequence[str]) -> dict[str, list[StoredClassification]]:
    """Direct and propagated classifications of ``guids`` (those that have any), by guid."""
    tags: dict[str, list[StoredClassification]] = {}
    for chunk in chunks(guids):
        for row in session.execute(_TAGS_OF, {"guids": list(chunk)}):
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


_ENTITIES_OF = select(*_ENTITY_COLUMNS).where(EntityRow.guid.in_(bindparam("guids", expanding=True)))


def get_entities(session: Session, guids: Sequence[str]) -> dict[str, StoredEntity]:
    rows = []
    for chunk in chunks(list(guids)):
        rows.extend(session.execute(_ENTITIES_OF, {"guids": list(chunk)}))
    tags = classifications_of(session, [r.guid for r in rows])
    return {e.guid: e for e in _stored(rows, tags)}


# ------------------------------------------------------------------ entity headers
#
# A header needs five attributes of an entity, whose stored JSON text may be large (a run's
# params, metrics and tags). On SQLite the database picks them out (``->``; SQLite caches the
# parse of a row's text, so ``json_valid`` and the lookups cost one parse) and Python parses
# only those small texts: 13x less time than ``json.loads`` of the whole text at 35 kB, 3x at
# 350 bytes. SQLite refuses the ``NaN``/``Infinity`` that Python's json module writes (a metric
# can be NaN): for such a text (``json_valid`` false) the full text comes back instead. On
# PostgreSQL the full text comes back: its JSON functions cost more than Python's parser
# (``json_each`` + ``json_object_agg``: 1.5-2x ``json.loads``, plus a guard against ``NaN``,
# measured on PostgreSQL 15 at 350 bytes and 35 kB).

_HEADER_FIXED = 9  # columns of a header row before SQLite's picked attribute texts


def _picked_sqlite(attributes: Any) -> tuple[Any, list[Any]]:
    """The full text only when SQLite cannot parse it; one JSON text (NULL: absent) per header key."""
    valid = func.json_valid(attributes) == literal_column("1")
    picked = [
        case((valid, attributes.op("->")(literal_column(f"'$.{key}'"))), else_=None).label(f"a_{key}")
        for key in LINEAGE_HEADER_KEYS
    ]
    return case((valid, None), else_=attributes).label("raw"), picked


@functools.cache
def _header_statement(dialect: str) -> Select:
    """Header columns and classifications (one row per tag) of the entities ``guids``, by dialect.

    ``guids`` is one parameter (SQLite: a JSON array text; PostgreSQL: an array), so the
    statement text never varies: PostgreSQL prepares it once and reuses its plan.
    """
    e = EntityRow.__table__
    c = ClassificationRow.__table__
    if dialect == "sqlite":
        raw, picked = _picked_sqlite(e.c.attributes)
        wanted = e.c.guid.in_(select(literal_column("value")).select_from(func.json_each(bindparam("guids"))))
    else:
        raw, picked = e.c.attributes.label("raw"), []
        wanted = e.c.guid == any_(bindparam("guids", type_=ARRAY(String)))
    return (
        select(e.c.guid, e.c.type_name, e.c.qualified_name, e.c.status, c.c.type_name.label("tag"),
               c.c.source_guid, c.c.propagate, c.c.attributes.label("tag_attributes"), raw, *picked)
        .select_from(e.outerjoin(c, c.c.entity_guid == e.c.guid))
        .where(wanted)
    )


def _header_attributes(rows: Sequence[Any]) -> list[dict[str, Any]]:
    """Each row's header attributes, in ``LINEAGE_HEADER_KEYS`` order: one ``json.loads`` for all rows."""
    texts: list[str] = []
    for row in rows:
        if row.raw is not None:
            texts.append(row.raw)
        else:
            texts.extend(t for t in row[_HEADER_FIXED:] if t is not None)
    values = iter(json.loads("[" + ",".join(texts) + "]"))
    out = []
    for row in rows:
        if row.raw is not None:
            full = next(values)
            out.append({k: full[k] for k in LINEAGE_HEADER_KEYS if k in full})
        else:
            out.append({k: next(values) for k, t in zip(LINEAGE_HEADER_KEYS, row[_HEADER_FIXED:]) if t is not None})
    return out


def get_headers(session: Session, guids: Sequence[str]) -> dict[str, EntityHeader]:
    """``EntityHeader`` values of ``guids`` (those that exist), by guid in ``guids`` order; one query.

    The same names and values as ``get_entities`` for the header's attributes and the
    classifications, without building the rest of the attribute map (SQLite or PostgreSQL).
    """
    dialect = session.get_bind().dialect.name
    wanted = list(guids)
    param = json.dumps(wanted) if dialect == "sqlite" else wanted
    rows: dict[str, Any] = {}
    tags: dict[str, list[StoredClassification]] = {}
    for row in session.execute(_header_statement(dialect), {"guids": param}):
        rows.setdefault(row.guid, row)
        if row.tag is not None:
            tags.setdefault(row.guid, []).append(StoredClassification(
                row.tag, row.guid, row.source_guid, row.propagate, json.loads(row.tag_attributes)))
    found = [g for g in dict.fromkeys(wanted) if g in rows]
    return {
        guid: EntityHeader(
            guid=guid,
            type_name=rows[guid].type_name,
            qualified_name=rows[guid].qualified_name,
            status=rows[guid].status,
            attributes=attrs,
            classifications=tuple(sorted(tags.get(guid, ()), key=lambda t: (t.type_name, t.source_guid))),
        )
        for guid, attrs in zip(found, _header_attributes([rows[g] for g in found]), strict=True)
    }


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
    return _stored(rows, classifications_of(session, [r.guid for r in rows]))


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
    return _stored(rows, classifications_of(session, [r.guid for r in rows]))


def audit_events(session: Session, guid: str | None = None, *, limit: int = 100) -> list[AuditEvent]:
    query = select(AuditRow).order_by(AuditRow.id.desc()).limit(limit)
    if guid is not None:
        query = query.where(AuditRow.entity_guid == guid)
    return [
        AuditEvent(r.id, r.at, r.user, r.source, r.action, r.entity_guid, r.type_name, r.qualified_name, json.loads(r.detail))
        for r in session.scalars(query)
    ]
