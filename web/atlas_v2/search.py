"""Search: ``search/basic`` (GET and POST), ``search/attribute``, ``search/quick`` (GET and POST).

HTTP only: query parameters and bodies become Atlas's SearchParameters, the embedded
Atlas (``catalog.embedded.search``) answers, and its refusals become Atlas's error
bodies with Atlas's codes (``web.errors``). Query parameters are parsed strictly:
printable text, ``limit``/``offset`` as at most ten ASCII digits (a leading ``-`` is
read, so Atlas's own "non-negative" message answers it), flags ``true``/``false``.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from flask import jsonify, request

from catalog.embedded import search
from catalog.embedded.search_params import MAX_TEXT
from web import errors
from web.atlas_v2.common import bp, catalog_of_app, flag, json_body
from web.errors import BAD_REQUEST, ApiError
from web.params import text_param

__all__ = ["CODES"]

#: ``SearchError.reason`` (the name of Atlas's AtlasErrorCode) -> its code.
CODES = {
    "BAD_REQUEST": BAD_REQUEST,
    "UNKNOWN_TYPENAME": errors.UNKNOWN_TYPENAME,
    "INVALID_PARAMETERS": errors.INVALID_PARAMETERS,
    "UNKNOWN_ATTRIBUTE": errors.UNKNOWN_ATTRIBUTE,
    "UNKNOWN_CLASSIFICATION": errors.UNKNOWN_CLASSIFICATION,
    "INVALID_SEARCH_PARAMS": errors.INVALID_SEARCH_PARAMS,
    "INVALID_QUERY_PARAM_LENGTH": errors.INVALID_QUERY_PARAM_LENGTH,
    "INVALID_QUERY_LENGTH": errors.INVALID_QUERY_LENGTH,
    "UNKNOWN_GLOSSARY_TERM": errors.UNKNOWN_GLOSSARY_TERM,
    "INVALID_OPERATOR": errors.INVALID_OPERATOR,
    "BLANK_NAME_ATTRIBUTE": errors.BLANK_NAME_ATTRIBUTE,
    "BLANK_VALUE_ATTRIBUTE": errors.BLANK_VALUE_ATTRIBUTE,
}

#: Longest text query parameter read; Atlas's own limit (4096) answers with its own code.
_MAX_PARAM = 4 * MAX_TEXT
_INTEGER = re.compile(r"-?[0-9]{1,10}", re.ASCII)


@contextmanager
def _atlas_errors() -> Iterator[None]:
    try:
        yield
    except search.SearchError as exc:
        raise ApiError(exc.status, CODES.get(exc.reason, BAD_REQUEST), exc.message) from None


def _text(name: str) -> str | None:
    return text_param(name, request.args.get(name), max_length=_MAX_PARAM)


def _int(name: str) -> int:
    raw = request.args.get(name)
    if raw is None or raw == "":
        return 0
    if not _INTEGER.fullmatch(raw):
        shown = raw[:40] if raw.isascii() else raw[:40].encode("unicode_escape").decode("ascii")
        raise ApiError(400, BAD_REQUEST, f"query parameter {name!r} must be an integer of at most 10 ASCII "
                       f"digits, got {shown!r}")
    return int(raw)


def _args(*names: str) -> dict[str, Any]:
    """The query parameters ``names`` as SearchParameters fields (absent ones left out)."""
    body: dict[str, Any] = {}
    for name in names:
        if name in ("limit", "offset"):
            body[name] = _int(name)
        elif name == "excludeDeletedEntities":
            body[name] = flag(name)
        elif request.args.get(name) is not None:
            body[name] = _text(name)
    return body


def _answer(run: Callable[..., dict[str, Any]], *args: Any, **kwargs: Any) -> Any:
    cat = catalog_of_app()
    with _atlas_errors(), cat.session() as session:
        return jsonify(run(session, cat.registry, *args, **kwargs))


_BASIC = ("query", "typeName", "classification", "sortBy", "sortOrder", "excludeDeletedEntities", "limit", "offset")


@bp.get("/search/basic", strict_slashes=False)
def basic_get():
    """``GET /api/atlas/v2/search/basic?typeName=&classification=&query=&sortBy=&...``: AtlasSearchResult."""
    return _answer(search.basic_search, _args(*_BASIC))


@bp.post("/search/basic", strict_slashes=False)
def basic_post():
    """``POST /api/atlas/v2/search/basic`` with SearchParameters: AtlasSearchResult."""
    return _answer(search.basic_search, json_body(dict))


@bp.get("/search/attribute", strict_slashes=False)
def attribute():
    """``GET /api/atlas/v2/search/attribute?typeName=&attrName=&attrValuePrefix=&limit=&offset=``."""
    return _answer(
        search.attribute_search, type_name=_text("typeName"), attr_name=_text("attrName"),
        prefix=_text("attrValuePrefix"), limit=_int("limit"), offset=_int("offset"),
    )


@bp.get("/search/quick", strict_slashes=False)
def quick_get():
    """``GET /api/atlas/v2/search/quick?query=&typeName=&...``: AtlasQuickSearchResult (subtypes not included)."""
    return _answer(search.quick_search, _args(*_BASIC))


@bp.post("/search/quick", strict_slashes=False)
def quick_post():
    """``POST /api/atlas/v2/search/quick`` with QuickSearchParameters: AtlasQuickSearchResult."""
    return _answer(search.quick_search, json_body(dict))
