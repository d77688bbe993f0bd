"""One batch (or micro-batch), governed, in one Spark pass.

The plan is a single projection over the input: each row rule's flag (a plain column
expression, see ``rules``), whether the row is kept, the model's prediction through
``spark_udf`` and the source file; ``observe()`` counts rows in, rows kept and rows per
rule on the way. One action (``toArrow``) runs it. A quarantined row is scored on
placeholder values (its prediction is then dropped), because Spark evaluates a Python UDF
for every row of a projection: the model never sees a null, a NaN or a malformed line.

Then, in the driver, on the Arrow table already in memory (no second scan): every stop
condition is decided (the schema gate came first; then ``fail`` rules, thresholds and the
aggregate expectations), and only when the batch may be written is it split (``split``):
the quarantine table is built, and the predictions are appended as a stream built chunk by
chunk while the sink writes them, beside the quarantine append and the drift counts.
``rows_in = rows_scored + rows_quarantined`` is checked against the observed counts before
anything is written.

Public API: ``BatchContext``, ``BatchResult``, ``BatchFailed``, ``score_batch``.
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any

from catalog.scoring.deployment import ScoringError
from catalog.scoring.split import (BITS, FILE, PREDICTION, ROW_ID, input_columns, mask_name, masks_of, rule_bits,
                                   rule_counts, split)

if TYPE_CHECKING:
    import pyarrow as pa
    from pyspark.sql import DataFrame

    from catalog.scoring.drift import DriftAccumulator
    from catalog.scoring.gate import SchemaGate
    from catalog.scoring.rules import CompiledRules
    from catalog.scoring.sinks import Sink

__all__ = ["ADDED_COLUMNS", "BatchContext", "BatchFailed", "BatchResult", "collect_arrow", "input_columns",
           "score_batch"]

#: Columns the job adds to the predictions and quarantine tables: an input may not be named so.
ADDED_COLUMNS = (PREDICTION, ROW_ID, "warned_rules", "failed_rules", "raw_line", "source_file", "batch_id",
                 "model_version", "run_id")
_OBSERVED = ("rows_in", "rows_diverted")  # the observed metrics, in their order


class BatchFailed(ScoringError):
    """A ``fail`` rule, a threshold or an aggregate expectation stopped the batch before it was written."""

    def __init__(self, message: str, result: BatchResult | None = None) -> None:
        super().__init__(message)
        self.result = result


@dataclass
class BatchContext:
    """What every batch of one run shares."""

    run_id: str
    app_id: str  # the query's id (streaming) or the run's (batch): keys the idempotent writes
    model_version: str  # the pinned version's qualifiedName
    udf: Any
    inputs: tuple[str, ...]  # the signature's input columns, in order
    gate: SchemaGate
    rules: CompiledRules
    predictions: Sink
    quarantine: Sink
    drift: DriftAccumulator | None = None
    aggregate_suite: Any = None
    expressions: dict[Any, Any] = field(default_factory=dict)  # the plan's columns, per input schema


@dataclass
class BatchResult:
    batch_id: int
    rows_in: int = 0
    rows_scored: int = 0
    rows_quarantined: int = 0
    rows_warned: int = 0
    by_rule: dict[str, int] = field(default_factory=dict)
    aggregate: list[dict[str, Any]] = field(default_factory=list)
    written: dict[str, bool] = field(default_factory=dict)
    timings_ms: dict[str, float] = field(default_factory=dict)
    status: str = "written"  # written | replayed | failed | empty

    def to_json(self) -> dict[str, Any]:
        return {"batch_id": self.batch_id, "rows_in": self.rows_in, "rows_scored": self.rows_scored,
                "rows_quarantined": self.rows_quarantined, "rows_warned": self.rows_warned,
                "by_rule": dict(self.by_rule), "aggregate": list(self.aggregate), "written": dict(self.written),
                "timings_ms": {k: round(v, 1) for k, v in self.timings_ms.items()}, "status": self.status}


def _placeholder(name: str, data_type: Any) -> str:
    """A harmless value of the column's type, as SQL, for a row the model's answer is dropped for."""
    from pyspark.sql.types import BooleanType, NumericType, StringType

    from catalog.scoring.rules import quoted

    if isinstance(data_type, NumericType):
        return f"CAST(0 AS {data_type.simpleString().upper()})"
    if isinstance(data_type, StringType):
        return "''"
    if isinstance(data_type, BooleanType):
        return "false"
    return quoted(name)


def _model_input(columns: Sequence[str], types: Mapping[str, Any], diverted: str) -> Any:
    """The struct the UDF reads, its fields named as the signature's inputs: one ``F.expr``.

    Spark runs a Python UDF on every row of its projection, so a quarantined row is still
    scored (its prediction is dropped). A row the model could break on (a null, a NaN, an
    infinity in one of its inputs) always fails a built-in ``quarantine`` rule
    (``null-input``, ``non-finite-input``, whose action cannot be changed), so a row that is
    ``diverted`` gets a struct of placeholders and every other row its own values: one test
    of the mask per row, where a guard on each column cost three tests a column. SQL text
    (the column names are the only thing in it not ours): one call into the JVM, where
    building it from ``pyspark.sql.functions`` took about 12 calls a column.
    """
    from pyspark.sql import functions as F

    from catalog.scoring.rules import quoted

    safe = ", ".join(f"{_placeholder(c, types[c])} AS {quoted(c)}" for c in columns)
    own = ", ".join(f"{quoted(c)} AS {quoted(c)}" for c in columns)
    return F.expr(f"CASE WHEN {diverted} THEN struct({safe}) ELSE struct({own}) END")


def _balanced(items: Sequence[str], operator: str) -> str:
    """``items`` joined by ``operator`` as a balanced tree: Spark's analyser is slow on deep expressions."""
    if len(items) == 1:
        return items[0]
    middle = len(items) // 2
    return f"({_balanced(items[:middle], operator)} {operator} {_balanced(items[middle:], operator)})"


