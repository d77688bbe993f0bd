"""Atlas's SearchParameters and FilterCriteria, parsed and checked as Atlas's REST layer does.

``parse_parameters`` reads a SearchParameters (or QuickSearchParameters) JSON object:
unknown keys are ignored (Jackson's ``ignoreUnknown``), every string is bounded and
storable, and filters are checked as ``DiscoveryREST.validateNestedCriteria`` checks them
(an empty FilterCriteria is no filter). ``validate_basic`` / ``validate_quick`` are
``validateBasicSearchParameters`` and the quick search's checks, in Atlas's order.
Errors are ``SearchError``, whose ``reason`` names Atlas's ``AtlasErrorCode``.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, fields
from typing import Any

from catalog.errors import CatalogError

__all__ = [
    "DEFAULT_LIMIT", "JAVA_INT_MAX", "MAX_DEPTH", "MAX_LIMIT", "MAX_TESTS", "MAX_TEXT", "OPERATORS",
    "Branch", "Leaf", "Parameters", "SearchError", "bad", "parse_parameters", "validate_basic", "validate_quick",
]

DEFAULT_LIMIT = 100  # atlas.search.defaultlimit
MAX_LIMIT = 10_000  # atlas.search.maxlimit
MAX_TEXT = 4096  # atlas.query.param.max.length, atlas.graph.fulltext-max-query-str-length
MAX_DEPTH = 10  # nesting of FilterCriteria (the catalog's bound; Atlas has none)
MAX_TESTS = 100  # leaf criteria per filter (the catalog's bound)
JAVA_INT_MAX = 2**31 - 1
MAX_BODY_TEXT = 1 << 20  # the request body's own bound

# Atlas's SearchParameters.Operator: each operator's spellings (its first is what Atlas echoes).
_SPELLINGS = {
    "lt": ("<", "lt"), "gt": (">", "gt"), "lte": ("<=", "lte"), "gte": (">=", "gte"),
    "eq": ("=", "eq"), "neq": ("!=", "neq"), "in": ("in", "IN"), "like": ("like", "LIKE"),
    "starts_with": ("startsWith", "STARTSWITH", "begins_with", "BEGINS_WITH"),
    "ends_with": ("endsWith", "ENDSWITH", "ends_with", "ENDS_WITH"),
    "contains": ("contains", "CONTAINS"), "not_contains": ("not_contains", "NOT_CONTAINS"),
    "contains_any": ("containsAny", "CONTAINSANY", "contains_any", "CONTAINS_ANY"),
    "contains_all": ("containsAll", "CONTAINSALL", "contains_all", "CONTAINS_ALL"),
    "is_null": ("isNull", "ISNULL", "is_null", "IS_NULL"), "not_null": ("notNull", "NOTNULL", "not_null", "NOT_NULL"),
    "range": ("timerange", "TIMERANGE", "time_range", "TIME_RANGE"),
    "not_empty": ("notEmpty", "NOTEMPTY", "not_empty", "NOT_EMPTY"),
}
#: Any ASCII case of an Atlas spelling -> the store's operator.
OPERATORS = {spelling.lower(): op for op, spellings in _SPELLINGS.items() for spelling in spellings}

class SearchError(CatalogError, ValueError):
    """A search Atlas would refuse: ``reason`` names Atlas's ``AtlasErrorCode``; HTTP ``status``."""

    def __init__(self, reason: str, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.reason, self.message, self.status = reason, message, status


def bad(message: str) -> SearchError:
    return SearchError("BAD_REQUEST", message)


# ------------------------------------------------------------------ FilterCriteria


@dataclass(frozen=True, slots=True)
class Leaf:
    name: str
    op: str
    symbol: str
    value: str | None


@dataclass(frozen=True, slots=True)
class Branch:
    any: bool
    parts: tuple[Leaf | Branch, ...]


def _text(value: Any, where: str, limit: int = MAX_TEXT) -> str | None:
    """A JSON string (or null) of at most ``limit`` characters that both databases can hold."""
    if value is None:
        return None
    if not isinstance(value, str):
        raise bad(f"{where} must be a string, not {type(value).__name__}")
    if len(value) > limit:
        raise bad(f"{where} must be at most {limit} characters, got {len(value)}")
    if "\x00" in value or any(0xD800 <= ord(c) <= 0xDFFF for c in value):
        raise bad(f"{where} must not hold NUL or lone surrogate characters")
    return value


def _value_text(value: Any, where: str) -> str | None:
    """``attributeValue``: Atlas's String; a JSON number or boolean becomes its text, as Jackson does."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(value)
    return _text(value, where)


def _criteria(raw: Any, where: str, depth: int = 0, budget: list[int] | None = None) -> Leaf | Branch | None:
    """A FilterCriteria checked as Atlas's ``validateNestedCriteria`` does; None when empty."""
    budget = [MAX_TESTS] if budget is None else budget
    if raw is None:
        return None
    if not isinstance(raw, Mapping):
        raise bad(f"{where} must be a FilterCriteria object, not {type(raw).__name__}")
    if depth > MAX_DEPTH:
        raise bad(f"{where}: filters nest at most {MAX_DEPTH} levels deep")
    children = raw.get("criterion")
    if children is not None and not isinstance(children, list):
        raise bad(f"{where}.criterion must be a list, not {type(children).__name__}")
    name = _text(raw.get("attributeName"), f"{where}.attributeName")
    value = _value_text(raw.get("attributeValue"), f"{where}.attributeValue")
    symbol = raw.get("operator")
    leaf = _leaf(name, symbol, value) if (name or symbol is not None or value) else None
    if not children:
        return leaf
    condition = raw.get("condition")
    if condition is None:
        raise bad("Condition (AND/OR) must be specified when using multiple filters.")
    if not isinstance(condition, str) or condition.upper() not in ("AND", "OR"):
        raise bad(f"{where}.condition must be AND or OR, got {str(condition)[:40]!r}")
    parts = []
    for i, child in enumerate(children):
        node = _criteria(child, f"{where}.criterion[{i}]", depth + 1, budget)
        if node is not None:
            parts.append(node)
            budget[0] -= isinstance(node, Leaf)
            if budget[0] < 0:
                raise bad(f"{where}: at most {MAX_TESTS} criteria per filter")
    return Branch(condition.upper() == "OR", tuple(parts))


def _leaf(name: str | None, symbol: Any, value: str | None) -> Leaf:
    op = OPERATORS.get(symbol.lower()) if isinstance(symbol, str) and symbol.isascii() else None
    if op is None:
        shown = f"{str(symbol)[:40]!r}" if symbol is not None else "none"
        raise SearchError("INVALID_OPERATOR", f"Invalid operator specified for attribute: {name} (got {shown}; "
                          "Atlas's operators: " + ", ".join(s[0] for s in _SPELLINGS.values()) + ")")
    if not name or name.isspace():
        raise SearchError("BLANK_NAME_ATTRIBUTE", "Name Attribute can't be empty!")
    if op not in ("is_null", "not_null") and (not value or value.isspace()):
        raise SearchError("BLANK_VALUE_ATTRIBUTE", f"Value Attribute can't be empty! (attribute {name})")
    return Leaf(name, op, symbol, value)


def _echo(node: Leaf | Branch | None) -> dict[str, Any] | None:
    if node is None:
        return None
    if isinstance(node, Leaf):
        out: dict[str, Any] = {"attributeName": node.name, "operator": _SPELLINGS[node.op][0]}
        return out if node.value is None else {**out, "attributeValue": node.value}
    return {"condition": "OR" if node.any else "AND", "criterion": [_echo(p) for p in node.parts]}


# ------------------------------------------------------------------ SearchParameters


@dataclass(frozen=True)
class Parameters:
    """Atlas's SearchParameters, parsed (unknown keys ignored, as Jackson is told to)."""

    query: str | None = None
    typeName: str | None = None
    classification: str | None = None
    termName: str | None = None
    relationshipName: str | None = None
    sortBy: str | None = None
    sortOrder: str | None = None
    excludeDeletedEntities: bool = False
    includeClassificationAttributes: bool = False
    includeSubTypes: bool = True
    includeSubClassifications: bool = True
    excludeHeaderAttributes: bool = False
    limit: int = 0
    offset: int = 0
    entityFilters: Leaf | Branch | None = None
    tagFilters: Leaf | Branch | None = None
    attributes: tuple[str, ...] | None = None

    def echo(self) -> dict[str, Any]:
        """As Atlas returns it in ``searchParameters``: nulls left out."""
        out = {f.name: getattr(self, f.name) for f in fields(self)}
        out["entityFilters"], out["tagFilters"] = _echo(self.entityFilters), _echo(self.tagFilters)
        out["attributes"] = None if self.attributes is None else list(self.attributes)
        return {k: v for k, v in out.items() if v is not None}


_TEXTS = ("query", "typeName", "classification", "termName", "relationshipName", "sortBy")
_FLAGS = ("excludeDeletedEntities", "includeClassificationAttributes", "includeSubTypes",
          "includeSubClassifications", "excludeHeaderAttributes")


def _flag(value: Any, name: str) -> bool | None:
    if value is None or isinstance(value, bool):
        return value
    if isinstance(value, str) and value.lower() in ("true", "false"):
        return value.lower() == "true"
    raise bad(f"searchParameters.{name} must be true or false, not {str(value)[:40]!r}")


def _integer(value: Any, name: str) -> int:
    if value is None:
        return 0
    if isinstance(value, str) and re.fullmatch(r"-?[0-9]{1,10}", value):
        value = int(value)
    if not isinstance(value, int) or isinstance(value, bool) or abs(value) > JAVA_INT_MAX:
        raise bad(f"searchParameters.{name} must be an integer of at most {JAVA_INT_MAX}, got {str(value)[:40]!r}")
    return value


def parse_parameters(body: Mapping[str, Any]) -> Parameters:
    """A SearchParameters (or QuickSearchParameters) JSON object; ``SearchError`` naming the field."""
    if not isinstance(body, Mapping):
        raise bad(f"request body must be a SearchParameters object, not {type(body).__name__}")
    values: dict[str, Any] = {}
    for name in _TEXTS:  # lengths: Atlas's own checks and codes (``validate_basic``)
        values[name] = _text(body.get(name), f"searchParameters.{name}", limit=MAX_BODY_TEXT)
    for name in _FLAGS:
        flag = _flag(body.get(name), name)
        if flag is not None:
            values[name] = flag
    order = _text(body.get("sortOrder"), "searchParameters.sortOrder")
    if order is not None and (not order.isascii() or order.upper() not in ("ASCENDING", "DESCENDING")):
        raise bad(f"searchParameters.sortOrder must be ASCENDING or DESCENDING, got {order[:40]!r}")
    values["sortOrder"] = order.upper() if order else None
    values["limit"], values["offset"] = _integer(body.get("limit"), "limit"), _integer(body.get("offset"), "offset")
    values["entityFilters"] = _criteria(body.get("entityFilters"), "entityFilters")
    values["tagFilters"] = _criteria(body.get("tagFilters"), "tagFilters")
    attributes = body.get("attributes")
    if attributes is not None:
        if not isinstance(attributes, list) or len(attributes) > MAX_TESTS:
            raise bad(f"searchParameters.attributes must be a list of at most {MAX_TESTS} attribute names")
        values["attributes"] = tuple(dict.fromkeys(_text(a, "searchParameters.attributes[]") or "" for a in attributes))
    return Parameters(**values)


def _check_lengths(p: Parameters) -> None:
    for name in ("typeName", "classification", "sortBy"):
        if len(getattr(p, name) or "") > MAX_TEXT:
            raise SearchError("INVALID_QUERY_PARAM_LENGTH", f"Length of query param {name} exceeds the limit")
    if len(p.query or "") > MAX_TEXT:
        raise SearchError("INVALID_QUERY_LENGTH",
                          "Invalid query length, update atlas.graph.fulltext-max-query-str-length to change the limit")


def _check_paging_and_filters(p: Parameters) -> None:
    """The checks both searches start with: paging in range, entity filters only with a type."""
    if p.limit < 0 or p.offset < 0:
        raise bad("Limit/offset should be non-negative")
    if p.limit > MAX_LIMIT:
        raise bad(f"limit must be at most {MAX_LIMIT} (atlas.search.maxlimit), got {p.limit}")
    if not p.typeName and p.entityFilters is not None:
        raise bad("EntityFilters specified without Type name")


def validate_basic(p: Parameters) -> None:
    """Atlas's ``validateBasicSearchParameters``, in its order, and the limit's range."""
    _check_paging_and_filters(p)
    if not p.classification and p.tagFilters is not None:
        raise bad("TagFilters specified without tag name")
    if not (p.typeName or p.classification or p.query or p.termName):
        raise SearchError("INVALID_SEARCH_PARAMS", "No search parameter was found. One of the following MUST be "
                          "specified in the request; typeName, classification, termName or queryText")
    _check_lengths(p)


def validate_quick(p: Parameters) -> None:
    """Atlas's checks of a quick search (POST ``search/quick``)."""
    _check_paging_and_filters(p)
    if not p.typeName and not p.query and not p.classification:  # classification: the catalog's extension
        raise SearchError("INVALID_SEARCH_PARAMS", "No search parameter was found. One of the following MUST be "
                          "specified in the request; typeName, classification, termName or queryText")
    if not p.typeName and p.sortBy:
        raise bad("SortBy specified without Type name")
    _check_lengths(p)


