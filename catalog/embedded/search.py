"""Atlas's search over the catalog store: ``search/basic``, ``search/attribute``, ``search/quick``.

Atlas's semantics, read from its source (``SearchParameters``, ``DiscoveryREST``,
``SearchContext``, ``SearchPredicateUtil``, ``EntityDiscoveryService``):

- ``typeName`` and ``classification`` take comma-separated names; unknown names are
  dropped while one is known, else ``UNKNOWN_TYPENAME`` / ``UNKNOWN_CLASSIFICATION``.
  ``includeSubTypes`` and ``includeSubClassifications`` default to true;
  ``_ALL_ENTITY_TYPES`` is every type; ``*``, ``_CLASSIFIED`` and
  ``_ALL_CLASSIFICATION_TYPES`` match any classification, ``_NOT_CLASSIFIED`` none, and a
  name with ``*`` in it is a pattern over classification names. Direct and propagated
  classifications both match.
- ``entityFilters`` / ``tagFilters`` are FilterCriteria trees; every attribute must exist
  on each searched type (``UNKNOWN_ATTRIBUTE``), values are typed by the attribute's
  typedef. Operators are Atlas's spellings (``=``/``eq``, ``startsWith``/``STARTSWITH``,
  ...), here in any ASCII case.
- ``limit`` 0 means Atlas's default of 100; ``approximateCount`` is the number of all
  matches; attributes named in ``entityFilters`` come back in each header, as Atlas does.

Parsing and Atlas's REST checks are in ``catalog.embedded.search_params``; errors are
``SearchError`` with the name of Atlas's ``AtlasErrorCode`` in ``reason`` (the web layer
maps it to the code). Store reads go through ``catalog.store.filters`` (one WHERE clause,
bound parameters only) and ``get_headers`` / ``get_entities``.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy.orm import Session

from catalog.atlas import entity_header
from catalog.embedded.search_params import (
    DEFAULT_LIMIT,
    MAX_LIMIT,
    OPERATORS,
    Branch,
    Leaf,
    Parameters,
    SearchError,
    bad,
    parse_parameters,
    validate_basic,
    validate_quick,
)
from catalog.errors import did_you_mean
from catalog.model import guid_for
from catalog.store import filters as sql
from catalog.store.queries import get_entities, get_headers
from catalog.types.registry import PRIMITIVE_TYPES, TypeRegistry

__all__ = [
    "DEFAULT_LIMIT", "MAX_LIMIT", "OPERATORS", "Parameters", "SearchError",
    "attribute_search", "basic_search", "parse_parameters", "quick_search",
]

WILDCARD, CLASSIFIED, NOT_CLASSIFIED = "*", "_CLASSIFIED", "_NOT_CLASSIFIED"
ALL_ENTITY_TYPES, ALL_CLASSIFICATION_TYPES = "_ALL_ENTITY_TYPES", "_ALL_CLASSIFICATION_TYPES"

S, N = sql.STRING, sql.NUMBER
#: Atlas's entity system attributes the store keeps, with their Atlas type.
SYSTEM_ATTRIBUTES: dict[str, tuple[sql.Field, str]] = {
    "__guid": (sql.Field(S, column="guid"), "string"),
    "__typeName": (sql.Field(S, column="type_name"), "string"),
    "__state": (sql.Field(S, column="status"), "string"),
    "__createdBy": (sql.Field(S, column="created_by"), "string"),
    "__modifiedBy": (sql.Field(S, column="updated_by"), "string"),
    "__timestamp": (sql.Field(N, column="created_at"), "date"),
    "__modificationTimestamp": (sql.Field(N, column="updated_at"), "date"),
    "__classificationNames": (sql.Field(S, tags="direct"), "tags"),
    "__propagatedClassificationNames": (sql.Field(S, tags="propagated"), "tags"),
}
_COLUMN_ATTRIBUTES = {"qualifiedName": "qualified_name", "name": "name"}
#: quick search's aggregationMetrics (Atlas: ``__typeName``, ``__state`` and ``Asset.owner``).
FACETS = {"__typeName": sql.Field(S, column="type_name"), "__state": sql.Field(S, column="status"),
          "Asset.owner": sql.Field(S, key="owner")}


# ------------------------------------------------------------------ names against the registry


def _month(start: datetime, months: int) -> datetime:
    year, month = divmod(start.month - 1 + months, 12)
    return start.replace(year=start.year + year, month=month + 1, day=1)


#: Atlas's named time ranges (``SearchProcessor.processDateRange``, UTC): (start, end exclusive)
#: from today's and this month's and year's starts; its THIS_QUARTER starts last month, as Atlas's does.
_NAMED_RANGES: dict[str, Callable[[datetime, datetime, datetime], tuple[datetime, datetime]]] = {
    "TODAY": lambda d, m, y: (d, d + timedelta(days=1)),
    "YESTERDAY": lambda d, m, y: (d - timedelta(days=1), d),
    "LAST_7_DAYS": lambda d, m, y: (d - timedelta(days=6), d + timedelta(days=1)),
    "LAST_30_DAYS": lambda d, m, y: (d - timedelta(days=29), d + timedelta(days=1)),
    "THIS_MONTH": lambda d, m, y: (m, _month(m, 1)),
    "LAST_MONTH": lambda d, m, y: (_month(m, -1), m),
    "THIS_QUARTER": lambda d, m, y: (_month(m, -1), _month(m, 2)),
    "LAST_QUARTER": lambda d, m, y: (_month(m, -4), _month(m, -1)),
    "LAST_3_MONTHS": lambda d, m, y: (_month(m, -3), m),
    "LAST_6_MONTHS": lambda d, m, y: (_month(m, -6), m),
    "LAST_12_MONTHS": lambda d, m, y: (_month(m, -12), m),
    "THIS_YEAR": lambda d, m, y: (y, _month(y, 12)),
    "LAST_YEAR": lambda d, m, y: (_month(y, -12), y),
}


def time_range(text: str, now: datetime | None = None) -> tuple[int, int]:
    """``start,end`` epoch milliseconds, or one of Atlas's named ranges, as inclusive (start, end)."""
    named = _NAMED_RANGES.get(text)
    if named is not None:
        day = (now or datetime.now(UTC)).replace(hour=0, minute=0, second=0, microsecond=0)
        start, end = named(day, day.replace(day=1), day.replace(month=1, day=1))
        return int(start.timestamp() * 1000), int(end.timestamp() * 1000) - 1
    parts = text.split(",")
    if len(parts) != 2:
        raise ValueError(f"expects 'start,end' in epoch milliseconds or one of {', '.join(_NAMED_RANGES)}, "
                         f"got {text[:40]!r}")
    return sql.parse_value("long", parts[0]), sql.parse_value("long", parts[1])


