"""JSON error bodies in Atlas's shape (``errorCode``, ``errorMessage``) for both APIs.

Codes are Atlas's own (``AtlasErrorCode``) where one fits, so Atlas clients that
branch on ``errorCode`` behave as they would against a real Atlas. Errors under
``/api/``, ``/hooks/`` and ``/healthz`` are always JSON, also Flask's own (unknown route, wrong
method, an unexpected exception); other paths keep Flask's pages.
"""

from __future__ import annotations

from typing import Any

from flask import Flask, jsonify, request
from werkzeug.exceptions import HTTPException, InternalServerError

from catalog.embedded.errors import AtlasApiError
from catalog.errors import CatalogError, NotFound

__all__ = [
    "BAD_REQUEST",
    "INSTANCE_GUID_NOT_FOUND",
    "INSTANCE_LINEAGE_INVALID_PARAMS",
    "INTERNAL_ERROR",
    "ApiError",
    "init_app",
]

# Atlas's AtlasErrorCode values.
BAD_REQUEST = "ATLAS-400-00-029"
INSTANCE_LINEAGE_INVALID_PARAMS = "ATLAS-400-00-026"
INSTANCE_GUID_NOT_FOUND = "ATLAS-404-00-005"
INTERNAL_ERROR = "ATLAS-500-00-001"


class ApiError(AtlasApiError):
    """An error a view raises with its HTTP status and Atlas error code.

    The library's own ``AtlasApiError`` (what the embedded Atlas refuses) answers the same way.
    """


def _body(code: str, message: str, status: int) -> tuple[Any, int]:
    return jsonify({"errorCode": code, "errorMessage": message}), status


def _is_api() -> bool:
    return request.path.startswith(("/api/", "/hooks/")) or request.path == "/healthz"


def init_app(app: Flask) -> None:
    @app.errorhandler(AtlasApiError)
    def _api_error(exc: AtlasApiError):
        return _body(exc.code, exc.message, exc.status)

    @app.errorhandler(NotFound)
    def _not_found(exc: NotFound):
        return _body(INSTANCE_GUID_NOT_FOUND, str(exc), 404)

    @app.errorhandler(CatalogError)
    def _catalog_error(exc: CatalogError):
        return _body(BAD_REQUEST, str(exc), 400)

    @app.errorhandler(InternalServerError)
    def _internal(exc: InternalServerError):
        if not _is_api():
            return exc
        # The traceback is in the log (Flask logs unhandled exceptions); the body stays generic.
        return _body(INTERNAL_ERROR, "Internal server error", 500)

    @app.errorhandler(HTTPException)
    def _http(exc: HTTPException):
        if not _is_api() or exc.code is None:
            return exc
        code = BAD_REQUEST if exc.code == 400 else f"ATLAS-{exc.code}-00-000"
        return _body(code, exc.description or exc.name, exc.code)


# Atlas's AtlasErrorCode values of the search endpoints (web.atlas_v2.search).
UNKNOWN_TYPENAME = "ATLAS-400-00-00A"
INVALID_PARAMETERS = "ATLAS-400-00-01A"
UNKNOWN_ATTRIBUTE = "ATLAS-400-00-023"
UNKNOWN_CLASSIFICATION = "ATLAS-400-00-046"
INVALID_SEARCH_PARAMS = "ATLAS-400-00-047"
INVALID_QUERY_PARAM_LENGTH = "ATLAS-400-00-057"
INVALID_QUERY_LENGTH = "ATLAS-400-00-058"
UNKNOWN_GLOSSARY_TERM = "ATLAS-400-00-06E"
INVALID_OPERATOR = "ATLAS-400-00-103"
BLANK_NAME_ATTRIBUTE = "ATLAS-400-00-104"
BLANK_VALUE_ATTRIBUTE = "ATLAS-400-00-105"
