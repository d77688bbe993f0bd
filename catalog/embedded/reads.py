"""Entity reads as Atlas answers them: relationship attributes, referred entities, headers, audit.

``relationshipAttributes`` are filled from the store: a process's ``inputs`` and
``outputs`` and a data set's ``inputToProcesses`` / ``outputFromProcesses`` from the
lineage edges (with the edges' relationship guids); the other ends a type declares
(``db``, ``columns``, ``project``, ...) from what the entity holds. Ends held only by
the entity at the other side (``hive_db.tables``) are not listed: the store keeps
each relationship on the entity that declared it (docs/atlas.md).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from sqlalchemy import bindparam, or_, select
from sqlalchemy.orm import Session

from catalog import store
from catalog.atlas import stored_entity_to_atlas
from catalog.atlas.relations import related_object, relationship_guid, with_guids
from catalog.canonical import canonical_json
from catalog.model import EntityHeader, StoredEntity, guid_for
from catalog.store.queries import CursorStatement
from catalog.store.schema import INPUT_EDGE, OUTPUT_EDGE, EdgeRow

if TYPE_CHECKING:
    from catalog.types.registry import TypeRegistry

__all__ = ["entity_json", "entities_json", "AUDIT_ACTIONS", "audit_json"]

#: The lineage relationships and the end names of each side (process end, data set end).
_LINEAGE = {
    "dataset_process_inputs": ("inputs", "inputToProcesses"),
    "process_dataset_outputs": ("outputs", "outputFromProcesses"),
}


_EDGES_OF = CursorStatement(lambda _dialect: select(
    EdgeRow.from_guid, EdgeRow.to_guid, EdgeRow.direction, EdgeRow.relationship_guid,
).where(or_(EdgeRow.from_guid == bindparam("guid"), EdgeRow.to_guid == bindparam("guid"))))


def _lineage_ends(session: Session, guid: str) -> dict[str, list[tuple[str, str]]]:
    """End name -> [(related guid, relationship guid)] from the lineage edges touching ``guid``."""
    ends: dict[str, list[tuple[str, str]]] = {}
    for src, dst, direction, rel in _EDGES_OF.rows(session, {"guid": guid}):
        if direction == INPUT_EDGE:  # dataset -> process
            name, other = ("inputs", src) if dst == guid else ("inputToProcesses", dst)
        elif direction == OUTPUT_EDGE:  # process -> dataset
            name, other = ("outputs", dst) if src == guid else ("outputFromProcesses", src)
        else:
            continue
        ends.setdefault(name, []).append((other, rel))
    return ends


def _ref_guids(value: Any) -> list[str]:
    items = value if isinstance(value, list) else [value]
    found = []
    for item in items:
        if isinstance(item, Mapping) and isinstance(item.get("typeName"), str):
            unique = item.get("uniqueAttributes")
            if isinstance(unique, Mapping) and isinstance(unique.get("qualifiedName"), str):
                found.append(guid_for(item["typeName"], unique["qualifiedName"]))
    return found


def _declared_ends(entity: StoredEntity, registry: TypeRegistry) -> dict[str, tuple[str, str, list[str]]]:
    """Non-lineage end name -> (relationship type, cardinality, related guids) the entity holds."""
    found = {}
    for name, (rel_type, _other, cardinality) in registry.relationship_ends(entity.type_name).items():
        if rel_type in _LINEAGE:
            continue
        value = entity.relationship_attributes.get(name, entity.attributes.get(name))
        if value is not None:
            found[name] = (rel_type, cardinality, _ref_guids(value))
    return found


def _relationship_attributes(
    session: Session, entity: StoredEntity, registry: TypeRegistry
) -> tuple[dict[str, Any], list[str]]:
    """The entity's ``relationshipAttributes``, and the guids of the non-lineage related entities."""
    ends = registry.relationship_ends(entity.type_name)
    lineage = _lineage_ends(session, entity.guid)
    declared = _declared_ends(entity, registry)
    wanted = [g for pairs in lineage.values() for g, _ in pairs] + [g for _, _, gs in declared.values() for g in gs]
    headers = store.get_headers(session, wanted)
    result: dict[str, Any] = {}
    for name, (rel_type, _other, cardinality) in sorted(ends.items()):
        if rel_type in _LINEAGE:
            result[name] = [related_object(headers[g], rel_type, rel) for g, rel in lineage.get(name, []) if g in headers]
            continue
        rel_type, cardinality, guids = declared.get(name, (rel_type, cardinality, []))
        objects = [related_object(headers[g], rel_type, _declared_guid(registry, rel_type, entity, headers[g]))
                   for g in guids if g in headers]
        result[name] = objects if cardinality in ("SET", "LIST") else (objects[0] if objects else None)
    return result, [g for _, _, gs in declared.values() for g in gs]


