"""Flask app factory: wiring only. Each blueprint owns one concern.

Flask is imported inside ``create_app``: ``catalog`` loads ``web.cli`` (the ``serve``
command) through an entry point for every command it runs, and none of them but
``serve`` needs Flask.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from catalog.config import Settings

if TYPE_CHECKING:
    from flask import Flask

__all__ = ["create_app"]


def create_app(test_config: dict[str, Any] | None = None, *, settings: Settings | None = None) -> Flask:
    """Build the app around one ``Catalog`` kept in ``app.extensions["catalog"]``."""
    from flask import Flask

    from catalog.service import Catalog
    from web import api, atlas_v2, auth, errors, openlineage, ui

    app = Flask(__name__)
    app.config.from_mapping(MAX_CONTENT_LENGTH=1_048_576)
    # Flask 3 sorts JSON keys by default (the old JSON_SORT_KEYS setting is gone): answers keep
    # the order they are built in, as Atlas's do, and a 1,000-entity answer skips the sort.
    app.json.sort_keys = False
    if test_config:
        app.config.update(test_config)
    app.extensions["catalog"] = Catalog(settings or app.config.get("CATALOG_SETTINGS") or Settings.from_env())

    auth.init_app(app)
    errors.init_app(app)
    api.init_app(app)
    atlas_v2.init_app(app)
    openlineage.init_app(app)  # POST /api/v1/lineage
    ui.init_app(app)
    return app
