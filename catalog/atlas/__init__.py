"""The Atlas seam: Atlas's JSON shapes (``json``), and later the client and the push.

``catalog.atlas.json`` is the bottom layer every other layer uses to speak Atlas;
its names are re-exported here (``from catalog.atlas import lineage_to_atlas``).
"""

from __future__ import annotations

from catalog.atlas.json import (
    attributes_from_atlas,
    attributes_to_atlas,
    entities_from_atlas,
    entities_with_ext_info,
    entity_from_atlas,
    entity_header,
    entity_to_atlas,
    entity_with_ext_info,
    header_json,
    incoming_digest,
    incoming_digests,
    lineage_to_atlas,
    object_id,
    ref_from_atlas,
    stored_entity_to_atlas,
    stored_to_entity,
    typesdef_to_atlas,
)

__all__ = [
    "attributes_from_atlas",
    "attributes_to_atlas",
    "entities_from_atlas",
    "entities_with_ext_info",
    "entity_from_atlas",
    "entity_header",
    "entity_to_atlas",
    "entity_with_ext_info",
    "header_json",
    "incoming_digest",
    "incoming_digests",
    "lineage_to_atlas",
    "object_id",
    "ref_from_atlas",
    "stored_entity_to_atlas",
    "stored_to_entity",
    "typesdef_to_atlas",
]
