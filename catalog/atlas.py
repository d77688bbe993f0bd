"""The Atlas seam's one JSON serialiser: entities and lineage in Atlas v2 REST shapes.

Every Atlas-shaped JSON the catalog emits (REST API, CLI ``--format json``, push to a
real Atlas) comes from these functions, so the shapes cannot drift apart.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from catalog.model import (
    Classification,
    Entity,
    EntityRef,
    LineageGraph,
    StoredEntity,
)

__all__ = [
    "object_id",
    "attributes_to_atlas",
    "ref_from_atlas",
    "attributes_from_atlas",
    "entity_to_atlas",
    "entity_from_atlas",
    "stored_entity_to_atlas",
    "stored_to_entity",
    "entity_header",
    "lineage_to_atlas",
]

HEADER_ATTRIBUTES = ("qualifiedName", "name", "description", "owner", "createTime")


def object_id(ref: EntityRef) -> dict[str, Any]:
    """Atlas ``AtlasObjectId`` by unique attribute (how Atlas refers to entities it may not have)."""
    return {"typeName": ref.type_name, "uniqueAttributes": {"qualifiedName": ref.qualified_name}}


def _to_atlas(value: Any) -> Any:
    if isinstance(value, EntityRef):
        return object_id(value)
    if isinstance(value, Mapping):
        return {str(k): _to_atlas(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_to_atlas(v) for v in value]
    if isinstance(value, (set, frozenset)):
        return [_to_atlas(v) for v in sorted(value, key=str)]
    return value


def attributes_to_atlas(attributes: Mapping[str, Any]) -> dict[str, Any]:
    return {k: _to_atlas(v) for k, v in attributes.items()}


def ref_from_atlas(value: Any) -> EntityRef | None:
    """An ``AtlasObjectId`` dict (by unique attributes) back to an ``EntityRef``; else None."""
    if isinstance(value, Mapping) and "typeName" in value:
        unique = value.get("uniqueAttributes")
        if isinstance(unique, Mapping) and "qualifiedName" in unique:
            return EntityRef(str(value["typeName"]), str(unique["qualifiedName"]))
    return None


def _from_atlas(value: Any) -> Any:
    ref = ref_from_atlas(value)
    if ref is not None:
        return ref
    if isinstance(value, list):
        return [_from_atlas(v) for v in value]
    return value


def attributes_from_atlas(attributes: Mapping[str, Any]) -> dict[str, Any]:
    return {k: _from_atlas(v) for k, v in attributes.items()}


def _classification_json(type_name: str, entity_guid: str, attributes: Mapping[str, Any], propagate: bool) -> dict:
    return {
        "typeName": type_name,
        "attributes": dict(attributes),
        "entityGuid": entity_guid,
        "entityStatus": "ACTIVE",
        "propagate": propagate,
        "removePropagationsOnEntityDelete": True,
    }


def entity_to_atlas(entity: Entity) -> dict[str, Any]:
    """An ingest ``Entity`` as Atlas ``AtlasEntity`` JSON (the body a real Atlas accepts)."""
    attributes = attributes_to_atlas(entity.attributes)
    attributes["qualifiedName"] = entity.qualified_name
    body: dict[str, Any] = {
        "typeName": entity.type_name,
        "guid": entity.guid,
        "attributes": attributes,
        "status": entity.status,
    }
    if entity.relationship_attributes:
        body["relationshipAttributes"] = attributes_to_atlas(entity.relationship_attributes)
    if entity.classifications:
        body["classifications"] = [
            _classification_json(c.type_name, entity.guid, c.attributes, c.propagate) for c in entity.classifications
        ]
    return body


def entity_from_atlas(body: Mapping[str, Any]) -> Entity:
    """Atlas ``AtlasEntity`` JSON to an ingest ``Entity`` (references by unique attributes)."""
    attributes = dict(body.get("attributes") or {})
    qualified_name = attributes.pop("qualifiedName", None)
    if not qualified_name:
        raise ValueError(f"{body.get('typeName', '?')} entity has no attributes.qualifiedName")
    return Entity(
        type_name=str(body["typeName"]),
        qualified_name=str(qualified_name),
        attributes=attributes_from_atlas(attributes),
        relationship_attributes=attributes_from_atlas(body.get("relationshipAttributes") or {}),
        classifications=[
            Classification(c["typeName"], dict(c.get("attributes") or {}), bool(c.get("propagate", True)))
            for c in body.get("classifications") or []
        ],
        status=str(body.get("status") or "ACTIVE"),
    )


def stored_to_entity(entity: StoredEntity) -> Entity:
    """A stored entity back to an ingest ``Entity`` (attributes and relationships, no tags).

    Classifications are left out: an upsert replaces only the direct tags of its own
    source, so re-emitting an entity this way never removes another source's tags.
    """
    return Entity(
        type_name=entity.type_name,
        qualified_name=entity.qualified_name,
        attributes=attributes_from_atlas(entity.attributes),
        relationship_attributes=attributes_from_atlas(entity.relationship_attributes),
        status=entity.status,
    )


def stored_entity_to_atlas(entity: StoredEntity) -> dict[str, Any]:
    """A stored entity as Atlas ``AtlasEntity`` JSON, with audit fields and classifications."""
    attributes = dict(entity.attributes)
    attributes["qualifiedName"] = entity.qualified_name
    return {
        "typeName": entity.type_name,
        "guid": entity.guid,
        "status": entity.status,
        "version": entity.version,
        "createdBy": entity.created_by,
        "updatedBy": entity.updated_by,
        "createTime": entity.created_at,
        "updateTime": entity.updated_at,
        "attributes": attributes,
        "relationshipAttributes": dict(entity.relationship_attributes),
        "classifications": [
            {
                **_classification_json(c.type_name, c.source_guid, c.attributes, c.propagate),
                "entityGuid": c.source_guid,
            }
            for c in entity.classifications
        ],
        "labels": [],
    }


def entity_header(entity: StoredEntity) -> dict[str, Any]:
    """Atlas ``AtlasEntityHeader``: what lineage and search answers carry per entity."""
    attributes = {k: entity.attributes[k] for k in HEADER_ATTRIBUTES if k in entity.attributes}
    attributes["qualifiedName"] = entity.qualified_name
    names = sorted({c.type_name for c in entity.classifications})
    return {
        "typeName": entity.type_name,
        "attributes": attributes,
        "guid": entity.guid,
        "status": entity.status,
        "displayText": entity.name,
        "classificationNames": names,
        "meaningNames": [],
        "meanings": [],
        "isIncomplete": False,
        "labels": [],
    }


def lineage_to_atlas(graph: LineageGraph) -> dict[str, Any]:
    """``AtlasLineageInfo`` JSON, as ``GET /api/atlas/v2/lineage/{guid}`` returns it."""
    return {
        "baseEntityGuid": graph.base_guid,
        "lineageDirection": graph.direction,
        "lineageDepth": graph.depth,
        "guidEntityMap": {guid: entity_header(e) for guid, e in graph.entities.items()},
        "relations": [
            {"fromEntityId": r.from_guid, "toEntityId": r.to_guid, "relationshipId": r.relationship_guid}
            for r in graph.relations
        ],
        "relationsOnDemand": {},
    }
