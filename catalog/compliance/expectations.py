"""Great Expectations suites for a deployment's input: load one, run it on a sample, draft one.

Why GX itself and not a re-implementation: teams already write GX 1.x suites, and a
check that reads their JSON and runs it with GX says exactly what their own pipeline
says. What this module adds is what a gate needs around it: a size limit and errors
that name the file and the expectation, a frozen outcome for the evidence chain, and
one in-memory GX context reused across validations (building a context and a data
source per call costs more than validating 10,000 rows), with progress bars off so a
check prints nothing GX did not mean for a log.

Public API: ``load_suite``, ``suite_from_dict``, ``validate``, ``suggest_suite``,
``Suite``, ``SuiteOutcome``, ``ExpectationOutcome``, ``SuiteError``, ``MAX_SUITE_BYTES``.
"""

from __future__ import annotations

import hashlib
import json
import math
import threading
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from catalog.errors import CatalogError, did_you_mean

if TYPE_CHECKING:
    import pandas as pd

__all__ = [
    "MAX_SUITE_BYTES",
    "ExpectationOutcome",
    "Suite",
    "SuiteError",
    "SuiteOutcome",
    "load_suite",
    "suggest_suite",
    "suite_from_dict",
    "validate",
]

MAX_SUITE_BYTES = 1 << 20
#: How many unexpected values an outcome keeps: enough to see the problem, small as evidence.
PARTIAL_VALUES = 10
#: A column with at most this share of nulls gets ``not_be_null`` with ``mostly``; more, none.
FEW_NULLS = 0.05
#: String columns with at most this many distinct values are drafted as categorical.
MAX_CATEGORIES = 20
#: The pandas dtypes MLflow accepts for a signature type (tests/test_compliance_expectations.py
#: pins this against schema_compat's MLflow answers), as GX's type_list names them.
SIGNATURE_PANDAS_TYPES: Mapping[str, tuple[str, ...]] = {
    "double": ("float64", "float32", "int32", "int16", "int8"),
    "float": ("float32",),
    "long": ("int64", "int32", "int16", "int8"),
    "integer": ("int32", "int16", "int8"),
    "boolean": ("bool",),
    "string": ("str",),
    "datetime": ("datetime64[ns]",),
    "binary": ("bytes",),
}


class SuiteError(CatalogError, ValueError):
    """An expectation suite file is missing, too big, not JSON, or not a GX 1.x suite."""


@dataclass(frozen=True, slots=True)
class Suite:
    """A loaded suite: its name, where it came from, its file digest and the GX object to run."""

    name: str
    source: str
    digest: str
    expectations: tuple[Mapping[str, Any], ...]
    gx_suite: Any = field(compare=False, repr=False)

    def to_json(self) -> dict[str, Any]:
        return {"name": self.name, "source": self.source, "digest": self.digest,
                "expectations": len(self.expectations)}


@dataclass(frozen=True, slots=True)
class ExpectationOutcome:
    """One expectation's result; ``action`` is the suite's ``meta.action`` (``warn``, ``quarantine`` or ``fail``: what the scoring job does with rows that fail it)."""

    type: str
    column: str | None
    success: bool
    unexpected_count: int | None = None
    unexpected_percent: float | None = None
    partial_unexpected: tuple[Any, ...] = ()
    observed_value: Any = None
    action: str | None = None
    error: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {"type": self.type, "column": self.column, "success": self.success,
                "unexpected_count": self.unexpected_count, "unexpected_percent": self.unexpected_percent,
                "partial_unexpected": list(self.partial_unexpected), "observed_value": self.observed_value,
                "action": self.action, "error": self.error}


@dataclass(frozen=True, slots=True)
class SuiteOutcome:
    """A suite run on a frame: overall success, each expectation, GX's statistics."""

    suite: str
    success: bool
    results: tuple[ExpectationOutcome, ...]
    statistics: Mapping[str, Any]
    rows: int

    @property
    def failed(self) -> tuple[ExpectationOutcome, ...]:
        return tuple(r for r in self.results if not r.success)

    def to_json(self) -> dict[str, Any]:
        return {"suite": self.suite, "success": self.success, "rows": self.rows,
                "statistics": dict(self.statistics), "results": [r.to_json() for r in self.results]}


