"""What every endpoint of the v2 API shares: the blueprint, guid lookups, request bodies."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, current_app, jsonify, request

import catalog
from catalog import refs
from catalog.errors import NotFound
from catalog.model import StoredEntity
from catalog.service import Catalog
from web.errors import BAD_REQUEST, INSTANCE_GUID_NOT_FOUND, ApiError

__all__ = ["bp", "admin", "catalog_of_app", "by_guid", "in_session_by_guid", "guid_not_found", "json_body", "flag"]

bp = Blueprint("atlas_v2", __name__, url_prefix="/api/atlas/v2")

admin = Blueprint("atlas_admin", __name__, url_prefix="/api/atlas/admin")

#: A body that is not valid JSON: Atlas's generic BAD_REQUEST code (it has no code of its own for it).
BAD_JSON = "ATLAS-400-00-029"


def catalog_of_app() -> Catalog:
    return current_app.extensions["catalog"]


def guid_not_found(guid: str) -> ApiError:
    return ApiError(404, INSTANCE_GUID_NOT_FOUND, f"Given instance guid {guid} is invalid/not found")


def by_guid(guid: str) -> StoredEntity:
    """The entity with ``guid``; Atlas's 404 for anything else (the catalog's own refs are not guids here)."""
    if not refs.is_guid(guid.lower()):
        raise guid_not_found(guid)
    try:
        found = catalog_of_app().resolve(guid)
    except NotFound:
        raise guid_not_found(guid) from None
    if found.guid != guid.lower():
        raise guid_not_found(guid)
    return found


def in_session_by_guid(session: Any, guid: str) -> StoredEntity:
    """``by_guid`` inside the caller's session (one session per request on the hot read paths)."""
    from catalog import store

    lowered = guid.lower()
    found = store.get_entity(session, lowered) if refs.is_guid(lowered) else None
    if found is None:
        raise guid_not_found(guid)
    return found


def json_body(kind: type = dict) -> Any:
    """The request's JSON body, which must be a ``kind`` (object or list); Atlas's 400 otherwise."""
    body = request.get_json(silent=True, cache=True)
    if body is None:
        raise ApiError(400, BAD_JSON, "request body is not valid JSON (Content-Type application/json expected)")
    if not isinstance(body, kind):
        want = "an object" if kind is dict else "a list"
        raise ApiError(400, BAD_REQUEST, f"request body must be {want}, not {type(body).__name__}")
    return body


def flag(name: str, default: bool = False) -> bool:
    """A boolean query parameter as Atlas reads them (``true``/``false``, any case)."""
    value = request.args.get(name)
    if value is None or value == "":
        return default
    lowered = value.lower()
    if lowered not in ("true", "false"):
        raise ApiError(400, BAD_REQUEST, f"query parameter {name!r} must be true or false, not {value[:40]!r}")
    return lowered == "true"


@admin.get("/version", strict_slashes=False)
def version():
    """``GET /api/atlas/admin/version``: what Atlas's clients read to learn the server."""
    return jsonify({
        "Version": "2.3.0",
        "Name": "ml-lineage-catalog",
        "Description": f"Atlas v2 API of ml-lineage-catalog {catalog.__version__}",
        "Revision": catalog.__version__,
    })
