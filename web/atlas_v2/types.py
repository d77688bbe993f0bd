"""Typedefs: list, headers, by name and guid, create, update, delete."""

from __future__ import annotations

from flask import jsonify

from web.atlas_v2.common import bp, catalog_of_app


@bp.get("/types/typedefs", strict_slashes=False)
def typedefs():
    """``GET /api/atlas/v2/types/typedefs``: every typedef, as AtlasTypesDef."""
    return jsonify(catalog_of_app().registry.to_typesdef())
