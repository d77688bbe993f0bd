"""``catalog score DEPLOYMENT``: the compliance gate, then the governed Spark job, then its record.

Order of work, each step able to refuse before anything is written:

1. lineage.yml's deployment is resolved (``deployment.resolve_setup``);
2. the compliance check runs for the deployment's target and must pass (``NotCompliant``
   with the report otherwise); the version it checked is the version scored: the alias is
   resolved once, and a promotion during the run does not change the model under a
   running query;
3. the outputs must be writable, a checkpoint must belong to this deployment;
4. Spark starts, the model is loaded with ``spark_udf(env_manager="local")``, the schema
   gate checks the input's schema against the signature, the suite is compiled;
5. every batch runs through ``batch.score_batch``; the run's scoring-process entity is
   written after each batch (a killed run keeps what it did) and at the end.

Public API: ``ScoreOptions``, ``RunSummary``, ``NotCompliant``, ``score``.
"""

from __future__ import annotations

import json
import threading
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from catalog.scoring.batch import BatchContext, BatchFailed, BatchResult, score_batch
from catalog.scoring.deployment import ScoringError, ScoringSetup, resolve_setup
from catalog.scoring.sinks import check_writable, open_sink
from catalog.store.schema import now_ms

if TYPE_CHECKING:
    from catalog.compliance.model import Report
    from catalog.service import Catalog

__all__ = ["NotCompliant", "RunSummary", "ScoreOptions", "score"]

Say = Callable[[str], None]
MARKER = "_catalog_deployment.json"


class NotCompliant(ScoringError):
    """The compliance check did not pass for the deployment's target: nothing was scored."""

    def __init__(self, report: Report) -> None:
        super().__init__(f"deployment {report.subject_label} is not compliant for target {report.target!r} "
                         f"(verdict {report.verdict}); nothing was scored")
        self.report = report


@dataclass(frozen=True)
class ScoreOptions:
    """How the run is triggered: ``once``, ``available-now`` or a processing-time ``trigger``."""

    trigger_mode: str | None = None  # None: available-now (a scheduler passes the deployment's trigger)
    trigger: str | None = None
    max_files_per_trigger: int | None = None
    spark_config: dict[str, str] = field(default_factory=dict)


@dataclass
class RunSummary:
    run_id: str
    deployment: str
    version_qn: str
    model_uri: str
    scoring_qn: str = ""
    status: str = "running"
    error: str = ""
    started: int = 0
    ended: int = 0
    app_id: str = ""
    spark_app_id: str = ""
    fingerprint: str = ""
    batches: list[BatchResult] = field(default_factory=list)
    drift: dict[str, Any] | None = None
    gate: dict[str, Any] = field(default_factory=dict)
    setup: ScoringSetup | None = None

    def counted(self) -> list[BatchResult]:
        """The batches this run wrote: a failed batch wrote nothing, a replayed one was written by an earlier run."""
        return [b for b in self.batches if b.status in ("written", "empty")]

    def totals(self) -> dict[str, int]:
        counted = self.counted()
        return {key: sum(getattr(b, key) for b in counted)
                for key in ("rows_in", "rows_scored", "rows_quarantined", "rows_warned")}

    def by_rule(self) -> dict[str, int]:
        """Rows failing each rule, over the batches this run wrote."""
        counts: dict[str, int] = {}
        for batch in self.counted():
            for rule, count in batch.by_rule.items():
                counts[rule] = counts.get(rule, 0) + count
        return counts


def _pin(catalog: Catalog, report: Report) -> tuple[str, str]:
    """(model name, version) of the version the check pinned, confirmed in MLflow."""
    name, _, version = report.version_qn.rpartition("@")[0].rpartition("/")
    from mlflow.exceptions import MlflowException
    from mlflow.tracking import MlflowClient

    uri = catalog.settings.mlflow_uri
    try:
        MlflowClient(tracking_uri=uri, registry_uri=uri).get_model_version(name, version)
    except MlflowException as exc:
        raise ScoringError(f"models:/{name}/{version} (what the check pinned) does not resolve in MLflow at {uri}: "
                           f"{exc.message}") from None
    return name, version


def _check_checkpoint(setup: ScoringSetup) -> None:
    marker = setup.checkpoint / MARKER
    mine = {"deployment": setup.qualified_name, "input": setup.input_qn, "output": setup.output.declared}
    if marker.exists():
        try:
            theirs = json.loads(marker.read_text())
        except (OSError, ValueError):
            theirs = {}
        if theirs != mine:
            raise ScoringError(f"checkpoint {setup.checkpoint} belongs to another query ({theirs or 'unreadable'}), "
                               f"not {mine}; give this deployment its own checkpoint")
        return
    if setup.checkpoint.exists() and any(setup.checkpoint.iterdir()):
        raise ScoringError(f"checkpoint {setup.checkpoint} holds another query's state (no {MARKER}); "
                           "give this deployment its own checkpoint")
    try:
        setup.checkpoint.mkdir(parents=True, exist_ok=True)
        marker.write_text(json.dumps(mine, sort_keys=True))
    except OSError as exc:
        raise ScoringError(f"checkpoint {setup.checkpoint} is not writable: {exc.strerror or exc}") from None


