"""Atlas's v2 REST API over the catalog store (read side: entities, lineage, typedefs)."""

from __future__ import annotations

from flask import Blueprint, Flask, current_app, jsonify

from catalog.atlas import lineage_to_atlas, stored_entity_to_atlas
from catalog import refs
from catalog.errors import NotFound
from catalog.model import StoredEntity
from catalog.service import Catalog
from web.api import lineage_args
from web.errors import INSTANCE_GUID_NOT_FOUND, ApiError

bp = Blueprint("atlas_v2", __name__, url_prefix="/api/atlas/v2")


def _catalog() -> Catalog:
    return current_app.extensions["catalog"]


def _guid_not_found(guid: str) -> ApiError:
    return ApiError(404, INSTANCE_GUID_NOT_FOUND, f"Given instance guid {guid} is invalid/not found")


def _by_guid(guid: str) -> StoredEntity:
    """The entity with ``guid``; Atlas's 404 for anything else (the catalog's own refs are not guids here)."""
    if not refs.is_guid(guid.lower()):
        raise _guid_not_found(guid)
    try:
        found = _catalog().resolve(guid)
    except NotFound:
        raise _guid_not_found(guid) from None
    if found.guid != guid.lower():
        raise _guid_not_found(guid)
    return found


@bp.get("/lineage/<guid>")
def lineage(guid: str):
    """``GET /api/atlas/v2/lineage/{guid}?direction=INPUT|OUTPUT|BOTH&depth=3``."""
    direction, depth = lineage_args()
    base = _by_guid(guid)
    return jsonify(lineage_to_atlas(_catalog().lineage(base.guid, direction=direction, depth=depth)))


@bp.get("/entity/guid/<guid>")
def entity(guid: str):
    """``GET /api/atlas/v2/entity/guid/{guid}``: AtlasEntityWithExtInfo."""
    return jsonify({"entity": stored_entity_to_atlas(_by_guid(guid)), "referredEntities": {}})


@bp.get("/types/typedefs")
def typedefs():
    """``GET /api/atlas/v2/types/typedefs``: every typedef, as AtlasTypesDef."""
    return jsonify(_catalog().registry.to_typesdef())


def init_app(app: Flask) -> None:
    app.register_blueprint(bp)
