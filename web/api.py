"""The catalog's own JSON API under ``/api/v1``, described by ``/api/v1/openapi.json`` (``web.openapi``).

Entities (search with cursor pagination, one by type and qualifiedName), lineage by any
reference, compliance checks, scoring runs of a deployment, audit events, impact analysis.
Every error is ``{"errorCode", "errorMessage"}`` (Atlas's shape, ``web.errors``). Lists are
pages: ``{"items": [...], "next": <cursor or null>}``; pass ``cursor=<next>`` for the next.
"""

from __future__ import annotations

import base64
from typing import Any

from flask import Blueprint, Flask, current_app, jsonify, request

from catalog import store
from catalog.atlas import lineage_to_atlas, stored_entity_to_atlas
from catalog.errors import UnknownTypeError
from catalog.model import EntityRef
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
    most = _catalog().settings.lineage_max_depth
    graph = _catalog().lineage(ref, direction=direction, depth=depth)
    answer = lineage_to_atlas(graph)
    if depth == 0 or depth > most:  # Atlas's depth 0 means "as deep as allowed"
        answer["depthCapped"] = {"requested": depth, "drawn": most,
                                 "message": f"depth {depth} was capped at {most} (CATALOG_LINEAGE_MAX_DEPTH)"}
    return jsonify(answer)


@bp.get("/checks")
def checks():
    """The stored compliance checks about ``ref`` (a deployment, a model ref, any entity ref), newest first.

    A page (``items``, ``next``); each item is an evidence record: its digest (the record's sha256), chain and position,
    when and by whom, the verdict, and the whole report (``catalog check --format json``).
    """
    from catalog.compliance.record import history

    ref = _ref()
    limit, start = _limit(), _cursor()
    records = history(_catalog(), ref, limit=min(start + limit + 1, 10_000))
    return _page([{"digest": r.digest, "chain": r.chain, "seq": r.seq, "prev": r.prev, "at": r.at, "by": r.by,
                   "verdict": r.verdict, "report": r.report} for r in records], start, limit)


def _limit(default: int = 100, most: int = 1000) -> int:
    text = request.args.get("limit", str(default))
    if not text.isascii() or not text.isdigit() or len(text) > 6 or not 1 <= int(text) <= most:
        raise ApiError(400, BAD_REQUEST, f"limit must be an integer in 1..{most}, got {text[:40]!r}")
    return int(text)


def _cursor() -> int:
    """The position a ``cursor`` (an opaque ``next`` of an earlier page) stands for; 0 without one."""
    text = request.args.get("cursor")
    if not text:
        return 0
    try:
        decoded = base64.urlsafe_b64decode(text.encode("ascii") + b"==").decode("ascii")
    except (ValueError, UnicodeError):
        decoded = ""
    if not decoded.startswith("o:") or not decoded[2:].isdigit() or len(decoded) > 14:
        raise ApiError(400, BAD_REQUEST, f"cursor {text[:40]!r} is not one this API handed out")
    return int(decoded[2:])


def _page(items: list[Any], start: int, limit: int) -> Any:
    chunk = items[start:start + limit]
    more = start + limit < len(items)
    token = base64.urlsafe_b64encode(f"o:{start + limit}".encode()).decode().rstrip("=") if more else None
    return jsonify({"items": chunk, "next": token})


def _ref() -> str:
    ref = text_param("ref", request.args.get("ref"))
    if not ref:
        raise ApiError(400, BAD_REQUEST, "query parameter 'ref' is required")
    return ref


@bp.get("/entities")
def entities():
    """Entities whose name or qualifiedName contains ``q``, optionally of ``type`` and with ``classification``."""
    text = text_param("q", request.args.get("q")) or ""
    type_name = text_param("type", request.args.get("type")) or None
    classification = text_param("classification", request.args.get("classification")) or None
    limit, start = _limit(), _cursor()
    try:
        found = _catalog().search(text, type_name=type_name, classification=classification,
                                  limit=min(start + limit + 1, 10_000))
    except UnknownTypeError as exc:
        raise ApiError(400, BAD_REQUEST, str(exc)) from None
    headers = [{"guid": e.guid, "typeName": e.type_name, "qualifiedName": e.qualified_name, "name": e.name,
                "status": e.status, "classifications": sorted({c.type_name for c in e.classifications})}
               for e in found]
    return _page(headers, start, limit)


@bp.get("/entities/<type_name>/<path:qualified_name>")
def entity(type_name: str, qualified_name: str):
    """One entity as Atlas ``AtlasEntity`` JSON, by type and qualifiedName."""
    catalog = _catalog()
    if not catalog.registry.has_entity_type(type_name):
        raise ApiError(404, "ATLAS-404-00-004", f"Type ENTITY with name {type_name} does not exist")
    with catalog.session() as session:
        found = store.get_entity(session, EntityRef(type_name, qualified_name).guid)
    if found is None:
        raise ApiError(404, "ATLAS-404-00-009", f"Instance {type_name} with unique attribute "
                                                f"{{qualifiedName={qualified_name}}} does not exist")
    return jsonify(stored_entity_to_atlas(found))


@bp.get("/scoring-runs")
def scoring_runs():
    """The scoring runs of the deployment ``ref`` names, newest first: counts, version, status."""
    catalog = _catalog()
    deployment = catalog.resolve(_ref())
    if deployment.type_name != "ml_deployment":
        raise ApiError(400, BAD_REQUEST, f"ref {deployment.qualified_name!r} is a {deployment.type_name}, "
                                         "not an ml_deployment")
    limit, start = _limit(), _cursor()
    stem = deployment.qualified_name.rpartition("@")[0]
    runs = [e for e in catalog.search(f"score:{stem}:", type_name="ml_scoring_process", limit=10_000)
            if e.attributes.get("deployment") == deployment.qualified_name]
    runs.sort(key=lambda e: int(e.attributes.get("startTime") or 0), reverse=True)
    keys = ("status", "modelVersion", "runId", "startTime", "endTime", "rowsIn", "rowsScored", "rowsQuarantined",
            "rowsWarned", "batchCount")
    return _page([{"guid": e.guid, "qualifiedName": e.qualified_name, **{k: e.attributes.get(k) for k in keys}}
                  for e in runs], start, limit)


@bp.get("/audit")
def audit():
    """Audit events, newest first: of the entity ``ref`` names, or of all entities without ``ref``."""
    ref = text_param("ref", request.args.get("ref")) or None
    limit, start = _limit(), _cursor()
    events = _catalog().audit(ref, limit=min(start + limit + 1, 10_000))
    return _page([{"id": e.id, "at": e.at, "user": e.user, "source": e.source, "action": e.action,
                   "guid": e.entity_guid, "typeName": e.type_name, "qualifiedName": e.qualified_name,
                   "detail": e.detail} for e in events], start, limit)


@bp.get("/impact")
def impact():
    """Every entity downstream of ``ref``, nearest first, with owners (what the impact page shows)."""
    from web.impact import impact_of

    catalog = _catalog()
    limit, start = _limit(1000, 10_000), _cursor()
    rows = impact_of(catalog, catalog.resolve(_ref()))
    return _page([r.to_json() for r in rows], start, limit)


@bp.get("/openapi.json")
def openapi():
    """This API's OpenAPI 3.1 document."""
    from web.openapi import document

    return jsonify(document())


def healthz():
    from sqlalchemy import text

    with _catalog().session() as session:
        session.execute(text("SELECT 1"))
    return jsonify({"status": "ok"})


def init_app(app: Flask) -> None:
    app.add_url_rule("/healthz", "healthz", healthz)
    app.register_blueprint(bp)