def _expressions(ctx: BatchContext, types: Mapping[str, Any]) -> tuple[list[Any], list[Any], list[Any]]:
    """(mask columns, columns of the scored projection, observed metrics), built once per run and schema.

    Each ``pyspark.sql.functions`` call is a round trip to the JVM. The rules are SQL text
    (``rules.RowRule.failed``), so each bitmask column, the diverted test and each metric is
    one ``F.expr``: about ten calls for the whole plan. Column expressions are unresolved
    names, so one set serves every batch.
    """
    key = tuple((name, str(t)) for name, t in types.items())
    found = ctx.expressions.get(key)
    if found is not None:
        return found
    from pyspark.sql import functions as F

    rules = ctx.rules.row
    masks = []
    for k in range(max(1, -(-len(rules) // BITS))):
        terms = [f"(CASE WHEN {rule.failed} THEN {1 << (i % BITS)} ELSE 0 END)"
                 for i, rule in enumerate(rules) if i // BITS == k]
        masks.append(F.expr(f"CAST({_balanced(terms, '|')} AS BIGINT)").alias(mask_name(k)))
    quarantine = rule_bits(rules, lambda r: r.action == "quarantine")
    tests = [f"(`{mask_name(k)}` & {bits}) != 0" for k, bits in enumerate(quarantine) if bits]
    diverted = _balanced(tests, "OR") if tests else "false"
    scored = [F.col("*"), F.expr(f"CASE WHEN {diverted} THEN input_file_name() END").alias(FILE),
              ctx.udf(_model_input(ctx.inputs, types, diverted)).alias(PREDICTION)]
    # Two metrics only: CollectMetrics evaluates its aggregates row by row, outside whole-stage
    # code generation (27 of them cost more than the rules); each rule's count comes from the
    # collected bitmasks instead, and the two observed figures check them.
    counts = [F.expr("count(1)").alias(_OBSERVED[0]), F.expr(f"sum(CAST({diverted} AS BIGINT))").alias(_OBSERVED[1])]
    ctx.expressions[key] = (masks, scored, counts)
    return masks, scored, counts


def _plan(df: DataFrame, ctx: BatchContext, batch_id: int) -> tuple[DataFrame, Any, str]:
    """One projection: the rules' failures as bitmask columns, the prediction, the file of a
    diverted row; ``observe()`` counts the rows in and the rows diverted."""
    from pyspark.sql import Observation

    masks, scored, counts = _expressions(ctx, {f.name: f.dataType for f in df.schema.fields})
    name = f"batch-{ctx.app_id}-{batch_id}-{time.monotonic_ns()}"
    observation = Observation(name)
    return df.select("*", *masks).select(*scored).observe(observation, *counts), observation, name


def _observed(plan: DataFrame, observation: Any, name: str) -> dict[str, Any]:
    """The observed counts of the query that just ran, read from its own execution.

    ``Observation.get`` waits for Spark's listener bus to deliver them, 40-50 ms of every
    micro-batch; the query's ``observedMetrics`` (the same ``CollectMetrics`` values) are
    there as soon as the action returns. ``Observation.get`` is the fallback.
    """
    from py4j.protocol import Py4JError

    try:
        metrics = plan._jdf.queryExecution().observedMetrics()
        if metrics.contains(name):
            row = metrics.apply(name)
            return {name: row.get(i) for i, name in enumerate(_OBSERVED)}
    except Py4JError:
        pass
    return observation.get


def _stop_conditions(ctx: BatchContext, result: BatchResult) -> list[str]:
    stops = []
    for rule in ctx.rules.row:
        failed = result.by_rule.get(rule.id, 0)
        if not failed:
            continue
        over_rows = rule.max_rows is not None and failed > rule.max_rows
        percent = 100.0 * failed / result.rows_in if result.rows_in else 0.0
        over_percent = rule.max_percent is not None and percent > rule.max_percent
        limited = rule.max_rows is not None or rule.max_percent is not None
        if over_rows or over_percent or (rule.action == "fail" and not limited):
            limit = (f"over its threshold ({'max_rows ' + str(rule.max_rows) if rule.max_rows is not None else ''}"
                     f"{' ' if rule.max_rows is not None and rule.max_percent is not None else ''}"
                     f"{'max_percent ' + format(rule.max_percent, 'g') if rule.max_percent is not None else ''})"
                     if limited else f"action {rule.action}")
            stops.append(f"rule {rule.id}: {failed} of {result.rows_in} rows ({percent:.2f}%) failed, {limit}")
    for item in result.aggregate:
        if not item["success"] and item["action"] == "fail":
            stops.append(f"rule {item['id']}: the batch failed {item['expectation']} (action fail)")
    return stops


def _aggregate(ctx: BatchContext, table: pa.Table) -> list[dict[str, Any]]:
    if ctx.aggregate_suite is None or table.num_rows == 0:
        return []
    from catalog.compliance.expectations import validate

    by_type = {}
    for rule in ctx.rules.aggregate:
        by_type.setdefault((rule.expectation, rule.column), rule)
    frame = table.select(input_columns(table.column_names)).to_pandas()
    outcome = validate(ctx.aggregate_suite, frame)
    out = []
    for result in outcome.results:
        rule = by_type.get((result.type, result.column))
        out.append({"id": rule.id if rule else result.type, "expectation": result.type, "column": result.column,
                    "success": result.success, "action": rule.action if rule else "warn",
                    "observed_value": result.observed_value, "error": result.error})
    return out


def collect_arrow(frame: DataFrame) -> pa.Table:
    """``frame.toArrow()``, without the ResourceWarning PySpark 4.0 raises for its own socket.

    ``toArrow`` reads the batches from a local socket it never closes; the socket is closed
    when it is garbage-collected, which happens inside the call. The warning is about
    PySpark's code, not ours, so it is silenced for the duration of the call only.
    """
    import warnings

    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", "unclosed <socket.socket", ResourceWarning)
        return frame.toArrow()


#: Rows of a batch the drift counts are taken from: every k-th scored row beyond this many
#: (the statistics compare proportions; binning a million rows per feature costs more than the rules).
DRIFT_SAMPLE_ROWS = 100_000


def _constants(ctx: BatchContext, batch_id: int) -> dict[str, Any]:
    """The columns every output row carries: (value, Arrow type) by name."""
    import pyarrow as pa

    return {"batch_id": (batch_id, pa.int64()), "model_version": (ctx.model_version, pa.string()),
            "run_id": (ctx.run_id, pa.string())}


def _with_schema_failures(ctx: BatchContext, failures: list[Any], result: BatchResult) -> BatchContext:
    """A schema rule that fails holds for every row: ``fail`` stops the batch; ``quarantine`` and
    ``warn`` become row rules that every row of this batch fails (so the counts say so)."""
    from catalog.scoring.rules import RowRule

    extra = []
    for rule, reason in failures:
        result.aggregate.append({"id": rule.id, "expectation": rule.expectation, "column": rule.column,
                                 "success": False, "action": rule.action, "observed_value": reason, "error": None})
        if rule.action == "fail":
            raise BatchFailed(f"batch {result.batch_id}: rule {rule.id}: {reason} (action fail); nothing was "
                              "written", result)
        extra.append(RowRule(id=rule.id, expectation=rule.expectation, column=rule.column, action=rule.action,
                             max_rows=None, max_percent=None, kwargs=rule.kwargs, failed="true"))
    if not extra:
        return ctx
    return replace(ctx, rules=replace(ctx.rules, row=(*ctx.rules.row, *extra)))


def score_batch(df: DataFrame, batch_id: int, ctx: BatchContext) -> BatchResult:
    """Gate, check, score and write one batch; BatchFailed / SchemaMismatch before any write."""
    from catalog.scoring.rules import check_schema

    result = BatchResult(batch_id)
    started = time.perf_counter()
    ctx.gate.check(df.schema)
    ctx = _with_schema_failures(ctx, check_schema(ctx.rules, df.schema), result)
    result.timings_ms["gate"] = ctx.gate.last_ms
    plan, observation, name = _plan(df, ctx, batch_id)
    table = collect_arrow(plan)
    result.timings_ms["spark"] = (time.perf_counter() - started) * 1000 - result.timings_ms["gate"]
    metrics = _observed(plan, observation, name) if table.num_rows else {}
    result.rows_in = int(metrics.get("rows_in") or 0)
    kept = result.rows_in - int(metrics.get("rows_diverted") or 0)
    masks = masks_of(ctx.rules.row, table)
    result.by_rule = rule_counts(ctx.rules.row, masks)
    if result.rows_in != table.num_rows:
        raise ScoringError(f"batch {batch_id}: Spark observed {result.rows_in} rows but returned {table.num_rows}; "
                           "nothing was written")
    result.aggregate += _aggregate(ctx, table)
    stops = _stop_conditions(ctx, result)
    if stops:
        result.status = "failed"
        raise BatchFailed(f"batch {batch_id} stopped before anything was written:\n  " + "\n  ".join(stops), result)
    rows = split(table, ctx.rules.row, masks, f"{ctx.app_id}:{batch_id}", _constants(ctx, batch_id))
    result.rows_scored, result.rows_quarantined, result.rows_warned = rows.rows_scored, rows.rows_quarantined, \
        rows.rows_warned
    if result.rows_scored != kept or result.rows_scored + result.rows_quarantined != result.rows_in:
        raise ScoringError(f"batch {batch_id}: counts do not add up (in {result.rows_in}, scored "
                           f"{result.rows_scored}, quarantined {result.rows_quarantined}); nothing was written")
    bad = rows.quarantine()
    result.timings_ms["checks"] = (time.perf_counter() - started) * 1000 - sum(result.timings_ms.values())
    written_at = time.perf_counter()
    result.written = {"predictions": False, "quarantine": False}
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="catalog-append") as pool:
        # delta-rs releases the GIL while it encodes and writes: the predictions, built chunk by
        # chunk as the writer reads them, are appended beside the quarantine append and the
        # drift counts (each append is idempotent on its own)
        predictions = (pool.submit(ctx.predictions.append, rows.predictions(), ctx.app_id, batch_id)
                       if rows.rows_scored else None)
        result.written["quarantine"] = ctx.quarantine.append(bad, ctx.app_id, batch_id) if bad.num_rows else False
        if ctx.drift is not None and rows.rows_scored:
            sample = rows.drift_sample([c for c in ctx.inputs if c in table.column_names], DRIFT_SAMPLE_ROWS)
            ctx.drift.add({c: sample.column(c) for c in ctx.inputs if c in sample.column_names},
                          sample.column(PREDICTION))
        result.written["predictions"] = predictions.result() if predictions is not None else False
    result.timings_ms["write"] = (time.perf_counter() - written_at) * 1000
    if result.rows_in == 0:
        result.status = "empty"
    elif not any(result.written.values()):
        result.status = "replayed"
    return result
