"""Atlas's related objects: how an entity's relationship ends look in its JSON.

``AtlasRelatedObjectId`` is an ``AtlasObjectId`` (guid, typeName, uniqueAttributes)
with the related entity's status and display text and the relationship's type, guid
and status. The catalog's relationship guids are derived from the relationship type
and its two ends, so they are stable across reads and catalogs. Pure functions over
``catalog.model`` values.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from catalog.model import EntityHeader, StoredEntity, guid_for

__all__ = ["relationship_guid", "related_object", "with_guids"]


def relationship_guid(relationship_type: str, end1_guid: str, end2_guid: str) -> str:
    """The stable guid of the ``relationship_type`` relationship from end 1 to end 2.

    The lineage edges the store writes use the same rule (``dataset_process_inputs``:
    dataset > process; ``process_dataset_outputs``: process > dataset).
    """
    return guid_for(relationship_type, f"{end1_guid}>{end2_guid}")


def related_object(
    entity: StoredEntity | EntityHeader, relationship_type: str, relationship_guid_: str, status: str = "ACTIVE"
) -> dict[str, Any]:
    """``AtlasRelatedObjectId`` JSON of ``entity`` at the end of one relationship."""
    return {
        "guid": entity.guid,
        "typeName": entity.type_name,
        "uniqueAttributes": {"qualifiedName": entity.qualified_name},
        "entityStatus": entity.status,
        "displayText": entity.name,
        "relationshipType": relationship_type,
        "relationshipGuid": relationship_guid_,
        "relationshipStatus": status,
        "relationshipAttributes": {"typeName": relationship_type, "attributes": {}},
    }


def with_guids(value: Any) -> Any:
    """Attribute JSON with every ``AtlasObjectId`` by unique attributes given its guid as well."""
    if isinstance(value, list):
        return [with_guids(v) for v in value]
    if isinstance(value, Mapping):
        unique = value.get("uniqueAttributes")
        if isinstance(unique, Mapping) and isinstance(value.get("typeName"), str) and "guid" not in value:
            qualified_name = unique.get("qualifiedName")
            if isinstance(qualified_name, str):
                return {"guid": guid_for(value["typeName"], qualified_name), **value}
        return value
    return value
