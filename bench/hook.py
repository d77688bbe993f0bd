"""The MLflow hook: webhook-to-visible latency through a real ``mlflow server``.

A real ``mlflow server`` (SQL backend on sqlite, on a free loopback port, its webhook
guards opened for loopback over HTTP) posts its webhooks to the catalog served on
loopback (the web app and the hook's worker thread, as ``catalog serve`` runs them),
installed with ``catalog.intake.install``. ``VERSIONS`` model versions are registered
one after another, each from a run of its own that logs a metric and its training table;
for each, the time from ``create_model_version`` returning to the version being readable
through ``GET /api/atlas/v2/entity/uniqueAttribute/type/ml_model_version`` (polled every
10 ms from this process, which also serves the catalog: a coarser poll adds up to its
interval to every figure, about half of it on average; each poll costs the catalog's
process about 6 ms of CPU, so a much finer one would slow the worker it measures):
p50, p99. Target: p99 <= 1 s.

Baselines, measured right after each version is visible, each into a catalog of its own
that brings the same version in: the work the hook queues, without delivery, queue and
wake-up (``Catalog.ingest(mlflow_uri=..., mlflow_models=[model])`` and lineage.yml: the
worker's targeted read), and the whole incremental ``Catalog.ingest(mlflow_uri=...)`` the
worker ran before (and ``catalog ingest`` runs). RATIO = hook p50 / targeted-ingest p50.
"""

from __future__ import annotations

import base64
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from bench.common import Context, fmt_ms, median, percentile, print_table, quiet_logs, ratio_line
from bench.mlflow_server import mlflow_server_process

__all__ = ["run"]

VERSIONS = {"quick": 5, "full": 100, "1m": 100}
P99_TARGET_S = 1.0
RATIO_TARGET = 3.0
#: Seconds between two reads of the Atlas API while waiting for a version (measurement error: up to this).
POLL_S = 0.010
SECRET = "bench-hook-secret-" + "x" * 20
_SERVER_ENV = {
    "MLFLOW_WEBHOOK_ALLOW_PRIVATE_IPS": "true", "MLFLOW_WEBHOOK_ALLOWED_SCHEMES": "http,https",
    "MLFLOW_WEBHOOK_SECRET_ENCRYPTION_KEY": base64.urlsafe_b64encode(b"catalog-bench-webhook-key-32byte").decode(),
}
LINEAGE = """\
version: 1
datasets:
  default.hook_bench_train@cm: {description: what the bench model trains on}
models:
  hook-bench: {owner: ml@example.com, purpose: benchmarks the hook, training: {datasets: [default.hook_bench_train@cm]}}
deployments:
  hook-bench-batch: {model: "models:/hook-bench@champion", mode: batch, target: prod}
"""


@contextmanager
def _served_catalog(settings: Any) -> Iterator[str]:
    from web import create_app
    from web.cli import make_http_server
    from web.hooks import start_background

    app = create_app({"TESTING": True}, settings=settings)
    server = make_http_server("127.0.0.1", 0, app)
    thread = threading.Thread(target=server.serve_forever, name="bench-hook", daemon=True)
    thread.start()
    stop = start_background(app)
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        thread.join(timeout=10)
        server.server_close()
        stop()
        app.extensions["catalog"].close()


def _register(client: Any, experiment_id: str, model: Any) -> Any:
    """A run logging a metric and its training table, then a version of the logged model from it."""
    import mlflow
    from mlflow.entities import Metric

    run = client.create_run(experiment_id)
    client.log_batch(run.info.run_id, metrics=[Metric("rmse", 0.5, int(time.time() * 1000), 0)])
    dataset = mlflow.data.from_pandas(model.frame, source=model.source, name="default.hook_bench_train")
    client.log_inputs(run.info.run_id, [mlflow.entities.DatasetInput(dataset._to_mlflow_entity(), [
        mlflow.entities.InputTag("mlflow.data.context", "training")])])
    client.set_terminated(run.info.run_id)
    return client.create_model_version("hook-bench", source=model.info.model_uri, run_id=run.info.run_id,
                                       model_id=model.info.model_id)