# ---- loading -------------------------------------------------------------------------------


def load_suite(path: Path | str) -> Suite:
    """Read and check a GX 1.x suite JSON file: every expectation must be one GX knows, with valid kwargs."""
    path = Path(path)
    try:
        size = path.stat().st_size
        if not path.is_file():
            raise SuiteError(f"{path}: not a file (an expectation suite is one JSON file)")
        if size > MAX_SUITE_BYTES:
            raise SuiteError(f"{path}: the suite is {size} bytes, over the limit of {MAX_SUITE_BYTES} bytes")
        raw = path.read_bytes()[: MAX_SUITE_BYTES + 1]
    except FileNotFoundError:
        raise SuiteError(f"{path}: no such expectation suite file") from None
    except OSError as exc:
        raise SuiteError(f"{path}: cannot be read: {exc.strerror or exc}") from None
    try:
        data = json.loads(raw.decode("utf-8"))
    except UnicodeDecodeError as exc:
        raise SuiteError(f"{path}: not UTF-8 text (byte {exc.start})") from None
    except json.JSONDecodeError as exc:
        raise SuiteError(f"{path}: not JSON (line {exc.lineno}, column {exc.colno}: {exc.msg})") from None
    return _build_suite(data, str(path), hashlib.sha256(raw).hexdigest())


def suite_from_dict(data: Mapping[str, Any], source: str = "<suite>") -> Suite:
    """A suite from its JSON form (``suggest_suite``'s draft, say), checked as ``load_suite`` checks a file."""
    text = json.dumps(data, sort_keys=True, allow_nan=False)
    return _build_suite(json.loads(text), source, hashlib.sha256(text.encode()).hexdigest())


def _build_suite(data: Any, source: str, digest: str) -> Suite:
    import great_expectations as gx
    from great_expectations.core.expectation_suite import ExpectationSuiteSchema

    if not isinstance(data, dict) or not isinstance(data.get("expectations"), list) or "name" not in data:
        got = type(data).__name__ if not isinstance(data, dict) else f"keys {sorted(data)}"
        raise SuiteError(f"{source}: not a GX expectation suite: expected an object with 'name' and a list "
                         f"'expectations' ({{\"name\": ..., \"expectations\": [{{\"type\": ..., \"kwargs\": ...}}]}}), "
                         f"got {got}")
    errors = ExpectationSuiteSchema().validate(data)
    if errors:
        raise SuiteError(f"{source}: not a GX expectation suite: {'; '.join(_flatten_errors(errors))}")
    expectations = [_build_expectation(item, index, source) for index, item in enumerate(data["expectations"])]
    try:
        gx_suite = gx.ExpectationSuite(name=data["name"], expectations=expectations, meta=data.get("meta"),
                                       suite_parameters=data.get("suite_parameters"), notes=data.get("notes"))
    except (ValueError, TypeError) as exc:
        raise SuiteError(f"{source}: not a GX expectation suite: {exc}") from None
    kept = tuple({"type": e["type"], "kwargs": dict(e.get("kwargs") or {}), "meta": dict(e.get("meta") or {})}
                 for e in data["expectations"])
    return Suite(name=data["name"], source=source, digest=digest, expectations=kept, gx_suite=gx_suite)


def _build_expectation(item: Mapping[str, Any], index: int, source: str) -> Any:
    """GX's own Expectation object for one entry; unknown types and bad kwargs are named by index."""
    from great_expectations.exceptions import GreatExpectationsError
    from great_expectations.expectations.expectation_configuration import ExpectationConfiguration
    from great_expectations.expectations.registry import list_registered_expectation_implementations

    type_name = item["type"]
    where = f"{source}: expectation {index} ({type_name!r})"
    try:
        return ExpectationConfiguration(**item).to_domain_obj()
    except GreatExpectationsError as exc:
        if type_name not in list_registered_expectation_implementations():
            hint = did_you_mean(type_name, list_registered_expectation_implementations())
            raise SuiteError(f"{where}: unknown expectation type{hint}") from None
        raise SuiteError(f"{where}: {exc}") from None
    except (ValueError, TypeError) as exc:  # pydantic's ValidationError is a ValueError
        details = "; ".join(line.strip() for line in str(exc).splitlines()[1:] if line.strip()) or str(exc)
        raise SuiteError(f"{where}: invalid kwargs {dict(item.get('kwargs') or {})}: {details}") from None


