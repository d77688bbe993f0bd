"""Flask app factory: wiring only. Each blueprint owns one concern."""

from __future__ import annotations

from typing import Any

from flask import Flask

from catalog.config import Settings

__all__ = ["create_app"]


def create_app(test_config: dict[str, Any] | None = None, *, settings: Settings | None = None) -> Flask:
    """Build the app around one ``Catalog`` kept in ``app.extensions["catalog"]``."""
    from catalog.service import Catalog

    app = Flask(__name__)
    app.config.from_mapping(MAX_CONTENT_LENGTH=1_048_576, JSON_SORT_KEYS=False)
    if test_config:
        app.config.update(test_config)
    app.extensions["catalog"] = Catalog(settings or app.config.get("CATALOG_SETTINGS") or Settings.from_env())

    from web import api, atlas_v2

    api.init_app(app)
    atlas_v2.init_app(app)
    return app
