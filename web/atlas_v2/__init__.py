"""Atlas's v2 REST API over the catalog (``/api/atlas/v2``), one module per area.

- ``common``: the blueprint, request parsing, Atlas error bodies, guid lookups;
- ``lineage``, ``entities``, ``types``, ``search``, ...: the endpoints of one area each.

Trailing slashes are accepted everywhere (Atlas's official client sends
``types/typedefs/``): the blueprint's rules are not strict about them.
"""

from __future__ import annotations

from flask import Flask

from web.atlas_v2 import classifications, common, entities, lineage, notifications, relationships, search, types

__all__ = ["init_app"]


def init_app(app: Flask) -> None:
    # the modules register their routes on ``common.bp`` when imported
    assert classifications and entities and lineage and notifications and relationships and types and search
    app.register_blueprint(common.bp)
    app.register_blueprint(common.admin)
