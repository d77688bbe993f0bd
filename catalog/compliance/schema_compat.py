"""Will a deployment's input pass the model's signature? Asked of MLflow's own enforcement.

Why MLflow decides and not a table of ours: at scoring time ``mlflow.pyfunc.spark_udf``
hands the model pandas Series converted by Arrow from the Spark columns, and pyfunc's
``predict`` runs ``mlflow.models.utils._enforce_schema`` on them. The rules of that
function (``int32`` widens to ``double``, ``int64`` does not, object text is refused
for ``double`` ...) change between MLflow releases; calling it on a small frame with the
same dtypes keeps this check exactly as strict as the installed MLflow, no more, no less.

MLflow stops at the first bad column; a reviewer wants all of them, so each signature
column is enforced on its own, then the whole frame once more so that no combination
MLflow refuses is reported as compatible.

Public API: ``check_signature``, ``SchemaOutcome``, ``SchemaProblem``,
``input_schema_from_parquet``, ``canonical_spark_type``, ``pandas_dtype_name``,
``spark_schema_of_arrow``, ``SPARK_TYPES``.
"""

from __future__ import annotations

import datetime as dt
import decimal
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

if TYPE_CHECKING:
    import pandas as pd
    import pyarrow as pa

__all__ = [
    "SPARK_TYPES",
    "SchemaOutcome",
    "SchemaProblem",
    "canonical_spark_type",
    "check_signature",
    "input_schema_from_parquet",
    "pandas_dtype_name",
    "spark_schema_of_arrow",
]

ProblemKind = Literal["type-mismatch", "missing", "positional"]

#: Spark SQL type names a lineage.yml may declare, alias -> Spark's own (simpleString) name.
_ALIASES: Mapping[str, str] = {
    "string": "string", "double": "double", "float": "float",
    "int": "int", "integer": "int", "bigint": "bigint", "long": "bigint",
    "smallint": "smallint", "short": "smallint", "tinyint": "tinyint", "byte": "tinyint",
    "boolean": "boolean", "date": "date", "timestamp": "timestamp", "binary": "binary",
}
#: What the accepted names are, for error messages (decimal takes a precision and scale).
SPARK_TYPES: tuple[str, ...] = (*_ALIASES, "decimal(p,s)")

#: The pandas dtype spark_udf hands the model for a (non-null) Spark column: Spark -> Arrow
#: -> pandas. Dates, decimals and bytes arrive as object columns of Python values.
_PANDAS_DTYPES: Mapping[str, str] = {
    "string": "object", "double": "float64", "float": "float32", "int": "int32",
    "bigint": "int64", "smallint": "int16", "tinyint": "int8", "boolean": "bool",
    "date": "object", "timestamp": "datetime64[ns]", "decimal": "object", "binary": "object",
}
_DECIMAL = re.compile(r"^decimal\s*(?:\(\s*(\d+)\s*(?:,\s*(\d+)\s*)?\))?$")


@dataclass(frozen=True, slots=True)
class SchemaProblem:
    """One reason the input does not fit the signature, or (``positional``) a caution."""

    kind: ProblemKind
    column: str | None
    input_type: str | None
    expected_type: str | None
    message: str

    @property
    def severity(self) -> str:
        """``warning`` for positional matching (it may be right), ``error`` otherwise."""
        return "warning" if self.kind == "positional" else "error"

    def to_json(self) -> dict[str, Any]:
        return {"kind": self.kind, "severity": self.severity, "column": self.column,
                "input_type": self.input_type, "expected_type": self.expected_type, "message": self.message}


@dataclass(frozen=True, slots=True)
class SchemaOutcome:
    """The verdict on one signature against one input schema, as evidence for a rule.

    ``ok`` is False when MLflow would refuse the input (a type it will not convert, a
    required column missing); positional matching alone leaves it True. ``dropped`` are
    input columns the signature does not name: MLflow ignores them.
    """

    ok: bool
    problems: tuple[SchemaProblem, ...] = ()
    dropped: tuple[str, ...] = ()
    mlflow_version: str = ""

    def to_json(self) -> dict[str, Any]:
        return {"ok": self.ok, "problems": [p.to_json() for p in self.problems],
                "dropped": list(self.dropped), "mlflow_version": self.mlflow_version}


def canonical_spark_type(type_name: str, column: str) -> str:
    """Spark's own name for a declared type (``LONG`` -> ``bigint``, ``decimal`` -> ``decimal(10,0)``).

    Raises ValueError naming the column and the accepted names: a typo in lineage.yml
    must not turn into "every column is a string".
    """
    name = str(type_name).strip().lower()
    if name in _ALIASES:
        return _ALIASES[name]
    match = _DECIMAL.match(name)
    if match:
        precision = int(match.group(1) or 10)  # Spark's default decimal is decimal(10,0)
        scale = int(match.group(2) or 0)
        if 1 <= precision <= 38 and scale <= precision:
            return f"decimal({precision},{scale})"
    raise ValueError(f"column {column!r}: unknown Spark SQL type {type_name!r}; "
                     f"expected one of {', '.join(SPARK_TYPES)} (case-insensitive)")


