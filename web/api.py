"""The catalog's own JSON API: health and lineage by any reference."""

from __future__ import annotations

from flask import Blueprint, Flask, current_app, jsonify, request

from catalog.atlas import lineage_to_atlas
from catalog.service import Catalog
from web.errors import BAD_REQUEST, INSTANCE_LINEAGE_INVALID_PARAMS, ApiError

bp = Blueprint("api", __name__, url_prefix="/api/v1")

DIRECTIONS = ("INPUT", "OUTPUT", "BOTH")


def _catalog() -> Catalog:
    return current_app.extensions["catalog"]


def lineage_args() -> tuple[str, int]:
    """``direction`` and ``depth`` of a lineage request, as Atlas takes them (400 if malformed)."""
    direction = request.args.get("direction", "BOTH").upper()
    if direction not in DIRECTIONS:
        raise ApiError(400, INSTANCE_LINEAGE_INVALID_PARAMS,
                       f"direction must be INPUT, OUTPUT or BOTH, got {direction!r}")
    raw = request.args.get("depth", "3")
    if not (raw.isascii() and raw.isdigit()):
        raise ApiError(400, INSTANCE_LINEAGE_INVALID_PARAMS, f"depth must be a non-negative integer, got {raw!r}")
    return direction, int(raw)


@bp.get("/lineage")
def lineage():
    """AtlasLineageInfo around ``ref`` (qualifiedName, guid, models:/..., runs:/...)."""
    ref = request.args.get("ref", "")
    if not ref:
        raise ApiError(400, BAD_REQUEST, "query parameter 'ref' is required")
    direction, depth = lineage_args()
    graph = _catalog().lineage(ref, direction=direction, depth=depth)
    return jsonify(lineage_to_atlas(graph))


def healthz():
    from sqlalchemy import text

    with _catalog().session() as session:
        session.execute(text("SELECT 1"))
    return jsonify({"status": "ok"})


def init_app(app: Flask) -> None:
    app.add_url_rule("/healthz", "healthz", healthz)
    app.register_blueprint(bp)