_ALL_OPS = {"eq", "neq", "lt", "lte", "gt", "gte", "in"}
_NULL_OPS = {"is_null", "not_null", "not_empty"}
_STRING_OPS = {"contains", "not_contains", "starts_with", "ends_with", "like"}
#: Operators each kind of field takes (``tags``: the names of an entity's classifications).
_ALLOWED = {
    sql.STRING: _ALL_OPS | _NULL_OPS | _STRING_OPS, sql.NUMBER: _ALL_OPS | _NULL_OPS | {"range"},
    sql.BOOLEAN: {"eq", "neq", "in"} | _NULL_OPS, sql.ARRAY: {"contains", "not_contains"} | _NULL_OPS,
    sql.MAP: _NULL_OPS, sql.OBJECT: _NULL_OPS, "tags": {"eq", "neq", "in"} | _NULL_OPS | _STRING_OPS,
}

Lookup = Callable[[str, str], "tuple[sql.Field, str] | None"]


class _Names:
    """Attribute lookups against one registry, cached for one request (``all_attributes`` copies)."""

    def __init__(self, registry: TypeRegistry) -> None:
        self.registry = registry
        self._attributes: dict[str, dict[str, dict]] = {}
        self._enums: set[str] | None = None

    def attributes(self, type_name: str) -> dict[str, dict]:
        if type_name not in self._attributes:
            self._attributes[type_name] = self.registry.all_attributes(type_name)
        return self._attributes[type_name]

    def _field(self, key: str, type_name: str) -> tuple[sql.Field, str]:
        base = type_name[6:-1] if type_name.startswith("array<") and type_name.endswith(">") else type_name
        entity = self.registry.has_entity_type(base)
        enum = True
        if base not in PRIMITIVE_TYPES and not entity and not base.startswith("map<"):
            if self._enums is None:
                self._enums = {d["name"] for d in self.registry.to_typesdef()["enumDefs"]}
            enum = base in self._enums
        kind, element = sql.kind_of(type_name, is_entity=entity, is_enum=enum)
        return sql.Field(kind, key=key, element=element), base if kind == sql.ARRAY else type_name

    def entity(self, root: str, name: str) -> tuple[sql.Field, str] | None:
        if name in SYSTEM_ATTRIBUTES:
            return SYSTEM_ATTRIBUTES[name]
        if root == ALL_ENTITY_TYPES or name not in self.attributes(root):
            return None
        if name in _COLUMN_ATTRIBUTES:
            return sql.Field(sql.STRING, column=_COLUMN_ATTRIBUTES[name]), "string"
        return self._field(name, self.attributes(root)[name]["typeName"])

    def classification(self, root: str, name: str) -> tuple[sql.Field, str] | None:
        if root in (ALL_CLASSIFICATION_TYPES, NOT_CLASSIFIED):
            return None
        pending, seen = [root], set()
        while pending:
            current = pending.pop()
            if current in seen:
                continue
            seen.add(current)
            found = self.registry.classification_def(current)
            for attribute in found.get("attributeDefs") or ():
                if attribute.get("name") == name:
                    return self._field(name, attribute["typeName"])
            pending.extend(found.get("superTypes") or ())
        return None