class _LoggedModel:
    """One real sklearn model with a signature, logged once; every version registers it."""

    def __init__(self, url: str, experiment_id: str) -> None:
        import mlflow
        import mlflow.sklearn
        import pandas as pd
        from mlflow.data.spark_dataset_source import SparkDatasetSource
        from mlflow.models import infer_signature
        from sklearn.linear_model import LinearRegression

        from demo.train import mlflow_uris

        self.frame = pd.DataFrame({"x": [float(i) for i in range(20)], "y": [2.0 * i for i in range(20)]})
        self.source = SparkDatasetSource(table_name="default.hook_bench_train")
        fitted = LinearRegression().fit(self.frame[["x"]], self.frame["y"])
        with mlflow_uris(url), mlflow.start_run(experiment_id=experiment_id):
            self.info = mlflow.sklearn.log_model(fitted, name="model", pip_requirements=["scikit-learn"],
                                                 signature=infer_signature(self.frame[["x"]], self.frame["y"]))


def _visible(session: Any, base: str, qualified_name: str, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    url = f"{base}/api/atlas/v2/entity/uniqueAttribute/type/ml_model_version"
    while session.get(url, params={"attr:qualifiedName": qualified_name}, timeout=10).status_code != 200:
        if time.monotonic() > deadline:
            raise RuntimeError(f"{qualified_name} did not become visible within {timeout:.0f} s")
        time.sleep(POLL_S)


def run(ctx: Context) -> list[str]:
    import requests

    from catalog.config import Settings
    from catalog.intake.install import install
    from catalog.service import Catalog
    from catalog.intake.registry import client as mlflow_client

    count = VERSIONS[ctx.sizes.name]
    root = ctx.fresh_dir("hook")
    (root / "lineage.yml").write_text(LINEAGE)
    lineage = root / "lineage.yml"
    with quiet_logs("mlflow", "alembic", "werkzeug", "catalog.intake", "catalog.ingest"), \
            mlflow_server_process(root, _SERVER_ENV) as url, _served_catalog(Settings(
                database_url=f"sqlite:///{root / 'catalog.db'}", lineage_file=str(lineage), mlflow_uri=url,
                hook_secret=SECRET, read_access="open", reconcile_interval_seconds=0, user="bench")) as base:
        mlflow = mlflow_client(url)
        experiment = mlflow.create_experiment("hook-bench")
        mlflow.create_registered_model("hook-bench")
        model = _LoggedModel(url, experiment)
        install(url, f"{base}/hooks/mlflow", SECRET, name="bench")
        direct = Catalog(Settings(database_url=f"sqlite:///{root / 'direct.db'}", lineage_file=str(lineage),
                                  mlflow_uri=url, user="bench"))
        direct.ingest(mlflow_uri=url, lineage_path=lineage)
        targeted = Catalog(Settings(database_url=f"sqlite:///{root / 'targeted.db'}", lineage_file=str(lineage),
                                    mlflow_uri=url, user="bench"))
        targeted.ingest(mlflow_uri=url, lineage_path=lineage)  # the cursor the targeted reads start from
        http = requests.Session()
        hook, baseline, targeted_times = [], [], []
        for _ in range(count):
            mv = _register(mlflow, experiment, model)
            start = time.perf_counter()
            _visible(http, base, f"hook-bench/{mv.version}@mlflow")
            hook.append(time.perf_counter() - start)
            start = time.perf_counter()
            targeted.ingest(mlflow_uri=url, lineage_path=lineage, mlflow_models=["hook-bench"])
            targeted_times.append(time.perf_counter() - start)
            start = time.perf_counter()
            direct.ingest(mlflow_uri=url, lineage_path=lineage)
            baseline.append(time.perf_counter() - start)
        direct.close()
        targeted.close()
    print(f"{count} model versions registered one after another on a real mlflow server, each from its own run")
    print_table(("measure", "versions", "p50", "p99"), [
        ("create_model_version -> readable via the Atlas API", len(hook), fmt_ms(median(hook)),
         fmt_ms(percentile(hook, 99))),
        ("direct targeted Catalog.ingest (the hook's work)", len(targeted_times), fmt_ms(median(targeted_times)),
         fmt_ms(percentile(targeted_times, 99))),
        ("direct incremental Catalog.ingest (whole read)", len(baseline), fmt_ms(median(baseline)),
         fmt_ms(percentile(baseline, 99))),
    ])
    p99 = percentile(hook, 99)
    verdict = "MET" if p99 <= P99_TARGET_S else "MISSED"
    return [
        f"LATENCY hook-to-visible p99 = {p99 * 1000:.0f} ms over {count} versions (target <= "
        f"{P99_TARGET_S * 1000:.0f} ms) {verdict}",
        ratio_line("hook-to-visible/direct-ingest", median(hook) / median(targeted_times), RATIO_TARGET,
                   note="medians"),  # against the same (targeted) ingest
    ]
