"""The deployment's input as a Spark DataFrame, batch or stream, read as lineage.yml declares it.

CSV is read in PERMISSIVE mode with a corrupt-record column, so a malformed line becomes a
row the ``malformed-line`` rule quarantines with its raw text, never a failed job or a
silently dropped row. Column names are never matched by position without a word: with
``header: true`` the names come from the file's header (and Spark checks every file's
header against them, ``enforceSchema=false``); with ``header: false`` from ``columns``.
Types come from the declared ``schema``; a column it does not name is a string, as Spark
reads CSV without ``inferSchema`` (the schema gate then says so).

A hive_table is read from Spark's catalog when it knows the table, else from the table's
folder in Spark's warehouse (``spark.sql.warehouse.dir``, ``<db>.db/<table>``), in the
dataset's format.

Public API: ``input_schema``, ``read_input``, ``table_location``, ``CORRUPT_COLUMN``.
"""

from __future__ import annotations

import csv
from pathlib import Path
from typing import TYPE_CHECKING, Any

from catalog import naming
from catalog.compliance.schema_compat import canonical_spark_type
from catalog.scoring.deployment import ScoringError, ScoringSetup

if TYPE_CHECKING:
    from pyspark.sql import DataFrame, SparkSession
    from pyspark.sql.types import StructType

__all__ = ["CORRUPT_COLUMN", "input_schema", "read_input", "table_location"]

CORRUPT_COLUMN = "_corrupt_record"


def _first_file(path: Path, suffix: str) -> Path | None:
    if path.is_file():
        return path
    if not path.is_dir():
        return None
    files = sorted(p for p in path.rglob(f"*{suffix}") if p.is_file()
                   and not any(part.startswith(("_", ".")) for part in p.relative_to(path).parts))
    return files[0] if files else None


def _csv_names(setup: ScoringSetup, path: Path) -> list[str]:
    spec = setup.input
    where = f"datasets.{setup.input_key}"
    if not spec.header:
        if spec.columns:
            return list(spec.columns)
        if spec.schema_:
            return list(spec.schema_)
        raise ScoringError(f"{where}: a CSV without a header needs 'columns' (or 'schema') to name its fields")
    first = _first_file(path, ".csv") or _first_file(path, "")
    if first is None:
        if spec.schema_:
            return list(spec.schema_)
        raise ScoringError(f"{path}: no CSV files yet, and {where} declares no 'schema' to read them with")
    try:
        with first.open(newline="", encoding="utf-8") as handle:
            header = next(csv.reader(handle, delimiter=spec.separator), None)
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        raise ScoringError(f"{first}: cannot read the CSV header: {exc}") from None
    if not header:
        raise ScoringError(f"{first}: the file is empty, but {where} says it has a header")
    names = [name.strip() for name in header]
    for i, name in enumerate(names):
        if not name or name in names[:i]:
            raise ScoringError(f"{first}: header field {i + 1} is {'empty' if not name else f'a repeat of {name!r}'}")
    return names


def input_schema(spark: SparkSession, setup: ScoringSetup) -> StructType:
    """The Spark schema the job reads the input with (metadata only: a header line at most)."""
    from pyspark.sql.types import StringType, StructField, StructType, _parse_datatype_string

    fmt = setup.input_format
    if fmt == "csv":
        assert setup.input_path is not None
        declared = dict(setup.input.schema_ or {})
        fields = []
        for name in _csv_names(setup, setup.input_path):
            try:
                type_name = canonical_spark_type(declared.get(name, "string"), name)
            except ValueError as exc:
                raise ScoringError(f"datasets.{setup.input_key}.schema: {exc}") from None
            fields.append(StructField(name, _parse_datatype_string(type_name), True))
        return StructType([*fields, StructField(CORRUPT_COLUMN, StringType(), True)])
    return _batch_reader(spark, setup).schema


def _path_of(setup: ScoringSetup, spark: SparkSession) -> Path:
    if setup.input_path is not None:
        return setup.input_path
    return table_location(spark, setup.input_qn, setup.warehouse)


def table_location(spark: SparkSession, table_qn: str, warehouse: str = "") -> Path:
    """Where a managed table's files are: ``<warehouse>/<db>.db/<table>`` (Spark's warehouse unless given)."""
    table, _ = naming.split_cluster(table_qn)
    database, _, name = table.rpartition(".")
    warehouse = warehouse or spark.conf.get("spark.sql.warehouse.dir", "spark-warehouse")
    root = Path(warehouse.removeprefix("file:"))
    return root / f"{database or 'default'}.db" / name


def _batch_reader(spark: SparkSession, setup: ScoringSetup) -> DataFrame:
    if setup.input.type == "hive_table":
        table, _ = naming.split_cluster(setup.input_qn)
        if spark.catalog.tableExists(table):
            return spark.table(table)
    path = _path_of(setup, spark)
    if not path.exists():
        raise ScoringError(f"{path}: no such file or directory (the input of deployment {setup.name!r})")
    fmt = setup.input_format
    if fmt == "delta":
        return _delta_frame(spark, path)
    if fmt == "csv":
        return _csv_reader(spark.read, setup, input_schema(spark, setup)).load(str(path))
    return spark.read.format(fmt).load(str(path))


def _delta_frame(spark: SparkSession, path: Path) -> DataFrame:
    """A Delta table through delta-rs (no delta-spark jars), as one batch."""
    from deltalake import DeltaTable

    try:
        table = DeltaTable(str(path)).to_pyarrow_table()
    except Exception as exc:  # deltalake's TableNotFoundError and friends share no base we can name
        raise ScoringError(f"{path}: not a readable Delta table: {exc}") from None
    return spark.createDataFrame(table)


def _csv_reader(reader: Any, setup: ScoringSetup, schema: StructType) -> Any:
    spec = setup.input
    return (reader.format("csv").schema(schema)
            .option("header", str(spec.header).lower())
            .option("sep", spec.separator)
            .option("mode", "PERMISSIVE")
            .option("columnNameOfCorruptRecord", CORRUPT_COLUMN)
            .option("enforceSchema", "false" if spec.header else "true"))


def read_input(spark: SparkSession, setup: ScoringSetup, *, streaming: bool, max_files_per_trigger: int | None = None
               ) -> DataFrame:
    """The input as a batch DataFrame, or a streaming one over the input folder."""
    if not streaming:
        return _batch_reader(spark, setup)
    path = _path_of(setup, spark)
    if not path.is_dir():
        raise ScoringError(f"{path}: a streaming input is a folder new files arrive in; "
                           f"{'it is a file' if path.exists() else 'no such folder'}")
    schema = input_schema(spark, setup)
    if setup.input_format == "csv":
        reader = _csv_reader(spark.readStream, setup, schema)
    else:
        reader = spark.readStream.format(setup.input_format).schema(schema)
    if max_files_per_trigger:
        reader = reader.option("maxFilesPerTrigger", str(max_files_per_trigger))
    return reader.load(str(path))