def _value(leaf: Leaf, field: sql.Field, type_name: str) -> Any:
    """The leaf's value, typed for ``field`` (Atlas's typedef type ``type_name``)."""
    if leaf.op in ("contains_any", "contains_all"):
        raise bad(f"operator {leaf.symbol} is not supported (Atlas maps no predicate to it either)")
    kind = "tags" if field.tags else field.kind
    if leaf.op not in _ALLOWED[kind] or (kind == sql.ARRAY and field.element not in (sql.STRING, sql.NUMBER, sql.BOOLEAN)
                                         and leaf.op not in _NULL_OPS):
        raise bad(f"operator {leaf.symbol} cannot test attribute {leaf.name} of type "
                   f"{'array<' + type_name + '>' if kind == sql.ARRAY else type_name}")
    if leaf.op in _NULL_OPS:
        return None
    text = leaf.value or ""
    try:
        if leaf.op == "range":
            if type_name not in sql.INTEGRAL_BITS:
                raise ValueError(f"timerange needs a date or integer attribute, not {type_name}")
            return time_range(text)
        if leaf.op == "in":
            return tuple(sql.parse_value(type_name, part) for part in text.split(","))
        return sql.parse_value(type_name, text)
    except ValueError as exc:
        raise bad(f"attribute {leaf.name} {exc}") from None


def _resolve(node: Leaf | Branch, roots: Sequence[str], lookup: Lookup, used: list[str]) -> sql.Test | sql.Group:
    """The store's filter for ``node``; each attribute must exist on every root (Atlas's check)."""
    if isinstance(node, Branch):
        return sql.Group(node.any, tuple(_resolve(part, roots, lookup, used) for part in node.parts))
    found = None
    for root in roots:
        hit = lookup(root, node.name)
        if hit is None:
            raise SearchError("UNKNOWN_ATTRIBUTE", f"Attribute {node.name} not found for type {root}")
        found = found or hit
    assert found is not None
    if node.name not in SYSTEM_ATTRIBUTES:
        used.append(node.name)
    return sql.Test(found[0], node.op, _value(node, *found))


def _split(names: str) -> list[str]:
    return sorted(set(names.split(",")))


def _types(registry: TypeRegistry, p: Parameters) -> tuple[list[str], tuple[str, ...] | None]:
    """(roots to check attributes on, every type searched; None: all) of ``typeName``."""
    asked = _split(p.typeName or "")
    if ALL_ENTITY_TYPES in asked:
        return [ALL_ENTITY_TYPES], None
    roots = [t for t in asked if registry.has_entity_type(t)]
    if not roots:
        hint = did_you_mean(p.typeName, registry.entity_type_names())
        raise SearchError("UNKNOWN_TYPENAME", f"{p.typeName}: Unknown/invalid typename{hint}")
    found: set[str] = set()
    for root in roots:
        found |= registry.subtypes(root) if p.includeSubTypes else {root}
    return roots, tuple(sorted(found))


def _pattern(pattern: str) -> re.Pattern[str]:
    return re.compile(".*".join(re.escape(part) for part in pattern.split(WILDCARD)))


