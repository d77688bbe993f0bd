"""Tests of catalog.compliance.schema_compat: a deployment's declared input against a model signature.

Why: the check must say what MLflow's own enforcement will say when spark_udf hands the
model its input, for every column at once. The pins below are what the installed MLflow
(3.17) does; if an MLflow upgrade changes a rule, these tests say which.
"""

from __future__ import annotations

import datetime as dt
import json
import warnings

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from mlflow.models import infer_signature
from mlflow.models.signature import ModelSignature
from mlflow.models.utils import _enforce_mlflow_datatype
from mlflow.types import ColSpec, DataType, Schema, TensorSpec

from catalog.compliance.sample import SampleError
from catalog.compliance.schema_compat import (
    SchemaOutcome,
    canonical_spark_type,
    check_signature,
    input_schema_from_parquet,
    pandas_dtype_name,
)

WINE_COLUMNS = ["fixed_acidity", "volatile_acidity", "citric_acid", "residual_sugar", "alcohol"]


def stored(signature: ModelSignature) -> str:
    """The signature as the catalog stores it: the MLmodel dict, dumped with sorted keys."""
    return json.dumps(signature.to_dict(), sort_keys=True)


def inferred(frame: pd.DataFrame) -> str:
    with warnings.catch_warnings():
        # MLflow's hint that integer columns cannot hold missing values; true, and not ours
        warnings.filterwarnings("ignore", message="Hint: Inferred schema contains integer", category=UserWarning)
        return stored(infer_signature(frame))


def double_signature(columns: list[str]) -> str:
    return inferred(pd.DataFrame({c: [1.0, 2.0] for c in columns}))


def test_every_string_column_against_a_double_signature_is_refused_by_name() -> None:
    outcome = check_signature(double_signature(WINE_COLUMNS), {c: "string" for c in WINE_COLUMNS})

    assert outcome.ok is False
    assert [p.column for p in outcome.problems] == WINE_COLUMNS
    for problem, column in zip(outcome.problems, WINE_COLUMNS):
        assert problem.kind == "type-mismatch"
        assert (problem.input_type, problem.expected_type) == ("string", "double")
        assert f"column {column!r}" in problem.message
        assert "double" in problem.message and "pandas object" in problem.message
        assert f"Failed to convert column {column} from type object to DataType.double" in problem.message


def test_bigint_is_refused_for_double_as_mlflow_refuses_int64() -> None:
    outcome = check_signature(double_signature(["x"]), {"x": "bigint"})

    assert outcome.ok is False
    (problem,) = outcome.problems
    assert (problem.kind, problem.column, problem.input_type, problem.expected_type) == (
        "type-mismatch", "x", "bigint", "double")
    assert "Can not safely convert int64 to float64" in problem.message


@pytest.mark.parametrize("declared", ["int", "INTEGER", "smallint", "short", "tinyint", "byte", "float", "double",
                                      "decimal(10,2)"])
def test_types_mlflow_widens_to_double_pass(declared: str) -> None:
    outcome = check_signature(double_signature(["x"]), {"x": declared})

    assert outcome == SchemaOutcome(ok=True, mlflow_version=outcome.mlflow_version)
    assert outcome.mlflow_version.startswith("3.")


def test_the_installed_mlflow_widens_int32_and_float32_to_double_but_not_int64() -> None:
    """The pins behind the two tests above, asked of MLflow directly with spark_udf's dtypes."""
    def accepts(values: pd.Series, t: DataType) -> bool:
        try:
            _enforce_mlflow_datatype("c", values, t)
        except Exception:
            return False
        return True

    assert accepts(pd.Series([2, 3], dtype="int32"), DataType.double)  # ints of at most 6 bytes
    assert accepts(pd.Series([1.5], dtype="float32"), DataType.double)  # float upcast
    assert not accepts(pd.Series([2, 3], dtype="int64"), DataType.double)
    # Value-dependent leniencies the check deliberately does not lean on:
    assert accepts(pd.Series([0, 1], dtype="int64"), DataType.double)  # int64 of 0/1 only
    assert accepts(pd.Series(["1.5"], dtype=object), DataType.double)  # numeric text, via pd.to_numeric
    assert not accepts(pd.Series(["n/a"], dtype=object), DataType.double)
    assert not accepts(pd.Series([2], dtype="int32"), DataType.float)  # int -> float32 is refused


