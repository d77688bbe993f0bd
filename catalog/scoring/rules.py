"""A deployment's GX suite compiled for Spark: per-row flags, schema checks, and what GX must run.

Governed scoring checks every (micro-)batch in the same plan as scoring. Row-level
expectations become Spark SQL expressions, ``true`` where a row fails (never null),
that sit in the same projection as the ``spark_udf`` call; expectations about the schema
are decided from the batch's Spark schema alone; the rest run as GX validations on the
batch as pandas (``aggregate_suite``).

Public API: ``compile_suite``, ``check_schema``, ``aggregate_suite``, ``CompiledRules``,
``RowRule``, ``SchemaRule``, ``AggregateRule``, ``RuleError``, ``ACTIONS``, ``CORRUPT_COLUMN``.

============================================================  =========  ==================================
Expectation                                                   Kind       Notes
============================================================  =========  ==================================
expect_column_values_to_not_be_null                           row        fails null, and NaN on float/double
expect_column_values_to_be_null                               row        NaN counts as null (as in pandas)
expect_column_values_to_be_between                            row        numeric or string columns only
expect_column_values_to_be_in_set / _not_be_in_set            row        numeric, string or boolean columns
expect_column_values_to_match_regex / _not_match_regex        row        string columns; Java regex (find)
expect_column_value_lengths_to_be_between / _to_equal         row        string columns (characters)
expect_column_to_exist                                        schema     ``column_index`` checked too
expect_column_values_to_be_in_type_list / _of_type            schema     the pandas dtype spark_udf hands on
expect_table_columns_to_match_set / _match_ordered_list       schema
expect_table_column_count_to_equal                            schema
anything else (unique, mean, row count ...), a ``row_``       aggregate  run by GX on the batch as pandas
``condition``, or a row expectation on another column type
============================================================  =========  ==================================

Semantics are GX's on pandas: value expectations ignore nulls (and NaN on float/double
columns); only ``not_be_null`` fails them. ``match_regex`` uses Spark's ``rlike``, a
*find* like Python's ``re.search``, but with **Java** regex syntax. An expectation's
``mostly`` is kept in the rule's kwargs (for the batch's report) while each failing row
still gets the rule's action: use ``meta.max_rows``/``meta.max_percent`` for how many
rows a batch may fail. A compiled expectation on a column the schema lacks fails every
row (``column_missing`` in ``to_json``). Type lists follow GX on pandas: an ``object``
column (Spark string, binary, date, decimal) passes by its values' Python type (``str``,
``bytes``), not by ``object``. A value set is compared with values of the column's kind
only (text never equals a number in pandas). ``between`` on a string column needs string
bounds (GX's schema admits only date-like text) and compares them as text, so ISO dates
sort right; GX's own pandas engine refuses that combination with an error. Bounds of the
wrong kind, a non-string ``regex``, a bad ``meta`` raise ``RuleError`` naming the suite
and the expectation's index, when the deployment starts, not mid-stream. A bad Java
regex is only found by Spark, at the first batch.

Each rule has an action from ``meta.action`` (``warn`` keeps the row and counts it,
``quarantine`` diverts it, ``fail`` stops the query before the batch is written;
``quarantine`` by default), optional thresholds ``meta.max_rows``/``meta.max_percent``
(the batch fails when more rows than that fail the rule), and an id: ``meta.id`` or
``<type without expect_>:<column>``, made unique with ``#2``, ``#3`` ...
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from catalog.canonical import digest
from catalog.compliance.expectations import Suite, suite_from_dict
from catalog.compliance.schema_compat import pandas_dtype_name
from catalog.errors import CatalogError

if TYPE_CHECKING:
    from pyspark.sql import Column
    from pyspark.sql.types import DataType, StructType

__all__ = ["ACTIONS", "CORRUPT_COLUMN", "AggregateRule", "CompiledRules", "RowRule", "RuleError", "SchemaRule",
           "aggregate_suite", "check_schema", "compile_suite", "quoted"]

ACTIONS = ("warn", "quarantine", "fail")
DEFAULT_ACTION = "quarantine"
CORRUPT_COLUMN = "_corrupt_record"
BUILTINS = ("malformed-line", "null-input", "non-finite-input")

_ID = re.compile(r"[A-Za-z0-9_.:-]+")
_NULLS = {"expect_column_values_to_not_be_null", "expect_column_values_to_be_null"}
_VALUES = {"expect_column_values_to_be_between", "expect_column_values_to_be_in_set",
           "expect_column_values_to_not_be_in_set", "expect_column_values_to_match_regex",
           "expect_column_values_to_not_match_regex", "expect_column_value_lengths_to_be_between",
           "expect_column_value_lengths_to_equal"}
_SCHEMA = {"expect_column_to_exist", "expect_column_values_to_be_in_type_list", "expect_column_values_to_be_of_type",
           "expect_table_columns_to_match_set", "expect_table_columns_to_match_ordered_list",
           "expect_table_column_count_to_equal"}
#: Python value types of pandas ``object`` columns, as GX's type lists name them.
_OBJECT_VALUE_TYPES: Mapping[str, tuple[str, ...]] = {"string": ("str", "string_types"), "binary": ("bytes",)}


class RuleError(CatalogError, ValueError):
    """An expectation cannot become a scoring rule: bad action, threshold, id or bounds."""


@dataclass(frozen=True)
class RowRule:
    """A per-row check: ``failed`` is Spark SQL, true where the row fails, never null.

    SQL text, not a ``Column``: the plan's bitmask of all the rules is then one ``F.expr``,
    one call into the JVM, where building it from ``pyspark.sql.functions`` cost about 150
    calls (0.1-0.2 s) for every run."""

    id: str
    expectation: str
    column: str | None
    action: str
    max_rows: int | None
    max_percent: float | None
    kwargs: Mapping[str, Any]
    failed: Any = field(compare=False, repr=False)
    builtin: bool = False
    column_missing: bool = False

    def to_json(self) -> dict[str, Any]:
        return {"id": self.id, "expectation": self.expectation, "column": self.column, "action": self.action,
                "max_rows": self.max_rows, "max_percent": self.max_percent, "kwargs": dict(self.kwargs),
                "builtin": self.builtin, "column_missing": self.column_missing}


@dataclass(frozen=True)
class SchemaRule:
    """A check decided from the batch's Spark schema only (``ignored_columns``: the reader's own)."""

    id: str
    expectation: str
    column: str | None
    action: str
    kwargs: Mapping[str, Any]
    ignored_columns: tuple[str, ...] = ()

    def evaluate(self, schema: StructType) -> str | None:
        """None when the schema passes, else the reason."""
        columns = [(f.name, f.dataType.simpleString()) for f in schema.fields if f.name not in self.ignored_columns]
        return _evaluate_schema(self.expectation, self.kwargs, columns)

    def to_json(self) -> dict[str, Any]:
        return {"id": self.id, "expectation": self.expectation, "column": self.column, "action": self.action,
                "kwargs": dict(self.kwargs), "ignored_columns": list(self.ignored_columns)}


@dataclass(frozen=True)
class AggregateRule:
    """An expectation GX runs on the whole batch as pandas (``aggregate_suite``)."""

    id: str
    expectation: str
    column: str | None
    action: str
    kwargs: Mapping[str, Any]
    max_rows: int | None
    max_percent: float | None

    def to_json(self) -> dict[str, Any]:
        return {"id": self.id, "expectation": self.expectation, "column": self.column, "action": self.action,
                "kwargs": dict(self.kwargs), "max_rows": self.max_rows, "max_percent": self.max_percent}


@dataclass(frozen=True)
class CompiledRules:
    """A suite compiled for one input schema; ``fingerprint`` identifies rules and schema together."""

    row: tuple[RowRule, ...]
    schema: tuple[SchemaRule, ...]
    aggregate: tuple[AggregateRule, ...]
    fingerprint: str
    suite: str | None = None
    inputs: tuple[str, ...] = ()
    columns: tuple[tuple[str, str], ...] = ()

    def flag_columns(self) -> list[Column]:
        """One boolean column per row rule, ``_rule_<n>`` for rule n, for a select."""
        from pyspark.sql import functions as F

        return [F.expr(rule.failed).alias(f"_rule_{n}") for n, rule in enumerate(self.row)]

    def to_json(self) -> dict[str, Any]:
        return {"suite": self.suite, "fingerprint": self.fingerprint, "row": [r.to_json() for r in self.row],
                "schema": [r.to_json() for r in self.schema], "aggregate": [r.to_json() for r in self.aggregate],
                "inputs": list(self.inputs), "columns": [list(c) for c in self.columns]}


# ---- compiling -----------------------------------------------------------------------------


def compile_suite(suite: Suite | None, schema: StructType, inputs: Sequence[str], *,
                  corrupt_column: str | None = CORRUPT_COLUMN) -> CompiledRules:
    """The built-in row rules, then the suite's expectations as row, schema and aggregate rules."""
    fields = {f.name: f.dataType for f in schema.fields}
    ids: dict[str, int] = {}
    row: list[RowRule] = _builtins(fields, inputs, corrupt_column, ids)
    schema_rules: list[SchemaRule] = []
    aggregate: list[AggregateRule] = []
    ignored = (corrupt_column,) if corrupt_column and corrupt_column in fields else ()
    source = suite.source if suite is not None else "<no suite>"
    for index, item in enumerate(suite.expectations if suite is not None else ()):
        where = f"{source}: expectation {index} ({item['type']!r})"
        rule = _compile_expectation(item, where, fields, ids, ignored)
        {RowRule: row, SchemaRule: schema_rules, AggregateRule: aggregate}[type(rule)].append(rule)
    columns = tuple((name, dtype.simpleString()) for name, dtype in fields.items())
    payload = {"row": [r.to_json() for r in row], "schema": [r.to_json() for r in schema_rules],
               "aggregate": [r.to_json() for r in aggregate], "inputs": list(inputs), "columns": columns}
    return CompiledRules(row=tuple(row), schema=tuple(schema_rules), aggregate=tuple(aggregate),
                         fingerprint=digest(payload), suite=suite.name if suite is not None else None,
                         inputs=tuple(inputs), columns=columns)


