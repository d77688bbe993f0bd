"""JSON error bodies in Atlas's shape (``errorCode``, ``errorMessage``) for both APIs."""

from __future__ import annotations

from flask import Flask, jsonify

from catalog.errors import AmbiguousReference, CatalogError, NotFound

__all__ = ["register"]


def register(app: Flask) -> None:
    def body(code: str, message: str, status: int):
        return jsonify({"errorCode": code, "errorMessage": message}), status

    @app.errorhandler(NotFound)
    def _not_found(exc: NotFound):
        return body("ATLAS-404-00-005", str(exc), 404)

    @app.errorhandler(AmbiguousReference)
    def _ambiguous(exc: AmbiguousReference):
        return body("ATLAS-400-00-001", str(exc), 400)

    @app.errorhandler(CatalogError)
    def _catalog_error(exc: CatalogError):
        return body("ATLAS-400-00-001", str(exc), 400)
