"""catalog.scoring.rules: GX expectations compiled to Spark row flags, schema rules and GX aggregates.

Every flag is computed by a real local Spark session; the row flags of compiled value
expectations are checked against GX itself (run on the same rows as pandas).
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import pytest

from catalog.compliance.expectations import Suite, load_suite, suite_from_dict, validate
from catalog.scoring.rules import (
    ACTIONS,
    CORRUPT_COLUMN,
    AggregateRule,
    CompiledRules,
    RowRule,
    RuleError,
    SchemaRule,
    aggregate_suite,
    check_schema,
    compile_suite,
)
from tests.spark_fixtures import spark  # noqa: F401

#: PySpark's collect() leaves its result socket to the garbage collector ("The socket will be
#: automatically closed when garbage-collected", pyspark/util.py): its ResourceWarning is PySpark's.
pytestmark = pytest.mark.filterwarnings(r"ignore:unclosed <socket\.socket.*raddr=\('127\.0\.0\.1':ResourceWarning")

REPO = Path(__file__).resolve().parents[1]
NAN, INF = float("nan"), float("inf")
ROWS = [
    (7.4, 3.5, "red", 1),
    (None, 3.0, "white", 2),
    (NAN, 4.2, None, 3),
    (INF, None, "rosé wine", None),
    (-INF, 2.5, "x", 5),
    (8.0, NAN, "Red", 6),
]
BUILTIN_COUNT = 2  # null-input, non-finite-input (no corrupt record column in FRAME)


def _schema(*fields: tuple[str, str]) -> Any:
    from pyspark.sql.types import StructType, _parse_datatype_string

    schema = StructType()
    for name, type_name in fields:
        schema = schema.add(name, _parse_datatype_string(type_name))
    return schema


FIELDS = (("fixed acidity", "double"), ("pH", "double"), ("name", "string"), ("n", "int"))


@pytest.fixture(scope="module")
def frame(spark: Any) -> Any:  # noqa: F811
    return spark.createDataFrame(ROWS, _schema(*FIELDS))


def _suite(*expectations: dict[str, Any]) -> Suite:
    return suite_from_dict({"name": "t", "expectations": list(expectations)}, "t.json")


def _exp(type_name: str, meta: dict[str, Any] | None = None, **kwargs: Any) -> dict[str, Any]:
    return {"type": type_name, "kwargs": kwargs, "meta": meta or {}}


def _compile(frame: Any, *expectations: dict[str, Any], inputs: tuple[str, ...] = ()) -> CompiledRules:
    return compile_suite(_suite(*expectations), frame.schema, list(inputs))


def _flags(frame: Any, rules: CompiledRules) -> list[list[bool]]:
    """Per row rule, its flag on each row (in row order)."""
    rows = frame.select(*rules.flag_columns()).collect()
    return [[row[f"_rule_{n}"] for row in rows] for n in range(len(rules.row))]


def _suite_flags(frame: Any, *expectations: dict[str, Any]) -> list[list[bool]]:
    rules = _compile(frame, *expectations)
    assert not rules.aggregate and not rules.schema
    return _flags(frame, rules)[BUILTIN_COUNT:]


# ---- compiled row expectations ----------------------------------------------------------------


def test_not_null_fails_null_and_nan_on_doubles_and_null_on_strings(frame: Any) -> None:
    assert _suite_flags(frame, _exp("expect_column_values_to_not_be_null", column="fixed acidity"),
                        _exp("expect_column_values_to_not_be_null", column="name")) == [
        [False, True, True, False, False, False],
        [False, False, True, False, False, False],
    ]


def test_be_null_counts_nan_as_null(frame: Any) -> None:
    assert _suite_flags(frame, _exp("expect_column_values_to_be_null", column="pH")) == [
        [True, True, True, False, True, False]]


def test_between_ignores_null_and_nan_and_fails_infinities(frame: Any) -> None:
    between = "expect_column_values_to_be_between"
    assert _suite_flags(frame, _exp(between, column="fixed acidity", min_value=7, max_value=8),
                        _exp(between, column="fixed acidity", min_value=7, max_value=8, strict_max=True),
                        _exp(between, column="fixed acidity", min_value=7.5),
                        _exp(between, column="fixed acidity", max_value=7.4, strict_min=True)) == [
        [False, False, False, True, True, False],
        [False, False, False, True, True, True],
        [True, False, False, False, True, False],
        [False, False, False, True, False, True],
    ]


def test_between_on_strings_compares_as_strings(spark: Any) -> None:  # noqa: F811
    """GX takes only date-like text as bounds; on a string column they compare as text (ISO dates sort)."""
    days = spark.createDataFrame([("2024-01-05",), ("2023-12-31",), (None,), ("2024-02-01",), ("2024-01-31",)],
                                 _schema(("day", "string")))
    assert _suite_flags(days, _exp("expect_column_values_to_be_between", column="day", min_value="2024-01-01",
                                   max_value="2024-01-31")) == [[False, True, False, True, False]]
    assert _suite_flags(days, _exp("expect_column_values_to_be_between", column="day", max_value="2024-01-31",
                                   strict_max=True)) == [[False, False, False, True, True]]


@pytest.mark.parametrize(("column", "bounds", "message"), [
    ("name", {"min_value": 1},
     "t.json: expectation 0 ('expect_column_values_to_be_between'): min_value must be None or strings, "
     "as the column is a string column; got 1"),
    ("pH", {"min_value": 2, "max_value": "4"},
     "t.json: expectation 0 ('expect_column_values_to_be_between'): max_value must be None or numbers; got '4'"),
])
def test_between_bounds_must_fit_the_column(frame: Any, column: str, bounds: dict[str, Any], message: str) -> None:
    with pytest.raises(RuleError) as caught:
        _compile(frame, _exp("expect_column_values_to_be_between", column=column, **bounds))
    assert str(caught.value) == message


def test_in_set_and_not_in_set(frame: Any) -> None:
    assert _suite_flags(frame, _exp("expect_column_values_to_be_in_set", column="name", value_set=["red", "white"]),
                        _exp("expect_column_values_to_not_be_in_set", column="name", value_set=["red", "white"]),
                        # text never equals a number (as in pandas): "8.0" is not 8.0
                        _exp("expect_column_values_to_be_in_set", column="fixed acidity",
                             value_set=[7.4, "8.0", 9]),
                        _exp("expect_column_values_to_be_in_set", column="n", value_set=[])) == [
        [False, False, False, True, True, True],
        [True, True, False, False, False, False],
        [False, False, False, True, True, True],
        [True, True, True, False, True, True],
    ]


def test_regex_is_a_find_in_java_syntax(frame: Any) -> None:
    assert _suite_flags(frame, _exp("expect_column_values_to_match_regex", column="name", regex="^r"),
                        _exp("expect_column_values_to_not_match_regex", column="name", regex="e"),
                        # \p{Lu} (an upper-case letter) is Java syntax; Python's re has no \p
                        _exp("expect_column_values_to_match_regex", column="name", regex=r"^\p{Lu}")) == [
        [False, True, False, False, True, True],
        [True, True, False, True, False, True],
        [True, True, False, True, True, False],
    ]


def test_value_lengths_count_characters(frame: Any) -> None:
    assert _suite_flags(frame, _exp("expect_column_value_lengths_to_be_between", column="name",
                                    min_value=3, max_value=5),
                        _exp("expect_column_value_lengths_to_equal", column="name", value=9)) == [
        [False, False, False, True, True, False],
        [True, True, False, False, True, True],
    ]


GX_CASES = [
    _exp("expect_column_values_to_not_be_null", column="fixed acidity"),
    _exp("expect_column_values_to_not_be_null", column="name"),
    _exp("expect_column_values_to_be_null", column="pH"),
    _exp("expect_column_values_to_be_between", column="fixed acidity", min_value=7, max_value=8),
    _exp("expect_column_values_to_be_between", column="pH", min_value=3.0, max_value=4.2, strict_min=True),
    _exp("expect_column_values_to_be_in_set", column="name", value_set=["red", "white"]),
    _exp("expect_column_values_to_not_be_in_set", column="pH", value_set=[3.0, 2.5]),
    _exp("expect_column_values_to_match_regex", column="name", regex="^r"),
    _exp("expect_column_values_to_not_match_regex", column="name", regex="e"),
    _exp("expect_column_value_lengths_to_be_between", column="name", min_value=3, max_value=5),
    _exp("expect_column_value_lengths_to_equal", column="name", value=3),
]


@pytest.mark.parametrize("expectation", GX_CASES, ids=lambda e: f"{e['type']}:{e['kwargs']['column']}")
def test_row_flags_count_what_gx_counts_on_pandas(frame: Any, expectation: dict[str, Any]) -> None:
    (flags,) = _suite_flags(frame, expectation)
    outcome = validate(_suite(expectation), frame.toPandas())
    assert outcome.results[0].unexpected_count == sum(flags)
    assert outcome.results[0].success is (sum(flags) == 0)


def test_flags_are_never_null_and_sit_next_to_other_columns(frame: Any) -> None:
    rules = _compile(frame, *GX_CASES, inputs=("fixed acidity", "pH", "name", "n"))
    rows = frame.select("n", *rules.flag_columns()).collect()
    assert [row["n"] for row in rows] == [1, 2, 3, None, 5, 6]
    assert rows[0].asDict().keys() == {"n", *(f"_rule_{i}" for i in range(len(rules.row)))}
    assert all(isinstance(value, bool) for row in rows for value in list(row)[1:])


def test_a_missing_column_fails_every_row(frame: Any) -> None:
    rules = _compile(frame, _exp("expect_column_values_to_be_between", column="sulphates", min_value=0))
    assert _flags(frame, rules)[-1] == [True] * len(ROWS)
    assert rules.row[-1].to_json() == {
        "id": "column_values_to_be_between:sulphates", "expectation": "expect_column_values_to_be_between",
        "column": "sulphates", "action": "quarantine", "max_rows": None, "max_percent": None,
        "kwargs": {"column": "sulphates", "min_value": 0}, "builtin": False, "column_missing": True}


def test_mostly_keeps_the_row_flag_and_is_recorded(frame: Any) -> None:
    rules = _compile(frame, _exp("expect_column_values_to_not_be_null", column="fixed acidity", mostly=0.5))
    assert rules.row[-1].kwargs["mostly"] == 0.5
    assert _flags(frame, rules)[-1] == [False, True, True, False, False, False]


# ---- built-in rules ---------------------------------------------------------------------------


def test_builtins_flag_null_nan_and_infinite_inputs(frame: Any) -> None:
    rules = compile_suite(None, frame.schema, ["fixed acidity", "pH", "name", "not in the batch"])
    assert [(r.id, r.builtin, r.action, r.max_rows, r.max_percent) for r in rules.row] == [
        ("null-input", True, "quarantine", None, None), ("non-finite-input", True, "quarantine", None, None)]
    assert rules.row[0].kwargs == {"columns": ["fixed acidity", "pH", "name"]}
    assert rules.row[1].kwargs == {"columns": ["fixed acidity", "pH"]}
    assert _flags(frame, rules) == [[False, True, True, True, False, True], [False, False, False, True, True, False]]
    assert (rules.schema, rules.aggregate, rules.suite) == ((), (), None)


def test_builtins_with_no_inputs_in_the_batch_fail_nothing(frame: Any) -> None:
    rules = compile_suite(None, frame.schema, ["absent"])
    assert _flags(frame, rules) == [[False] * len(ROWS)] * 2


def test_malformed_lines_of_a_permissive_csv_read(spark: Any, tmp_path: Path) -> None:  # noqa: F811
    path = tmp_path / "in.csv"
    path.write_text("fixed acidity,pH\n7.4,3.5\nabc,3.0\n1.0,2.0,3.0\n8.0\nInf,NaN\n", encoding="utf-8")
    schema = _schema(("fixed acidity", "double"), ("pH", "double"), (CORRUPT_COLUMN, "string"))
    df = spark.read.csv(str(path), header=True, schema=schema, mode="PERMISSIVE",
                        columnNameOfCorruptRecord=CORRUPT_COLUMN)
    rules = compile_suite(None, df.schema, ["fixed acidity", "pH"])
    assert [r.id for r in rules.row] == ["malformed-line", "null-input", "non-finite-input"]
    rows = df.select(CORRUPT_COLUMN, *rules.flag_columns()).collect()
    assert [tuple(row) for row in rows] == [
        (None, False, False, False),
        ("abc,3.0", True, True, False),  # text in a double column: null, and the line kept as corrupt
        ("1.0,2.0,3.0", True, False, False),  # one token too many
        ("8.0", True, True, False),  # one token short
        (None, False, True, True),  # Inf and NaN parse as doubles: not malformed, but not scorable
    ]
    assert compile_suite(None, df.schema, ["pH"], corrupt_column=None).row[0].id == "null-input"


# ---- actions, thresholds, ids -----------------------------------------------------------------


def test_actions_and_thresholds_come_from_meta(frame: Any) -> None:
    not_null = "expect_column_values_to_not_be_null"
    rules = _compile(frame, _exp(not_null, column="pH"),
                     _exp(not_null, {"action": "warn", "max_rows": 2}, column="name"),
                     _exp(not_null, {"action": "fail", "max_percent": 12.5}, column="n"),
                     _exp("expect_column_values_to_be_unique", {"action": "warn", "max_rows": 0}, column="n"))
    assert [(r.action, r.max_rows, r.max_percent) for r in rules.row[BUILTIN_COUNT:]] == [
        ("quarantine", None, None), ("warn", 2, None), ("fail", None, 12.5)]
    assert [(r.action, r.max_rows, r.max_percent) for r in rules.aggregate] == [("warn", 0, None)]
    assert ACTIONS == ("warn", "quarantine", "fail")


@pytest.mark.parametrize(("meta", "message"), [
    ({"action": "block"}, "meta.action 'block' is not one of warn, quarantine, fail (default quarantine)"),
    ({"max_rows": -1}, "meta.max_rows must be an integer >= 0, got -1"),
    ({"max_rows": True}, "meta.max_rows must be an integer >= 0, got True"),
    ({"max_rows": "3"}, "meta.max_rows must be an integer >= 0, got '3'"),
    ({"max_percent": 100.5}, "meta.max_percent must be a number from 0 to 100, got 100.5"),
    ({"id": "a b"}, "meta.id 'a b' must be letters, digits and _ . : - only"),
])
def test_bad_meta_is_refused_naming_the_expectation(frame: Any, meta: dict[str, Any], message: str) -> None:
    with pytest.raises(RuleError) as caught:
        _compile(frame, _exp("expect_column_to_exist", column="pH"),
                 _exp("expect_column_values_to_not_be_null", meta, column="pH"))
    assert str(caught.value) == f"t.json: expectation 1 ('expect_column_values_to_not_be_null'): {message}"
    assert isinstance(caught.value, ValueError)


def test_schema_rules_take_no_thresholds(frame: Any) -> None:
    with pytest.raises(RuleError, match=r"expectation 0 \('expect_column_to_exist'\): meta.max_rows and "
                                        r"meta.max_percent apply to row and aggregate rules"):
        _compile(frame, _exp("expect_column_to_exist", {"max_rows": 1}, column="pH"))


def test_ids_default_to_type_and_column_and_are_unique(frame: Any) -> None:
    between = "expect_column_values_to_be_between"
    rules = _compile(frame, _exp(between, column="pH", min_value=1), _exp(between, column="pH", max_value=9),
                     _exp(between, column="pH", min_value=2), _exp(between, {"id": "ph.range:v2"}, column="pH",
                                                                   min_value=0),
                     _exp("expect_column_values_to_not_be_null", {"id": "null-input"}, column="pH"),
                     _exp("expect_column_to_exist", column="fixed acidity"),
                     _exp("expect_table_row_count_to_be_between", min_value=1))
    assert [r.id for r in rules.row] == [
        "null-input", "non-finite-input", "column_values_to_be_between:pH", "column_values_to_be_between:pH#2",
        "column_values_to_be_between:pH#3", "ph.range:v2", "null-input#2"]
    assert [r.id for r in rules.schema] == ["column_to_exist:fixed acidity"]
    assert [r.id for r in rules.aggregate] == ["table_row_count_to_be_between"]


# ---- schema rules -----------------------------------------------------------------------------

WINE_TYPES = ["float64", "float32", "int32", "int16", "int8"]


def test_schema_rules_are_decided_from_the_schema(frame: Any) -> None:
    type_list = "expect_column_values_to_be_in_type_list"
    rules = _compile(frame, _exp("expect_column_to_exist", column="pH"),
                     _exp("expect_column_to_exist", column="sulphates"),
                     _exp("expect_column_to_exist", column="name", column_index=1),
                     _exp(type_list, column="pH", type_list=WINE_TYPES),
                     _exp(type_list, column="name", type_list=WINE_TYPES),
                     _exp(type_list, column="name", type_list=["str"]),
                     _exp(type_list, column="name", type_list=["object"]),
                     _exp(type_list, column="sulphates", type_list=WINE_TYPES),
                     _exp("expect_column_values_to_be_of_type", column="n", type_="int32"),
                     _exp("expect_column_values_to_be_of_type", column="n", type_="int64"),
                     _exp("expect_column_values_to_be_of_type", column="pH", type_="float"))
    assert all(isinstance(r, SchemaRule) for r in rules.schema) and len(rules.schema) == 11
    assert [r.evaluate(frame.schema) for r in rules.schema] == [
        None,
        "column 'sulphates' is missing",
        "column 'name' is at index 2, not 1",
        None,
        "column 'name' is string (pandas object), not in ['float64', 'float32', 'int32', 'int16', 'int8']",
        None,  # GX on pandas checks an object column's values: str
        "column 'name' is string (pandas object), not in ['object']",
        "column 'sulphates' is missing",
        None,
        "column 'n' is int (pandas int32), not int64",
        None,  # GX reads "float" as numpy's float64
    ]
    assert [(rule.id, reason) for rule, reason in check_schema(rules, frame.schema)] == [
        ("column_to_exist:sulphates", "column 'sulphates' is missing"),
        ("column_to_exist:name", "column 'name' is at index 2, not 1"),
        ("column_values_to_be_in_type_list:name", "column 'name' is string (pandas object), not in "
                                                  "['float64', 'float32', 'int32', 'int16', 'int8']"),
        ("column_values_to_be_in_type_list:name#3", "column 'name' is string (pandas object), not in ['object']"),
        ("column_values_to_be_in_type_list:sulphates", "column 'sulphates' is missing"),
        ("column_values_to_be_of_type:n#2", "column 'n' is int (pandas int32), not int64"),
    ]


@pytest.mark.parametrize(("column", "types", "passes"), [
    ("pH", WINE_TYPES, True), ("name", WINE_TYPES, False), ("name", ["str"], True), ("name", ["object"], False),
    ("n", ["int32"], True), ("n", ["int64"], False), ("pH", ["float"], True), ("pH", ["float32"], False),
])
def test_type_list_verdicts_agree_with_gx(frame: Any, column: str, types: list[str], passes: bool) -> None:
    """GX on the pandas frame spark_udf would hand the model (no nulls: Spark's int stays int32)."""
    expectation = _exp("expect_column_values_to_be_in_type_list", column=column, type_list=types)
    pandas = frame.na.drop().toPandas()
    assert validate(_suite(expectation), pandas).success is passes
    assert (_compile(frame, expectation).schema[0].evaluate(frame.schema) is None) is passes


def test_table_schema_rules_ignore_the_corrupt_record_column(spark: Any) -> None:  # noqa: F811
    schema = _schema(("a", "double"), ("b", "string"), (CORRUPT_COLUMN, "string"))
    rules = compile_suite(_suite(_exp("expect_table_columns_to_match_set", column_set=["a", "b"]),
                                 _exp("expect_table_columns_to_match_set", column_set=["a", "c"]),
                                 _exp("expect_table_columns_to_match_set", column_set=["a"], exact_match=False),
                                 _exp("expect_table_columns_to_match_ordered_list", column_list=["a", "b"]),
                                 _exp("expect_table_columns_to_match_ordered_list", column_list=["b", "a"]),
                                 _exp("expect_table_column_count_to_equal", value=2),
                                 _exp("expect_table_column_count_to_equal", value=3)), schema, ["a"])
    assert [r.evaluate(schema) for r in rules.schema] == [
        None, "columns ['c'] are missing; columns ['b'] are not in the set", None,
        None, "the columns are ['a', 'b'], not ['b', 'a']", None, "the batch has 2 columns, not 3"]
    assert rules.schema[0].to_json()["ignored_columns"] == [CORRUPT_COLUMN]


# ---- aggregate rules --------------------------------------------------------------------------


def test_aggregates_run_as_a_gx_suite_of_only_those(spark: Any, frame: Any) -> None:  # noqa: F811
    timestamped = spark.createDataFrame([], _schema(*FIELDS, ("at", "timestamp")))
    rules = compile_suite(_suite(
        _exp("expect_column_values_to_not_be_null", column="n"),
        _exp("expect_column_values_to_be_unique", {"action": "fail"}, column="n"),
        _exp("expect_column_mean_to_be_between", column="pH", min_value=0, max_value=5),
        _exp("expect_column_to_exist", column="n"),
        _exp("expect_table_row_count_to_be_between", min_value=10),
        _exp("expect_column_values_to_be_between", column="at", min_value="2024-01-01")), timestamped.schema, [])
    assert all(isinstance(r, AggregateRule) for r in rules.aggregate)
    assert [r.id for r in rules.aggregate] == [
        "column_values_to_be_unique:n", "column_mean_to_be_between:pH", "table_row_count_to_be_between",
        "column_values_to_be_between:at"]
    assert [r.id for r in rules.row if isinstance(r, RowRule) and not r.builtin] == ["column_values_to_not_be_null:n"]
    gx_suite = aggregate_suite(rules, "wine.json")
    assert isinstance(gx_suite, Suite) and gx_suite.source == "wine.json" and gx_suite.name == "t:aggregate"
    assert [e["type"] for e in gx_suite.expectations] == [r.expectation for r in rules.aggregate]
    assert gx_suite.expectations[0]["meta"] == {"id": "column_values_to_be_unique:n", "action": "fail",
                                                "max_rows": None, "max_percent": None}
    outcome = validate(gx_suite, frame.toPandas().iloc[:, :4].assign(n=[1, 1, 2, 3, 4, 5], at=None))
    assert [r.success for r in outcome.results][:3] == [False, True, False]
    assert outcome.results[0].action == "fail"


def test_no_aggregates_no_gx_suite(frame: Any) -> None:
    assert aggregate_suite(_compile(frame, _exp("expect_column_to_exist", column="n")), "x") is None
    assert aggregate_suite(compile_suite(None, frame.schema, []), "x") is None


# ---- fingerprint, JSON, the real suite --------------------------------------------------------


def test_fingerprint_is_stable_and_follows_kwargs_actions_and_schema(spark: Any, frame: Any) -> None:  # noqa: F811
    def fingerprint(schema: Any = frame.schema, max_value: float = 4.0, meta: dict | None = None) -> str:
        expectation = _exp("expect_column_values_to_be_between", meta, column="pH", min_value=2.5, max_value=max_value)
        return compile_suite(_suite(expectation), schema, ["pH"]).fingerprint

    first = fingerprint()
    assert len(first) == 64 and int(first, 16) >= 0
    assert fingerprint() == first
    assert fingerprint(max_value=4.5) != first
    assert fingerprint(meta={"action": "warn"}) != first
    assert fingerprint(meta={"max_rows": 3}) != first
    assert fingerprint(schema=_schema(("fixed acidity", "double"), ("pH", "float"), ("name", "string"),
                                      ("n", "int"))) != first
    assert compile_suite(None, frame.schema, ["pH"]).fingerprint != compile_suite(None, frame.schema, ["n"]).fingerprint


def test_to_json_has_every_rule_and_no_column_expressions(frame: Any) -> None:
    rules = _compile(frame, _exp("expect_column_values_to_be_in_set", column="name", value_set=["red"]),
                     _exp("expect_column_to_exist", column="name"),
                     _exp("expect_column_values_to_be_unique", column="n"), inputs=("pH",))
    data = rules.to_json()
    assert data["fingerprint"] == rules.fingerprint and data["suite"] == "t" and data["inputs"] == ["pH"]
    assert data["columns"] == [["fixed acidity", "double"], ["pH", "double"], ["name", "string"], ["n", "int"]]
    assert [r["id"] for r in data["row"]] == ["null-input", "non-finite-input", "column_values_to_be_in_set:name"]
    assert data["schema"][0] == {"id": "column_to_exist:name", "expectation": "expect_column_to_exist",
                                 "column": "name", "action": "quarantine", "kwargs": {"column": "name"},
                                 "ignored_columns": []}
    assert data["aggregate"][0]["id"] == "column_values_to_be_unique:n"
    assert "failed" not in data["row"][2] and "sql" not in data["row"][2]


def test_the_wine_suite_compiles_without_aggregates(spark: Any) -> None:  # noqa: F811
    suite = load_suite(REPO / "expectations" / "wine_input.json")
    columns = list(dict.fromkeys(e["kwargs"]["column"] for e in suite.expectations))
    schema = _schema(*((c, "double") for c in columns))
    rules = compile_suite(suite, schema, columns)
    kinds = {e["type"] for e in suite.expectations}
    assert rules.aggregate == () and aggregate_suite(rules, suite.source) is None
    assert len(rules.row) == 2 + sum(e["type"] in {"expect_column_values_to_not_be_null",
                                                    "expect_column_values_to_be_between"} for e in suite.expectations)
    assert len(rules.schema) == sum(e["type"] in {"expect_column_to_exist", "expect_column_values_to_be_in_type_list"}
                                    for e in suite.expectations)
    assert kinds == {"expect_column_to_exist", "expect_column_values_to_not_be_null",
                     "expect_column_values_to_be_in_type_list", "expect_column_values_to_be_between"}
    assert check_schema(rules, schema) == []
    as_strings = _schema(*((c, "string" if c == "pH" else "double") for c in columns))
    assert [(r.id, why) for r, why in check_schema(rules, as_strings)] == [
        ("column_values_to_be_in_type_list:pH",
         "column 'pH' is string (pandas object), not in ['float64', 'float32', 'int32', 'int16', 'int8']")]
    row = spark.createDataFrame([tuple(math.nan if c == "pH" else 1.0 for c in columns)], schema)
    flagged = [rule.id for rule, flag in zip(rules.row, _flags(row, rules)) if flag[0]]
    assert "null-input" in flagged and "column_values_to_not_be_null:pH" in flagged
    assert "column_values_to_be_between:pH" not in flagged  # NaN is missing, not out of range


def test_the_models_input_is_placeholders_for_a_diverted_row_and_its_own_values_otherwise(spark: Any) -> None:  # noqa: F811
    """The struct the UDF reads (``batch._model_input``, one SQL expression): a diverted row
    (a null, NaN or infinity always diverts it: the built-ins above) reads 0 of each column's
    own type, '' for text and false for flags; every other row reads its own values, and the
    field names (a backtick among them) are the signature's."""
    from pyspark.sql.types import (BooleanType, DoubleType, FloatType, IntegerType, LongType, StringType, StructField,
                                   StructType)

    from catalog.scoring.batch import _model_input

    schema = StructType([StructField("d`x", DoubleType()), StructField("f", FloatType()), StructField("i", IntegerType()),
                         StructField("l", LongType()), StructField("s", StringType()), StructField("b", BooleanType()),
                         StructField("out", BooleanType())])
    rows = [(1.5, 2.5, 3, 4, "t", True, False), (None, None, None, None, None, None, True),
            (math.nan, math.nan, -1, -2, "", False, True), (math.inf, -math.inf, 0, 0, "u", None, True),
            (-7.25, 0.125, 7, 8, "kept", False, False), (9.5, 0.5, 1, 2, "off", True, True)]
    frame = spark.createDataFrame(rows, schema)
    types = {f.name: f.dataType for f in schema.fields if f.name != "out"}
    out = frame.select(_model_input(list(types), types, "`out`").alias("m"))
    assert [(f.name, f.dataType) for f in out.schema["m"].dataType.fields] == list(
        (name, kind) for name, kind in types.items())
    placeholders = (0.0, 0.0, 0, 0, "", False)
    assert [tuple(r.m) for r in out.collect()] == [
        (1.5, 2.5, 3, 4, "t", True), placeholders, placeholders, placeholders, (-7.25, 0.125, 7, 8, "kept", False),
        placeholders]


def test_observed_counts_are_read_from_the_query_that_ran_without_waiting_for_the_listener(spark):  # noqa: F811
    from pyspark.sql import Observation
    from pyspark.sql import functions as F

    from catalog.scoring import batch

    frame = spark.range(10).observe(Observation("counts-of-ten"), F.count(F.lit(1)).alias("rows_in"),
                                    F.sum((F.col("id") > 6).cast("long")).alias("rows_diverted"))
    assert batch.collect_arrow(frame).num_rows == 10
    # no Observation to fall back on: the figures can only come from the query's own execution
    assert batch._observed(frame, None, "counts-of-ten") == {"rows_in": 10, "rows_diverted": 3}


TRICKY_TEXT = ["it's", "back\\slash", "a') OR true --", "plain", "rosé \\' mixed", "tab\tand\nnewline", None]


@pytest.mark.parametrize("sql_escapes", ["false", "true"])
def test_text_in_rules_is_taken_literally_whatever_the_parser_does_with_escapes(spark, sql_escapes):  # noqa: F811
    """Rules are SQL text: quotes, backslashes and SQL in a suite's values stay values, with
    Spark's string-literal escapes processed or not (``spark.sql.parser.escapedStringLiterals``)."""
    import re

    frame = spark.createDataFrame([(t,) for t in TRICKY_TEXT], _schema(("name", "string")))
    wanted = ["it's", "back\\slash", "rosé \\' mixed"]
    patterns = ["\\\\", "'", "^a'\\)", "\\t"]
    expectations = [_exp("expect_column_values_to_be_in_set", column="name", value_set=wanted),
                    *(_exp("expect_column_values_to_match_regex", column="name", regex=p) for p in patterns),
                    _exp("expect_column_values_to_not_be_in_set", column="name", value_set=["a') OR true --"])]
    before = spark.conf.get("spark.sql.parser.escapedStringLiterals")
    spark.conf.set("spark.sql.parser.escapedStringLiterals", sql_escapes)
    try:
        flags = _suite_flags(frame, *expectations)
    finally:
        spark.conf.set("spark.sql.parser.escapedStringLiterals", before)
    present = [t is not None for t in TRICKY_TEXT]
    assert flags[0] == [p and t not in wanted for t, p in zip(TRICKY_TEXT, present)]
    for pattern, row in zip(patterns, flags[1:5]):
        assert row == [p and re.search(pattern, t) is None for t, p in zip(TRICKY_TEXT, present)], pattern
    assert flags[5] == [t == "a') OR true --" for t in TRICKY_TEXT]


def test_numbers_in_rules_keep_their_value_and_type() -> None:
    from catalog.scoring.rules import _literal

    assert [_literal(v) for v in (True, 0, -7, 2**40, 4.6, -4.6, 1e-05, 1e16)] == [
        "true", "0", "-7", "1099511627776", "(4.6D)", "(-4.6D)", "(1e-05D)", "(1e+16D)"]
    assert [_literal(v) for v in (math.inf, -math.inf, math.nan)] == [
        "CAST('Infinity' AS DOUBLE)", "CAST('-Infinity' AS DOUBLE)", "CAST('NaN' AS DOUBLE)"]
