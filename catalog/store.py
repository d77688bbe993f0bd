"""The catalog store: SQLAlchemy rows and session-taking functions.

Entities are keyed by (typeName, qualifiedName) through a deterministic guid;
Process inputs/outputs are indexed edges oriented along the data flow
(``from_guid -> to_guid``); classifications are rows, direct or propagated; every
change appends an audit event. Functions take a ``Session``; the caller owns the
transaction (``with session.begin(): ...``).

Lineage and tag propagation are computed in the database with recursive CTEs over
the edge table; the whole graph is never loaded.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    and_,
    bindparam,
    delete,
    func,
    literal,
    or_,
    select,
    update,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column

from catalog.atlas import attributes_to_atlas
from catalog.errors import EntityValidationError, ReferenceNotFound
from catalog.model import (
    ACTIVE,
    DELETED,
    Entity,
    EntityRef,
    Finding,
    LineageGraph,
    LineageRelation,
    SourceBatch,
    StoredClassification,
    StoredEntity,
    guid_for,
)

if TYPE_CHECKING:
    from catalog.types.registry import TypeRegistry

__all__ = [
    "Base",
    "EntityRow",
    "EdgeRow",
    "ClassificationRow",
    "AuditRow",
    "CursorRow",
    "FindingRow",
    "IngestResult",
    "AuditEvent",
    "StoredFinding",
    "upsert_batch",
    "delete_entity",
    "recompute_propagation",
    "replace_findings",
    "list_findings",
    "get_cursor",
    "set_cursor",
    "get_entity",
    "get_entities",
    "find_by_qualified_name",
    "search",
    "lineage",
    "audit_events",
    "count_entities",
]

# Parameters per IN (...) list: well under SQLite's and PostgreSQL's limits.
_CHUNK = 900
# Audit details keep values short: the audit says what changed, the entity holds the value.
_AUDIT_VALUE_CHARS = 300
INPUT_EDGE = "I"  # dataset -> process (dataset_process_inputs)
OUTPUT_EDGE = "O"  # process -> dataset (process_dataset_outputs)


class Base(DeclarativeBase):
    pass


class EntityRow(Base):
    __tablename__ = "entity"

    guid: Mapped[str] = mapped_column(String(36), primary_key=True)
    type_name: Mapped[str] = mapped_column(String(255))
    qualified_name: Mapped[str] = mapped_column(String(2048))
    name: Mapped[str | None] = mapped_column(String(2048))
    is_process: Mapped[bool] = mapped_column(Boolean)
    status: Mapped[str] = mapped_column(String(16))
    attributes: Mapped[str] = mapped_column(Text)
    relationship_attributes: Mapped[str] = mapped_column(Text)
    content_hash: Mapped[str] = mapped_column(String(64))
    version: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[int] = mapped_column(BigInteger)
    updated_at: Mapped[int] = mapped_column(BigInteger)
    created_by: Mapped[str] = mapped_column(String(255))
    updated_by: Mapped[str] = mapped_column(String(255))
    source: Mapped[str] = mapped_column(String(1024))

    __table_args__ = (
        Index("ix_entity_qualified_name", "qualified_name"),
        Index("ix_entity_type_name", "type_name"),
    )


class EdgeRow(Base):
    """A lineage edge along the data flow: dataset->process (I) or process->dataset (O)."""

    __tablename__ = "lineage_edge"

    from_guid: Mapped[str] = mapped_column(String(36), primary_key=True)
    to_guid: Mapped[str] = mapped_column(String(36), primary_key=True)
    direction: Mapped[str] = mapped_column(String(1))
    relationship_guid: Mapped[str] = mapped_column(String(36))

    __table_args__ = (Index("ix_lineage_edge_to", "to_guid"),)


class ClassificationRow(Base):
    """A classification on an entity; ``source_guid == entity_guid`` when direct."""

    __tablename__ = "classification"

    entity_guid: Mapped[str] = mapped_column(String(36), primary_key=True)
    type_name: Mapped[str] = mapped_column(String(255), primary_key=True)
    source_guid: Mapped[str] = mapped_column(String(36), primary_key=True)
    propagate: Mapped[bool] = mapped_column(Boolean)
    attributes: Mapped[str] = mapped_column(Text)
    origin: Mapped[str] = mapped_column(String(1024))

    __table_args__ = (Index("ix_classification_type", "type_name"),)


class AuditRow(Base):
    """Append-only: who changed what, when, from which source."""

    __tablename__ = "audit_event"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    at: Mapped[int] = mapped_column(BigInteger)
    user: Mapped[str] = mapped_column(String(255))
    source: Mapped[str] = mapped_column(String(1024))
    action: Mapped[str] = mapped_column(String(64))
    entity_guid: Mapped[str] = mapped_column(String(36))
    type_name: Mapped[str] = mapped_column(String(255))
    qualified_name: Mapped[str] = mapped_column(String(2048))
    detail: Mapped[str] = mapped_column(Text)

    __table_args__ = (Index("ix_audit_event_entity", "entity_guid"),)


class CursorRow(Base):
    """Incremental-ingest position per source (e.g. one per MLflow instance)."""

    __tablename__ = "ingest_cursor"

    name: Mapped[str] = mapped_column(String(512), primary_key=True)
    value: Mapped[str] = mapped_column(Text)
    updated_at: Mapped[int] = mapped_column(BigInteger)


class FindingRow(Base):
    """A finding of the latest ingest of a source (replaced as a set per source)."""

    __tablename__ = "finding"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    source: Mapped[str] = mapped_column(String(1024))
    kind: Mapped[str] = mapped_column(String(128))
    subject: Mapped[str] = mapped_column(String(2048))
    message: Mapped[str] = mapped_column(Text)
    first_seen: Mapped[int] = mapped_column(BigInteger)

    __table_args__ = (UniqueConstraint("source", "kind", "subject", name="uq_finding"),)


# --------------------------------------------------------------------------- results


@dataclass
class IngestResult:
    """What one upsert changed; all lists hold guids."""

    created: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    unchanged: int = 0
    propagated_added: int = 0
    propagated_removed: int = 0
    findings: list[Finding] = field(default_factory=list)

    @property
    def changed(self) -> bool:
        return bool(self.created or self.updated or self.propagated_added or self.propagated_removed)

    def summary(self) -> str:
        return (
            f"{len(self.created)} created, {len(self.updated)} updated, {self.unchanged} unchanged, "
            f"{self.propagated_added} tags propagated, {self.propagated_removed} propagated tags removed, "
            f"{len(self.findings)} findings"
        )


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


@dataclass(frozen=True, slots=True)
class StoredFinding:
    source: str
    kind: str
    subject: str
    message: str
    first_seen: int


def now_ms() -> int:
    return int(time.time() * 1000)


def _chunks(items: Sequence[Any], size: int = _CHUNK) -> Iterator[Sequence[Any]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def _dumps(value: Any) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), default=str)


def _insert(session: Session, table: Any):
    """An INSERT that ignores rows a concurrent writer already inserted (same key)."""
    dialect = session.get_bind().dialect.name
    if dialect == "postgresql":
        return postgresql.insert(table).on_conflict_do_nothing()
    if dialect == "sqlite":
        return sqlite.insert(table).on_conflict_do_nothing()
    return table.insert()


# --------------------------------------------------------------------------- upsert


def _refs_in(value: Any) -> Iterator[EntityRef]:
    if isinstance(value, EntityRef):
        yield value
    elif isinstance(value, (list, tuple, set, frozenset)):
        for item in value:
            yield from _refs_in(item)
    elif isinstance(value, Mapping):
        for item in value.values():
            yield from _refs_in(item)


def _merge_into(target: Entity, other: Entity) -> None:
    """Two emissions of one entity in a batch: later non-empty values win, ref lists union."""
    for key, value in other.attributes.items():
        old = target.attributes.get(key)
        if isinstance(old, list) and isinstance(value, list) and any(isinstance(v, EntityRef) for v in old + value):
            target.attributes[key] = list(dict.fromkeys(old + value))
        elif value is not None and value != "" and value != {} and value != []:
            target.attributes[key] = value
        elif key not in target.attributes:
            target.attributes[key] = value
    target.relationship_attributes.update(other.relationship_attributes)
    names = {c.type_name for c in target.classifications}
    target.classifications.extend(c for c in other.classifications if c.type_name not in names)
    target.status = other.status


def _dedupe(entities: Iterable[Entity]) -> dict[str, Entity]:
    by_guid: dict[str, Entity] = {}
    for entity in entities:
        guid = entity.guid
        seen = by_guid.get(guid)
        if seen is None:
            by_guid[guid] = Entity(
                entity.type_name,
                entity.qualified_name,
                dict(entity.attributes),
                dict(entity.relationship_attributes),
                list(entity.classifications),
                entity.status,
            )
        else:
            _merge_into(seen, entity)
    return by_guid


def _validate(entities: Mapping[str, Entity], registry: TypeRegistry) -> None:
    errors: list[str] = []
    for entity in entities.values():
        try:
            registry.validate(entity)
        except EntityValidationError as exc:
            errors.append(str(exc))
        except LookupError as exc:  # UnknownTypeError
            errors.append(str(exc.args[0]) if exc.args else str(exc))
        if len(errors) >= 20:
            break
    if errors:
        more = "" if len(errors) < 20 else "\n(stopped after 20 errors)"
        first = errors[0]
        if len(errors) == 1:
            raise EntityValidationError(first)
        raise EntityValidationError(f"{len(errors)} invalid entities:\n" + "\n".join(errors) + more)


def _existing_guids(session: Session, guids: Sequence[str]) -> set[str]:
    found: set[str] = set()
    for chunk in _chunks(guids):
        found.update(session.scalars(select(EntityRow.guid).where(EntityRow.guid.in_(chunk))))
    return found


def _check_references(session: Session, entities: Mapping[str, Entity]) -> None:
    wanted: dict[str, tuple[Entity, str, EntityRef]] = {}
    for entity in entities.values():
        for attr_map in (entity.attributes, entity.relationship_attributes):
            for key, value in attr_map.items():
                for ref in _refs_in(value):
                    guid = ref.guid
                    if guid not in entities and guid not in wanted:
                        wanted[guid] = (entity, key, ref)
    if not wanted:
        return
    missing = set(wanted) - _existing_guids(session, list(wanted))
    if missing:
        lines = [
            f"{wanted[g][0]}: attribute '{wanted[g][1]}' refers to {wanted[g][2]}, which is neither in this "
            "ingest nor in the catalog"
            for g in sorted(missing, key=lambda g: str(wanted[g][2]))
        ]
        raise ReferenceNotFound("\n".join(lines[:20]))


def _truncate(value: Any) -> Any:
    text = _dumps(value)
    return value if len(text) <= _AUDIT_VALUE_CHARS else text[:_AUDIT_VALUE_CHARS] + "…"


def _is_ref_list(value: Any) -> bool:
    return isinstance(value, list) and bool(value) and all(isinstance(v, Mapping) and "typeName" in v for v in value)


def upsert_batch(
    session: Session,
    batch: SourceBatch,
    registry: TypeRegistry,
    *,
    user: str,
    at: int | None = None,
) -> IngestResult:
    """Validate and write a batch: create new entities, update changed ones, skip the rest.

    Atlas update semantics: attributes absent from the batch keep their stored value;
    direct classifications are replaced per origin (the batch's source), so one source
    cannot remove another's tags. An unchanged batch writes nothing. Raises
    ``EntityValidationError`` (or ``UnknownTypeError``) before anything is written.
    """
    at = now_ms() if at is None else at
    source = batch.source
    entities = _dedupe(batch.entities)
    _validate(entities, registry)
    _check_references(session, entities)

    guids = list(entities)
    stored: dict[str, EntityRow] = {}
    for chunk in _chunks(guids):
        for row in session.execute(
            select(
                EntityRow.guid,
                EntityRow.attributes,
                EntityRow.relationship_attributes,
                EntityRow.content_hash,
                EntityRow.status,
                EntityRow.version,
            ).where(EntityRow.guid.in_(chunk))
        ):
            stored[row.guid] = row
    stored_tags: dict[str, list[ClassificationRow]] = {}
    if stored:
        existing = list(stored)
        for chunk in _chunks(existing):
            for row in session.scalars(
                select(ClassificationRow).where(
                    ClassificationRow.entity_guid.in_(chunk),
                    ClassificationRow.source_guid == ClassificationRow.entity_guid,
                )
            ):
                stored_tags.setdefault(row.entity_guid, []).append(row)

    result = IngestResult(findings=list(batch.findings))
    new_rows: list[dict[str, Any]] = []
    updates: list[dict[str, Any]] = []
    audits: list[dict[str, Any]] = []
    edge_processes: list[tuple[str, Entity]] = []
    replaced_edges: list[str] = []
    tag_rows: list[dict[str, Any]] = []
    tag_removals: list[tuple[str, str]] = []
    is_process = registry.is_process

    for guid, entity in entities.items():
        attrs = attributes_to_atlas(entity.attributes)
        rel_attrs = attributes_to_atlas(entity.relationship_attributes)
        tags = {
            c.type_name: (c.propagate, _dumps(dict(c.attributes))) for c in entity.classifications
        }
        old = stored.get(guid)
        if old is not None:
            old_attrs = json.loads(old.attributes)
            merged = {**old_attrs, **attrs}
            old_rel = json.loads(old.relationship_attributes)
            merged_rel = {**old_rel, **rel_attrs}
            kept = {r.type_name: (r.propagate, r.attributes) for r in stored_tags.get(guid, ()) if r.origin != source}
            mine = {r.type_name for r in stored_tags.get(guid, ()) if r.origin == source}
            all_tags = {**kept, **tags}
        else:
            old_attrs, old_rel, merged, merged_rel, all_tags, mine = {}, {}, attrs, rel_attrs, tags, set()
        attrs_text = _dumps(merged)
        rel_text = _dumps(merged_rel)
        digest = _hash(entity.type_name, entity.qualified_name, attrs_text, rel_text, all_tags, entity.status)
        if old is not None and old.content_hash == digest:
            result.unchanged += 1
            continue
        process = is_process(entity.type_name)
        name = merged.get("name")
        if old is None:
            new_rows.append(
                {
                    "guid": guid,
                    "type_name": entity.type_name,
                    "qualified_name": entity.qualified_name,
                    "name": str(name) if name is not None else None,
                    "is_process": process,
                    "status": entity.status,
                    "attributes": attrs_text,
                    "relationship_attributes": rel_text,
                    "content_hash": digest,
                    "version": 1,
                    "created_at": at,
                    "updated_at": at,
                    "created_by": user,
                    "updated_by": user,
                    "source": source,
                }
            )
            result.created.append(guid)
            detail: dict[str, Any] = {"attributes": sorted(merged), "hash": digest}
            if all_tags:
                detail["classifications"] = sorted(all_tags)
            audits.append(_audit(at, user, source, "ENTITY_CREATE", entity, detail))
            if process:
                edge_processes.append((guid, entity))
        else:
            changed = {
                key: [_truncate(old_attrs.get(key)), _truncate(merged.get(key))]
                for key in sorted(set(old_attrs) | set(merged))
                if old_attrs.get(key) != merged.get(key)
            }
            detail = {"changed": changed, "hash": digest}
            rel_changed = sorted(k for k in set(old_rel) | set(merged_rel) if old_rel.get(k) != merged_rel.get(k))
            if rel_changed:
                detail["relationshipAttributes"] = rel_changed
            if old.status != entity.status:
                detail["status"] = [old.status, entity.status]
            updates.append(
                {
                    "b_guid": guid,
                    "name": str(name) if name is not None else None,
                    "status": entity.status,
                    "attributes": attrs_text,
                    "relationship_attributes": rel_text,
                    "content_hash": digest,
                    "version": old.version + 1,
                    "updated_at": at,
                    "updated_by": user,
                    "source": source,
                }
            )
            result.updated.append(guid)
            if process and ("inputs" in changed or "outputs" in changed or old.status != entity.status):
                edge_processes.append((guid, entity))
                replaced_edges.append(guid)
            old_tags = {r.type_name: (r.propagate, r.attributes) for r in stored_tags.get(guid, ())}
            if old_tags != all_tags:
                detail["classifications"] = [sorted(old_tags), sorted(all_tags)]
            audits.append(_audit(at, user, source, "ENTITY_UPDATE", entity, detail))
            for type_name in mine - set(tags):
                tag_removals.append((guid, type_name))
        for type_name, (propagate, attr_json) in tags.items():
            tag_rows.append(
                {
                    "entity_guid": guid,
                    "type_name": type_name,
                    "source_guid": guid,
                    "propagate": propagate,
                    "attributes": attr_json,
                    "origin": source,
                }
            )

    if new_rows:
        session.execute(_insert(session, EntityRow.__table__), new_rows)
    if updates:
        table = EntityRow.__table__
        session.execute(
            update(table)
            .where(table.c.guid == _bind("b_guid"))
            .values(
                name=_bind("name"),
                status=_bind("status"),
                attributes=_bind("attributes"),
                relationship_attributes=_bind("relationship_attributes"),
                content_hash=_bind("content_hash"),
                version=_bind("version"),
                updated_at=_bind("updated_at"),
                updated_by=_bind("updated_by"),
                source=_bind("source"),
            ),
            updates,
            execution_options={"synchronize_session": False},
        )
    edges_changed = _write_edges(session, edge_processes, replaced_edges)
    tags_changed = _write_direct_tags(session, tag_rows, tag_removals)
    if audits:
        session.execute(AuditRow.__table__.insert(), audits)
    if edges_changed or tags_changed or any(u["status"] != ACTIVE for u in updates):
        added, removed = recompute_propagation(session, user=user, source=source, at=at)
        result.propagated_added, result.propagated_removed = added, removed
    return result


def _bind(name: str):
    return bindparam(name)


def _hash(type_name: str, qn: str, attrs_text: str, rel_text: str, tags: Mapping[str, Any], status: str) -> str:
    tag_text = _dumps(sorted([k, v[0], v[1]] for k, v in tags.items()))
    raw = "\x1f".join((type_name, qn, attrs_text, rel_text, tag_text, status))
    return hashlib.sha256(raw.encode()).hexdigest()


def _audit(at: int, user: str, source: str, action: str, entity: Entity, detail: Mapping[str, Any]) -> dict:
    return {
        "at": at,
        "user": user,
        "source": source,
        "action": action,
        "entity_guid": entity.guid,
        "type_name": entity.type_name,
        "qualified_name": entity.qualified_name,
        "detail": _dumps(detail),
    }


def _write_edges(session: Session, processes: list[tuple[str, Entity]], replaced: list[str]) -> bool:
    if not processes:
        return False
    for chunk in _chunks(replaced):
        session.execute(
            delete(EdgeRow).where(EdgeRow.to_guid.in_(chunk), EdgeRow.direction == INPUT_EDGE)
        )
        session.execute(
            delete(EdgeRow).where(EdgeRow.from_guid.in_(chunk), EdgeRow.direction == OUTPUT_EDGE)
        )
    rows: dict[tuple[str, str], dict[str, str]] = {}
    for guid, entity in processes:
        for ref in entity.inputs:
            rows[(ref.guid, guid)] = {
                "from_guid": ref.guid,
                "to_guid": guid,
                "direction": INPUT_EDGE,
                "relationship_guid": guid_for("dataset_process_inputs", f"{ref.guid}>{guid}"),
            }
        for ref in entity.outputs:
            rows[(guid, ref.guid)] = {
                "from_guid": guid,
                "to_guid": ref.guid,
                "direction": OUTPUT_EDGE,
                "relationship_guid": guid_for("process_dataset_outputs", f"{guid}>{ref.guid}"),
            }
    if rows:
        session.execute(_insert(session, EdgeRow.__table__), list(rows.values()))
    return True


def _write_direct_tags(session: Session, rows: list[dict[str, Any]], removals: list[tuple[str, str]]) -> bool:
    changed = False
    for guid, type_name in removals:
        session.execute(
            delete(ClassificationRow).where(
                ClassificationRow.entity_guid == guid,
                ClassificationRow.type_name == type_name,
                ClassificationRow.source_guid == guid,
            )
        )
        changed = True
    if rows:
        table = ClassificationRow.__table__
        keys = [(r["entity_guid"], r["type_name"]) for r in rows]
        existing: dict[tuple[str, str], tuple[bool, str]] = {}
        for chunk in _chunks(sorted({k[0] for k in keys})):
            for row in session.execute(
                select(table.c.entity_guid, table.c.type_name, table.c.propagate, table.c.attributes).where(
                    table.c.entity_guid.in_(chunk), table.c.source_guid == table.c.entity_guid
                )
            ):
                existing[(row.entity_guid, row.type_name)] = (row.propagate, row.attributes)
        fresh = [r for r in rows if (r["entity_guid"], r["type_name"]) not in existing]
        stale = [
            r
            for r in rows
            if (r["entity_guid"], r["type_name"]) in existing
            and existing[(r["entity_guid"], r["type_name"])] != (r["propagate"], r["attributes"])
        ]
        for r in stale:
            session.execute(
                update(table)
                .where(
                    table.c.entity_guid == r["entity_guid"],
                    table.c.type_name == r["type_name"],
                    table.c.source_guid == r["entity_guid"],
                )
                .values(propagate=r["propagate"], attributes=r["attributes"], origin=r["origin"])
            )
        if fresh:
            session.execute(_insert(session, table), fresh)
        changed = changed or bool(fresh or stale)
    return changed


# --------------------------------------------------------------------------- propagation


def recompute_propagation(session: Session, *, user: str, source: str, at: int | None = None) -> tuple[int, int]:
    """Bring propagated classifications in line with lineage, as Atlas propagates them.

    A direct classification with ``propagate`` on an ACTIVE entity flows along the
    data flow (dataset -> process, TWO_TO_ONE; process -> dataset, ONE_TO_TWO) to every
    ACTIVE entity downstream. Rows that no longer follow (edge gone, source deleted,
    propagate switched off) are removed. Returns (added, removed).
    """
    at = now_ms() if at is None else at
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
    wanted = {
        (row.node, row.tag, row.src)
        for row in session.execute(select(reach.c.src, reach.c.tag, reach.c.node).where(reach.c.node != reach.c.src))
    }
    have = {
        (row.entity_guid, row.type_name, row.source_guid): row
        for row in session.execute(
            select(c.c.entity_guid, c.c.type_name, c.c.source_guid).where(c.c.source_guid != c.c.entity_guid)
        )
    }
    add = sorted(wanted - set(have))
    remove = sorted(set(have) - wanted)
    if not add and not remove:
        return 0, 0
    involved = sorted({k[0] for k in add + remove} | {k[2] for k in add})
    info: dict[str, tuple[str, str]] = {}
    for chunk in _chunks(involved):
        for row in session.execute(select(e.c.guid, e.c.type_name, e.c.qualified_name).where(e.c.guid.in_(chunk))):
            info[row.guid] = (row.type_name, row.qualified_name)
    source_attrs: dict[tuple[str, str], str] = {}
    for chunk in _chunks(sorted({k[2] for k in add})):
        for row in session.execute(
            select(c.c.entity_guid, c.c.type_name, c.c.attributes).where(
                c.c.entity_guid.in_(chunk), c.c.source_guid == c.c.entity_guid
            )
        ):
            source_attrs[(row.entity_guid, row.type_name)] = row.attributes
    for guid, tag, src in remove:
        session.execute(
            delete(ClassificationRow).where(
                c.c.entity_guid == guid, c.c.type_name == tag, c.c.source_guid == src
            )
        )
    if add:
        session.execute(
            _insert(session, c),
            [
                {
                    "entity_guid": guid,
                    "type_name": tag,
                    "source_guid": src,
                    "propagate": True,
                    "attributes": source_attrs.get((src, tag), "{}"),
                    "origin": f"propagated:{src}",
                }
                for guid, tag, src in add
            ],
        )
    audits = []
    for action, keys in (("CLASSIFICATION_PROPAGATED_ADD", add), ("CLASSIFICATION_PROPAGATED_REMOVE", remove)):
        for guid, tag, src in keys:
            type_name, qn = info.get(guid, ("?", "?"))
            audits.append(
                {
                    "at": at,
                    "user": user,
                    "source": source,
                    "action": action,
                    "entity_guid": guid,
                    "type_name": type_name,
                    "qualified_name": qn,
                    "detail": _dumps({"classification": tag, "from": src, "fromName": info.get(src, ("?", "?"))[1]}),
                }
            )
    session.execute(AuditRow.__table__.insert(), audits)
    return len(add), len(remove)


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
            detail=_dumps({"status": [ACTIVE, DELETED]}),
        )
    )
    row.content_hash = "deleted:" + row.content_hash[:56]
    session.flush()
    recompute_propagation(session, user=user, source=source, at=at)
    return True


# --------------------------------------------------------------------------- findings and cursors


def replace_findings(
    session: Session,
    source: str,
    findings: Iterable[Finding],
    *,
    scope: Iterable[str] | None = None,
    at: int | None = None,
) -> int:
    """Make the stored findings of ``source`` about ``scope`` subjects equal to ``findings``.

    ``scope`` lists the subjects this run re-evaluated (None: all of the source's); a
    finding about a subject outside it stays. Returns the rows written (0 if unchanged).
    """
    at = now_ms() if at is None else at
    wanted = {(f.kind, f.subject): f for f in findings}
    subjects = None if scope is None else set(scope)
    have = {
        (row.kind, row.subject): row
        for row in session.scalars(select(FindingRow).where(FindingRow.source == source))
        if subjects is None or row.subject in subjects
    }
    writes = 0
    for key, row in have.items():
        if key not in wanted:
            session.delete(row)
            writes += 1
        elif row.message != wanted[key].message:
            row.message = wanted[key].message
            writes += 1
    for key, finding in wanted.items():
        if key not in have:
            session.add(FindingRow(source=source, kind=finding.kind, subject=finding.subject, message=finding.message, first_seen=at))
            writes += 1
    return writes


def list_findings(session: Session, source: str | None = None) -> list[StoredFinding]:
    query = select(FindingRow).order_by(FindingRow.source, FindingRow.kind, FindingRow.subject)
    if source is not None:
        query = query.where(FindingRow.source == source)
    return [StoredFinding(r.source, r.kind, r.subject, r.message, r.first_seen) for r in session.scalars(query)]


def get_cursor(session: Session, name: str) -> dict[str, Any] | None:
    row = session.get(CursorRow, name)
    return None if row is None else json.loads(row.value)


def set_cursor(session: Session, name: str, value: Mapping[str, Any], at: int | None = None) -> bool:
    """Store a cursor; returns False (and writes nothing) when it is unchanged."""
    text = _dumps(value)
    row = session.get(CursorRow, name)
    if row is not None and row.value == text:
        return False
    if row is None:
        session.add(CursorRow(name=name, value=text, updated_at=now_ms() if at is None else at))
    else:
        row.value = text
        row.updated_at = now_ms() if at is None else at
    return True


# --------------------------------------------------------------------------- reads

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
    for chunk in _chunks(guids):
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
    for chunk in _chunks(list(guids)):
        rows.extend(session.execute(select(*_ENTITY_COLUMNS).where(EntityRow.guid.in_(chunk))))
    tags = _tags_for(session, [r.guid for r in rows])
    return {e.guid: e for e in _stored(rows, tags)}


def get_entity(session: Session, guid: str) -> StoredEntity | None:
    return get_entities(session, [guid]).get(guid)


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


def count_entities(session: Session) -> int:
    return session.scalar(select(func.count()).select_from(EntityRow)) or 0


def audit_events(session: Session, guid: str | None = None, *, limit: int = 100) -> list[AuditEvent]:
    query = select(AuditRow).order_by(AuditRow.id.desc()).limit(limit)
    if guid is not None:
        query = query.where(AuditRow.entity_guid == guid)
    return [
        AuditEvent(r.id, r.at, r.user, r.source, r.action, r.entity_guid, r.type_name, r.qualified_name, json.loads(r.detail))
        for r in session.scalars(query)
    ]


# --------------------------------------------------------------------------- lineage


def _walk(session: Session, seeds: Sequence[str], first_depth: int, max_depth: int, upstream: bool) -> dict[str, int]:
    """Data sets reachable from ``seeds`` within ``max_depth`` data-set hops: guid -> depth.

    One hop is dataset -> process -> dataset against the data flow (upstream) or with
    it; only ACTIVE processes are crossed. Runs as one recursive CTE.
    """
    edge = EdgeRow.__table__
    entity = EntityRow.__table__
    near, far = (edge.c.to_guid, edge.c.from_guid) if upstream else (edge.c.from_guid, edge.c.to_guid)
    e1 = edge.alias("e1")
    e2 = edge.alias("e2")
    p = entity.alias("p")
    near1, far1 = (e1.c.to_guid, e1.c.from_guid) if upstream else (e1.c.from_guid, e1.c.to_guid)
    near2, far2 = (e2.c.to_guid, e2.c.from_guid) if upstream else (e2.c.from_guid, e2.c.to_guid)
    del near, far
    seed = (
        select(entity.c.guid.label("guid"), literal(first_depth).label("depth"))
        .where(entity.c.guid.in_(list(seeds)))
        .cte("walk", recursive=True)
    )
    step = (
        select(far2.label("guid"), (seed.c.depth + 1).label("depth"))
        .select_from(seed)
        .join(e1, near1 == seed.c.guid)
        .join(p, and_(p.c.guid == far1, p.c.status == ACTIVE))
        .join(e2, near2 == far1)
        .where(seed.c.depth < max_depth)
    )
    walk = seed.union(step)
    depths: dict[str, int] = {}
    for guid, depth in session.execute(select(walk.c.guid, func.min(walk.c.depth)).group_by(walk.c.guid)):
        depths[guid] = depth
    return depths


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
    """
    from catalog.errors import NotFound

    direction = direction.upper()
    if direction not in ("INPUT", "OUTPUT", "BOTH"):
        raise ValueError(f"direction must be INPUT, OUTPUT or BOTH, got {direction!r}")
    if depth < 0:
        raise ValueError(f"depth must be 0 (unlimited) or positive, got {depth}")
    limit = max_depth if depth == 0 else min(depth, max_depth)
    base = session.execute(select(EntityRow.guid, EntityRow.is_process).where(EntityRow.guid == guid)).first()
    if base is None:
        raise NotFound(f"no entity with guid {guid}")
    edge = EdgeRow.__table__
    relations: dict[tuple[str, str], LineageRelation] = {}
    nodes: set[str] = {guid}
    for upstream in ([True] if direction == "INPUT" else [False] if direction == "OUTPUT" else [True, False]):
        near, far = (edge.c.to_guid, edge.c.from_guid) if upstream else (edge.c.from_guid, edge.c.to_guid)
        if base.is_process:
            first = list(session.execute(select(edge).where(near == guid)))
            for row in first:
                relations[(row.from_guid, row.to_guid)] = LineageRelation(row.from_guid, row.to_guid, row.relationship_guid)
            seeds = [row.from_guid if upstream else row.to_guid for row in first]
            depths = _walk(session, seeds, 1, limit, upstream) if seeds and limit >= 1 else {}
        else:
            depths = _walk(session, [guid], 0, limit, upstream)
        nodes.update(depths)
        inner = sorted(g for g, d in depths.items() if d < limit)
        processes: set[str] = set()
        for chunk in _chunks(inner):
            for row in session.execute(select(edge).where(near.in_(chunk))):
                relations[(row.from_guid, row.to_guid)] = LineageRelation(row.from_guid, row.to_guid, row.relationship_guid)
                processes.add(row.from_guid if upstream else row.to_guid)
        for chunk in _chunks(sorted(processes)):
            for row in session.execute(select(edge).where(near.in_(chunk))):
                relations[(row.from_guid, row.to_guid)] = LineageRelation(row.from_guid, row.to_guid, row.relationship_guid)
        nodes.update(processes)
    entities = get_entities(session, sorted(nodes | {g for r in relations.values() for g in (r.from_guid, r.to_guid)}))
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


def _is_proc(entity: StoredEntity, registry: TypeRegistry | None) -> bool:
    if registry is None:
        return "inputs" in entity.attributes or "outputs" in entity.attributes
    return registry.is_process(entity.type_name)
