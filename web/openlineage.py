"""``POST /api/v1/lineage``: OpenLineage RunEvents in, answered as Marquez answers (201, no body).

HTTP only: the mapping to entities is ``catalog.embedded.openlineage``. The same path's
GET (the catalog's own lineage read) stays in ``web.api``; this blueprint adds the POST.
A malformed event is answered 400 with ``{errorCode, errorMessage}`` naming the field
(Marquez answers 422); nothing is written.
"""

from __future__ import annotations

from flask import Blueprint, Flask, Response

from catalog.embedded import openlineage
from web.atlas_v2.common import catalog_of_app
from web.atlas_v2.notifications import read_json
from web.auth import require, user_name

__all__ = ["bp", "init_app"]

bp = Blueprint("openlineage", __name__, url_prefix="/api/v1")


@bp.post("/lineage", strict_slashes=False)
@require("steward")
def post_lineage() -> Response:
    event = openlineage.parse_event(read_json())
    openlineage.record_event(catalog_of_app(), event, user=user_name())
    return Response(status=201)


def init_app(app: Flask) -> None:
    app.register_blueprint(bp)
