"""Read queries over the store: entities, search, audit, findings, cursors.

Functions take a ``Session`` and return frozen values (``StoredEntity`` and friends),
safe to hand to templates after the session ends.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, Executable, Select, String, any_, bindparam, case, func, literal, literal_column, or_, select
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
    "CursorStatement",
    "get_entity",
    "get_entities",
    "get_headers",
    "classifications_of",
    "facet_counts",
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


class CursorStatement:
    """A statement built and compiled once per dialect, run on the DBAPI cursor of a session.

    SQLAlchemy's execution of a statement (compiled cache, parameter and result processing,
    events, ORM result setup) costs 10-20x SQLite's own work for the small reads of
    ``GET entity/guid``: 110 us (Core) to 200 us (``Session.execute``) against 9 us on the
    cursor for one entity row of the 100k bench catalog. The statement is still written
    with SQLAlchemy (one text per dialect, never assembled from values); its parameters
    must be plain values the DBAPI takes as they are (str, int, a list for PostgreSQL's
    arrays), and its rows come back as tuples (a SQLite boolean as 0/1).
    """

    def __init__(self, build: Callable[[str], Executable]) -> None:
        self._build = build
        self._compiled: dict[str, tuple[str, tuple[str, ...] | None, dict[str, Any]]] = {}

    def rows(self, bind: Session | Connection, params: Mapping[str, Any]) -> list[tuple]:
        """All rows for ``params`` (by bind name), in the session's (or connection's) transaction."""
        connection = bind.connection() if isinstance(bind, Session) else bind
        dialect = connection.dialect
        compiled = self._compiled.get(dialect.name)
        if compiled is None:
            done = self._build(dialect.name).compile(dialect=dialect)
            compiled = self._compiled[dialect.name] = (done.string, done.positiontup, dict(done.params))
        sql, order, defaults = compiled
        values = {**defaults, **params} if defaults else params
        cursor = connection.connection.cursor()
        try:
            cursor.execute(sql, tuple(values[name] for name in order) if order is not None else dict(values))
            return cursor.fetchall()
        finally:
            cursor.close()


def guids_param(session: Session | Connection, guids: Sequence[str]) -> Any:
    """``guids`` as the one parameter ``in_guids`` compares with: a JSON array text (SQLite), a list."""
    dialect = (session.get_bind() if isinstance(session, Session) else session).dialect.name
    return json.dumps(list(guids)) if dialect == "sqlite" else list(guids)


def in_guids(column: Any, dialect: str) -> Any:
    """``column`` is one of the parameter ``guids`` (``guids_param``): one statement text for any count."""
    if dialect == "sqlite":
        return column.in_(select(literal_column("value")).select_from(func.json_each(bindparam("guids"))))
    return column == any_(bindparam("guids", type_=ARRAY(String)))


_TAG_COLUMNS = ClassificationRow.__table__.c
_TAGS_OF = CursorStatement(lambda dialect: select(
    _TAG_COLUMNS.entity_guid, _TAG_COLUMNS.type_name, _TAG_COLUMNS.source_guid, _TAG_COLUMNS.propagate,
    _TAG_COLUMNS.attributes,
).where(in_guids(_TAG_COLUMNS.entity_guid, dialect)))


def classifications_of(session: Session, guids: Sequence[str]) -> dict[str, list[StoredClassification]]:
    """Direct and propagated classifications of ``guids`` (those that have any), by guid."""
    tags: dict[str, list[StoredClassification]] = {}
    for chunk in chunks(guids):
        for guid, type_name, source_guid, propagate, attributes in _TAGS_OF.rows(
                session, {"guids": guids_param(session, chunk)}):
            tags.setdefault(guid, []).append(
                StoredClassification(type_name, guid, source_guid, bool(propagate), json.loads(attributes)))
    return tags


def _tag_order(tag: StoredClassification) -> tuple[str, str]:
    return tag.type_name, tag.source_guid


def _stored(rows: Iterable[Any], tags: Mapping[str, list[StoredClassification]]) -> list[StoredEntity]:
    return [
        StoredEntity(
            guid=row.guid,
            type_name=row.type_name,
            qualified_name=row.qualified_name,
            status=row.status,
            attributes=json.loads(row.attributes),
            relationship_attributes=json.loads(row.relationship_attributes),
            classifications=tuple(sorted(tags.get(row.guid, ()), key=_tag_order)),
            version=row.version,
            created_at=row.created_at,
            updated_at=row.updated_at,
            created_by=row.created_by,
            updated_by=row.updated_by,
            source=row.source,
        )
        for row in rows
    ]


#: Each entity with its classifications, one row per tag (an untagged entity: one row, NULL tag).
_ENTITIES_WITH_TAGS = CursorStatement(lambda dialect: select(
    *_ENTITY_COLUMNS, _TAG_COLUMNS.type_name, _TAG_COLUMNS.source_guid, _TAG_COLUMNS.propagate,
    _TAG_COLUMNS.attributes,
).select_from(EntityRow.__table__.outerjoin(ClassificationRow.__table__, _TAG_COLUMNS.entity_guid == EntityRow.guid))
    .where(in_guids(EntityRow.guid, dialect)))
_TAG_AT = len(_ENTITY_COLUMNS)


def get_entities(session: Session, guids: Sequence[str]) -> dict[str, StoredEntity]:
    """The stored entities of ``guids`` (those that exist), with their classifications; one query per chunk."""
    rows: dict[str, tuple] = {}
    tags: dict[str, list[StoredClassification]] = {}
    for chunk in chunks(list(guids)):
        for row in _ENTITIES_WITH_TAGS.rows(session, {"guids": guids_param(session, chunk)}):
            guid = row[0]
            rows.setdefault(guid, row)
            if row[_TAG_AT] is not None:
                type_name, source_guid, propagate, attributes = row[_TAG_AT:]
                tags.setdefault(guid, []).append(
                    StoredClassification(type_name, guid, source_guid, bool(propagate), json.loads(attributes)))
    return {
        guid: StoredEntity(guid, type_name, qualified_name, status, json.loads(attributes), json.loads(rels),
                           tuple(sorted(tags.get(guid, ()), key=_tag_order)), version, created_at, updated_at,
                           created_by, updated_by, source)
        for guid, (_, type_name, qualified_name, status, attributes, rels, version, created_at, updated_at,
                   created_by, updated_by, source, *_tag) in rows.items()
    }


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


def _header_statement(dialect: str) -> Select:
    """Header columns and classifications (one row per tag) of the entities ``guids``, by dialect.

    ``guids`` is one parameter (``guids_param``), so the statement text never varies:
    PostgreSQL prepares it once and reuses its plan.
    """
    e = EntityRow.__table__
    c = ClassificationRow.__table__
    if dialect == "sqlite":
        raw, picked = _picked_sqlite(e.c.attributes)
    else:
        raw, picked = e.c.attributes.label("raw"), []
    return (
        select(e.c.guid, e.c.type_name, e.c.qualified_name, e.c.status, c.c.type_name.label("tag"),
               c.c.source_guid, c.c.propagate, c.c.attributes.label("tag_attributes"), raw, *picked)
        .select_from(e.outerjoin(c, c.c.entity_guid == e.c.guid))
        .where(in_guids(e.c.guid, dialect))
    )


_HEADERS_OF = CursorStatement(_header_statement)
_RAW = _HEADER_FIXED - 1  # the full attribute text (NULL when SQLite picked the keys)


def _header_attributes(rows: Sequence[tuple]) -> list[dict[str, Any]]:
    """Each row's header attributes, in ``LINEAGE_HEADER_KEYS`` order: one ``json.loads`` for all rows."""
    texts: list[str] = []
    for row in rows:
        if row[_RAW] is not None:
            texts.append(row[_RAW])
        else:
            texts.extend(t for t in row[_HEADER_FIXED:] if t is not None)
    values = iter(json.loads("[" + ",".join(texts) + "]"))
    out = []
    for row in rows:
        if row[_RAW] is not None:
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
    wanted = list(guids)
    if not wanted:
        return {}
    rows: dict[str, tuple] = {}
    tags: dict[str, list[StoredClassification]] = {}
    for row in _HEADERS_OF.rows(session, {"guids": guids_param(session, wanted)}):
        guid = row[0]
        rows.setdefault(guid, row)
        if row[4] is not None:
            tags.setdefault(guid, []).append(
                StoredClassification(row[4], guid, row[5], bool(row[6]), json.loads(row[7])))
    found = [g for g in dict.fromkeys(wanted) if g in rows]
    return {
        guid: EntityHeader(
            guid=guid,
            type_name=rows[guid][1],
            qualified_name=rows[guid][2],
            status=rows[guid][3],
            attributes=attrs,
            classifications=tuple(sorted(tags.get(guid, ()), key=_tag_order)),
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


def facet_counts(session: Session) -> tuple[list[tuple[str, int]], list[tuple[str, int]]]:
    """Active entities per type, and active entities carrying each classification (direct or propagated)."""
    by_type = session.execute(select(EntityRow.type_name, func.count()).where(EntityRow.status == ACTIVE)
                              .group_by(EntityRow.type_name).order_by(EntityRow.type_name))
    by_tag = session.execute(
        select(ClassificationRow.type_name, func.count(ClassificationRow.entity_guid.distinct()))
        .join(EntityRow, EntityRow.guid == ClassificationRow.entity_guid).where(EntityRow.status == ACTIVE)
        .group_by(ClassificationRow.type_name).order_by(ClassificationRow.type_name))
    return [(str(t), int(n)) for t, n in by_type], [(str(t), int(n)) for t, n in by_tag]


def audit_events(session: Session, guid: str | None = None, *, limit: int = 100,
                 before: int | None = None) -> list[AuditEvent]:
    """Audit events newest first (of one entity with ``guid``; older than event id ``before`` with it)."""
    query = select(AuditRow).order_by(AuditRow.id.desc()).limit(limit)
    if guid is not None:
        query = query.where(AuditRow.entity_guid == guid)
    if before is not None:
        query = query.where(AuditRow.id < before)
    return [
        AuditEvent(r.id, r.at, r.user, r.source, r.action, r.entity_guid, r.type_name, r.qualified_name, json.loads(r.detail))
        for r in session.scalars(query)
    ]