def _builtins(fields: Mapping[str, DataType], inputs: Sequence[str], corrupt_column: str | None,
              ids: dict[str, int]) -> list[RowRule]:
    present = [name for name in inputs if name in fields]
    floats = [name for name in present if _kind(fields[name]) == "float"]
    flags: list[tuple[str, str, dict[str, Any]]] = []
    if corrupt_column and corrupt_column in fields:
        flags.append(("malformed-line", f"{quoted(corrupt_column)} IS NOT NULL", {"column": corrupt_column}))
    flags.append(("null-input", _any(_missing(quoted(n), _kind(fields[n])) for n in present), {"columns": present}))
    infinite = (f"coalesce(abs({quoted(n)}) = {_literal(math.inf)}, false)" for n in floats)
    flags.append(("non-finite-input", _any(infinite), {"columns": floats}))
    return [RowRule(id=_unique(name, ids), expectation=name, column=kwargs.get("column"), action=DEFAULT_ACTION,
                    max_rows=None, max_percent=None, kwargs=kwargs, failed=flag, builtin=True)
            for name, flag, kwargs in flags]


def _compile_expectation(item: Mapping[str, Any], where: str, fields: Mapping[str, DataType],
                         ids: dict[str, int], ignored: tuple[str, ...]) -> RowRule | SchemaRule | AggregateRule:
    type_name, kwargs, meta = item["type"], dict(item.get("kwargs") or {}), dict(item.get("meta") or {})
    action = _action(meta, where)
    max_rows, max_percent = _thresholds(meta, where)
    column = kwargs.get("column")
    rule_id = _unique(_rule_id(meta, type_name, column, where), ids)
    if type_name in _SCHEMA:
        if max_rows is not None or max_percent is not None:
            raise RuleError(f"{where}: meta.max_rows and meta.max_percent apply to row and aggregate rules; "
                            f"this expectation is decided from the schema, for the whole batch")
        return SchemaRule(id=rule_id, expectation=type_name, column=column, action=action, kwargs=kwargs,
                          ignored_columns=ignored)
    failed = _row_flag(type_name, kwargs, fields, where)
    if failed is None:
        return AggregateRule(id=rule_id, expectation=type_name, column=column, action=action, kwargs=kwargs,
                             max_rows=max_rows, max_percent=max_percent)
    return RowRule(id=rule_id, expectation=type_name, column=column, action=action, max_rows=max_rows,
                   max_percent=max_percent, kwargs=kwargs, failed=failed, column_missing=column not in fields)


