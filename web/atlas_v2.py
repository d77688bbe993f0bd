"""Atlas's v2 REST API over the catalog store (read side: entities, lineage, typedefs)."""

from __future__ import annotations

from flask import Blueprint, Flask, abort, current_app, jsonify, request

from catalog.atlas import lineage_to_atlas, stored_entity_to_atlas
from catalog.errors import NotFound
from catalog.service import Catalog

bp = Blueprint("atlas_v2", __name__, url_prefix="/api/atlas/v2")


def _catalog() -> Catalog:
    return current_app.extensions["catalog"]


@bp.get("/lineage/<guid>")
def lineage(guid: str):
    """``GET /api/atlas/v2/lineage/{guid}?direction=INPUT|OUTPUT|BOTH&depth=3``."""
    direction = request.args.get("direction", "BOTH").upper()
    if direction not in ("INPUT", "OUTPUT", "BOTH"):
        abort(400, f"direction must be INPUT, OUTPUT or BOTH, got {direction!r}")
    raw = request.args.get("depth", "3")
    if not raw.isdigit():
        abort(400, f"depth must be a non-negative integer, got {raw!r}")
    return jsonify(lineage_to_atlas(_catalog().lineage(guid, direction=direction, depth=int(raw))))


@bp.get("/entity/guid/<guid>")
def entity(guid: str):
    found = _catalog().resolve(guid)
    if found.guid != guid:
        raise NotFound(f"no entity with guid {guid}")
    return jsonify({"entity": stored_entity_to_atlas(found), "referredEntities": {}})


@bp.get("/types/typedefs")
def typedefs():
    return jsonify(_catalog().registry.to_typesdef())


def init_app(app: Flask) -> None:
    app.register_blueprint(bp)
