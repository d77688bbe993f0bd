"""Entity searches in SQL: typed attribute filters, classification matches, free text, order, pages.

A search is a ``Query``: entity types, a classification match (``TagMatch``), free text,
and a filter tree of ``Group`` (AND/OR) and ``Test`` nodes over ``Field`` values. It
compiles to one WHERE clause on SQLite and on PostgreSQL; every value travels as a
bound parameter (attribute names too, as JSON paths or keys), never in the SQL text.

Where a value is read:

- an entity column (``qualified_name``, ``name``, ``guid``, ``type_name``, ``status``,
  ``created_by``, ``updated_by``, ``created_at``, ``updated_at``);
- a key of the attributes' canonical JSON text: SQLite ``json_type``/``json_extract``,
  PostgreSQL ``CAST(attributes AS JSONB) ->`` / ``->>``. A value counts only when its JSON
  type is the field's kind (a number for ``NUMBER``, ...), else it reads as absent;
- the names of an entity's classifications (``Field.tags``: direct or propagated ones).

Python's json module writes ``NaN``/``Infinity`` (a metric can be NaN); neither database
parses them, so such a text reads as holding no attributes: SQLite checks ``json_valid``,
PostgreSQL skips texts that match ``NAN_PATTERN`` (also a string that merely contains,
say, ``:NaN,``: it reads as absent there, never as an error).

Absent values follow Atlas's search predicates: ``neq`` and ``not_contains`` match them,
every other comparison does not; ``is_null`` matches them (and empty arrays and maps).
Strings compare case-sensitively, by code point on both backends (``COLLATE "C"`` on
PostgreSQL); free text (``Query.text``) is case-insensitive.
"""

from __future__ import annotations

import functools
import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

