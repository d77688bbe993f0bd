"""The catalog's own JSON API: health, lineage by any reference, and the compliance checks of a subject."""

from __future__ import annotations

from flask import Blueprint, Flask, current_app, jsonify, request

from catalog.atlas import lineage_to_atlas
from catalog.service import Catalog
from web.errors import BAD_REQUEST, ApiError
from web.params import depth_param, direction_param, text_param

bp = Blueprint("api", __name__, url_prefix="/api/v1")


def _catalog() -> Catalog:
    return current_app.extensions["catalog"]


def lineage_args() -> tuple[str, int]:
    """``direction`` and ``depth`` of a lineage request, as Atlas takes them (400 if malformed).

    Both lineage endpoints use it (``web.atlas_v2`` imports it from here); the rules are
    in ``web.params``.
    """
    return direction_param(request.args.get("direction")), depth_param(request.args.get("depth"))


@bp.get("/lineage")
def lineage():
    """AtlasLineageInfo around ``ref`` (qualifiedName, guid, models:/..., runs:/...)."""
    ref = text_param("ref", request.args.get("ref"))
    if not ref:
        raise ApiError(400, BAD_REQUEST, "query parameter 'ref' is required")
    direction, depth = lineage_args()
    graph = _catalog().lineage(ref, direction=direction, depth=depth)
    return jsonify(lineage_to_atlas(graph))


@bp.get("/checks")
def checks():
    """The stored compliance checks about ``ref`` (a deployment, a model ref, any entity ref), newest first.

    Each item is an evidence record: its digest (the record's sha256), chain and position,
    when and by whom, the verdict, and the whole report (``catalog check --format json``).
    """
    from catalog.compliance.record import history

    ref = text_param("ref", request.args.get("ref"))
    if not ref:
        raise ApiError(400, BAD_REQUEST, "query parameter 'ref' is required")
    limit_text = request.args.get("limit", "100")
    if not limit_text.isdigit() or not 1 <= int(limit_text) <= 1000:
        raise ApiError(400, BAD_REQUEST, f"limit must be an integer in 1..1000, got {limit_text[:40]!r}")
    records = history(_catalog(), ref, limit=int(limit_text))
    return jsonify([{"digest": r.digest, "chain": r.chain, "seq": r.seq, "prev": r.prev, "at": r.at, "by": r.by,
                     "verdict": r.verdict, "report": r.report} for r in records])


def healthz():
    from sqlalchemy import text

    with _catalog().session() as session:
        session.execute(text("SELECT 1"))
    return jsonify({"status": "ok"})


def init_app(app: Flask) -> None:
    app.add_url_rule("/healthz", "healthz", healthz)
    app.register_blueprint(bp)