def _tags(registry: TypeRegistry, p: Parameters) -> tuple[sql.TagMatch, list[str]]:
    """(the classification match, roots to check tag filters on) of ``classification``."""
    asked, known = _split(p.classification or ""), registry.classification_names()
    specials = {WILDCARD, CLASSIFIED, ALL_CLASSIFICATION_TYPES, NOT_CLASSIFIED}
    valid = [c for c in asked if c in known or c in specials or WILDCARD in c]
    if not valid:
        hint = did_you_mean(p.classification, known)
        raise SearchError("UNKNOWN_CLASSIFICATION", f"{p.classification}: Unknown/invalid classification{hint}")
    if p.tagFilters is not None and any(WILDCARD in c and c != WILDCARD for c in valid):
        raise bad("TagFilters specified with wildcard tag name")
    if NOT_CLASSIFIED in valid:
        return sql.TagMatch(none=True), [NOT_CLASSIFIED]
    if specials & set(valid):
        return sql.TagMatch(), [ALL_CLASSIFICATION_TYPES]
    names: set[str] = set()
    for asked_name in valid:
        if asked_name in known:
            names |= {c for c in known if registry.is_a(c, asked_name)} if p.includeSubClassifications else {asked_name}
        else:
            names |= {c for c in known if _pattern(asked_name).fullmatch(c)}
    return sql.TagMatch(names=tuple(sorted(names))), [c for c in valid if c in known]


# ------------------------------------------------------------------ the search


@dataclass(frozen=True)
class _Plan:
    query: sql.Query
    wanted: tuple[str, ...]  # attributes each header carries besides the header's own


def _sort(p: Parameters, roots: Sequence[str], names: _Names) -> sql.Field | None:
    if not p.sortBy:
        return None
    used: list[str] = []
    test = _resolve(Leaf(p.sortBy, "is_null", "isNull", None), roots or [ALL_ENTITY_TYPES], names.entity, used)
    assert isinstance(test, sql.Test)
    field = test.field
    if field.tags is not None or (field.column is None and field.kind not in (sql.STRING, sql.NUMBER, sql.BOOLEAN)):
        raise bad(f"cannot sort by attribute {p.sortBy}: only single values sort")
    return field


def _wanted(p: Parameters, roots: Sequence[str], names: _Names, used: list[str]) -> tuple[str, ...]:
    """``attributes`` (checked on the first type, as Atlas does) and the attributes the filters name."""
    asked = list(p.attributes or ())
    if asked and roots and roots[0] != ALL_ENTITY_TYPES:
        ends = names.registry.relationship_ends(roots[0])
        for name in asked:
            if name not in names.attributes(roots[0]) and name not in ends:
                raise SearchError("UNKNOWN_ATTRIBUTE", f"Attribute {name} not found for type {roots[0]}")
    return tuple(n for n in dict.fromkeys([*asked, *used]) if n not in ("qualifiedName", "name"))


def _plan(registry: TypeRegistry, p: Parameters) -> _Plan:
    """The store query of ``p``, checked as Atlas's ``SearchContext`` checks it, in its order."""
    if p.termName:
        raise SearchError("UNKNOWN_GLOSSARY_TERM", f"{p.termName}: Unknown/invalid glossary term (the catalog "
                          "holds no glossary)")
    if p.relationshipName:
        raise bad("Relationship search is not supported by the catalog")
    names = _Names(registry)
    roots, type_names = _types(registry, p) if p.typeName else ([], None)
    tags, tag_roots = _tags(registry, p) if p.classification else (None, [])
    used: list[str] = []
    where = _resolve(p.entityFilters, roots, names.entity, used) if p.entityFilters is not None and roots else None
    sort = _sort(p, roots, names)
    if tags is not None and p.tagFilters is not None and tag_roots:
        tags = replace(tags, where=_resolve(p.tagFilters, tag_roots, names.classification, []))
    query = sql.Query(
        type_names=type_names, tags=tags, text=(p.query or "").strip("*"), active_only=p.excludeDeletedEntities,
        where=where, sort=sort, descending=p.sortOrder == "DESCENDING",
        limit=p.limit if 0 < p.limit <= MAX_LIMIT else DEFAULT_LIMIT, offset=p.offset,
    )
    return _Plan(query, _wanted(p, roots, names, used))


def _run(session: Session, registry: TypeRegistry, p: Parameters) -> tuple[_Plan, dict[str, Any]]:
    plan = _plan(registry, p)
    try:
        guids, total = sql.page(session, plan.query)
    except ValueError as exc:  # a name the store cannot address (quote or backslash in it)
        raise bad(str(exc)) from None
    return plan, _result(session, replace(p, limit=plan.query.limit), plan, guids, total)


