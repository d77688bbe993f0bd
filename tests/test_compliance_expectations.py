"""Tests of catalog.compliance.expectations: GX 1.x suites loaded, run on a sample, and drafted.

Why: a suite is a gate's rule; a suite that silently loses an expectation (GX's own
``ExpectationSuite`` only logs one it cannot build) or a failure without its counts is
no evidence. Real Great Expectations throughout, on real frames and real files.
"""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
import threading
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from mlflow.models import infer_signature

from catalog.compliance.expectations import (
    MAX_SUITE_BYTES,
    SIGNATURE_PANDAS_TYPES,
    SuiteError,
    load_suite,
    suggest_suite,
    suite_from_dict,
    validate,
)
from catalog.compliance.schema_compat import check_signature, pandas_dtype_name
from catalog.errors import CatalogError

REPO = Path(__file__).resolve().parents[1]

RANGE_AND_SET = {
    "name": "wine_incoming",
    "expectations": [
        {"type": "expect_column_values_to_be_between", "kwargs": {"column": "alcohol", "min_value": 8, "max_value": 15},
         "meta": {"action": "block"}},
        {"type": "expect_column_values_to_be_in_set", "kwargs": {"column": "colour", "value_set": ["red", "white"]},
         "meta": {"action": "warn"}},
        {"type": "expect_column_values_to_not_be_null", "kwargs": {"column": "alcohol"}},
    ],
    "meta": {"owner": "ml-team@example.com"},
}


def write_suite(path: Path, suite: Any) -> Path:
    path.write_text(suite if isinstance(suite, str) else json.dumps(suite), encoding="utf-8")
    return path


def stored_signature(frame: pd.DataFrame) -> str:
    with warnings.catch_warnings():
        # MLflow's hint that integer columns cannot hold missing values; true, and not ours
        warnings.filterwarnings("ignore", message="Hint: Inferred schema contains integer", category=UserWarning)
        return json.dumps(infer_signature(frame).to_dict(), sort_keys=True)


def result_for(outcome, type_name: str, column: str):
    (found,) = [r for r in outcome.results if r.type == type_name and r.column == column]
    return found


def training_frame(rows: int = 1000, seed: int = 7) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    sugar = rng.normal(2.5, 0.5, rows)
    sugar[[3, 17]] = np.nan  # a few nulls: not_be_null with mostly
    return pd.DataFrame({
        "alcohol": rng.normal(10.5, 1.0, rows),
        "residual_sugar": sugar,
        "quality": rng.integers(3, 9, rows),
        "colour": rng.choice(["red", "white"], rows),
        "batch_code": [f"B{i:04d}" for i in range(rows)],  # too many values to be categorical
    })


# ---- load_suite ----------------------------------------------------------------------------


def test_a_gx_suite_file_loads_with_its_name_digest_and_expectations(tmp_path) -> None:
    path = write_suite(tmp_path / "suite.json", RANGE_AND_SET)

    suite = load_suite(path)

    assert suite.name == "wine_incoming"
    assert suite.source == str(path)
    assert suite.digest == hashlib.sha256(path.read_bytes()).hexdigest()
    assert [e["type"] for e in suite.expectations] == [e["type"] for e in RANGE_AND_SET["expectations"]]
    assert [type(e).__name__ for e in suite.gx_suite.expectations] == [
        "ExpectColumnValuesToBeBetween", "ExpectColumnValuesToBeInSet", "ExpectColumnValuesToNotBeNull"]
    assert suite.to_json() == {"name": "wine_incoming", "source": str(path), "digest": suite.digest, "expectations": 3}


def test_a_suite_gx_itself_wrote_loads(tmp_path) -> None:
    import great_expectations as gx
    import great_expectations.expectations as gxe

    written = gx.ExpectationSuite(name="by_gx", expectations=[gxe.ExpectColumnToExist(column="a")]).to_json_dict()
    suite = load_suite(write_suite(tmp_path / "gx.json", written))

    assert (suite.name, suite.expectations[0]["type"]) == ("by_gx", "expect_column_to_exist")


def test_bad_json_names_the_file_line_and_column(tmp_path) -> None:
    path = write_suite(tmp_path / "suite.json", '{"name": "s",\n "expectations": [,]}')

    with pytest.raises(SuiteError) as caught:
        load_suite(path)

    assert isinstance(caught.value, CatalogError) and isinstance(caught.value, ValueError)
    assert str(caught.value) == f"{path}: not JSON (line 2, column 19: Expecting value)"