def _compliance(catalog: Catalog, setup: ScoringSetup, say: Say) -> Report:
    from catalog.compliance.formats import render
    from catalog.compliance.record import check

    from catalog.compliance.model import CheckError

    try:
        report = check(catalog, setup.name, target=setup.spec.target)
    except CheckError as exc:
        raise ScoringError(f"the compliance check of {setup.name} could not run: {exc}; nothing was scored") from None
    if report.verdict in ("fail", "error"):
        say(render(report, "text"))
        raise NotCompliant(report)
    say(f"compliance: {report.verdict.upper()} for target {report.target!r}, pinned {report.version_qn}")
    return report


def score(catalog: Catalog, name: str, options: ScoreOptions = ScoreOptions(), say: Say = print) -> RunSummary:
    """Run deployment ``name`` of lineage.yml governed; see the module docstring."""
    from catalog.compliance.record import load_document

    doc = load_document(catalog, required=True)
    assert doc is not None
    setup = resolve_setup(doc, name, warehouse=catalog.settings.spark_warehouse)
    report = _compliance(catalog, setup, say)
    model, version = _pin(catalog, report)
    check_writable(setup.output, "output")
    check_writable(setup.quarantine, "quarantine")
    if setup.streaming:
        _check_checkpoint(setup)
    run = RunSummary(run_id=uuid.uuid4().hex, deployment=setup.qualified_name, version_qn=report.version_qn,
                     model_uri=f"models:/{model}/{version}", started=now_ms(), setup=setup)
    from catalog.scoring import record, spark

    config = dict(options.spark_config)
    if catalog.settings.spark_warehouse:
        config.setdefault("spark.sql.warehouse.dir", catalog.settings.spark_warehouse)
    session = spark.session(f"catalog-score-{name}", config)
    run.spark_app_id = session.sparkContext.applicationId
    try:
        ctx = _context(catalog, session, setup, run, say)
    except ScoringError:
        raise
    except Exception as exc:  # the model's or Spark's own error while loading and planning: nothing ran
        raise ScoringError(f"scoring {name} could not start: {type(exc).__name__}: {_first_line(exc)}; "
                           "nothing was scored") from exc
    try:
        if setup.streaming:
            _stream(session, setup, ctx, run, options, catalog, say)
        else:
            ctx.app_id = run.app_id = f"run-{run.run_id}"
            _one(session, setup, ctx, run, catalog, say)
        run.status = "succeeded"
    except KeyboardInterrupt:
        run.status = "stopped"
    except ScoringError as exc:
        run.status, run.error = "failed", str(exc)
        raise
    except Exception as exc:  # Spark's, the model's, delta-rs's own errors: one clear line, the run FAILED
        run.status, run.error = "failed", f"{type(exc).__name__}: {_first_line(exc)}"
        raise ScoringError(f"scoring {name} failed: {run.error}; batches not yet written were not written "
                           "(the run is recorded as FAILED)") from exc
    finally:
        run.ended = now_ms()
        _update_drift(ctx, run)
        record.write_run(catalog, run)
    return run


def _first_line(exc: BaseException) -> str:
    """The message of an error, without the JVM stack trace Py4J appends.

    A ``Py4JJavaError`` says only "An error occurred while calling o1125.getResult"; the
    reason is the innermost cause of its Java exception, which is what is shown.
    """
    text = str(getattr(exc, "desc", None) or exc).strip()
    java = getattr(exc, "java_exception", None)
    if java is not None:
        try:
            while java.getCause() is not None:
                java = java.getCause()
            text = str(java.toString())
        except Exception:  # the JVM is gone: keep Py4J's own text
            pass
    return text.splitlines()[0][:500] if text else type(exc).__name__


def _update_drift(ctx: BatchContext, run: RunSummary) -> None:
    """The run's drift so far (after every batch, so a killed or endless run keeps it)."""
    from catalog.scoring import model as model_io

    if ctx.drift is not None and run.setup is not None:
        run.drift = ctx.drift.report(model_io.drift_settings(run.setup)).to_json()