def basic_search(session: Session, registry: TypeRegistry, body: Mapping[str, Any] | Parameters) -> dict[str, Any]:
    """``POST search/basic`` (and GET, whose query parameters make the same body): AtlasSearchResult."""
    p = body if isinstance(body, Parameters) else parse_parameters(body)
    validate_basic(p)
    return _run(session, registry, p)[1]


def attribute_search(
    session: Session, registry: TypeRegistry, *, type_name: str | None, attr_name: str | None,
    prefix: str | None, limit: int = 0, offset: int = 0,
) -> dict[str, Any]:
    """``GET search/attribute``: entities whose ``attr_name`` starts with ``prefix`` (Atlas builds this filter)."""
    if not attr_name and not prefix:
        raise SearchError("INVALID_PARAMETERS", f"invalid parameters: attrName : {attr_name}, attrValue: {prefix} "
                          "for attribute search.")
    if not attr_name:
        known = registry.all_attributes(type_name) if type_name and registry.has_entity_type(type_name) else {}
        attr_name = "name" if "qualifiedName" not in known and "name" in known else "qualifiedName"
    body = {"typeName": type_name, "limit": limit, "offset": offset,
            "entityFilters": {"attributeName": attr_name, "operator": "startsWith", "attributeValue": prefix}}
    return basic_search(session, registry, body)


def quick_search(session: Session, registry: TypeRegistry, body: Mapping[str, Any]) -> dict[str, Any]:
    """``search/quick``: AtlasQuickSearchResult, with ``__typeName``, ``__state`` and ``Asset.owner`` counts."""
    if isinstance(body, Mapping) and body.get("includeSubTypes") is None:
        body = {**body, "includeSubTypes": False}  # QuickSearchParameters' default
    p = parse_parameters(body)
    validate_quick(p)
    plan, result = _run(session, registry, p)
    try:
        metrics = sql.counts(session, plan.query, FACETS)
    except ValueError as exc:  # as in ``_run``
        raise bad(str(exc)) from None
    return {
        "searchResults": result,
        "aggregationMetrics": {name: [{"name": v, "count": n} for v, n in rows] for name, rows in metrics.items()},
    }


# ------------------------------------------------------------------ AtlasSearchResult


def _with_guids(value: Any, referred: dict[str, None]) -> Any:
    """``value`` with a ``guid`` in each AtlasObjectId (collected in ``referred``)."""
    if isinstance(value, list):
        return [_with_guids(v, referred) for v in value]
    unique = value.get("uniqueAttributes") if isinstance(value, Mapping) else None
    if isinstance(unique, Mapping) and isinstance(value.get("typeName"), str) and isinstance(
            unique.get("qualifiedName"), str):
        guid = guid_for(value["typeName"], unique["qualifiedName"])
        referred[guid] = None
        return {**value, "guid": guid}
    return value


def _classification(tag: Any) -> dict[str, Any]:
    return {"typeName": tag.type_name, "attributes": dict(tag.attributes), "entityGuid": tag.source_guid,
            "entityStatus": "ACTIVE", "propagate": tag.propagate, "removePropagationsOnEntityDelete": True}


def _headers(session: Session, guids: list[str], wanted: tuple[str, ...], with_tags: bool) -> tuple[list, dict]:
    """AtlasEntityHeaders of ``guids`` in order, and the headers of the entities their attributes refer to."""
    if wanted:
        found = get_entities(session, guids)
        items: list[Any] = [found[g] for g in guids if g in found]
    else:
        items = list(get_headers(session, guids).values())
    headers, referred = [], {}
    for item in items:
        header = entity_header(item)
        for name in wanted:
            value = item.attributes.get(name, item.relationship_attributes.get(name))
            if value is not None:
                header["attributes"][name] = _with_guids(value, referred)
        if with_tags:
            header["classifications"] = [_classification(t) for t in item.classifications]
        headers.append(header)
    others = get_headers(session, list(referred)) if referred else {}
    return headers, {guid: entity_header(h) for guid, h in others.items()}


def _result(session: Session, p: Parameters, plan: _Plan, guids: list[str], total: int) -> dict[str, Any]:
    """AtlasSearchResult (``entities`` is a list also when empty; Atlas leaves it out then)."""
    headers, referred = _headers(session, guids, plan.wanted, p.includeClassificationAttributes)
    out: dict[str, Any] = {"queryType": "BASIC", "searchParameters": p.echo()}
    if p.query is not None:
        out["queryText"] = p.query
    out.update(entities=headers, approximateCount=total)
    if referred:
        out["referredEntities"] = referred
    return out
