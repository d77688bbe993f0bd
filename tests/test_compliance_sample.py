"""Tests of catalog.compliance.sample: a deployment's input read as the scoring job's Spark reader reads it.

Why: the schema and expectations rules judge this sample; if it were typed differently
from what Spark hands the model (pandas' own inference, say), the check would pass
inputs the job then fails on. Errors must name the path and what was wrong.
"""

from __future__ import annotations

import datetime as dt
import decimal
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from catalog.compliance.sample import DatasetInput, Sample, SampleError, read_sample
from catalog.errors import CatalogError

WINE = "fixed_acidity,volatile_acidity,quality,colour\n7.4,0.70,5,red\n7.8,0.88,5,red\n6.3,0.30,6,white\n"


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def test_a_csv_without_a_schema_is_all_strings_like_spark_without_infer_schema(tmp_path) -> None:
    write(tmp_path / "wine.csv", WINE)

    sample = read_sample(DatasetInput(path="wine.csv", format="csv"), base_dir=tmp_path)

    assert dict(sample.schema) == dict.fromkeys(["fixed_acidity", "volatile_acidity", "quality", "colour"], "string")
    assert {str(t) for t in sample.frame.dtypes} == {"object"}
    assert sample.frame["fixed_acidity"].tolist() == ["7.4", "7.8", "6.3"]
    assert sample.rows == 3
    assert sample.files == (str(tmp_path / "wine.csv"),)


def test_a_declared_schema_casts_each_column_to_what_spark_hands_the_model(tmp_path) -> None:
    write(tmp_path / "in.csv", "x,n,big,flag,day,at,price,name\n"
                               "1.5,2,9007199254740993,true,2024-03-01,2024-03-01 10:30:00,1.005,a\n"
                               "2.5,3,1,FALSE,2024-03-02,2024-03-02T11:00:00,2,b\n")
    schema = {"x": "double", "n": "INT", "big": "bigint", "flag": "boolean", "day": "date", "at": "timestamp",
              "price": "decimal(10,2)", "name": "string"}

    sample = read_sample(DatasetInput(path=str(tmp_path / "in.csv"), format="csv", schema=schema))

    frame = sample.frame
    assert {c: str(t) for c, t in frame.dtypes.items()} == {
        "x": "float64", "n": "int32", "big": "int64", "flag": "bool", "day": "object", "at": "datetime64[ns]",
        "price": "object", "name": "object"}
    assert frame["big"].tolist() == [9007199254740993, 1]  # exact, not through a float
    assert frame["flag"].tolist() == [True, False]
    assert frame["day"].tolist() == [dt.date(2024, 3, 1), dt.date(2024, 3, 2)]
    assert frame["at"].tolist() == [pd.Timestamp("2024-03-01 10:30"), pd.Timestamp("2024-03-02 11:00")]
    assert frame["price"].tolist() == [decimal.Decimal("1.01"), decimal.Decimal("2.00")]  # half-up, Spark's rounding
    assert dict(sample.schema) == {**schema, "n": "int", "price": "decimal(10,2)"}


def test_empty_fields_are_nulls_and_widen_nullable_ints_as_arrow_does(tmp_path) -> None:
    write(tmp_path / "in.csv", "n,s,b\n1,NA,true\n,,\n")

    frame = read_sample(DatasetInput(path=str(tmp_path / "in.csv"), format="csv",
                                     schema={"n": "int", "s": "string", "b": "boolean"})).frame

    assert str(frame["n"].dtype) == "float64" and frame["n"].isna().tolist() == [False, True]
    assert frame["s"].tolist() == ["NA", None]  # only the empty field is null, as in Spark
    assert frame["b"].tolist() == [True, None]


def test_a_header_less_csv_takes_its_names_from_columns(tmp_path) -> None:
    write(tmp_path / "in.csv", "7.4,red\n6.3,white\n")

    sample = read_sample(DatasetInput(path="in.csv", format="csv", header=False, columns=("acidity", "colour"),
                                      schema={"acidity": "double"}), base_dir=tmp_path)

    assert list(sample.frame.columns) == ["acidity", "colour"]
    assert sample.frame["acidity"].tolist() == [7.4, 6.3]
    assert dict(sample.schema) == {"acidity": "double", "colour": "string"}
    assert sample.rows == 2  # the first line is data, not a header


