"""The browsing pages. For now one index: registered models and where their lineage is."""

from __future__ import annotations

from flask import Blueprint, Flask, current_app, render_template

from catalog.model import REGISTERED_MODEL

bp = Blueprint("ui", __name__)


@bp.get("/")
def index():
    """Registered models with links to their lineage, and the APIs the catalog serves."""
    catalog = current_app.extensions["catalog"]
    models = catalog.search("", type_name=REGISTERED_MODEL, limit=500)
    return render_template("index.html", models=models)


def init_app(app: Flask) -> None:
    app.register_blueprint(bp)
