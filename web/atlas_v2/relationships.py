"""Relationships: ``relationship`` (create, update) and ``relationship/guid/{guid}`` (read, delete).

HTTP only: the semantics live in ``catalog.embedded.relationships``.

Atlas's official Python client (``apache-atlas`` 0.0.16) sends ``update_relationship``'s
relationship as query parameters, with no body; a ``PUT relationship`` without a body
reads its scalar fields (``guid``, ``typeName``, ``status``, ``propagateTags``) from
the query. Its ends arrive there as their key names only and are not read.
"""

from __future__ import annotations

from typing import Any

from flask import jsonify, request

from catalog.embedded import relationships as ops
from catalog.embedded.errors import INVALID_PARAMETERS, AtlasApiError
from web.atlas_v2.common import bp, catalog_of_app, flag, json_body
from web.auth import require, user_name

_QUERY_FIELDS = ("guid", "typeName", "status", "propagateTags")


def _update_body() -> Any:
    """The PUT's AtlasRelationship: the JSON body, or the query string the official client sends."""
    if request.get_data(cache=True).strip() or not request.args:
        return json_body(dict)
    if "attributes" in request.args:
        raise AtlasApiError(400, INVALID_PARAMETERS, "invalid parameters: relationship attributes sent as query "
                                                     "parameters carry no values; send the AtlasRelationship as "
                                                     "the JSON body")
    return {key: request.args[key] for key in _QUERY_FIELDS if request.args.get(key)}


@bp.post("/relationship", strict_slashes=False)
@require("steward")
def relationship_create():
    """``POST relationship``: AtlasRelationship in, the created AtlasRelationship out."""
    return jsonify(ops.create(catalog_of_app(), json_body(dict), user=user_name()))


@bp.put("/relationship", strict_slashes=False)
@require("steward")
def relationship_update():
    """``PUT relationship``: Atlas's checks of an update; the relationship as it stands."""
    return jsonify(ops.update(catalog_of_app(), _update_body(), user=user_name()))


@bp.get("/relationship/guid/<guid>", strict_slashes=False)
def relationship(guid: str):
    """``GET relationship/guid/{guid}?extendedInfo=``: AtlasRelationshipWithExtInfo."""
    return jsonify(ops.get(catalog_of_app(), guid, extended_info=flag("extendedInfo")))


@bp.delete("/relationship/guid/<guid>", strict_slashes=False)
@require("steward")
def relationship_delete(guid: str):
    """``DELETE relationship/guid/{guid}``: 204, as Atlas."""
    ops.delete(catalog_of_app(), guid, user=user_name())
    return "", 204
