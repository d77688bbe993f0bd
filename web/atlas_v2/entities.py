"""Entities: read, upsert, partial update and delete, by guid and by unique attribute."""

from __future__ import annotations

from flask import jsonify

from catalog.atlas import stored_entity_to_atlas
from web.atlas_v2.common import bp, by_guid


@bp.get("/entity/guid/<guid>", strict_slashes=False)
def entity(guid: str):
    """``GET /api/atlas/v2/entity/guid/{guid}``: AtlasEntityWithExtInfo."""
    return jsonify({"entity": stored_entity_to_atlas(by_guid(guid)), "referredEntities": {}})
