"""Flask app factory: wiring only (and the app's JSON provider). Each blueprint owns one concern.

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
    from web import api, atlas_v2, auth, errors, hooks, login, openlineage, security, ui

    app = Flask(__name__)
    app.config.from_mapping(MAX_CONTENT_LENGTH=1_048_576)
    app.json = _json_provider(app)
    if test_config:
        app.config.update(test_config)
    app.extensions["catalog"] = Catalog(settings or app.config.get("CATALOG_SETTINGS") or Settings.from_env())

    security.init_app(app, app.extensions["catalog"].settings.trusted_hosts)
    auth.init_app(app)
    login.init_app(app)  # /login, /logout: page sessions and CSRF (after auth)
    errors.init_app(app)
    api.init_app(app)
    atlas_v2.init_app(app)
    openlineage.init_app(app)  # POST /api/v1/lineage
    hooks.init_app(app)  # POST /hooks/mlflow
    ui.init_app(app)
    return app


def _json_provider(app: Flask) -> Any:
    """Flask's JSON, with request bodies parsed by pydantic-core's parser when it can.

    Answers keep the order they are built in, as Atlas's do (Flask 3 sorts keys by
    default; a 1,000-entity answer also skips the sort). Request bodies: pydantic-core's
    ``from_json`` (Rust; pydantic is a dependency) parses a 1,000-entity ``entity/bulk`` body
    in 0.6-0.7x the time of the stdlib's ``json.loads``. Whatever it refuses (a lone
    surrogate escape, a byte order mark, UTF-16, invalid JSON) goes to ``json.loads``, so
    what is accepted and how it is refused stay the stdlib's; what it accepts parses to
    the same values (floats, integers of any size, NaN/Infinity, repeated keys: checked
    in tests/test_atlas_entities.py).
    """
    from flask.json.provider import DefaultJSONProvider
    from pydantic_core import from_json

    class CatalogJSON(DefaultJSONProvider):
        sort_keys = False

        def loads(self, s: str | bytes, **kwargs: Any) -> Any:
            if not kwargs:
                try:
                    return from_json(s)
                except ValueError:
                    pass
            return super().loads(s, **kwargs)

    return CatalogJSON(app)
