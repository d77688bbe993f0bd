"""``catalog check`` of one deployment in the synthetic 100k catalog, and with the GX rule on 10,000 rows.

The catalog is the ingest bench's synthetic batch plus one wine chain written the way
the ingest funnel writes it (a PII table, a training run with metrics and logged
inputs, a registered model, a version with an 11-column double signature and alias
``champion``, a deployment and its deploy process), and a lineage.yml declaring the
deployment, its fs_path CSV input (10,000 rows) and a 44-expectation GX suite.

1. Graph rules: ``catalog.compliance.record.check(..., data=False, record=False)``
   in-process, ``CALLS`` times after a warm-up: p50, p99. Target: p99 <= 100 ms.
2. With the data rules: the whole check (read the 10,000-row sample, MLflow's schema
   enforcement, GX) against GX validating the same sample alone (``batch.validate``
   on a batch built once, a context made once), alternating, ``ROUNDS`` each; ratio of
   medians. Target: <= 1.2x.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

from bench.common import Context, fmt_ms, median, percentile, print_table, quiet_logs, ratio_line

__all__ = ["run"]

CALLS = {"quick": 20, "full": 100, "1m": 100}
ROUNDS = {"quick": 3, "full": 15, "1m": 15}
ROWS = 10_000
P99_TARGET_MS = 100.0
GX_TARGET = 1.2
FEATURES = ("fixed acidity", "volatile acidity", "citric acid", "residual sugar", "chlorides",
            "free sulfur dioxide", "total sulfur dioxide", "density", "pH", "sulphates", "alcohol")


def _wine_chain() -> Any:
    from catalog.model import Classification, Entity, EntityRef, SourceBatch

    signature = json.dumps({"inputs": json.dumps([{"type": "double", "name": f, "required": True} for f in FEATURES]),
                            "outputs": json.dumps([{"type": "double", "required": True}])}, sort_keys=True)
    table = Entity("hive_table", "default.wine_bench@cm", {"name": "wine_bench"}, classifications=[Classification("PII")])
    run = Entity("ml_training_run", "run:benchrun@mlflow", {
        "name": "bench-train", "userName": "bench", "runId": "benchrun", "metrics": {"rmse": 0.61},
        "datasetContexts": {"default.wine_bench@cm": "training"},
        "datasetInputs": {"default.wine_bench@cm": json.dumps([{"context": "training", "digest": "b3nch"}])},
        "inputs": [EntityRef("hive_table", "default.wine_bench@cm")],
        "outputs": [EntityRef("ml_model_version", "wine-bench/1@mlflow")]})
    model = Entity("ml_registered_model", "wine-bench@mlflow", {"name": "wine-bench", "owner": "ml@example.com",
                                                                "purpose": "grades wine"})
    version = Entity("ml_model_version", "wine-bench/1@mlflow", {
        "name": "wine-bench v1", "version": 1, "modelName": "wine-bench", "runId": "benchrun", "status": "READY",
        "aliases": ["champion"], "signature": signature})
    deployment = Entity("ml_deployment", "wine-bench-stream:prod@cm", {
        "name": "wine-bench-stream (prod)", "createTime": 1_796_000_000_000, "deployedTime": 1_796_000_000_000, "status": "deployed", "cpuMillicores": 0,
        "owner": "ml@example.com", "mode": "streaming", "target": "prod",
        "modelRef": "models:/wine-bench@champion"})
    deploy = Entity("ml_model_deploy_process", "deploy:wine-bench-stream:prod@cm", {
        "name": "deploy", "userName": "bench", "inputs": [EntityRef("ml_model_version", "wine-bench/1@mlflow")],
        "outputs": [EntityRef("ml_deployment", "wine-bench-stream:prod@cm")]})
    return SourceBatch("bench-wine", [table, run, model, version, deployment, deploy])


LINEAGE = """\
version: 1
datasets:
  default.wine_bench@cm: {classifications: [PII]}
  incoming: {type: fs_path, path: incoming/, format: csv, schema: {%s}}
models:
  wine-bench:
    owner: ml@example.com
    purpose: grades wine
    training: {datasets: [default.wine_bench@cm]}
    policy: {metrics: {rmse: "<= 0.8"}}
deployments:
  wine-bench-stream: {model: "models:/wine-bench@champion", mode: streaming, input: incoming, expectations: suite.json}
