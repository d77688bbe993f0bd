"""The store's write side: validated, idempotent upserts with edges, tags and audit.

Entities are keyed by (typeName, qualifiedName) through a deterministic guid;
Process inputs/outputs become indexed edges oriented along the data flow; every
change appends an audit event. Functions take a ``Session``; the caller owns the
transaction (``with session.begin(): ...``).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from sqlalchemy import bindparam, delete, select, update
from sqlalchemy.orm import Session

from catalog.atlas import attributes_to_atlas
from catalog.errors import (
    CatalogError,
    EntityValidationError,
    ReferenceNotFound,
    UnknownTypeError,
)
from catalog.model import (
    ACTIVE,
    DELETED,
    Entity,
    EntityRef,
    Finding,
    SourceBatch,
    guid_for,
)
from catalog.store.graph import recompute_propagation, write_direct_classifications
from catalog.store.schema import (
    INPUT_EDGE,
    OUTPUT_EDGE,
    AuditRow,
    ClassificationRow,
    EdgeRow,
    EntityRow,
    chunks,
    dumps,
    insert_ignoring_conflicts,
    now_ms,
)

if TYPE_CHECKING:
    from catalog.types.registry import TypeRegistry

__all__ = ["IngestResult", "upsert_batch", "delete_entity"]

# Audit details keep values short: the audit says what changed, the entity holds the value.
_AUDIT_VALUE_CHARS = 300
_MAX_REPORTED = 20


@dataclass
class IngestResult:
    """What one upsert changed; all lists hold guids."""

    created: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    unchanged: int = 0
    propagated_added: int = 0
    propagated_removed: int = 0
    findings: list[Finding] = field(default_factory=list)
    #: Edges, direct tags or a status changed: propagated tags are due for a recompute.
    lineage_changed: bool = False

    @property
    def changed(self) -> bool:
        return bool(self.created or self.updated or self.propagated_added or self.propagated_removed)

    def summary(self) -> str:
        return (
            f"{len(self.created)} created, {len(self.updated)} updated, {self.unchanged} unchanged, "
            f"{self.propagated_added} tags propagated, {self.propagated_removed} propagated tags removed, "
            f"{len(self.findings)} findings"
        )


def _refs_in(value: Any) -> Iterator[EntityRef]:
    """References held by an attribute value: a reference or a list of them (Atlas's shapes).

    Maps and nested structures are not searched: Atlas attributes refer to entities only
    as ``T`` or ``array<T>``, and params/metrics maps can be large.
    """
    if isinstance(value, EntityRef):
        yield value
    elif isinstance(value, (list, tuple)):
        for item in value:
            if isinstance(item, EntityRef):
                yield item


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
    """Validate every entity; one error is raised as is, several as one combined message."""
    errors: list[CatalogError] = []
    for entity in entities.values():
        try:
            registry.validate(entity)
        except (EntityValidationError, UnknownTypeError) as exc:
            errors.append(exc)
        if len(errors) >= _MAX_REPORTED:
            break
    if len(errors) == 1:
        raise errors[0]
    if errors:
        more = "\n(stopped after the first errors)" if len(errors) >= _MAX_REPORTED else ""
        messages = "\n".join(_message(e) for e in errors)
        raise EntityValidationError(f"{len(errors)} invalid entities:\n{messages}{more}")


def _message(exc: Exception) -> str:
    return str(exc.args[0]) if exc.args else str(exc)


def _existing_guids(session: Session, guids: Sequence[str]) -> set[str]:
    found: set[str] = set()
    for chunk in chunks(guids):
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
    text = dumps(value)
    return value if len(text) <= _AUDIT_VALUE_CHARS else text[:_AUDIT_VALUE_CHARS] + "…"


def upsert_batch(
    session: Session,
    batch: SourceBatch,
    registry: TypeRegistry,
    *,
    user: str,
    at: int | None = None,
    recompute_tags: bool = True,
) -> IngestResult:
    """Validate and write a batch: create new entities, update changed ones, skip the rest.

    ``recompute_tags=False`` leaves the propagated-tag recompute to the caller, which writes
    several batches in one transaction and recomputes once at the end.

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
    for chunk in chunks(guids):
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
        for chunk in chunks(existing):
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
            c.type_name: (c.propagate, dumps(dict(c.attributes))) for c in entity.classifications
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
        attrs_text = dumps(merged)
        rel_text = dumps(merged_rel)
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
        session.execute(insert_ignoring_conflicts(session, EntityRow.__table__), new_rows)
    if updates:
        table = EntityRow.__table__
        session.execute(
            update(table)
            .where(table.c.guid == bindparam("b_guid"))
            .values(
                name=bindparam("name"),
                status=bindparam("status"),
                attributes=bindparam("attributes"),
                relationship_attributes=bindparam("relationship_attributes"),
                content_hash=bindparam("content_hash"),
                version=bindparam("version"),
                updated_at=bindparam("updated_at"),
                updated_by=bindparam("updated_by"),
                source=bindparam("source"),
            ),
            updates,
            execution_options={"synchronize_session": False},
        )
    edges_changed = _write_edges(session, edge_processes, replaced_edges)
    tags_changed = write_direct_classifications(session, tag_rows, tag_removals)
    if audits:
        session.execute(AuditRow.__table__.insert(), audits)
    result.lineage_changed = edges_changed or tags_changed or any(u["status"] != ACTIVE for u in updates)
    if recompute_tags and result.lineage_changed:
        added, removed = recompute_propagation(session, user=user, source=source, at=at)
        result.propagated_added, result.propagated_removed = added, removed
    return result


def _hash(type_name: str, qn: str, attrs_text: str, rel_text: str, tags: Mapping[str, Any], status: str) -> str:
    tag_text = dumps(sorted([k, v[0], v[1]] for k, v in tags.items()))
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
        "detail": dumps(detail),
    }


def _write_edges(session: Session, processes: list[tuple[str, Entity]], replaced: list[str]) -> bool:
    if not processes:
        return False
    for chunk in chunks(replaced):
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
        session.execute(insert_ignoring_conflicts(session, EdgeRow.__table__), list(rows.values()))
    return True


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
            detail=dumps({"status": [ACTIVE, DELETED]}),
        )
    )
    # The stored hash described the ACTIVE entity; make it differ so re-ingesting that
    # same content counts as a change and reactivates the entity.
    row.content_hash = "deleted:" + row.content_hash[:56]
    session.flush()
    recompute_propagation(session, user=user, source=source, at=at)
    return True