def _declared_guid(registry: TypeRegistry, rel_type: str, entity: StoredEntity, other: EntityHeader) -> str:
    """Relationship guid with the ends in the relationshipDef's order (end 1 first)."""
    end1 = registry.relationship_def(rel_type).get("endDef1", {}).get("type", "")
    first_is_me = registry.is_a(entity.type_name, end1) if end1 else True
    return relationship_guid(rel_type, *((entity.guid, other.guid) if first_is_me else (other.guid, entity.guid)))


def _entity_body(session: Session, entity: StoredEntity, registry: TypeRegistry,
                 ignore_relationships: bool) -> tuple[dict[str, Any], list[str]]:
    body = stored_entity_to_atlas(entity)
    body["attributes"] = {k: with_guids(v) for k, v in body["attributes"].items()}
    referred: list[str] = []
    if ignore_relationships:
        body.pop("relationshipAttributes", None)
    else:
        body["relationshipAttributes"], referred = _relationship_attributes(session, entity, registry)
    return body, referred


def entities_json(
    session: Session, entities: Sequence[StoredEntity], registry: TypeRegistry, *,
    min_ext_info: bool = False, ignore_relationships: bool = False,
) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """AtlasEntity bodies of ``entities`` and their ``referredEntities`` (unless ``min_ext_info``)."""
    bodies, referred = [], []
    for entity in entities:
        body, more = _entity_body(session, entity, registry, ignore_relationships)
        bodies.append(body)
        referred.extend(more)
    mine = {e.guid for e in entities}
    extra: dict[str, Any] = {}
    if not min_ext_info:
        wanted = [g for g in dict.fromkeys(referred) if g not in mine]
        for guid, other in store.get_entities(session, wanted).items():
            extra[guid] = _entity_body(session, other, registry, True)[0]
    return bodies, extra


def entity_json(session: Session, entity: StoredEntity, registry: TypeRegistry, **options: bool) -> dict[str, Any]:
    """``AtlasEntityWithExtInfo`` of one entity."""
    bodies, referred = entities_json(session, [entity], registry, **options)
    return {"entity": bodies[0], "referredEntities": referred}


#: The catalog's audit actions under Atlas's ``EntityAuditActionV2`` names.
AUDIT_ACTIONS = {
    "CLASSIFICATION_PROPAGATED_ADD": "PROPAGATED_CLASSIFICATION_ADD",
    "CLASSIFICATION_PROPAGATED_REMOVE": "PROPAGATED_CLASSIFICATION_DELETE",
}
_AUDIT_PREFIX = {"ENTITY_CREATE": "Created", "ENTITY_UPDATE": "Updated", "ENTITY_DELETE": "Deleted",
                 "ENTITY_PURGE": "Purged", "CLASSIFICATION_ADD": "Added classification",
                 "CLASSIFICATION_UPDATE": "Updated classification", "CLASSIFICATION_DELETE": "Deleted classification"}


def audit_json(events: Iterable[store.AuditEvent]) -> list[dict[str, Any]]:
    """``EntityAuditEventV2`` list (newest first), from the catalog's audit log."""
    result = []
    for event in events:
        action = AUDIT_ACTIONS.get(event.action, event.action)
        prefix = _AUDIT_PREFIX.get(event.action, action.replace("_", " ").capitalize())
        result.append({
            "entityId": event.entity_guid,
            "timestamp": event.at,
            "user": event.user,
            "action": action,
            "details": f"{prefix}: {canonical_json(event.detail)}",
            "eventKey": f"{event.entity_guid}:{event.at}:{event.id}",
            "entity": None,
            "type": "ENTITY_AUDIT_V2",
            "source": event.source,
        })
    return result