def test_an_unknown_expectation_type_names_the_file_index_and_type(tmp_path) -> None:
    suite = {"name": "s", "expectations": [
        {"type": "expect_column_to_exist", "kwargs": {"column": "a"}},
        {"type": "expect_column_values_to_be_betwen", "kwargs": {"column": "a", "min_value": 0}},
    ]}
    path = write_suite(tmp_path / "suite.json", suite)

    with pytest.raises(SuiteError) as caught:
        load_suite(path)

    assert str(caught.value) == (f"{path}: expectation 1 ('expect_column_values_to_be_betwen'): unknown expectation "
                                 "type; did you mean 'expect_column_values_to_be_between'?")


def test_invalid_kwargs_name_the_expectation_and_what_gx_refused(tmp_path) -> None:
    path = write_suite(tmp_path / "suite.json", {"name": "s", "expectations": [
        {"type": "expect_column_values_to_be_in_set", "kwargs": {"column": "a"}}]})

    with pytest.raises(SuiteError) as caught:
        load_suite(path)

    message = str(caught.value)
    assert message.startswith(f"{path}: expectation 0 ('expect_column_values_to_be_in_set'): invalid kwargs {{'column': 'a'}}")
    assert "value_set; field required" in message


@pytest.mark.parametrize(("content", "expected"), [
    ([], "not a GX expectation suite: expected an object with 'name' and a list 'expectations'"),
    ({"expectation_suite_name": "old", "expectations": []}, "got keys ['expectation_suite_name', 'expectations']"),
    ({"name": "s", "expectations": [{"type": "expect_column_to_exist", "kwargs": ["a"]}]},
     "not a GX expectation suite: expectations[0].kwargs: Not a valid mapping type."),
    ({"name": "s", "expectations": [{"kwargs": {}}]}, "expectations[0].type: type missing in expectation configuration"),
])
def test_json_that_is_not_a_suite_is_named(tmp_path, content: Any, expected: str) -> None:
    path = write_suite(tmp_path / "suite.json", content)

    with pytest.raises(SuiteError) as caught:
        load_suite(path)

    assert str(caught.value).startswith(f"{path}: ")
    assert expected in str(caught.value)


def test_a_missing_or_oversized_suite_file_is_named(tmp_path) -> None:
    big = write_suite(tmp_path / "big.json", '{"name": "s", "expectations": [], "notes": "' + "x" * MAX_SUITE_BYTES + '"}')

    with pytest.raises(SuiteError, match=r"absent.json: no such expectation suite file"):
        load_suite(tmp_path / "absent.json")
    with pytest.raises(SuiteError) as caught:
        load_suite(big)
    assert str(caught.value) == f"{big}: the suite is {big.stat().st_size} bytes, over the limit of 1048576 bytes"


# ---- validate ------------------------------------------------------------------------------


def test_a_failing_suite_reports_each_expectation_with_unexpected_counts(tmp_path) -> None:
    suite = load_suite(write_suite(tmp_path / "suite.json", RANGE_AND_SET))
    frame = pd.DataFrame({"alcohol": [9.0, 16.5, 7.0, 12.0, 20.0], "colour": ["red", "rose", "white", "red", "rose"]})

    outcome = validate(suite, frame)

    assert outcome.success is False
    assert (outcome.suite, outcome.rows) == ("wine_incoming", 5)
    between = result_for(outcome, "expect_column_values_to_be_between", "alcohol")
    assert (between.success, between.unexpected_count, between.unexpected_percent) == (False, 3, 60.0)
    assert between.partial_unexpected == (16.5, 7.0, 20.0)
    assert between.action == "block"
    in_set = result_for(outcome, "expect_column_values_to_be_in_set", "colour")
    assert (in_set.success, in_set.unexpected_count, in_set.partial_unexpected, in_set.action) == (
        False, 2, ("rose", "rose"), "warn")
    not_null = result_for(outcome, "expect_column_values_to_not_be_null", "alcohol")
    assert (not_null.success, not_null.unexpected_count, not_null.action) == (True, 0, None)
    assert {r.type for r in outcome.failed} == {"expect_column_values_to_be_between", "expect_column_values_to_be_in_set"}
    assert outcome.statistics == {"evaluated_expectations": 3, "successful_expectations": 1,
                                  "unsuccessful_expectations": 2, "success_percent": pytest.approx(100 / 3)}
    assert json.loads(json.dumps(outcome.to_json()))["results"][0]["type"] in {e["type"] for e in RANGE_AND_SET["expectations"]}