def test_float_against_a_float_signature_passes_and_double_against_float_fails() -> None:
    signature = inferred(pd.DataFrame({"x": np.array([1.5], dtype="float32")}))

    assert check_signature(signature, {"x": "float"}).ok is True
    refused = check_signature(signature, {"x": "double"})
    assert refused.ok is False
    assert "Can not safely convert float64 to float32" in refused.problems[0].message


def test_every_offending_column_is_reported_not_only_the_first() -> None:
    signature = inferred(pd.DataFrame({"a": [1.0], "b": [2], "c": ["x"], "d": [True]}))

    outcome = check_signature(signature, {"a": "string", "b": "double", "c": "int", "d": "boolean"})

    assert [(p.column, p.input_type, p.expected_type) for p in outcome.problems] == [
        ("a", "string", "double"), ("b", "double", "long"), ("c", "int", "string")]


def test_a_missing_required_column_is_refused_by_name_and_extra_columns_are_dropped() -> None:
    outcome = check_signature(double_signature(["a", "b"]), {"a": "double", "extra": "string", "more": "int"})

    assert outcome.ok is False
    (problem,) = outcome.problems
    assert (problem.kind, problem.column, problem.expected_type) == ("missing", "b", "double")
    assert "column 'b' (double) is required by the model signature but missing from the input" in problem.message
    assert outcome.dropped == ("extra", "more")


def test_extra_columns_alone_do_not_fail() -> None:
    outcome = check_signature(double_signature(["a"]), {"a": "double", "id": "string"})

    assert (outcome.ok, outcome.problems, outcome.dropped) == (True, (), ("id",))


def test_an_optional_signature_column_may_be_missing() -> None:
    signature = stored(ModelSignature(inputs=Schema([ColSpec("double", "a"), ColSpec("double", "b", required=False)])))

    assert check_signature(signature, {"a": "double"}).ok is True


def test_unnamed_columns_are_matched_by_position_with_a_warning() -> None:
    signature = stored(ModelSignature(inputs=Schema([ColSpec("double"), ColSpec("string")])))

    outcome = check_signature(signature, {"x": "double", "label": "string", "id": "bigint"})

    assert outcome.ok is True
    (problem,) = outcome.problems
    assert (problem.kind, problem.severity) == ("positional", "warning")
    assert "have no names" in problem.message and "['x', 'label']" in problem.message
    assert outcome.dropped == ("id",)


def test_unnamed_columns_still_have_their_types_checked_by_position() -> None:
    signature = stored(ModelSignature(inputs=Schema([ColSpec("double"), ColSpec("double")])))

    outcome = check_signature(signature, {"x": "double", "y": "string"})

    assert outcome.ok is False
    assert [(p.kind, p.column, p.expected_type) for p in outcome.problems] == [
        ("positional", None, None), ("type-mismatch", "y", "double")]


def test_too_few_columns_for_an_unnamed_signature_are_missing() -> None:
    signature = stored(ModelSignature(inputs=Schema([ColSpec("double"), ColSpec("double")])))

    outcome = check_signature(signature, {"x": "double"})

    assert outcome.ok is False
    assert outcome.problems[1].kind == "missing"
    assert "declares 2 unnamed inputs but the input has only 1 columns (x)" in outcome.problems[1].message


def test_a_tensor_signature_is_flagged_as_positional() -> None:
    signature = stored(ModelSignature(inputs=Schema([TensorSpec(np.dtype("float64"), (-1, 2))])))

    outcome = check_signature(signature, {"a": "double", "b": "double"})

    assert outcome.ok is True
    assert [p.kind for p in outcome.problems] == ["positional"]
    assert "tensor spec without column names" in outcome.problems[0].message


def test_dates_timestamps_and_decimals_meet_mlflow_as_spark_hands_them() -> None:
    signature = stored(ModelSignature(inputs=Schema([
        ColSpec("datetime", "day"), ColSpec("datetime", "at"), ColSpec("double", "price"), ColSpec("string", "day_text"),
    ])))

    ok = check_signature(signature, {"day": "date", "at": "timestamp", "price": "decimal(10,2)", "day_text": "string"})
    refused = check_signature(signature, {"day": "bigint", "at": "timestamp", "price": "date", "day_text": "boolean"})

    assert ok.ok is True and ok.problems == ()
    assert [(p.column, p.input_type) for p in refused.problems] == [
        ("day", "bigint"), ("price", "date"), ("day_text", "boolean")]


