"""MLflow ingest: ``read_mlflow`` and ``Catalog.ingest(mlflow_uri=...)`` vs MLflow's own search APIs.

The store is a real MLflow sqlite store built with ``MlflowClient`` in a temp dir
(once per bench run, keyed by size; removed at the end): ``mlflow_runs`` runs over a
few experiments (start times spread over the last 30 days, as a real tracking server
accumulates them), each with params, metrics and tags via ``log_batch``, one run in
four with logged dataset inputs (tables, paths, code); ``mlflow_versions`` model
versions over ``mlflow_models`` registered models, each registered from a run's
``artifacts/model`` path (no model files exist there) and a few aliases.

Measured, alternating with the baseline each repetition (medians reported):

- ``read_mlflow(uri)`` full read (no cursor);
- ``Catalog.ingest(mlflow_uri=uri)`` into a fresh catalog (read + plan + write, 1 txn);
- the same ``Catalog.ingest`` again with nothing changed in MLflow (incremental:
  the cursor is stored), as % of the first; and ``read_mlflow(uri, cursor=...)``.

Baseline: a fresh ``MlflowClient`` on the same (read-only) URI listing all
experiments, ``search_runs`` over all of them and ``search_model_versions``, both
paginated to the end with the same page size as ``read_mlflow`` (1,000).
"""

from __future__ import annotations

import json
import time
import warnings
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench.common import (
    Context,
    fmt_s,
    median,
    print_table,
    quiet_logs,
    ratio_line,
    timed,
    timed_cpu,
)

__all__ = ["MlflowBenchStore", "build_store", "run"]

PAGE_SIZE = 1000  # read_mlflow's default page size
DAY_MS = 86_400_000


@dataclass
class MlflowBenchStore:
    root: Path
    uri: str
    runs: int
    versions: int
    models: int
    experiments: int
    dataset_runs: int
    build_seconds: float


def _quiet() -> Any:
    return quiet_logs("mlflow", "alembic")


def _import_mlflow() -> None:
    """Import MLflow's SQL stores once, ignoring the one deprecation MLflow's own mappers raise.

    setup.cfg ignores the same warning for the test suite; doing it here too keeps the
    bench quiet under ``python -W error`` and ``pytest -W error`` (whose command-line
    filters override setup.cfg's). Any other warning still surfaces.
    """
    from sqlalchemy.exc import SADeprecationWarning

    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="The ``noload`` loader strategy is deprecated",
                                category=SADeprecationWarning)
        import mlflow.store.model_registry.sqlalchemy_store
        import mlflow.store.tracking.sqlalchemy_store  # noqa: F401


