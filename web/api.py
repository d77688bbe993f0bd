"""The catalog's own JSON API: health and lineage by any reference."""

from __future__ import annotations

from flask import Blueprint, Flask, abort, current_app, jsonify, request

from catalog.atlas import lineage_to_atlas
from catalog.service import Catalog
from web import errors

bp = Blueprint("api", __name__, url_prefix="/api/v1")


def _catalog() -> Catalog:
    return current_app.extensions["catalog"]


def _int_arg(name: str, default: int) -> int:
    raw = request.args.get(name, str(default))
    if not raw.isdigit():
        abort(400, f"{name} must be a non-negative integer, got {raw!r}")
    return int(raw)


@bp.get("/lineage")
def lineage():
    """AtlasLineageInfo around ``ref`` (qualifiedName, guid, models:/..., runs:/...)."""
    ref = request.args.get("ref", "")
    if not ref:
        abort(400, "query parameter 'ref' is required")
    direction = request.args.get("direction", "BOTH").upper()
    if direction not in ("INPUT", "OUTPUT", "BOTH"):
        abort(400, f"direction must be INPUT, OUTPUT or BOTH, got {direction!r}")
    graph = _catalog().lineage(ref, direction=direction, depth=_int_arg("depth", 3))
    return jsonify(lineage_to_atlas(graph))


def healthz():
    from sqlalchemy import text

    with _catalog().session() as session:
        session.execute(text("SELECT 1"))
    return jsonify({"status": "ok"})


def init_app(app: Flask) -> None:
    app.add_url_rule("/healthz", "healthz", healthz)
    app.register_blueprint(bp)
    errors.register(app)

    @app.errorhandler(400)
    def _bad_request(exc):  # type: ignore[no-untyped-def]
        return jsonify({"errorCode": "ATLAS-400-00-001", "errorMessage": exc.description}), 400