def test_an_unknown_declared_type_names_the_column_and_the_accepted_types() -> None:
    with pytest.raises(ValueError) as caught:
        check_signature(double_signature(["a"]), {"a": "doubel"})

    message = str(caught.value)
    assert "column 'a': unknown Spark SQL type 'doubel'" in message
    assert "double" in message and "bigint" in message and "decimal(p,s)" in message


@pytest.mark.parametrize(("declared", "canonical", "dtype"), [
    ("LONG", "bigint", "int64"), (" Integer ", "int", "int32"), ("short", "smallint", "int16"),
    ("byte", "tinyint", "int8"), ("decimal", "decimal(10,0)", "object"), ("DECIMAL( 12 , 3 )", "decimal(12,3)", "object"),
    ("timestamp", "timestamp", "datetime64[ns]"), ("binary", "binary", "object"),
])
def test_declared_types_are_canonicalised_case_insensitively(declared: str, canonical: str, dtype: str) -> None:
    assert canonical_spark_type(declared, "c") == canonical
    assert pandas_dtype_name(canonical) == dtype


def test_a_decimal_whose_scale_exceeds_its_precision_is_refused() -> None:
    with pytest.raises(ValueError, match=r"column 'p': unknown Spark SQL type 'decimal\(2,5\)'"):
        canonical_spark_type("decimal(2,5)", "p")


def test_the_outcome_is_json_for_the_evidence_chain() -> None:
    outcome = check_signature(double_signature(["a"]), {"a": "string", "b": "int"})

    evidence = json.loads(json.dumps(outcome.to_json()))
    assert evidence["ok"] is False
    assert evidence["dropped"] == ["b"]
    assert evidence["problems"][0]["kind"] == "type-mismatch"
    assert evidence["problems"][0]["severity"] == "error"
    assert evidence["problems"][0]["column"] == "a"


def test_input_schema_from_a_parquet_file_and_a_directory(tmp_path) -> None:
    table = pa.table({
        "f64": pa.array([1.0]), "f32": pa.array([1.0], pa.float32()), "i64": pa.array([1]), "i32": pa.array([1], pa.int32()),
        "i16": pa.array([1], pa.int16()), "i8": pa.array([1], pa.int8()), "s": pa.array(["x"]), "b": pa.array([True]),
        "d": pa.array([dt.date(2024, 1, 1)], pa.date32()),
        "t": pa.array([dt.datetime(2024, 1, 1)], pa.timestamp("us")),
        "dec": pa.array([None], pa.decimal128(10, 2)), "bin": pa.array([b"x"]),
    })
    folder = tmp_path / "out"
    folder.mkdir()
    pq.write_table(table, folder / "part-0000.parquet")
    (folder / "_SUCCESS").write_text("")

    expected = {"f64": "double", "f32": "float", "i64": "bigint", "i32": "int", "i16": "smallint", "i8": "tinyint",
                "s": "string", "b": "boolean", "d": "date", "t": "timestamp", "dec": "decimal(10,2)", "bin": "binary"}
    assert input_schema_from_parquet(folder / "part-0000.parquet") == expected
    assert input_schema_from_parquet(folder) == expected


def test_input_schema_from_parquet_refuses_a_nested_column_by_name(tmp_path) -> None:
    pq.write_table(pa.table({"tags": pa.array([["a", "b"]])}), tmp_path / "t.parquet")

    with pytest.raises(ValueError, match=r"column 'tags': Parquet type list<element: string> has no Spark SQL type"):
        input_schema_from_parquet(tmp_path / "t.parquet")


def test_input_schema_from_a_missing_parquet_path_names_it(tmp_path) -> None:
    with pytest.raises(SampleError, match=r"nowhere: no such file or directory"):
        input_schema_from_parquet(tmp_path / "nowhere")


def test_a_parquet_schema_feeds_the_signature_check(tmp_path) -> None:
    pq.write_table(pa.table({"a": pa.array([1], pa.int64()), "b": pa.array([1], pa.int32())}), tmp_path / "in.parquet")

    outcome = check_signature(double_signature(["a", "b"]), input_schema_from_parquet(tmp_path / "in.parquet"))

    assert [(p.column, p.input_type) for p in outcome.problems] == [("a", "bigint")]
