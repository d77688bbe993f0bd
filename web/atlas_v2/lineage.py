"""Lineage: ``lineage/{guid}`` (and, by unique attribute, in ``entities``)."""

from __future__ import annotations

from flask import jsonify

from catalog.atlas import lineage_to_atlas
from web.api import lineage_args
from web.atlas_v2.common import bp, by_guid, catalog_of_app


@bp.get("/lineage/<guid>", strict_slashes=False)
def lineage(guid: str):
    """``GET /api/atlas/v2/lineage/{guid}?direction=INPUT|OUTPUT|BOTH&depth=3``."""
    direction, depth = lineage_args()
    base = by_guid(guid)
    return jsonify(lineage_to_atlas(catalog_of_app().lineage(base.guid, direction=direction, depth=depth)))