def test_a_header_less_csv_without_columns_is_named_like_spark(tmp_path) -> None:
    write(tmp_path / "in.csv", "1,2\n3,4\n")

    sample = read_sample(DatasetInput(path="in.csv", format="csv", header=False), base_dir=tmp_path)

    assert list(sample.frame.columns) == ["_c0", "_c1"]


def test_columns_that_do_not_match_the_field_count_name_the_file(tmp_path) -> None:
    write(tmp_path / "in.csv", "1,2,3\n")

    with pytest.raises(SampleError) as caught:
        read_sample(DatasetInput(path="in.csv", format="csv", header=False, columns=["a", "b"]), base_dir=tmp_path)

    assert str(caught.value) == f"{tmp_path / 'in.csv'}: the file has 3 fields per row (separator ',') but the columns names 2: ['a', 'b']"


def test_a_custom_separator(tmp_path) -> None:
    write(tmp_path / "in.csv", "a;b\n1,5;x\n2,5;y\n")

    sample = read_sample(DatasetInput(path="in.csv", format="csv", separator=";"), base_dir=tmp_path)

    assert sample.frame.to_dict("list") == {"a": ["1,5", "2,5"], "b": ["x", "y"]}


def test_a_directory_is_read_file_by_file_in_name_order_up_to_rows(tmp_path) -> None:
    folder = tmp_path / "incoming"
    write(folder / "b.csv", "v\n3\n4\n")
    write(folder / "a.csv", "v\n1\n2\n")
    write(folder / "c.csv", "v\n5\n")
    write(folder / "notes.txt", "not data\n")
    write(folder / "empty.csv", "")

    sample = read_sample(DatasetInput(path="incoming", format="csv", schema={"v": "int"}), rows=3, base_dir=tmp_path)

    assert sample.frame["v"].tolist() == [1, 2, 3]
    assert sample.files == (str(folder / "a.csv"), str(folder / "b.csv"))


def test_the_digest_is_stable_and_follows_the_rows(tmp_path) -> None:
    write(tmp_path / "one.csv", WINE)
    write(tmp_path / "two.csv", WINE)
    write(tmp_path / "changed.csv", WINE.replace("7.8", "7.9"))
    spec = lambda name: DatasetInput(path=name, format="csv", schema={"fixed_acidity": "double", "quality": "int"})

    first = read_sample(spec("one.csv"), base_dir=tmp_path)

    assert len(first.digest) == 64 and int(first.digest, 16) >= 0
    assert read_sample(spec("one.csv"), base_dir=tmp_path).digest == first.digest
    assert read_sample(spec("two.csv"), base_dir=tmp_path).digest == first.digest  # rows, not file names
    assert read_sample(spec("changed.csv"), base_dir=tmp_path).digest != first.digest
    untyped = read_sample(DatasetInput(path="one.csv", format="csv"), base_dir=tmp_path)
    assert untyped.digest != first.digest  # the same text read as strings is another sample


def test_the_digest_is_the_same_in_another_process(tmp_path) -> None:
    """Another interpreter has another hash seed: nothing in the digest may depend on it."""
    write(tmp_path / "one.csv", WINE)
    probe = ("import sys; from catalog.compliance.sample import DatasetInput, read_sample; "
             "print(read_sample(DatasetInput(path=sys.argv[1], format='csv', schema={'quality': 'int'})).digest)")
    here = read_sample(DatasetInput(path=str(tmp_path / "one.csv"), format="csv", schema={"quality": "int"})).digest

    there = subprocess.run([sys.executable, "-c", probe, str(tmp_path / "one.csv")], capture_output=True, text=True,
                           timeout=120, cwd=Path(__file__).resolve().parents[1], check=True,
                           env={**os.environ, "PYTHONHASHSEED": "12345"})

    assert there.stdout.strip() == here