def _context(catalog: Catalog, session: Any, setup: ScoringSetup, run: RunSummary, say: Say) -> BatchContext:
    from catalog.scoring import model as model_io
    from catalog.scoring.gate import SchemaGate, outcome_json
    from catalog.scoring.rules import aggregate_suite, compile_suite
    from catalog.scoring.source import CORRUPT_COLUMN, input_schema

    loaded = model_io.load(catalog.settings.mlflow_uri, run.model_uri, session)
    gate = SchemaGate(loaded.signature_json, run.model_uri, skip=[CORRUPT_COLUMN])
    schema = input_schema(session, setup)
    from catalog.scoring.batch import ADDED_COLUMNS

    clashes = [f.name for f in schema.fields if f.name in ADDED_COLUMNS or f.name.startswith("_failed_")
               or f.name == "_source_file"]
    if clashes:
        raise ScoringError(f"datasets.{setup.input_key}: input column(s) {', '.join(map(repr, clashes))} would "
                           f"collide with a column the job adds ({', '.join(ADDED_COLUMNS)}); rename them")
    outcome = gate.check(schema)
    run.gate = outcome_json(outcome, gate.last_ms)
    suite = None
    if setup.expectations is not None:
        from catalog.compliance.expectations import load_suite

        suite = load_suite(setup.expectations)
    rules = compile_suite(suite, schema, loaded.inputs)
    run.fingerprint = rules.fingerprint
    drift = model_io.drift_accumulator(session, setup, loaded, say)
    say(f"scoring {setup.name} with {run.model_uri}: {len(rules.row)} row rule(s), "
        f"{len(rules.schema)} schema rule(s), {len(rules.aggregate)} aggregate rule(s); "
        f"schema gate passed in {gate.last_ms:.1f} ms")
    return BatchContext(run_id=run.run_id, app_id="", model_version=run.version_qn, udf=loaded.udf,
                        inputs=loaded.inputs, gate=gate, rules=rules, predictions=open_sink(setup.output),
                        quarantine=open_sink(setup.quarantine), drift=drift,
                        aggregate_suite=aggregate_suite(rules, str(setup.expectations)))


def _say_batch(say: Say, result: BatchResult) -> None:
    say(f"  batch {result.batch_id}: {result.rows_in} in, {result.rows_scored} scored, "
        f"{result.rows_quarantined} quarantined, {result.rows_warned} warned ({result.status}, "
        f"{sum(result.timings_ms.values()):.0f} ms)")


def _one(session: Any, setup: ScoringSetup, ctx: BatchContext, run: RunSummary, catalog: Catalog, say: Say) -> None:
    from catalog.scoring.source import read_input

    _run_batch(read_input(session, setup, streaming=False), 0, ctx, run, catalog, say)


def _run_batch(frame: Any, batch_id: int, ctx: BatchContext, run: RunSummary, catalog: Catalog, say: Say) -> None:
    """Score one batch, then record the run as it stands (a stopped batch is listed too)."""
    from catalog.scoring import record

    try:
        result = score_batch(frame, batch_id, ctx)
    except BatchFailed as exc:
        if exc.result is not None:
            run.batches.append(exc.result)
        raise
    run.batches.append(result)
    _say_batch(say, result)
    _update_drift(ctx, run)
    record.write_run(catalog, run)


def _query_id(setup: ScoringSetup) -> str:
    """The streaming query's id, from its checkpoint (stable across restarts)."""
    text = (setup.checkpoint / "metadata").read_text()
    return str(json.loads(text.splitlines()[0])["id"])


def _stream(session: Any, setup: ScoringSetup, ctx: BatchContext, run: RunSummary, options: ScoreOptions,
            catalog: Catalog, say: Say) -> None:
    from pyspark.errors import StreamingQueryException

    from catalog.scoring.source import read_input

    failure: list[BaseException] = []
    lock = threading.Lock()

    def each(frame: Any, batch_id: int) -> None:
        with lock:
            if not ctx.app_id:
                ctx.app_id = run.app_id = f"query-{_query_id(setup)}"
            try:
                _run_batch(frame, int(batch_id), ctx, run, catalog, say)
            except BaseException as exc:
                failure.append(exc)  # Spark wraps what foreachBatch raises; the original is re-raised below
                raise

    stream = read_input(session, setup, streaming=True, max_files_per_trigger=options.max_files_per_trigger)
    writer = stream.writeStream.foreachBatch(each).option("checkpointLocation", str(setup.checkpoint))
    writer = _trigger(writer, setup, options)
    query = writer.queryName(f"score_{setup.name}".replace("-", "_")[:60]).start()
    try:
        query.awaitTermination()
    except StreamingQueryException as exc:
        if failure:
            raise failure[0] from None
        raise ScoringError(f"the streaming query of {setup.name} failed: {str(exc).splitlines()[0]}") from None
    except KeyboardInterrupt:
        query.stop()
        raise
    if failure:
        raise failure[0]


def _trigger(writer: Any, setup: ScoringSetup, options: ScoreOptions) -> Any:
    mode = options.trigger_mode
    if mode == "once":
        return writer.trigger(once=True)
    if mode == "trigger" or (mode is None and options.trigger):
        return writer.trigger(processingTime=options.trigger or setup.spec.trigger)
    return writer.trigger(availableNow=True)