policy:
  targets:
    prod: {rules: {classifications-allowed: {allow: [PII]}}}
"""


def _project(root: Path, rows: int) -> Path:
    """lineage.yml, the CSV input and a GX suite drafted from the same data."""
    import numpy as np
    import pandas as pd

    from catalog.compliance.expectations import suggest_suite

    rng = np.random.default_rng(7)
    frame = pd.DataFrame({f: rng.uniform(1.0, 10.0, rows).round(3) for f in FEATURES})
    (root / "incoming").mkdir()
    frame.to_csv(root / "incoming" / "part-0.csv", index=False)
    (root / "suite.json").write_text(json.dumps(suggest_suite(None, frame, "bench")))
    lineage = root / "lineage.yml"
    lineage.write_text(LINEAGE % ", ".join(f"{f}: double" for f in FEATURES))
    return lineage


def _gx_alone(root: Path) -> Any:
    """A callable validating the sample with GX directly: one context and one batch, built here."""
    import great_expectations as gx
    import pandas as pd
    from great_expectations.core import ExpectationSuite

    frame = pd.read_csv(root / "incoming" / "part-0.csv", dtype={f: "float64" for f in FEATURES})
    suite = ExpectationSuite(**json.loads((root / "suite.json").read_text()))
    context = gx.get_context(mode="ephemeral")
    context.variables.progress_bars = {"globally": False, "metric_calculations": False}
    batch = (context.data_sources.add_pandas("bench").add_dataframe_asset("sample")
             .add_batch_definition_whole_dataframe("all").get_batch(batch_parameters={"dataframe": frame}))
    return lambda: batch.validate(suite)


def run(ctx: Context) -> list[str]:
    import dataclasses

    from bench.ingest import ingest_batch, open_catalog, synthetic_batch
    from catalog.compliance.record import check

    sizes = ctx.sizes
    root = ctx.fresh_dir("compliance")
    batch, _ = synthetic_batch(sizes.entities, sizes.chain_every)
    catalog = open_catalog(root / "catalog.db")
    ingest_batch(catalog, batch)
    ingest_batch(catalog, _wine_chain())
    rows = ROWS if sizes.name != "quick" else 500
    lineage = _project(root, rows)
    catalog.settings = dataclasses.replace(catalog.settings, lineage_file=str(lineage))
    graph_only = lambda: check(catalog, "wine-bench-stream", data=False, record=False)  # noqa: E731
    with_data = lambda: check(catalog, "wine-bench-stream", data=True, record=False)  # noqa: E731
    with quiet_logs("great_expectations"):
        first = with_data()
        assert first.verdict == "pass", [(r.rule, r.verdict, r.message) for r in first.results]
        for _ in range(5):
            graph_only()
        graph = []
        for _ in range(CALLS[sizes.name]):
            start = time.perf_counter()
            graph_only()
            graph.append(time.perf_counter() - start)
        gx_alone = _gx_alone(root)
        gx_alone()
        whole, alone = [], []
        for _ in range(ROUNDS[sizes.name]):
            start = time.perf_counter()
            with_data()
            whole.append(time.perf_counter() - start)
            start = time.perf_counter()
            gx_alone()
            alone.append(time.perf_counter() - start)
    catalog.close()
    print(f"{sizes.entities:,} synthetic entities + the wine chain; {rows:,}-row CSV sample, "
          f"{len(json.loads((root / 'suite.json').read_text())['expectations'])} expectations")
    print_table(("measure", "calls", "p50", "p99"), [
        ("check, graph rules (data=False)", len(graph), fmt_ms(median(graph)), fmt_ms(percentile(graph, 99))),
        ("check with the data rules", len(whole), fmt_ms(median(whole)), fmt_ms(percentile(whole, 99))),
        ("GX validate alone, same sample", len(alone), fmt_ms(median(alone)), fmt_ms(percentile(alone, 99))),
    ])
    p99 = percentile(graph, 99) * 1000
    verdict = "MET" if p99 <= P99_TARGET_MS else "MISSED"
    return [
        f"LATENCY check-graph p99 = {p99:.2f} ms (target <= {P99_TARGET_MS:g} ms) {verdict}",
        ratio_line("check-with-gx/gx-alone", median(whole) / median(alone), GX_TARGET, note="medians"),
    ]
