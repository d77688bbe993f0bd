"""Entities: read, upsert, partial update and delete, by guid and by unique attribute; audit.

HTTP only: the semantics live in ``catalog.embedded.entities`` (writes) and
``catalog.embedded.reads`` (Atlas's read shapes).
"""

from __future__ import annotations

from typing import Any

from flask import jsonify, request

from catalog import store
from catalog.atlas import entity_header, lineage_to_atlas
from catalog.embedded import entities as ops
from catalog.embedded.errors import AtlasApiError, guid_not_found
from catalog.embedded.reads import audit_json, entities_json, entity_json
from catalog.model import EntityRef, StoredEntity
from web.api import lineage_args
from web.atlas_v2.common import admin, bp, by_guid, catalog_of_app, flag, in_session_by_guid, json_body
from web.auth import require, user_name
from web.errors import BAD_REQUEST, ApiError
from web.params import text_param

_MAX_GUIDS = 1000


def _read_options() -> dict[str, bool]:
    return {"min_ext_info": flag("minExtInfo"), "ignore_relationships": flag("ignoreRelationships")}


def _respond(mutation: ops.Mutation) -> Any:
    with catalog_of_app().session() as session:
        return jsonify(ops.mutation_response(session, mutation))


def _unique_key(type_name: str) -> EntityRef:
    """``attr:qualifiedName=...`` of a by-unique-attribute request (the only unique attribute here)."""
    value = request.args.get("attr:qualifiedName")
    others = [k for k in request.args if k.startswith("attr:") and k != "attr:qualifiedName"]
    if others:
        raise ApiError(400, BAD_REQUEST, f"unique attribute {others[0][5:]!r} is not supported: "
                                         "entities are found by attr:qualifiedName")
    if not value:
        raise ApiError(400, BAD_REQUEST, "query parameter 'attr:qualifiedName' is required")
    return EntityRef(type_name, text_param("attr:qualifiedName", value) or "")


def by_unique(type_name: str) -> StoredEntity:
    key = _unique_key(type_name)
    return ops.entity_by_unique(catalog_of_app(), key.type_name, key.qualified_name)


def _guid_list() -> list[str]:
    guids = request.args.getlist("guid")
    if not guids:
        raise ApiError(400, BAD_REQUEST, "query parameter 'guid' is required (one or more)")
    if len(guids) > _MAX_GUIDS:
        raise ApiError(400, BAD_REQUEST, f"at most {_MAX_GUIDS} guids per request, got {len(guids)}")
    return [g.lower() for g in guids]


# -- reads -------------------------------------------------------------------------------------


@bp.get("/entity/guid/<guid>", strict_slashes=False)
def entity(guid: str):
    """``GET entity/guid/{guid}``: AtlasEntityWithExtInfo (``minExtInfo``, ``ignoreRelationships``)."""
    options = _read_options()
    catalog = catalog_of_app()
    with catalog.session() as session:
        found = in_session_by_guid(session, guid)
        return jsonify(entity_json(session, found, catalog.typedefs.current(session), **options))


@bp.get("/entity/guid/<guid>/header", strict_slashes=False)
def entity_header_view(guid: str):
    """``GET entity/guid/{guid}/header``: AtlasEntityHeader."""
    return jsonify(entity_header(by_guid(guid)))


@bp.get("/entity/uniqueAttribute/type/<type_name>", strict_slashes=False)
def entity_by_unique(type_name: str):
    """``GET entity/uniqueAttribute/type/{type}?attr:qualifiedName=...``."""
    found = by_unique(type_name)
    catalog = catalog_of_app()
    with catalog.session() as session:
        return jsonify(entity_json(session, found, catalog.typedefs.current(session), **_read_options()))


@bp.get("/entity/uniqueAttribute/type/<type_name>/header", strict_slashes=False)
def entity_header_by_unique(type_name: str):
    return jsonify(entity_header(by_unique(type_name)))


@bp.get("/entity/bulk", strict_slashes=False)
def entities_bulk():
    """``GET entity/bulk?guid=...&guid=...``: AtlasEntitiesWithExtInfo; an unknown guid is a 404."""
    guids = _guid_list()
    catalog = catalog_of_app()
    with catalog.session() as session:
        found = store.get_entities(session, guids)
        missing = [g for g in guids if g not in found]
        if missing:
            raise guid_not_found(missing[0])
        bodies, referred = entities_json(session, [found[g] for g in dict.fromkeys(guids)],
                                         catalog.typedefs.current(session), **_read_options())
    return jsonify({"entities": bodies, "referredEntities": referred})


@bp.get("/entity/bulk/uniqueAttribute/type/<type_name>", strict_slashes=False)
def entities_bulk_by_unique(type_name: str):
    """``GET entity/bulk/uniqueAttribute/type/{type}?attr_0:qualifiedName=...``: those that exist (others are left out)."""
    names = [text_param(k, v) or "" for k, v in request.args.items(multi=True)
             if k.startswith("attr_") and k.endswith(":qualifiedName")]
    if not names:
        raise ApiError(400, BAD_REQUEST, "query parameters 'attr_<n>:qualifiedName' are required (one or more)")
    if len(names) > _MAX_GUIDS:
        raise ApiError(400, BAD_REQUEST, f"at most {_MAX_GUIDS} unique attributes per request, got {len(names)}")
    catalog = catalog_of_app()
    with catalog.session() as session:
        guids = [EntityRef(type_name, n).guid for n in dict.fromkeys(names)]
        found = store.get_entities(session, guids)
        bodies, referred = entities_json(session, [found[g] for g in guids if g in found],
                                         catalog.typedefs.current(session), **_read_options())
    return jsonify({"entities": bodies, "referredEntities": referred})