def test_parquet_keeps_its_own_types_and_reads_a_directory(tmp_path) -> None:
    folder = tmp_path / "scored"
    folder.mkdir()
    pq.write_table(pa.table({"x": pa.array([1.5, 2.5]), "n": pa.array([1, 2], pa.int32()),
                             "day": pa.array([dt.date(2024, 1, 1), None], pa.date32())}), folder / "part-0.parquet")
    pq.write_table(pa.table({"x": pa.array([3.5]), "n": pa.array([3], pa.int32()),
                             "day": pa.array([dt.date(2024, 1, 3)], pa.date32())}), folder / "part-1.parquet")
    (folder / "_SUCCESS").write_text("")
    (folder / ".part-0.parquet.crc").write_bytes(b"\x00")

    sample = read_sample(DatasetInput(path=str(folder), format="parquet"))

    assert dict(sample.schema) == {"x": "double", "n": "int", "day": "date"}
    assert sample.frame["x"].tolist() == [1.5, 2.5, 3.5]
    assert str(sample.frame["n"].dtype) == "int32"
    assert sample.frame["day"].tolist() == [dt.date(2024, 1, 1), None, dt.date(2024, 1, 3)]
    assert sample.files == (str(folder / "part-0.parquet"), str(folder / "part-1.parquet"))
    assert read_sample(DatasetInput(path=str(folder), format="parquet"), rows=2).files == (str(folder / "part-0.parquet"),)


def test_parquet_timestamps_arrive_in_nanoseconds_as_spark_hands_them(tmp_path) -> None:
    pq.write_table(pa.table({"at": pa.array([dt.datetime(2024, 1, 1, 12)], pa.timestamp("us"))}), tmp_path / "t.parquet")

    frame = read_sample(DatasetInput(path=str(tmp_path / "t.parquet"), format="parquet")).frame

    assert str(frame["at"].dtype) == "datetime64[ns]"


def test_a_parquet_schema_that_disagrees_with_the_declared_one_is_an_error(tmp_path) -> None:
    pq.write_table(pa.table({"n": pa.array([1], pa.int64())}), tmp_path / "t.parquet")

    with pytest.raises(SampleError, match=r"column 'n' is declared int but the Parquet files hold bigint"):
        read_sample(DatasetInput(path=str(tmp_path / "t.parquet"), format="parquet", schema={"n": "integer"}))


def test_a_missing_path_is_named(tmp_path) -> None:
    with pytest.raises(SampleError) as caught:
        read_sample(DatasetInput(path="data/incoming/", format="csv"), base_dir=tmp_path)

    assert isinstance(caught.value, CatalogError) and isinstance(caught.value, OSError)
    assert str(caught.value) == (f"{tmp_path / 'data/incoming'}: no such file or directory "
                                 "(the dataset input's path 'data/incoming/')")


def test_an_empty_directory_is_named(tmp_path) -> None:
    (tmp_path / "incoming").mkdir()

    with pytest.raises(SampleError, match=r"incoming: the directory has no data files \(\*\.csv\)"):
        read_sample(DatasetInput(path="incoming", format="csv"), base_dir=tmp_path)


def test_a_malformed_csv_names_the_file_and_line(tmp_path) -> None:
    write(tmp_path / "bad.csv", "a,b\n1,2\n3,4,5\n")

    with pytest.raises(SampleError) as caught:
        read_sample(DatasetInput(path="bad.csv", format="csv"), base_dir=tmp_path)

    message = str(caught.value)
    assert message.startswith(f"{tmp_path / 'bad.csv'}: malformed CSV (separator ',')")
    assert "Expected 2 fields in line 3, saw 3" in message


def test_a_row_with_one_field_more_than_the_header_is_not_silently_an_index(tmp_path) -> None:
    write(tmp_path / "bad.csv", "a,b\n1,2,3\n4,5,6\n")

    with pytest.raises(SampleError, match=r"bad.csv: malformed CSV .*Expected 2 fields in line 2, saw 3"):
        read_sample(DatasetInput(path="bad.csv", format="csv"), base_dir=tmp_path)