def _action(meta: Mapping[str, Any], where: str) -> str:
    action = meta.get("action", DEFAULT_ACTION)
    if action not in ACTIONS:
        raise RuleError(f"{where}: meta.action {action!r} is not one of {', '.join(ACTIONS)} "
                        f"(default {DEFAULT_ACTION})")
    return str(action)


def _thresholds(meta: Mapping[str, Any], where: str) -> tuple[int | None, float | None]:
    max_rows, max_percent = meta.get("max_rows"), meta.get("max_percent")
    if max_rows is not None and (isinstance(max_rows, bool) or not isinstance(max_rows, int) or max_rows < 0):
        raise RuleError(f"{where}: meta.max_rows must be an integer >= 0, got {max_rows!r}")
    if max_percent is not None:
        if isinstance(max_percent, bool) or not isinstance(max_percent, (int, float)) or not 0 <= max_percent <= 100:
            raise RuleError(f"{where}: meta.max_percent must be a number from 0 to 100, got {max_percent!r}")
        max_percent = float(max_percent)
    return max_rows, max_percent


def _rule_id(meta: Mapping[str, Any], type_name: str, column: Any, where: str) -> str:
    given = meta.get("id")
    if given is not None:
        if not isinstance(given, str) or not _ID.fullmatch(given):
            raise RuleError(f"{where}: meta.id {given!r} must be letters, digits and _ . : - only")
        return given
    base = type_name.removeprefix("expect_")
    return f"{base}:{column}" if column is not None else base


