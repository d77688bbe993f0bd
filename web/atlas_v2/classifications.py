"""Classifications on entities, by guid and by unique attribute, one or many entities."""

from __future__ import annotations

from flask import jsonify

from catalog.embedded import classifications as tags
from catalog.embedded.errors import AtlasApiError
from web.atlas_v2.common import bp, by_guid, catalog_of_app, json_body
from web.atlas_v2.entities import by_unique
from web.auth import require, user_name
from web.errors import BAD_REQUEST

_NO_CONTENT = ("", 204)


@bp.get("/entity/guid/<guid>/classifications", strict_slashes=False)
def classifications(guid: str):
    """``GET entity/guid/{guid}/classifications``: direct and propagated, as a PList."""
    found = by_guid(guid)
    with catalog_of_app().session() as session:
        return jsonify(tags.classifications_json(session, found.guid))


@bp.get("/entity/guid/<guid>/classification/<name>", strict_slashes=False)
def classification(guid: str, name: str):
    found = by_guid(guid)
    with catalog_of_app().session() as session:
        items = [c for c in tags.classifications_json(session, found.guid)["list"] if c["typeName"] == name]
    if not items:
        raise AtlasApiError(400, "ATLAS-400-00-06D", f"Classification {name} is not associated with entity")
    return jsonify(items[0])


def _change(guid: str, change: str, name: str = "") -> tuple[str, int]:
    """Add or update the body's classifications on ``guid``, or remove ``name``; 204."""
    catalog = catalog_of_app()
    if change == "remove":
        tags.remove(catalog, guid, name, user=user_name())
    else:
        write = tags.add if change == "add" else tags.update
        write(catalog, guid, tags.parse_classifications(json_body(list)), user=user_name())
    return _NO_CONTENT


@bp.post("/entity/guid/<guid>/classifications", strict_slashes=False)
@require("steward")
def add_classifications(guid: str):
    return _change(by_guid(guid).guid, "add")


@bp.put("/entity/guid/<guid>/classifications", strict_slashes=False)
@require("steward")
def update_classifications(guid: str):
    return _change(by_guid(guid).guid, "update")


@bp.delete("/entity/guid/<guid>/classification/<name>", strict_slashes=False)
@require("steward")
def delete_classification(guid: str, name: str):
    return _change(by_guid(guid).guid, "remove", name)


@bp.post("/entity/uniqueAttribute/type/<type_name>/classifications", strict_slashes=False)
@require("steward")
def add_classifications_by_unique(type_name: str):
    return _change(by_unique(type_name).guid, "add")


@bp.put("/entity/uniqueAttribute/type/<type_name>/classifications", strict_slashes=False)
@require("steward")
def update_classifications_by_unique(type_name: str):
    return _change(by_unique(type_name).guid, "update")


@bp.delete("/entity/uniqueAttribute/type/<type_name>/classification/<name>", strict_slashes=False)
@require("steward")
def delete_classification_by_unique(type_name: str, name: str):
    return _change(by_unique(type_name).guid, "remove", name)


@bp.post("/entity/bulk/classification", strict_slashes=False)
@require("steward")
def bulk_classification():
    """``POST entity/bulk/classification``: ClassificationAssociateRequest ``{classification, entityGuids}``."""
    body = json_body(dict)
    guids = body.get("entityGuids")
    if not isinstance(guids, list) or not guids or not all(isinstance(g, str) for g in guids):
        raise AtlasApiError(400, BAD_REQUEST, "entityGuids: expected a non-empty list of guids")
    tag = tags.parse_classifications([body.get("classification")], "classification")[0]
    for guid in guids:
        by_guid(guid)
    tags.add_to_many(catalog_of_app(), tag, [g.lower() for g in guids], user=user_name())
    return _NO_CONTENT