def test_a_passing_suite_passes(tmp_path) -> None:
    suite = load_suite(write_suite(tmp_path / "suite.json", RANGE_AND_SET))

    outcome = validate(suite, pd.DataFrame({"alcohol": [9.0, 10.0], "colour": ["red", "white"]}))

    assert outcome.success is True and outcome.failed == ()
    assert outcome.statistics["successful_expectations"] == 3


def test_a_column_the_frame_lacks_fails_with_gx_s_reason() -> None:
    suite = suite_from_dict({"name": "s", "expectations": [
        {"type": "expect_column_values_to_not_be_null", "kwargs": {"column": "absent"}}]})

    outcome = validate(suite, pd.DataFrame({"present": [1]}))

    (result,) = outcome.results
    assert result.success is False
    assert result.error is not None and "absent" in result.error


def test_validation_prints_no_progress_bars(capfd) -> None:
    suite = suite_from_dict(RANGE_AND_SET)
    capfd.readouterr()

    validate(suite, pd.DataFrame({"alcohol": np.linspace(8, 15, 10_000), "colour": "red"}))

    captured = capfd.readouterr()
    assert "Calculating Metrics" not in captured.err
    assert (captured.out, captured.err) == ("", "")


def test_validations_from_several_threads_each_see_their_own_frame() -> None:
    suite = suite_from_dict(RANGE_AND_SET)
    frames = {n: pd.DataFrame({"alcohol": [9.0] * (10 - n) + [30.0] * n, "colour": "red"}) for n in range(6)}
    counts: dict[int, int | None] = {}

    def run(n: int) -> None:
        counts[n] = result_for(validate(suite, frames[n]), "expect_column_values_to_be_between", "alcohol").unexpected_count

    threads = [threading.Thread(target=run, args=(n,)) for n in frames]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)

    assert counts == {n: n for n in frames}


# ---- suggest_suite -------------------------------------------------------------------------


def test_a_drafted_suite_holds_on_the_training_data_it_was_drafted_from(tmp_path) -> None:
    train = training_frame()
    draft = suggest_suite(stored_signature(train), train, "wine_draft")

    suite = load_suite(write_suite(tmp_path / "draft.json", draft))  # through a file, as a reviewer commits it
    outcome = validate(suite, train)

    assert outcome.success is True, [r.to_json() for r in outcome.failed]
    assert outcome.statistics["evaluated_expectations"] == len(draft["expectations"]) == 19


def test_the_drafted_suite_fails_on_shifted_data() -> None:
    train = training_frame()
    suite = suite_from_dict(suggest_suite(stored_signature(train), train, "wine_draft"))
    shifted = training_frame().assign(alcohol=lambda f: f["alcohol"] + 6.0)
    shifted.loc[:99, "colour"] = "rose"

    outcome = validate(suite, shifted)

    assert outcome.success is False
    assert {(r.type, r.column) for r in outcome.failed} == {
        ("expect_column_values_to_be_between", "alcohol"), ("expect_column_values_to_be_in_set", "colour")}
    assert result_for(outcome, "expect_column_values_to_be_in_set", "colour").unexpected_count == 100
    assert result_for(outcome, "expect_column_values_to_be_between", "alcohol").unexpected_count > 900