def pandas_dtype_name(spark_type: str) -> str:
    """The pandas dtype a column of this (canonical) Spark type reaches the model as."""
    return _PANDAS_DTYPES["decimal" if spark_type.startswith("decimal") else spark_type]


def check_signature(signature_json: str, input_schema: Mapping[str, str]) -> SchemaOutcome:
    """Enforce the signature stored in the catalog on an input of these declared Spark types.

    ``signature_json`` is ``json.dumps(mlmodel["signature"], sort_keys=True)``; it is
    parsed by MLflow's ``ModelSignature.from_dict``. ``input_schema`` maps each input
    column to a Spark SQL type name as lineage.yml declares it.
    """
    import mlflow
    from mlflow.models.signature import ModelSignature

    signature = ModelSignature.from_dict(json.loads(signature_json))
    declared = {column: canonical_spark_type(type_name, column) for column, type_name in input_schema.items()}
    schema = signature.inputs
    if schema is None or not schema.inputs:
        return SchemaOutcome(ok=True, mlflow_version=mlflow.__version__)
    probe = _probe_frame(declared)
    if schema.is_tensor_spec():
        problems, dropped = _check_tensor(probe, schema)
    elif not schema.has_input_names():
        problems, dropped = _check_positional(probe, declared, schema)
    else:
        problems, dropped = _check_named(probe, declared, schema)
    ok = not any(p.severity == "error" for p in problems)
    return SchemaOutcome(ok=ok, problems=tuple(problems), dropped=tuple(dropped),
                         mlflow_version=mlflow.__version__)


def _check_named(probe: pd.DataFrame, declared: Mapping[str, str], schema: Any) -> tuple[list, list]:
    """Column by column by name, as ``_enforce_named_col_schema`` matches them."""
    from mlflow.types import Schema

    problems: list[SchemaProblem] = []
    for spec in schema.inputs:
        if spec.name not in declared:
            if spec.required:
                problems.append(SchemaProblem(
                    "missing", spec.name, None, _type_name(spec.type),
                    f"column {spec.name!r} ({_type_name(spec.type)}) is required by the model signature "
                    f"but missing from the input (it has {', '.join(declared) or 'no columns'})"))
            continue
        problem = _enforce_column(probe, spec.name, declared[spec.name], spec, Schema([spec]))
        if problem is not None:
            problems.append(problem)
    if not problems:
        problems.extend(_enforce_whole(probe[[c for c in schema.input_names() if c in declared]], schema))
    named = set(schema.input_names())
    return problems, [c for c in declared if c not in named]


def _check_positional(probe: pd.DataFrame, declared: Mapping[str, str], schema: Any) -> tuple[list, list]:
    """Unnamed column specs: MLflow takes the first n input columns, whatever their names."""
    from mlflow.types import ColSpec, Schema

    columns = list(declared)
    specs = schema.inputs
    problems = [SchemaProblem(
        "positional", None, None, None,
        f"the model signature's {len(specs)} inputs have no names: MLflow matches the input's columns "
        f"by position, so the order {columns[:len(specs)]} decides which feature is which")]
    if len(columns) < len(specs):
        problems.append(SchemaProblem(
            "missing", None, None, None,
            f"the signature declares {len(specs)} unnamed inputs but the input has only "
            f"{len(columns)} columns ({', '.join(columns) or 'none'})"))
        return problems, []
    for column, spec in zip(columns, specs):
        named_spec = ColSpec(spec.type, column, spec.required)
        problem = _enforce_column(probe, column, declared[column], spec, Schema([named_spec]))
        if problem is not None:
            problems.append(problem)
    if len(problems) == 1:
        problems.extend(_enforce_whole(probe[columns], schema))
    return problems, columns[len(specs):]


def _check_tensor(probe: pd.DataFrame, schema: Any) -> tuple[list, list]:
    """A tensor signature: MLflow turns the frame into arrays; only the whole frame can be asked."""
    problems = [SchemaProblem(
        "positional", None, None, None,
        "the model signature is a tensor spec without column names: MLflow passes the input's "
        f"columns {list(probe.columns)} to the model by position")]
    problems.extend(_enforce_whole(probe, schema))
    return problems, []


def _enforce_column(probe: pd.DataFrame, column: str, spark_type: str, spec: Any,
                    one_column: Any) -> SchemaProblem | None:
    """MLflow's verdict on one column, or None when it accepts (and converts) it."""
    from mlflow.models.utils import _enforce_schema

    try:
        _enforce_schema(probe[[column]], one_column)
    except Exception as exc:  # MlflowException, and TypeError/ValueError from pandas inside it
        expected = _type_name(spec.type)
        return SchemaProblem(
            "type-mismatch", column, spark_type, expected,
            f"column {column!r}: the input's {spark_type} reaches the model as pandas "
            f"{pandas_dtype_name(spark_type)}, which MLflow does not accept for the signature's "
            f"{expected} (MLflow: {_mlflow_message(exc)})")
    return None