def _flatten_errors(errors: Mapping[Any, Any], prefix: str = "") -> list[str]:
    """marshmallow's nested error dict as ``expectations[0].kwargs: Not a valid mapping type.``"""
    out = []
    for key, value in errors.items():
        where = f"{prefix}[{key}]" if isinstance(key, int) else (f"{prefix}.{key}" if prefix else str(key))
        if isinstance(value, Mapping):
            out.extend(_flatten_errors(value, where))
        else:
            out.append(f"{where}: {' '.join(map(str, value if isinstance(value, list) else [value]))}")
    return out


# ---- validating ----------------------------------------------------------------------------


class _Engine:
    """One ephemeral GX context with a pandas data source and a whole-dataframe batch definition."""

    def __init__(self) -> None:
        import great_expectations as gx
        from great_expectations.data_context.types.base import (
            DataContextConfig,
            InMemoryStoreBackendDefaults,
            ProgressBarsConfig,
        )

        # In memory only: no docs site on disk, no analytics, no "Calculating Metrics" bars on stderr.
        config = DataContextConfig(
            store_backend_defaults=InMemoryStoreBackendDefaults(init_temp_docs_sites=False),
            analytics_enabled=False,
            progress_bars=ProgressBarsConfig(globally=False, metric_calculations=False),
        )
        self.context = gx.get_context(project_config=config, mode="ephemeral")
        asset = self.context.data_sources.add_pandas("catalog_compliance").add_dataframe_asset("sample")
        self.batch_definition = asset.add_batch_definition_whole_dataframe("whole_sample")
        # GX's validator is not documented as thread-safe; runs on one engine take turns.
        self.lock = threading.Lock()


_engine: _Engine | None = None
_engine_lock = threading.Lock()


def _gx_engine() -> _Engine:
    """The module's GX engine, built on first use (never at import) and reused afterwards."""
    global _engine
    with _engine_lock:
        if _engine is None:
            _engine = _Engine()
        return _engine


def validate(suite: Suite, frame: pd.DataFrame) -> SuiteOutcome:
    """Run ``suite`` on the whole of ``frame`` with GX's pandas engine."""
    engine = _gx_engine()
    with engine.lock:
        batch = engine.batch_definition.get_batch(batch_parameters={"dataframe": frame})
        result = batch.validate(suite.gx_suite)
    results = tuple(_expectation_outcome(r) for r in result.results)
    return SuiteOutcome(suite=suite.name, success=bool(result.success), results=results,
                        statistics=_jsonable(dict(result.statistics)), rows=len(frame))


def _expectation_outcome(result: Any) -> ExpectationOutcome:
    config = result.expectation_config
    details = result.result or {}
    action = (config.meta or {}).get("action")
    percent = details.get("unexpected_percent")
    return ExpectationOutcome(
        type=config.type,
        column=config.kwargs.get("column"),
        success=bool(result.success),
        unexpected_count=details.get("unexpected_count"),
        unexpected_percent=None if percent is None else float(percent),
        partial_unexpected=tuple(_jsonable(v) for v in (details.get("partial_unexpected_list") or [])[:PARTIAL_VALUES]),
        observed_value=_jsonable(details.get("observed_value")),
        action=None if action is None else str(action),
        error=_exception_message(result.exception_info),
    )


def _exception_message(info: Any) -> str | None:
    """GX reports a failed metric (a missing column, say) as exception_info, flat or keyed by metric."""
    if not info:
        return None
    candidates = [info] if "raised_exception" in info else list(info.values())
    for candidate in candidates:
        if isinstance(candidate, Mapping) and candidate.get("raised_exception"):
            return str(candidate.get("exception_message") or "exception in GX")
    return None


def _jsonable(value: Any) -> Any:
    """GX result values (numpy scalars, timestamps, decimals) as plain JSON values."""
    if value is None or isinstance(value, (bool, str)):
        return value
    if isinstance(value, Mapping):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if hasattr(value, "item") and not hasattr(value, "isoformat"):
        value = value.item()  # numpy scalar -> Python
    if isinstance(value, float):
        return None if math.isnan(value) else value
    if isinstance(value, int):
        return value
    if hasattr(value, "isoformat"):
        return value.isoformat()
    return str(value)


