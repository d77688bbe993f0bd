"""Typedefs (Atlas's ``TypesREST``): list, headers, by name and guid, per category; create, update, delete.

HTTP only: the semantics live in ``catalog.embedded.typedefs``. Reads follow the
catalog's ``read_access``; writes need the ``admin`` role and record its user.
A successful delete answers 204 with no body, as Atlas does.
"""

from __future__ import annotations

from typing import Any

from flask import abort, jsonify, request

from catalog.embedded.typedef_rules import PATH_CATEGORIES
from catalog.embedded.typedefs import TypeDefs
from web.atlas_v2.common import bp, catalog_of_app, json_body
from web.auth import require, user_name


def _typedefs() -> TypeDefs:
    return catalog_of_app().typedefs


def _filters() -> dict[str, list[str]]:
    """Atlas's SearchFilter: every query parameter, by name, with all its values."""
    return request.args.to_dict(flat=False)


def _category(kind: str) -> str:
    """The category of a per-category path (``entitydef``, ...); 404 for any other segment, as Atlas."""
    category = PATH_CATEGORIES.get(kind)
    if category is None:
        abort(404)
    return category


@bp.get("/types/typedefs", strict_slashes=False)
def typedefs() -> Any:
    """``GET /api/atlas/v2/types/typedefs``: an AtlasTypesDef of the typedefs the SearchFilter keeps."""
    return jsonify(_typedefs().search(_filters()))


@bp.get("/types/typedefs/headers", strict_slashes=False)
def typedef_headers() -> Any:
    """``GET .../types/typedefs/headers``: AtlasTypeDefHeader (guid, name, category, serviceType) list."""
    return jsonify(_typedefs().headers(_filters()))


@bp.post("/types/typedefs", strict_slashes=False)
@require("admin")
def create_typedefs() -> Any:
    """``POST .../types/typedefs``: create every typedef of the AtlasTypesDef body, or none."""
    return jsonify(_typedefs().create(json_body(), user=user_name()))


@bp.put("/types/typedefs", strict_slashes=False)
@require("admin")
def update_typedefs() -> Any:
    """``PUT .../types/typedefs``: update typedefs created through the API, or none."""
    return jsonify(_typedefs().update(json_body(), user=user_name()))


@bp.delete("/types/typedefs", strict_slashes=False)
@require("admin")
def delete_typedefs() -> Any:
    """``DELETE .../types/typedefs`` with an AtlasTypesDef body: delete the typedefs named there, or none."""
    _typedefs().delete(json_body(), user=user_name())
    return "", 204


@bp.get("/types/typedef/name/<name>", strict_slashes=False)
def typedef_by_name(name: str) -> Any:
    return jsonify(_typedefs().get(name=name))


@bp.get("/types/typedef/guid/<guid>", strict_slashes=False)
def typedef_by_guid(guid: str) -> Any:
    return jsonify(_typedefs().get(guid=guid))


@bp.delete("/types/typedef/name/<name>", strict_slashes=False)
@require("admin")
def delete_typedef(name: str) -> Any:
    _typedefs().delete_name(name, user=user_name())
    return "", 204


@bp.get("/types/<kind>/name/<name>", strict_slashes=False)
def def_by_name(kind: str, name: str) -> Any:
    """``GET .../types/{entitydef|classificationdef|...}/name/{name}``: 404 when the type is of another category."""
    return jsonify(_typedefs().get(name=name, category=_category(kind)))


@bp.get("/types/<kind>/guid/<guid>", strict_slashes=False)
def def_by_guid(kind: str, guid: str) -> Any:
    return jsonify(_typedefs().get(guid=guid, category=_category(kind)))