@bp.get("/entity/<guid>/audit", strict_slashes=False)
def entity_audit(guid: str):
    """``GET entity/{guid}/audit?count=N``: EntityAuditEventV2 list, newest first."""
    found = by_guid(guid)
    count = request.args.get("count", "100")
    if not count.isascii() or not count.isdigit() or not 1 <= int(count[:6]) <= 10_000:
        raise ApiError(400, BAD_REQUEST, f"query parameter 'count' must be an integer 1..10000, got {count[:40]!r}")
    events = catalog_of_app().audit(found.guid, limit=int(count))
    action = request.args.get("auditAction")
    result = audit_json(events)
    if action:
        result = [e for e in result if e["action"] == action]
    return jsonify(result)


# -- writes ------------------------------------------------------------------------------------


@bp.post("/entity", strict_slashes=False)
@require("steward")
def entity_upsert():
    """``POST entity``: create or update one entity (AtlasEntityWithExtInfo)."""
    body = json_body(dict)
    if "entity" not in body:
        raise AtlasApiError(400, BAD_REQUEST, "request body: expected an AtlasEntityWithExtInfo ('entity' object)")
    return _respond(ops.upsert(catalog_of_app(), body, user=user_name()))


@bp.post("/entity/bulk", strict_slashes=False)
@require("steward")
def entity_bulk_upsert():
    """``POST entity/bulk``: create or update entities (AtlasEntitiesWithExtInfo)."""
    body = json_body(dict)
    if not isinstance(body.get("entities"), list):
        raise AtlasApiError(400, BAD_REQUEST, "request body: expected an AtlasEntitiesWithExtInfo ('entities' list)")
    return _respond(ops.upsert(catalog_of_app(), body, user=user_name()))


@bp.put("/entity/guid/<guid>", strict_slashes=False)
@require("steward")
def entity_set_attribute(guid: str):
    """``PUT entity/guid/{guid}?name=attr`` with the attribute's new value as the body."""
    found = by_guid(guid)
    name = request.args.get("name")
    if not name:
        raise ApiError(400, BAD_REQUEST, "query parameter 'name' (the attribute to update) is required")
    value = request.get_json(silent=True)
    if value is None and request.get_data(cache=True).strip() not in (b"null",):
        raise ApiError(400, "ATLAS-400-00-029", "request body is not valid JSON (the attribute's new value)")
    return _respond(ops.set_attribute(catalog_of_app(), found.guid, text_param("name", name) or "", value,
                                      user=user_name()))


@bp.put("/entity/uniqueAttribute/type/<type_name>", strict_slashes=False)
@require("steward")
def entity_update_by_unique(type_name: str):
    """``PUT entity/uniqueAttribute/type/{type}?attr:qualifiedName=``: partial update of a stored entity."""
    key = _unique_key(type_name)
    found = ops.entity_by_unique(catalog_of_app(), key.type_name, key.qualified_name)
    body = json_body(dict)
    entity = body.get("entity")
    if not isinstance(entity, dict):
        raise AtlasApiError(400, BAD_REQUEST, "request body: expected an AtlasEntityWithExtInfo ('entity' object)")
    attributes = dict(entity.get("attributes") or {})
    attributes.setdefault("qualifiedName", found.qualified_name)
    body = {**body, "entity": {**entity, "typeName": entity.get("typeName") or found.type_name,
                               "attributes": attributes}}
    mutation = ops.upsert(catalog_of_app(), body, user=user_name(), partial=True, must_exist=found.ref)
    return _respond(mutation)


@bp.delete("/entity/guid/<guid>", strict_slashes=False)
@require("steward")
def entity_delete(guid: str):
    """``DELETE entity/guid/{guid}``: soft delete."""
    found = by_guid(guid)
    return _respond(ops.delete(catalog_of_app(), [found.guid], user=user_name()))


@bp.delete("/entity/bulk", strict_slashes=False)
@require("steward")
def entity_bulk_delete():
    """``DELETE entity/bulk?guid=...``: soft delete of several entities, all or nothing."""
    return _respond(ops.delete(catalog_of_app(), _guid_list(), user=user_name()))


@bp.delete("/entity/uniqueAttribute/type/<type_name>", strict_slashes=False)
@require("steward")
def entity_delete_by_unique(type_name: str):
    found = by_unique(type_name)
    return _respond(ops.delete(catalog_of_app(), [found.guid], user=user_name()))


@admin.put("/purge", strict_slashes=False)
@require("admin")
def purge():
    """``PUT /api/atlas/admin/purge`` with a list of guids: soft-deleted entities removed for good."""
    guids = json_body(list)
    if not guids or len(guids) > _MAX_GUIDS or not all(isinstance(g, str) for g in guids):
        raise ApiError(400, BAD_REQUEST, f"request body: expected a list of 1..{_MAX_GUIDS} guids")
    return jsonify(ops.purge(catalog_of_app(), [g.lower() for g in guids], user=user_name()))


@bp.get("/lineage/uniqueAttribute/type/<type_name>", strict_slashes=False)
def lineage_by_unique(type_name: str):
    """``GET lineage/uniqueAttribute/type/{type}?attr:qualifiedName=...&direction=&depth=``."""
    found = by_unique(type_name)
    direction, depth = lineage_args()
    return jsonify(lineage_to_atlas(catalog_of_app().lineage(found.guid, direction=direction, depth=depth)))