# ---- drafting ------------------------------------------------------------------------------


def suggest_suite(signature_json: str | None, frame: pd.DataFrame, name: str) -> dict[str, Any]:
    """A draft GX 1.x suite from the signature's columns and a profile of ``frame`` (training data).

    Every expectation's ``meta`` says where it came from and what was observed, so a
    reviewer can see it is a draft: it holds exactly on ``frame`` and nothing more.
    """
    columns = _signature_columns(signature_json) or {str(c): None for c in frame.columns}
    expectations: list[dict[str, Any]] = []
    for column, signature_type in columns.items():
        expectations.extend(_column_expectations(frame, column, signature_type))
    return {"name": name, "expectations": expectations,
            "meta": {"draft": True, "source": "catalog.compliance.expectations.suggest_suite",
                     "rows_profiled": len(frame), "from_signature": signature_json is not None}}


def _signature_columns(signature_json: str | None) -> dict[str, str | None]:
    """Named signature inputs and their MLflow type names; {} for no signature or unnamed inputs."""
    if signature_json is None:
        return {}
    from mlflow.models.signature import ModelSignature

    schema = ModelSignature.from_dict(json.loads(signature_json)).inputs
    if schema is None or schema.is_tensor_spec() or not schema.has_input_names():
        return {}
    return {spec.name: getattr(spec.type, "name", None) for spec in schema.inputs}


def _expectation(type_name: str, kwargs: dict[str, Any], source: str, observed: dict[str, Any]) -> dict[str, Any]:
    return {"type": type_name, "kwargs": kwargs, "meta": {"source": source, "observed": observed}}


def _column_expectations(frame: pd.DataFrame, column: str, signature_type: str | None) -> list[dict[str, Any]]:
    import pandas as pd

    present = column in frame.columns
    drafted = [_expectation("expect_column_to_exist", {"column": column},
                            "signature" if signature_type else "profile", {"in_profiled_data": present})]
    if not present:
        return drafted
    values = frame[column]
    rows, nulls = len(values), int(values.isna().sum())
    if rows and nulls == 0:
        drafted.append(_expectation("expect_column_values_to_not_be_null", {"column": column}, "profile",
                                    {"null_count": 0, "rows": rows}))
    elif rows and nulls / rows <= FEW_NULLS:
        mostly = math.floor((1 - nulls / rows) * 1000) / 1000
        drafted.append(_expectation("expect_column_values_to_not_be_null", {"column": column, "mostly": mostly},
                                    "profile", {"null_count": nulls, "rows": rows}))
    type_list = _type_list(values, signature_type)
    if type_list:
        drafted.append(_expectation("expect_column_values_to_be_in_type_list", {"column": column, "type_list": type_list},
                                    "profile", {"dtype": str(values.dtype), "signature_type": signature_type}))
    non_null = values.dropna()
    if len(non_null) and pd.api.types.is_numeric_dtype(values) and not pd.api.types.is_bool_dtype(values):
        low, high = _jsonable(non_null.min()), _jsonable(non_null.max())
        drafted.append(_expectation("expect_column_values_to_be_between",
                                    {"column": column, "min_value": low, "max_value": high},
                                    "profile", {"min": low, "max": high}))
    elif len(non_null) and all(isinstance(v, str) for v in non_null):
        distinct = sorted(set(non_null))
        if len(distinct) <= MAX_CATEGORIES:
            drafted.append(_expectation("expect_column_values_to_be_in_set", {"column": column, "value_set": distinct},
                                        "profile", {"distinct": len(distinct)}))
    return drafted


def _type_list(values: pd.Series, signature_type: str | None) -> list[str]:
    """GX type names for the column: those MLflow accepts for the signature type, else the data's own."""
    if signature_type is not None:
        return list(SIGNATURE_PANDAS_TYPES.get(signature_type, ()))
    if values.dtype == object:
        kinds = {type(v).__name__ for v in values.dropna()}
        return sorted(kinds) if kinds <= {"str", "bytes", "bool", "int", "float"} and kinds else []
    return [str(values.dtype)]