def _unique(base: str, ids: dict[str, int]) -> str:
    """``base``, or ``base#2``, ``base#3`` ... when taken (``ids``: id -> the last suffix used)."""
    if base not in ids:
        ids[base] = 1
        return base
    n = ids[base]
    while f"{base}#{n}" in ids or n == 1:
        n += 1
    ids[base] = n
    ids[f"{base}#{n}"] = 1
    return f"{base}#{n}"


# ---- row flags -----------------------------------------------------------------------------


def quoted(name: str) -> str:
    """A column name as Spark SQL reads it: in backticks, a backtick doubled."""
    return "`" + name.replace("`", "``") + "`"


def _literal(value: Any) -> str:
    """A Python value as a Spark SQL literal of the type ``F.lit`` gives it.

    Text with a quote or a backslash is written as bytes (``decode(unhex(...))``, folded to
    a constant by Spark's optimiser) so that no escape rule of the parser applies
    (``spark.sql.parser.escapedStringLiterals`` changes them).
    """
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if math.isnan(value):
            return "CAST('NaN' AS DOUBLE)"
        if math.isinf(value):
            return f"CAST('{'' if value > 0 else '-'}Infinity' AS DOUBLE)"
        return f"({value!r}D)"
    text = str(value)
    if "'" not in text and "\\" not in text:
        return f"'{text}'"
    return f"decode(unhex('{text.encode('utf-8', 'surrogatepass').hex()}'), 'UTF-8')"


def _kind(dtype: DataType) -> str:
    """``float`` (float, double), ``numeric`` (other numbers), ``string``, ``boolean`` or ``other``."""
    from pyspark.sql import types as T

    if isinstance(dtype, (T.FloatType, T.DoubleType)):
        return "float"
    if isinstance(dtype, T.NumericType):
        return "numeric"
    if isinstance(dtype, T.StringType):
        return "string"
    return "boolean" if isinstance(dtype, T.BooleanType) else "other"