def _enforce_whole(frame: pd.DataFrame, schema: Any) -> list[SchemaProblem]:
    """The whole frame through ``_enforce_schema``: the per-column answers must add up to this."""
    from mlflow.models.utils import _enforce_schema

    try:
        _enforce_schema(frame, schema)
    except Exception as exc:
        return [SchemaProblem("type-mismatch", None, None, str(schema),
                              f"MLflow refuses the input as a whole: {_mlflow_message(exc)}")]
    return []


def _mlflow_message(exc: BaseException) -> str:
    return str(getattr(exc, "message", None) or exc)


def _type_name(spec_type: Any) -> str:
    """``double`` for a DataType, MLflow's own rendering for arrays, objects and maps."""
    return getattr(spec_type, "name", None) or str(spec_type)


def _probe_frame(declared: Mapping[str, str]) -> pd.DataFrame:
    """Two rows per column, with the dtypes and Python values spark_udf hands the model.

    The values avoid MLflow's value-dependent leniencies, so the answer is about the type:
    text is not numeric (MLflow converts object columns of numeric text to ``double``
    through ``pd.to_numeric``, and fails mid-stream on the first row that is not) and
    ``bigint`` values are not all 0/1 (MLflow turns an int64 column of 0s and 1s into
    floats, and refuses any other int64 column for ``double``).
    """
    import pandas as pd

    return pd.DataFrame({column: _probe_series(spark_type) for column, spark_type in declared.items()})


def _probe_series(spark_type: str) -> pd.Series:
    import pandas as pd

    if spark_type.startswith("decimal"):
        scale = int(spark_type.rstrip(")").split(",")[1])
        zero = decimal.Decimal(0).scaleb(-scale)
        return pd.Series([zero, zero], dtype=object)
    values: dict[str, list[Any]] = {
        "string": ["some text", "more text"], "double": [1.5, 2.5], "float": [1.5, 2.5],
        "int": [2, 3], "bigint": [2, 3], "smallint": [2, 3], "tinyint": [2, 3], "boolean": [True, False],
        "date": [dt.date(2024, 1, 1), dt.date(2024, 1, 2)],
        "timestamp": [dt.datetime(2024, 1, 1, 12), dt.datetime(2024, 1, 2, 12)],
        "binary": [b"\x00\x01", b"\x02"],
    }
    return pd.Series(values[spark_type], dtype=pandas_dtype_name(spark_type))


def spark_schema_of_arrow(schema: pa.Schema) -> dict[str, str]:
    """Spark SQL type names of an Arrow schema's fields, as Spark reads them from Parquet.

    Nested and other types no scoring input of ours has are refused by name: they would
    otherwise pass as a type this check does not know.
    """
    return {field.name: _spark_type_of_arrow(field.type, field.name) for field in schema}


def _spark_type_of_arrow(arrow_type: pa.DataType, column: str) -> str:
    import pyarrow as pa
    import pyarrow.types as pat

    if pat.is_dictionary(arrow_type):
        return _spark_type_of_arrow(arrow_type.value_type, column)
    if pat.is_decimal(arrow_type):
        return f"decimal({arrow_type.precision},{arrow_type.scale})"
    if pat.is_timestamp(arrow_type):
        return "timestamp"
    if pat.is_date(arrow_type):
        return "date"
    simple = {
        pa.string(): "string", pa.large_string(): "string", pa.float64(): "double", pa.float32(): "float",
        pa.int64(): "bigint", pa.int32(): "int", pa.int16(): "smallint", pa.int8(): "tinyint",
        # Spark widens unsigned Parquet integers to the next signed type
        pa.uint8(): "smallint", pa.uint16(): "int", pa.uint32(): "bigint", pa.uint64(): "decimal(20,0)",
        pa.bool_(): "boolean", pa.binary(): "binary", pa.large_binary(): "binary",
    }
    if arrow_type in simple:
        return simple[arrow_type]
    raise ValueError(f"column {column!r}: Parquet type {arrow_type} has no Spark SQL type this check "
                     f"supports ({', '.join(SPARK_TYPES)})")


def input_schema_from_parquet(path: str | Path) -> dict[str, str]:
    """Spark SQL types of a Parquet file's or directory's columns, for an input with no declared schema.

    Reading (and its errors, ``SampleError`` naming the path) is ``sample``'s; this
    module only names the types.
    """
    from catalog.compliance.sample import parquet_arrow_schema

    return spark_schema_of_arrow(parquet_arrow_schema(Path(path)))