from sqlalchemy import (
    Numeric,
    String,
    and_,
    bindparam,
    case,
    cast,
    exists,
    false,
    func,
    literal,
    not_,
    or_,
    select,
    true,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Session

from catalog.model import ACTIVE
from catalog.store.schema import ClassificationRow, EntityRow

__all__ = [
    "ARRAY", "BOOLEAN", "MAP", "NUMBER", "OBJECT", "STRING", "COLUMNS", "NAN_PATTERN", "OPERATORS",
    "Field", "Group", "Query", "TagMatch", "Test", "condition", "counts", "kind_of", "page", "parse_value",
]

# What a field holds; how it is read and compared.
STRING, NUMBER, BOOLEAN, ARRAY, MAP, OBJECT = "string", "number", "boolean", "array", "map", "object"
#: Entity columns a field may name, with their kind.
COLUMNS = {
    "qualified_name": STRING, "name": STRING, "guid": STRING, "type_name": STRING, "status": STRING,
    "created_by": STRING, "updated_by": STRING, "created_at": NUMBER, "updated_at": NUMBER,
}
#: Operators a ``Test`` may use. ``in``: a tuple of values; ``range``: (low, high), both inclusive.
OPERATORS = frozenset({
    "eq", "neq", "lt", "lte", "gt", "gte", "in", "range", "contains", "not_contains",
    "starts_with", "ends_with", "like", "is_null", "not_null", "not_empty",
})
#: A JSON text PostgreSQL refuses: Python's ``NaN``/``Infinity`` tokens after ``:``, ``,`` or ``[``.
NAN_PATTERN = r"[:,[]-?(NaN|Infinity)[],}]"

_SQLITE_TYPES = {STRING: ("text",), NUMBER: ("integer", "real"), BOOLEAN: ("true", "false"),
                 ARRAY: ("array",), MAP: ("object",), OBJECT: ("object",)}
_PG_TYPES = {STRING: ("string",), NUMBER: ("number",), BOOLEAN: ("boolean",),
             ARRAY: ("array",), MAP: ("object",), OBJECT: ("object",)}


@dataclass(frozen=True, slots=True)
class Field:
    """Where a value is: one of ``column``, ``key`` (attributes JSON) or ``tags`` (direct/propagated)."""

    kind: str
    column: str | None = None
    key: str | None = None
    tags: str | None = None
    element: str | None = None  # the kind of an array's elements


@dataclass(frozen=True, slots=True)
class Test:
    field: Field
    op: str
    value: Any = None


@dataclass(frozen=True, slots=True)
class Group:
    any: bool  # OR when true, AND otherwise
    parts: tuple[Test | Group, ...]


@dataclass(frozen=True, slots=True)
class TagMatch:
    """Entities with a classification (direct or propagated): one of ``names`` (None: any), or with none."""

    names: tuple[str, ...] | None = None
    none: bool = False
    where: Test | Group | None = None  # over the matching classification's attributes


@dataclass(frozen=True, slots=True)
class Query:
    type_names: tuple[str, ...] | None = None  # None: every type
    tags: TagMatch | None = None
    text: str = ""
    active_only: bool = False
    where: Test | Group | None = None
    sort: Field | None = None
    descending: bool = False
    limit: int = 100
    offset: int = 0


#: Bits of Atlas's integral primitive types (a date is epoch milliseconds, a long).
INTEGRAL_BITS = {"byte": 8, "short": 16, "int": 32, "long": 64, "date": 64, "biginteger": 64}
FLOATING = frozenset({"float", "double", "bigdecimal"})
_INTEGER_TEXT = re.compile(r"[+-]?[0-9]{1,20}")
_FLOAT_TEXT = re.compile(r"[+-]?([0-9]{1,400}(\.[0-9]{0,400})?|\.[0-9]{1,400})([eE][+-]?[0-9]{1,4})?")


def kind_of(type_name: str, *, is_entity: bool = False, is_enum: bool = True) -> tuple[str, str | None]:
    """(kind, element kind) of an attribute of Atlas type ``type_name`` (an enum: a string)."""
    if type_name.startswith("array<") and type_name.endswith(">"):
        return ARRAY, kind_of(type_name[6:-1], is_entity=is_entity, is_enum=is_enum)[0]
    if type_name.startswith("map<"):
        return MAP, None
    if type_name in INTEGRAL_BITS or type_name in FLOATING:
        return NUMBER, None
    if type_name in ("boolean", "string"):
        return (BOOLEAN if type_name == "boolean" else STRING), None
    return (OBJECT if is_entity or not is_enum else STRING), None


def parse_value(type_name: str, text: str) -> Any:
    """``text`` as a value of Atlas primitive ``type_name`` (str for strings and enums); ValueError if not one."""
    if type_name in INTEGRAL_BITS:
        if not _INTEGER_TEXT.fullmatch(text):
            raise ValueError(f"expects an integer ({type_name}), got {text[:40]!r}")
        value, bits = int(text), INTEGRAL_BITS[type_name]
        if not -(2 ** (bits - 1)) <= value < 2 ** (bits - 1):
            raise ValueError(f"expects a {type_name} from {-(2 ** (bits - 1))} to {2 ** (bits - 1) - 1}, got {text[:40]}")
        return value
    if type_name in FLOATING:
        value = float(text) if _FLOAT_TEXT.fullmatch(text) else math.nan
        if not math.isfinite(value):
            raise ValueError(f"expects a finite decimal number ({type_name}), got {text[:40]!r}")
        return value
    if type_name == "boolean":
        if text.lower() not in ("true", "false"):
            raise ValueError(f"expects true or false, got {text[:40]!r}")
        return text.lower() == "true"
    return text


class _Json:
    """Typed reads of one JSON object column (entity or classification attributes) on one dialect."""

    def __init__(self, column: Any, dialect: str) -> None:
        self.sqlite = dialect == "sqlite"
        if self.sqlite:
            self.doc = column
            self.valid = func.json_valid(column) == 1
        else:
            self.doc = cast(case((column.op("~")(literal(NAN_PATTERN, String)), None), else_=column), JSONB)
            self.valid = true()

    def _at(self, key: str) -> Any:
        if self.sqlite:
            if '"' in key or "\\" in key:
                raise ValueError(f"attribute name {key!r} cannot be searched (quote or backslash)")
            return func.json_type(self.doc, literal(f'$."{key}"', String)), literal(f'$."{key}"', String)
        node = self.doc.op("->", return_type=JSONB)(literal(key, String))
        return func.jsonb_typeof(node), node

    def _guard(self, test: Any, then: Any, otherwise: Any = None) -> Any:
        return case((and_(self.valid, test), then), else_=otherwise) if self.sqlite else case((test, then), else_=otherwise)

    def is_kind(self, key: str, kind: str) -> Any:
        jtype, _ = self._at(key)
        return jtype.in_((_SQLITE_TYPES if self.sqlite else _PG_TYPES)[kind])

    def scalar(self, key: str, kind: str) -> Any:
        """The value if it is of ``kind`` (a string, a number, ``'true'``/``'false'``), else NULL."""
        jtype, at = self._at(key)
        if self.sqlite:
            value = jtype if kind == BOOLEAN else func.json_extract(self.doc, at)
        else:
            text = self.doc.op("->>", return_type=String)(literal(key, String))
            value = cast(text, Numeric) if kind == NUMBER else text
        return self._guard(self.is_kind(key, kind), value)

    def present(self, key: str, kind: str) -> Any:
        """True when the key holds a value of ``kind``; arrays and maps must not be empty."""
        jtype, at = self._at(key)
        if kind == ARRAY:
            length = func.json_array_length(self.doc, at) if self.sqlite else func.jsonb_array_length(at)
            return self._guard(self.is_kind(key, ARRAY), length > 0, false())
        if kind == MAP:
            empty = func.json_extract(self.doc, at) == "{}" if self.sqlite else at == cast(literal("{}"), JSONB)
            return self._guard(self.is_kind(key, MAP), not_(empty), false())
        return self._guard(self.is_kind(key, kind), true(), false())

    def has_element(self, key: str, element: str, value: Any) -> Any:
        """True when the key holds an array with an element equal to ``value`` (of kind ``element``)."""
        jtype, at = self._at(key)
        if self.sqlite:
            each = func.json_each(self.doc, at).table_valued("value", "type").alias("element")
            if element == BOOLEAN:
                match = each.c.type == ("true" if value else "false")
            else:
                match = and_(each.c.type.in_(_SQLITE_TYPES[element]), each.c.value == literal(value))
            return self._guard(self.is_kind(key, ARRAY), exists(select(literal(1)).select_from(each).where(match)), false())
        if element == BOOLEAN:
            bound = cast(literal("true" if value else "false", String), JSONB)
        else:
            bound = cast(literal(value if element == STRING else str(value), String), String if element == STRING else Numeric)
        return self._guard(self.is_kind(key, ARRAY), at.op("@>")(func.jsonb_build_array(bound)), false())


def _bound(value: Any, kind: str, sqlite: bool) -> Any:
    if kind == NUMBER and not sqlite:
        return cast(literal(repr(value) if isinstance(value, float) else str(value), String), Numeric)
    if kind == BOOLEAN:
        return literal("true" if value else "false", String)
    return literal(value, String if kind == STRING else None)


def _strings(value: Any, op: str, pattern: Any, sqlite: bool) -> Any:
    """``contains``, ``starts_with``, ``ends_with``, ``like`` (``*`` and ``?`` wildcards) on a string value."""
    if op == "contains":
        return (func.instr(value, pattern) if sqlite else func.strpos(value, pattern)) > 0
    length = func.length(pattern) if sqlite else func.char_length(pattern)
    if op == "starts_with":
        return (func.substr(value, 1, length) if sqlite else func.left(value, length)) == pattern
    if op == "ends_with":
        return (func.substr(value, -length) if sqlite else func.right(value, length)) == pattern
    raise ValueError(f"not a string operator: {op}")


def _like(value: Any, text: str, sqlite: bool) -> Any:
    """Atlas's ``like``: ``*``/``?`` wildcards over the whole value; without any, ``contains``."""
    if "*" not in text and "?" not in text:
        return _strings(value, "contains", literal(text, String), sqlite)
    if sqlite:
        return value.op("GLOB")(literal(text.replace("[", "[[]"), String))
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return value.like(literal(escaped.replace("*", "%").replace("?", "_"), String), escape="\\")


def _compare(value: Any, test: Test, kind: str, sqlite: bool) -> Any:
    """``test`` on a scalar ``value`` expression (NULL when absent)."""
    op, arg = test.op, test.value
    if kind == STRING and not sqlite and op in ("lt", "lte", "gt", "gte"):
        value = value.collate("C")
    if op in ("eq", "neq", "lt", "lte", "gt", "gte"):
        bound = _bound(arg, kind, sqlite)
        compared = {"eq": value == bound, "neq": value != bound, "lt": value < bound, "lte": value <= bound,
                    "gt": value > bound, "gte": value >= bound}[op]
        return or_(value.is_(None), compared) if op == "neq" else compared
    if op == "in":
        return value.in_([_bound(v, kind, sqlite) for v in arg]) if arg else false()
    if op == "range":
        return and_(value >= _bound(arg[0], kind, sqlite), value <= _bound(arg[1], kind, sqlite))
    if kind != STRING:
        raise ValueError(f"operator {op} needs a string field")
    if op == "like":
        return _like(value, arg, sqlite)
    matched = _strings(value, op.removeprefix("not_"), literal(arg, String), sqlite)
    return or_(value.is_(None), not_(matched)) if op == "not_contains" else matched


def _tag_names(test: Test, sqlite: bool) -> Any:
    """A test over the names of an entity's direct or propagated classifications."""
    e, c = EntityRow.__table__, ClassificationRow.__table__.alias("tag_name")
    own = c.c.source_guid == c.c.entity_guid
    base = select(literal(1)).where(c.c.entity_guid == e.c.guid, own if test.field.tags == "direct" else not_(own))
    op = test.op
    if op == "is_null":
        return not_(base.exists())
    if op in ("not_null", "not_empty"):
        return base.exists()
    positive = {"neq": "eq", "not_contains": "contains"}.get(op, op)
    matched = base.where(_compare(c.c.type_name, Test(test.field, positive, test.value), STRING, sqlite)).exists()
    return not_(matched) if op in ("neq", "not_contains") else matched


def _test(test: Test, doc: _Json, sqlite: bool) -> Any:
    field, op = test.field, test.op
    if op not in OPERATORS:
        raise ValueError(f"unknown operator {op!r}")
    if field.tags is not None:
        return _tag_names(test, sqlite)
    if field.column is not None:
        column = EntityRow.__table__.c[field.column]
        if op in ("is_null", "not_null", "not_empty"):
            present = column.is_not(None)
            if op == "not_empty" and field.kind == STRING:
                present = and_(present, column != "")
            return not_(present) if op == "is_null" else present
        return _compare(column, test, field.kind, sqlite)
    key = field.key
    if op in ("is_null", "not_null", "not_empty"):
        present = doc.present(key, field.kind)
        if op == "not_empty" and field.kind == STRING:
            present = and_(present, doc.scalar(key, STRING) != "")
        return not_(present) if op == "is_null" else present
    if field.kind == ARRAY:
        if op not in ("contains", "not_contains") or field.element not in (STRING, NUMBER, BOOLEAN):
            raise ValueError(f"operator {op} cannot test an array of {field.element}")
        found = doc.has_element(key, field.element, test.value)
        return not_(found) if op == "not_contains" else found
    return _compare(doc.scalar(key, field.kind), test, field.kind, sqlite)


def _node(node: Test | Group, doc: _Json, sqlite: bool) -> Any:
    if isinstance(node, Test):
        return _test(node, doc, sqlite)
    parts = [_node(p, doc, sqlite) for p in node.parts]
    if not parts:
        return true()
    return or_(*parts) if node.any else and_(*parts)


def _tag_match(match: TagMatch, dialect: str, guid: Any) -> Any:
    c = ClassificationRow.__table__
    if match.none:
        return guid.not_in(select(c.c.entity_guid))
    tagged = select(c.c.entity_guid)
    if match.names is not None:
        tagged = tagged.where(c.c.type_name.in_(sorted(match.names)))
    if match.where is not None:
        tagged = tagged.where(_node(match.where, _Json(c.c.attributes, dialect), dialect == "sqlite"))
    return guid.in_(tagged)


def _text(text: str, dialect: str) -> Any:
    """Case-insensitive substring of qualifiedName, name or description."""
    e = EntityRow.__table__
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    pattern = literal(f"%{escaped}%", String)
    description = _Json(e.c.attributes, dialect).scalar("description", STRING)
    return or_(*(v.ilike(pattern, escape="\\") for v in (e.c.qualified_name, e.c.name, description)))


def condition(query: Query, dialect: str, start: str | None = None) -> Any:
    """The WHERE clause of ``query`` over the ``entity`` table, for ``dialect`` (sqlite or postgresql).

    ``start`` (SQLite): ``"tags"`` or ``"types"``, the side the plan should start from. An
    operand written ``x || ''`` cannot use its index, so SQLite starts from the other.
    """
    e = EntityRow.__table__
    type_name = e.c.type_name + "" if start == "tags" else e.c.type_name
    parts = []
    if query.type_names is not None:
        parts.append(type_name.in_(sorted(query.type_names)) if query.type_names else false())
    if query.active_only:
        parts.append(e.c.status == ACTIVE)
    if query.text:
        parts.append(_text(query.text, dialect))
    if query.tags is not None:
        parts.append(_tag_match(query.tags, dialect, e.c.guid + "" if start == "types" else e.c.guid))
    if query.where is not None:
        parts.append(_node(query.where, _Json(e.c.attributes, dialect), dialect == "sqlite"))
    return and_(true(), *parts)


#: Tag rows past which a SQLite plan starts from the types without counting further.
START_CAP = 20_000


def _capped(connection: Any, rows: Any, cap: int) -> int:
    return int(connection.execute(select(func.count()).select_from(rows.limit(cap).subquery())).scalar())


def _start(connection: Any, query: Query) -> str | None:
    """Where a SQLite plan of a type + classification search should start: the side with fewer rows.

    SQLite keeps no statistics here, and guesses: from the type index for one type (a scan
    of every table when few are tagged), from the tags for many types. Both counts are
    index-only and capped (the types' at the tags' number).
    """
    tags = query.tags
    if connection.dialect.name != "sqlite" or tags is None or tags.none or not query.type_names:
        return None
    e, c = EntityRow.__table__, ClassificationRow.__table__
    tagged = select(literal(1)).select_from(c)
    if tags.names is not None:
        tagged = tagged.where(c.c.type_name.in_(sorted(tags.names)))
    rows = _capped(connection, tagged, START_CAP)
    if rows >= START_CAP:
        return "types"
    typed = _capped(connection, select(literal(1)).where(e.c.type_name.in_(sorted(query.type_names))), rows + 1)
    return "tags" if rows < typed else "types"


def value_of(field: Field, dialect: str) -> Any:
    """The SQL value of a column or attribute field (strings by code point on PostgreSQL)."""
    if field.column is not None:
        value = EntityRow.__table__.c[field.column]
    elif field.key is not None and field.kind in (STRING, NUMBER, BOOLEAN):
        value = _Json(EntityRow.__table__.c.attributes, dialect).scalar(field.key, field.kind)
    else:
        raise ValueError(f"cannot order or group by {field}")
    return value.collate("C") if field.kind == STRING and dialect != "sqlite" else value


def _order(query: Query, dialect: str) -> list[Any]:
    e = EntityRow.__table__
    tail = [value_of(Field(STRING, column="qualified_name"), dialect), e.c.guid]
    if query.sort is None:
        return tail
    value = value_of(query.sort, dialect)
    return [value.is_(None), value.desc() if query.descending else value.asc(), *tail]


@functools.lru_cache(maxsize=64)
def _statements(shape: Query, dialect: str, start: str | None) -> tuple[Any, Any]:
    """(page, count) statements of a query shape (paging as parameters): built and cache-keyed once."""
    e = EntityRow.__table__
    where = condition(shape, dialect, start)
    page = (select(e.c.guid, func.count().over().label("total")).where(where).order_by(*_order(shape, dialect))
            .limit(bindparam("page_limit")).offset(bindparam("page_offset")))
    return page, select(func.count()).select_from(e).where(where)


def page(session: Session, query: Query) -> tuple[list[str], int]:
    """The guids of one page of ``query``'s matches in order, and the number of all matches.

    One statement: the page and, as a window over every match, their number. Only a page
    past the last match asks for the number apart.
    """
    connection = session.connection()
    shape = replace(query, limit=0, offset=0)
    page_sql, count_sql = _statements(shape, connection.dialect.name, _start(connection, shape))
    rows = connection.execute(page_sql, {"page_limit": query.limit, "page_offset": query.offset}).all()
    if rows or query.offset == 0:
        return [row.guid for row in rows], int(rows[0].total) if rows else 0
    return [], int(connection.execute(count_sql).scalar() or 0)


def counts(session: Session, query: Query, facets: Mapping[str, Field]) -> dict[str, list[tuple[Any, int]]]:
    """Per facet, ``(value, count)`` over all of ``query``'s matches, most frequent first (no NULLs)."""
    dialect = session.get_bind().dialect.name
    where = condition(query, dialect)
    out: dict[str, list[tuple[Any, int]]] = {}
    for name, field in facets.items():
        value = value_of(field, dialect)
        rows: Sequence[Any] = session.execute(
            select(value.label("v"), func.count().label("n")).where(where, value.is_not(None)).group_by(value)
        ).all()
        out[name] = sorted(((r.v, int(r.n)) for r in rows), key=lambda item: (-item[1], str(item[0])))
    return out