def _missing(column: str, kind: str) -> str:
    """What pandas (and so GX) counts as missing: null, and NaN on float/double columns (never null)."""
    return f"({column} IS NULL OR isnan({column}))" if kind == "float" else f"({column} IS NULL)"


def _any(flags: Any) -> str:
    """OR of ``flags`` as a balanced tree (Spark's analyser is slow on deep expressions)."""
    items = list(flags)
    if not items:
        return "false"
    while len(items) > 1:
        items = [f"({items[i]} OR {items[i + 1]})" if i + 1 < len(items) else items[i] for i in range(0, len(items), 2)]
    return items[0]


def _row_flag(type_name: str, kwargs: Mapping[str, Any], fields: Mapping[str, DataType], where: str) -> str | None:
    """The per-row failure of a compiled expectation as Spark SQL, or None when GX must run it on the batch."""
    if type_name not in _NULLS | _VALUES or kwargs.get("row_condition"):
        return None
    name = kwargs.get("column")
    if name not in fields:
        return "true"
    column, kind = quoted(name), _kind(fields[name])
    if type_name in _NULLS:
        missing = _missing(column, kind)
        return missing if type_name == "expect_column_values_to_not_be_null" else f"(NOT {missing})"
    failure = _value_failure(type_name, kwargs, column, kind, where)
    if failure is None:
        return None
    return f"(CASE WHEN {_missing(column, kind)} THEN false ELSE coalesce({failure}, false) END)"


def _value_failure(type_name: str, kwargs: Mapping[str, Any], column: str, kind: str, where: str) -> str | None:
    """True where a present (non-missing) value fails; None for a column type not compiled."""
    if type_name == "expect_column_values_to_be_between":
        if kind not in ("float", "numeric", "string"):
            return None
        return f"(NOT {_between(column, kwargs, 'string' if kind == 'string' else 'number', where)})"
    if type_name.endswith("in_set"):
        if kind == "other":
            return None
        found = _in_set(column, kwargs, kind, where)
        return f"(NOT {found})" if type_name == "expect_column_values_to_be_in_set" else found
    if kind != "string":
        return None
    if type_name.endswith("match_regex"):
        regex = kwargs.get("regex")
        if not isinstance(regex, str):
            raise RuleError(f"{where}: regex must be a string, got {regex!r}")
        found = f"({column} RLIKE {_literal(regex)})"
        return f"(NOT {found})" if type_name == "expect_column_values_to_match_regex" else found
    if type_name == "expect_column_value_lengths_to_equal":
        value = kwargs.get("value")
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise RuleError(f"{where}: value must be a number, got {value!r}")
        return f"(length({column}) != {_literal(value)})"
    return f"(NOT {_between(f'length({column})', kwargs, 'number', where)})"


def _between(target: str, kwargs: Mapping[str, Any], bound_kind: str, where: str) -> str:
    """GX's between: either bound may be None; ``strict_min``/``strict_max`` exclude the bound."""
    terms = []
    for key, strict_key in (("min_value", "strict_min"), ("max_value", "strict_max")):
        bound = kwargs.get(key)
        if bound is None:
            continue
        is_number = isinstance(bound, (int, float)) and not isinstance(bound, bool)
        if not (is_number if bound_kind == "number" else isinstance(bound, str)):
            wanted = "strings, as the column is a string column" if bound_kind == "string" else "numbers"
            raise RuleError(f"{where}: {key} must be None or {wanted}; got {bound!r}")
        strict = bool(kwargs.get(strict_key, False))
        operator = (">" if strict else ">=") if key == "min_value" else ("<" if strict else "<=")
        terms.append(f"{target} {operator} {_literal(bound)}")
    return f"({' AND '.join(terms)})" if terms else "true"