def build_store(root: Path, runs: int, versions: int, models: int, experiments: int) -> MlflowBenchStore:
    from mlflow.entities import Dataset, DatasetInput, InputTag, Metric, Param, RunTag
    from mlflow.tracking import MlflowClient

    _import_mlflow()
    start = time.perf_counter()
    uri = f"sqlite:///{root / 'mlflow.db'}"
    with _quiet():
        client = MlflowClient(tracking_uri=uri, registry_uri=uri)
        exp_ids = [
            client.create_experiment(f"bench-exp-{e}", artifact_location=str(root / "artifacts" / str(e)),
                                     tags={"team": f"team-{e}"})
            for e in range(experiments)
        ]
        now = int(time.time() * 1000)
        first = now - 30 * DAY_MS
        span = 30 * DAY_MS - 3_600_000  # the newest run started an hour ago
        run_ids: list[str] = []
        artifact_uris: list[str] = []
        dataset_runs = 0
        for i in range(runs):
            started = first + span * i // max(1, runs - 1)
            run = client.create_run(
                exp_ids[i % experiments],
                start_time=started,
                run_name=f"sweep-{i:05d}",
                tags={"mlflow.user": f"ds-{i % 9}", "mlflow.source.name": "train.py", "purpose": "bench"},
            )
            run_id = run.info.run_id
            client.log_batch(
                run_id,
                metrics=[
                    Metric("rmse", 0.5 + (i % 17) / 100, started + 1000, 0),
                    Metric("r2", 0.3 + (i % 13) / 100, started + 1000, 0),
                    Metric("mae", 0.4 + (i % 11) / 100, started + 1000, 0),
                ],
                params=[
                    Param("alpha", str(0.01 * (i % 50))),
                    Param("l1_ratio", str(0.1 * (i % 10))),
                    Param("max_iter", "1000"),
                    Param("seed", str(i)),
                    Param("features", "fixed_acidity,alcohol,ph,sulphates"),
                ],
                tags=[RunTag("mlflow.source.git.commit", f"{i:040x}"), RunTag("stage", "sweep"),
                      RunTag("owner", f"ds-{i % 9}")],
            )
            if i % 4 == 0:
                dataset_runs += 1
                kind = (i // 4) % 3
                if kind == 0:
                    ds = Dataset(f"train-{i % 50}", f"{i % 50:08x}", "delta_table",
                                 json.dumps({"delta_table_name": f"sales.train_{i % 50}"}))
                elif kind == 1:
                    ds = Dataset(f"wine-{i % 30}", f"{i % 30:08x}", "local", json.dumps({"uri": f"/data/wine_{i % 30}.csv"}))
                else:
                    ds = Dataset(f"frame-{i % 40}", f"{i:08x}", "code", json.dumps({"tags": {"mlflow.source.name": "train.py"}}))
                client.log_inputs(run_id, [DatasetInput(ds, [InputTag("mlflow.data.context", "training")])])
            client.set_terminated(run_id, end_time=started + 600_000)
            run_ids.append(run_id)
            artifact_uris.append(run.info.artifact_uri)
        names = [f"bench-model-{m}" for m in range(models)]
        for name in names:
            client.create_registered_model(name, tags={"domain": "bench"}, description=f"{name} (synthetic)")
        for v in range(versions):
            # Newest runs register versions, as a model's latest trainings do.
            r = runs - 1 - (v * 3) % runs
            client.create_model_version(names[v % models], source=f"{artifact_uris[r]}/model", run_id=run_ids[r],
                                        tags={"validated": str(v % 2 == 0).lower()})
        per_model = max(1, versions // models)
        for name in names:
            client.set_registered_model_alias(name, "champion", "1")
            if per_model >= 2:
                client.set_registered_model_alias(name, "challenger", str(per_model))
    return MlflowBenchStore(root, uri, runs, versions, models, experiments, dataset_runs, time.perf_counter() - start)


def _store(ctx: Context) -> MlflowBenchStore:
    s = ctx.sizes
    key = ("mlflow-store", s.mlflow_runs, s.mlflow_versions, s.mlflow_models, s.mlflow_experiments)
    return ctx.cached(key, lambda: build_store(
        ctx.fresh_dir(f"mlflow-{s.mlflow_runs}-{s.mlflow_versions}"),
        s.mlflow_runs, s.mlflow_versions, s.mlflow_models, s.mlflow_experiments,
    ))


def _pages(search: Any, **kwargs: Any) -> list[Any]:
    out: list[Any] = []
    token = None
    while True:
        page = search(max_results=PAGE_SIZE, page_token=token, **kwargs)
        out.extend(page)
        token = page.token
        if not token:
            return out


def _baseline(client_uri: str) -> tuple[int, int]:
    """MLflow's own listing of the same store: all runs of all experiments, all model versions."""
    from mlflow.tracking import MlflowClient

    client = MlflowClient(tracking_uri=client_uri, registry_uri=client_uri)
    experiments = _pages(client.search_experiments)
    runs = _pages(client.search_runs, experiment_ids=[e.experiment_id for e in experiments])
    versions = _pages(client.search_model_versions)
    return len(runs), len(versions)


def _catalog(path: Path) -> Any:
    from catalog.config import Settings
    from catalog.service import Catalog

    return Catalog(Settings(database_url=f"sqlite:///{path}", user="bench"))


def run(ctx: Context) -> list[str]:
    from catalog.mlflow_source import client_uri, read_mlflow

    sizes = ctx.sizes
    _import_mlflow()
    with _quiet():
        built = _store(ctx)
        print(f"MLflow store: {built.runs:,} runs in {built.experiments} experiments ({built.dataset_runs} with dataset "
              f"inputs), {built.versions} model versions over {built.models} registered models "
              f"(built in {built.build_seconds:.1f} s, not timed below)")
        client_uri = client_uri(built.uri, built.uri)
        work = ctx.fresh_dir("mlflow-catalogs")

        # Warm-up: imports, MLflow's engine cache, our type registry.
        n_runs, n_versions = _baseline(client_uri)
        if (n_runs, n_versions) != (built.runs, built.versions):
            raise AssertionError(f"baseline saw {n_runs} runs / {n_versions} versions")
        first_read = read_mlflow(built.uri)
        warm = _catalog(work / "warm.db")
        warm.ingest(mlflow_uri=built.uri)
        warm.close()

        base, read_full, read_incr, ingest_full, ingest_incr = [], [], [], [], []
        cpu_base, cpu_read = [], []
        report = report2 = read = read2 = None
        for rep in range(sizes.mlflow_reps):
            seconds, cpu, _ = timed_cpu(lambda: _baseline(client_uri))
            base.append(seconds)
            cpu_base.append(cpu)
            seconds, cpu, read = timed_cpu(lambda: read_mlflow(built.uri))
            read_full.append(seconds)
            cpu_read.append(cpu)
            cursor = read.cursor
            seconds, read2 = timed(lambda: read_mlflow(built.uri, cursor=cursor))  # noqa: B023
            read_incr.append(seconds)
            catalog = _catalog(work / f"catalog-{rep}.db")  # schema migrated before the clock
            try:
                seconds, report = timed(lambda: catalog.ingest(mlflow_uri=built.uri))  # noqa: B023
                ingest_full.append(seconds)
                seconds, report2 = timed(lambda: catalog.ingest(mlflow_uri=built.uri))  # noqa: B023
                ingest_incr.append(seconds)
            finally:
                catalog.close()
        assert report is not None and report2 is not None and read is not None and read2 is not None
        if report2.wrote:
            raise AssertionError(f"incremental ingest of an unchanged MLflow wrote: {report2.summary()}")

    b, rf, ri, inf, ini = (median(x) for x in (base, read_full, read_incr, ingest_full, ingest_incr))
    types = Counter(e.type_name for e in read.batch.entities)
    kinds = Counter(f.kind for f in first_read.batch.findings)
    print("entities read: " + ", ".join(f"{n} {t}" for t, n in sorted(types.items()))
          + f"; findings: {dict(kinds) or 'none'}")
    print(f"incremental read emitted {len(read2.batch.entities)} entities; incremental ingest: {report2.summary()}, "
          f"wrote nothing: {not report2.wrote}")
    print(f"repetitions: {sizes.mlflow_reps} (median times; baseline and measured paths alternate)")
    print_table(
        ["path", "time", "runs/s", "vs baseline"],
        [
            ["MlflowClient search_runs + search_model_versions (baseline)", fmt_s(b), f"{built.runs / b:,.0f}", "1.00x"],
            ["read_mlflow(uri) full", fmt_s(rf), f"{built.runs / rf:,.0f}", f"{rf / b:.2f}x"],
            ["Catalog.ingest(mlflow_uri) into a fresh catalog", fmt_s(inf), f"{built.runs / inf:,.0f}", f"{inf / b:.2f}x"],
            ["read_mlflow(uri, cursor) nothing changed", fmt_s(ri), "-", f"{ri / b:.2f}x ({ri / rf:.1%} of full read)"],
            ["Catalog.ingest again, nothing changed", fmt_s(ini), "-", f"{ini / b:.2f}x ({ini / inf:.1%} of first)"],
        ],
    )
    print(f"all runs (s): baseline {[round(x, 3) for x in base]}, read {[round(x, 3) for x in read_full]}, "
          f"ingest {[round(x, 3) for x in ingest_full]}, ingest again {[round(x, 3) for x in ingest_incr]}")
    # Ratios are medians of per-repetition ratios (each pair measured back to back).
    read_ratio = median([x / y for x, y in zip(read_full, base, strict=True)])
    ingest_ratio = median([x / y for x, y in zip(ingest_full, base, strict=True)])
    incr = median([x / y for x, y in zip(ingest_incr, ingest_full, strict=True)])
    print(f"paired ratios per repetition: read/baseline {[round(x / y, 2) for x, y in zip(read_full, base, strict=True)]}, "
          f"ingest/baseline {[round(x / y, 2) for x, y in zip(ingest_full, base, strict=True)]}")
    print(f"CPU time (info; ignores other processes' load): baseline {fmt_s(median(cpu_base))}, read_mlflow "
          f"{fmt_s(median(cpu_read))}, paired ratio {median([x / y for x, y in zip(cpu_read, cpu_base, strict=True)]):.2f}x")
    read_line = ratio_line("mlflow-read/mlflow-search", read_ratio, 1.5, note="read_mlflow full")
    ingest_line = ratio_line("mlflow-ingest/mlflow-search", ingest_ratio, 1.5, note="full Catalog.ingest")
    verdict = "MET" if incr < 0.05 else "MISSED"
    incr_line = f"INCREMENTAL mlflow-ingest unchanged = {incr:.1%} of the first ingest (target < 5%) {verdict}"
    for line in (read_line, incr_line, ingest_line):
        print(line)
    return [read_line, incr_line, ingest_line]
