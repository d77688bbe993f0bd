"""The schema gate: the batch's Spark schema against the model signature, metadata only.

It runs before every batch and micro-batch is scored and reads no row: the schema of the
DataFrame is compared with the signature under MLflow's own enforcement rules (the
compliance check's ``check_signature``, which calls MLflow's ``_enforce_schema`` on the
dtypes ``spark_udf`` hands the model). A mismatch stops the query before anything is
written, naming each offending column, its type and the expected type, so the failure is
never "Can not safely convert" deep in a Python worker. The verdict depends only on the
schema, so it is computed once per distinct schema and then looked up: the same cost for
1,000 rows as for 1,000,000.

Public API: ``SchemaGate``, ``SchemaMismatch``.
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from catalog.compliance.schema_compat import SchemaOutcome, SchemaProblem, check_signature
from catalog.scoring.deployment import ScoringError

if TYPE_CHECKING:
    from pyspark.sql.types import StructType

__all__ = ["SchemaGate", "SchemaMismatch"]


class SchemaMismatch(ScoringError):
    """The input does not fit the model signature: nothing of the batch is written."""

    def __init__(self, message: str, problems: Iterable[SchemaProblem] = ()) -> None:
        super().__init__(message)
        self.problems = tuple(problems)


def spark_types(schema: StructType, skip: Iterable[str] = ()) -> dict[str, str]:
    """Column -> Spark SQL type name (``double``, ``bigint``, ``decimal(10,2)`` ...)."""
    skipped = set(skip)
    return {f.name: f.dataType.simpleString() for f in schema.fields if f.name not in skipped}


class SchemaGate:
    """The gate for one model signature; ``check(schema)`` raises SchemaMismatch or returns the outcome."""

    def __init__(self, signature_json: str | None, model: str, skip: Iterable[str] = ()) -> None:
        self.signature_json = signature_json
        self.model = model
        self.skip = tuple(skip)
        self._seen: dict[tuple[tuple[str, str], ...], SchemaOutcome] = {}
        self.last_ms = 0.0

    def outcome(self, schema: StructType) -> SchemaOutcome:
        started = time.perf_counter()
        types = spark_types(schema, self.skip)
        key = tuple(types.items())
        found = self._seen.get(key)
        if found is None:
            found = self._decide(types)
            self._seen[key] = found
        self.last_ms = (time.perf_counter() - started) * 1000
        return found

    def _decide(self, types: dict[str, str]) -> SchemaOutcome:
        if self.signature_json is None:
            raise SchemaMismatch(f"{self.model} has no signature: the gate cannot tell what the model accepts "
                                 "(log the model with a signature)")
        try:
            return check_signature(self.signature_json, types)
        except ValueError as exc:  # a Spark type the signature check does not know (nested, timestamp_ntz ...)
            raise SchemaMismatch(f"the input cannot be checked against {self.model}'s signature: {exc}") from None

    def check(self, schema: StructType) -> SchemaOutcome:
        outcome = self.outcome(schema)
        if not outcome.ok:
            errors = [p for p in outcome.problems if p.severity == "error"]
            lines = "\n".join(f"  {_line(p)}" for p in errors)
            raise SchemaMismatch(f"the input does not fit {self.model}'s signature ({len(errors)} column(s)); "
                                 f"nothing was scored or written:\n{lines}", errors)
        return outcome


def _line(problem: SchemaProblem) -> str:
    if problem.kind == "missing":
        return f"{problem.column}: missing (expected {problem.expected_type})"
    if problem.column is None:
        return problem.message
    return f"{problem.column}: {problem.input_type}, expected {problem.expected_type} ({problem.message})"


def outcome_json(outcome: SchemaOutcome, took_ms: float) -> dict[str, Any]:
    return {**outcome.to_json(), "took_ms": round(took_ms, 3)}