def _in_set(column: str, kwargs: Mapping[str, Any], kind: str, where: str) -> str:
    """Membership, comparing only values of the column's kind (text never equals a number in pandas)."""
    values = kwargs.get("value_set")
    if not isinstance(values, (list, tuple, set)):
        raise RuleError(f"{where}: value_set must be a list, got {values!r}")

    def fits(value: Any) -> bool:
        if kind == "string":
            return isinstance(value, str)
        if kind == "boolean":
            return isinstance(value, bool)
        return isinstance(value, (int, float)) and not isinstance(value, bool)

    kept = [value for value in values if fits(value)]
    return f"({column} IN ({', '.join(_literal(v) for v in kept)}))" if kept else "false"


# ---- schema rules --------------------------------------------------------------------------


def _evaluate_schema(type_name: str, kwargs: Mapping[str, Any], columns: list[tuple[str, str]]) -> str | None:
    names = [name for name, _ in columns]
    if type_name == "expect_table_columns_to_match_set":
        expected = list(kwargs.get("column_set") or [])
        missing = [c for c in expected if c not in names]
        extra = [c for c in names if c not in expected] if kwargs.get("exact_match", True) is not False else []
        problems = ([f"columns {missing} are missing"] if missing else []) + (
            [f"columns {extra} are not in the set"] if extra else [])
        return "; ".join(problems) or None
    if type_name == "expect_table_columns_to_match_ordered_list":
        expected = list(kwargs.get("column_list") or [])
        return None if names == expected else f"the columns are {names}, not {expected}"
    if type_name == "expect_table_column_count_to_equal":
        value = kwargs.get("value")
        return None if len(names) == value else f"the batch has {len(names)} columns, not {value}"
    name = kwargs.get("column")
    if name not in names:
        return f"column {name!r} is missing"
    if type_name == "expect_column_to_exist":
        index, at = kwargs.get("column_index"), names.index(name)
        return None if index is None or index == at else f"column {name!r} is at index {at}, not {index}"
    spark_type = dict(columns)[name]
    allowed = kwargs.get("type_list") if type_name.endswith("type_list") else [kwargs.get("type_")]
    if allowed is None:
        return None
    try:
        dtype = pandas_dtype_name(spark_type)
    except KeyError:
        return f"column {name!r} is {spark_type}, which reaches the model as no pandas dtype the catalog knows"
    if _type_matches(spark_type, dtype, [str(t) for t in allowed]):
        return None
    wanted = f"not in {list(allowed)}" if type_name.endswith("type_list") else f"not {allowed[0]}"
    return f"column {name!r} is {spark_type} (pandas {dtype}), {wanted}"


def _type_matches(spark_type: str, dtype: str, allowed: list[str]) -> bool:
    """GX on pandas: numpy dtypes by name (``float`` is float64); object columns by their values' type."""
    import numpy as np

    if dtype == "object":
        return any(t.lower() in _OBJECT_VALUE_TYPES.get(spark_type, ()) for t in allowed)
    for name in allowed:
        try:
            if name == dtype or np.dtype(name) == np.dtype(dtype):
                return True
        except TypeError:
            continue
    return False


def check_schema(rules: CompiledRules, schema: StructType) -> list[tuple[SchemaRule, str]]:
    """The schema rules the batch's schema fails, each with its reason."""
    failures = []
    for rule in rules.schema:
        reason = rule.evaluate(schema)
        if reason is not None:
            failures.append((rule, reason))
    return failures


def aggregate_suite(rules: CompiledRules, source: str) -> Suite | None:
    """A GX suite of only the aggregate expectations (``meta.id`` names the rule), or None when there are none."""
    if not rules.aggregate:
        return None
    expectations = [{"type": rule.expectation, "kwargs": dict(rule.kwargs),
                     "meta": {"id": rule.id, "action": rule.action, "max_rows": rule.max_rows,
                              "max_percent": rule.max_percent}}
                    for rule in rules.aggregate]
    return suite_from_dict({"name": f"{rules.suite or 'suite'}:aggregate", "expectations": expectations}, source)