def test_a_value_that_is_not_its_declared_type_names_file_column_row_and_value(tmp_path) -> None:
    write(tmp_path / "in.csv", "x\n1.5\nabc\n")

    with pytest.raises(SampleError) as caught:
        read_sample(DatasetInput(path="in.csv", format="csv", schema={"x": "double"}), base_dir=tmp_path)

    assert str(caught.value) == f"{tmp_path / 'in.csv'}: column 'x' is declared double but data row 2 holds 'abc'"


@pytest.mark.parametrize(("declared", "value"), [("int", "2.5"), ("tinyint", "128"), ("boolean", "yes"),
                                                 ("date", "01/02/2024"), ("decimal(3,2)", "12.5")])
def test_values_out_of_their_type_are_refused(tmp_path, declared: str, value: str) -> None:
    write(tmp_path / "in.csv", f"x\n{value}\n")

    with pytest.raises(SampleError, match=rf"column 'x' is declared .* but data row 1 holds '{value}'"):
        read_sample(DatasetInput(path="in.csv", format="csv", schema={"x": declared}), base_dir=tmp_path)


def test_a_declared_column_the_file_lacks_is_named(tmp_path) -> None:
    write(tmp_path / "in.csv", "a\n1\n")

    with pytest.raises(SampleError, match=r"the schema declares \['b'\], which the file does not have \(its fields: \['a'\]\)"):
        read_sample(DatasetInput(path="in.csv", format="csv", schema={"b": "double"}), base_dir=tmp_path)


def test_an_unreadable_file_is_named(tmp_path) -> None:
    (tmp_path / "latin1.csv").write_bytes("name\ncaf\xe9\n".encode("latin-1"))
    (tmp_path / "broken.parquet").write_text("not parquet")

    with pytest.raises(SampleError, match=r"latin1.csv: not UTF-8 text"):
        read_sample(DatasetInput(path="latin1.csv", format="csv"), base_dir=tmp_path)
    with pytest.raises(SampleError, match=r"broken.parquet: not readable as Parquet"):
        read_sample(DatasetInput(path="broken.parquet", format="parquet"), base_dir=tmp_path)


def test_an_empty_file_is_named(tmp_path) -> None:
    write(tmp_path / "empty.csv", "")

    with pytest.raises(SampleError, match=r"empty.csv: the file is empty"):
        read_sample(DatasetInput(path="empty.csv", format="csv"), base_dir=tmp_path)


def test_formats_other_than_csv_and_parquet_are_refused_by_name(tmp_path) -> None:
    (tmp_path / "table").mkdir()

    with pytest.raises(SampleError, match=r"table: format 'delta' cannot be sampled; expected one of csv, parquet"):
        read_sample(DatasetInput(path="table", format="delta"), base_dir=tmp_path)


def test_remote_uris_are_refused_and_file_uris_read(tmp_path) -> None:
    write(tmp_path / "in.csv", "a\n1\n")

    assert read_sample(DatasetInput(path=(tmp_path / "in.csv").as_uri(), format="csv")).rows == 1
    with pytest.raises(SampleError, match=r"s3://bucket/in.csv: only local paths and file: URIs can be sampled"):
        read_sample(DatasetInput(path="s3://bucket/in.csv", format="csv"))


def test_rows_limits_the_sample_and_the_sample_is_json_evidence(tmp_path) -> None:
    write(tmp_path / "in.csv", "v\n" + "".join(f"{i}\n" for i in range(100)))

    sample = read_sample(DatasetInput(path="in.csv", format="csv", schema={"v": "bigint"}), rows=10, base_dir=tmp_path)

    assert isinstance(sample, Sample)
    assert sample.frame["v"].tolist() == list(range(10))
    assert np.issubdtype(sample.frame["v"].dtype, np.int64)
    assert sample.to_json() == {"rows": 10, "digest": sample.digest, "files": [str(tmp_path / "in.csv")],
                                "schema": {"v": "bigint"}}