def test_drafted_expectations_say_where_they_came_from() -> None:
    train = training_frame()
    draft = suggest_suite(stored_signature(train), train, "wine_draft")
    by_key = {(e["type"], e["kwargs"]["column"]): e for e in draft["expectations"]}

    assert draft["name"] == "wine_draft" and draft["meta"]["draft"] is True
    assert by_key[("expect_column_to_exist", "alcohol")]["meta"] == {"source": "signature",
                                                                     "observed": {"in_profiled_data": True}}
    alcohol = by_key[("expect_column_values_to_be_between", "alcohol")]
    assert alcohol["kwargs"]["min_value"] == train["alcohol"].min()
    assert alcohol["meta"] == {"source": "profile", "observed": {"min": train["alcohol"].min(), "max": train["alcohol"].max()}}
    assert by_key[("expect_column_values_to_not_be_null", "residual_sugar")]["kwargs"]["mostly"] == 0.998
    assert by_key[("expect_column_values_to_not_be_null", "residual_sugar")]["meta"]["observed"] == {
        "null_count": 2, "rows": 1000}
    assert by_key[("expect_column_values_to_be_between", "quality")]["kwargs"] == {
        "column": "quality", "min_value": 3, "max_value": 8}
    assert by_key[("expect_column_values_to_be_in_set", "colour")]["kwargs"]["value_set"] == ["red", "white"]
    assert ("expect_column_values_to_be_in_set", "batch_code") not in by_key
    assert by_key[("expect_column_values_to_be_in_type_list", "quality")]["kwargs"]["type_list"] == [
        "int64", "int32", "int16", "int8"]
    assert by_key[("expect_column_values_to_be_in_type_list", "colour")]["kwargs"]["type_list"] == ["str"]
    assert all(e["meta"]["source"] in {"profile", "signature"} and "observed" in e["meta"] for e in draft["expectations"])
    json.dumps(draft, allow_nan=False)  # the draft is plain JSON


def test_the_drafted_type_check_refuses_what_mlflow_refuses() -> None:
    train = pd.DataFrame({"x": [1.5, 2.5, 3.5]})
    suite = suite_from_dict(suggest_suite(stored_signature(train), train, "d"))

    as_int32 = validate(suite, pd.DataFrame({"x": np.array([2, 3], dtype="int32")}))
    as_int64 = validate(suite, pd.DataFrame({"x": np.array([2, 3], dtype="int64")}))

    assert as_int32.success is True
    assert result_for(as_int64, "expect_column_values_to_be_in_type_list", "x").success is False


@pytest.mark.parametrize("signature_type", ["double", "float", "long", "integer"])
def test_the_drafted_type_lists_match_mlflow_s_enforcement(signature_type: str) -> None:
    """SIGNATURE_PANDAS_TYPES against schema_compat's MLflow answers for every numeric Spark type."""
    from mlflow.models.signature import ModelSignature
    from mlflow.types import ColSpec, Schema

    signature = json.dumps(ModelSignature(inputs=Schema([ColSpec(signature_type, "x")])).to_dict(), sort_keys=True)
    for spark_type in ("double", "float", "bigint", "int", "smallint", "tinyint"):
        accepted = check_signature(signature, {"x": spark_type}).ok
        assert accepted == (pandas_dtype_name(spark_type) in SIGNATURE_PANDAS_TYPES[signature_type]), spark_type


def test_without_a_signature_the_draft_follows_the_frame() -> None:
    frame = pd.DataFrame({"n": np.array([1, 2], dtype="int32"), "s": ["a", None]})

    draft = suggest_suite(None, frame, "plain")

    types = {(e["type"], e["kwargs"]["column"]): e["kwargs"].get("type_list") for e in draft["expectations"]}
    assert types[("expect_column_values_to_be_in_type_list", "n")] == ["int32"]
    assert types[("expect_column_values_to_be_in_type_list", "s")] == ["str"]
    assert ("expect_column_values_to_not_be_null", "s") not in types  # half null: no null expectation
    assert draft["expectations"][0]["meta"]["source"] == "profile"
    assert validate(suite_from_dict(draft), frame).success is True


def test_a_signature_column_missing_from_the_training_data_is_drafted_and_fails() -> None:
    signature = stored_signature(pd.DataFrame({"a": [1.0], "b": [2.0]}))
    frame = pd.DataFrame({"a": [1.0, 2.0]})

    draft = suggest_suite(signature, frame, "gap")
    outcome = validate(suite_from_dict(draft), frame)

    assert draft["expectations"][-1] == {"type": "expect_column_to_exist", "kwargs": {"column": "b"},
                                         "meta": {"source": "signature", "observed": {"in_profiled_data": False}}}
    assert [(r.type, r.column) for r in outcome.failed] == [("expect_column_to_exist", "b")]


# ---- import weight -------------------------------------------------------------------------


def test_importing_the_data_facing_modules_loads_no_heavy_library() -> None:
    probe = (
        "import json, sys\n"
        "import catalog.compliance.schema_compat, catalog.compliance.sample, catalog.compliance.expectations\n"
        "print(json.dumps(sorted({m.split('.')[0] for m in sys.modules} & "
        "{'mlflow', 'pandas', 'great_expectations', 'pyarrow', 'numpy'})))\n"
    )
    result = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=60, cwd=REPO, check=False)

    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == []
