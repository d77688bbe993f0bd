"""A real MLflow sqlite store for tests (no mocks).

``build_store`` writes, under one directory, ``mlflow.db`` and the artifacts of:

- experiment ``wine-quality-exp`` (tag ``team=ml``);
- run ``train-elasticnet``: params, metrics, tags, a git commit tag, four logged
  dataset inputs (pandas "code" source, a Spark table source, a Delta table
  source and a local file URI) and a tiny sklearn ElasticNet logged as a model;
- registered model ``wine-quality`` with versions 1 and 2 of that model (version 1
  registered by source URI only, version 2 with its model id), alias
  ``champion`` -> 1;
- four light runs ``sweep-0..3`` (params and a metric, no model).

Logging a model is the slow part, so tests share one store per module and copy
the database (``copy_store``) when they need to change it.
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass, replace
from pathlib import Path

import pytest

from demo.train import mlflow_uris  # one way to scope MLflow's global URIs

MODEL_NAME = "wine-quality"
FEATURES = ["fixed acidity", "alcohol"]


@dataclass(frozen=True)
class MlflowStore:
    root: Path
    db_path: Path
    uri: str
    experiment_id: str
    train_run_id: str
    model_id: str
    model_uri: str
    sweep_run_ids: tuple[str, ...]
    pandas_digest: str


def build_store(root: Path) -> MlflowStore:
    import mlflow
    import mlflow.sklearn
    import pandas as pd
    from mlflow.data.spark_dataset_source import SparkDatasetSource
    from mlflow.entities import Dataset, DatasetInput, InputTag
    from mlflow.models import infer_signature
    from mlflow.tracking import MlflowClient
    from sklearn.linear_model import ElasticNet

    db_path = root / "mlflow.db"
    uri = f"sqlite:///{db_path}"
    client = MlflowClient(tracking_uri=uri, registry_uri=uri)
    experiment_id = client.create_experiment(
        "wine-quality-exp", artifact_location=str(root / "artifacts"), tags={"team": "ml"}
    )
    df = pd.DataFrame({
        "fixed acidity": [7.0 + (i % 5) * 0.3 for i in range(20)],
        "alcohol": [9.0 + (i % 7) * 0.4 for i in range(20)],
        "quality": [5.0 + (i % 3) for i in range(20)],
    })
    with mlflow_uris(uri):
        with mlflow.start_run(experiment_id=experiment_id, run_name="train-elasticnet") as run:
            run_id = run.info.run_id
            mlflow.set_tags({"purpose": "demo", "mlflow.source.git.commit": "abc123"})
            mlflow.log_params({"alpha": "0.5", "l1_ratio": "0.1"})
            mlflow.log_metric("rmse", 0.9, step=0)
            mlflow.log_metric("rmse", 0.61, step=1)
            mlflow.log_metric("r2", 0.42)
            pandas_ds = mlflow.data.from_pandas(df, name="wine-train", targets="quality")
            mlflow.log_input(pandas_ds, context="training")
            spark_ds = mlflow.data.from_pandas(
                df, source=SparkDatasetSource(table_name="default.wineds_ext"), name="wineds_ext"
            )
            mlflow.log_input(spark_ds, context="training")
            client.log_inputs(run_id, [
                DatasetInput(
                    Dataset("sales", "0a1b2c3d", "delta_table", '{"delta_table_name": "Sales.Wine_Train"}'),
                    [InputTag("mlflow.data.context", "training")],
                ),
                DatasetInput(
                    Dataset("wine-eval", "d1g35t00", "local", '{"uri": "/data/wine_eval.csv"}'),
                    [InputTag("mlflow.data.context", "evaluation")],
                ),
            ])
            model = ElasticNet(alpha=0.5, l1_ratio=0.1, random_state=0).fit(df[FEATURES], df["quality"])
            signature = infer_signature(df[FEATURES], model.predict(df[FEATURES]))
            info = mlflow.sklearn.log_model(
                model, name="model", signature=signature, pip_requirements=["scikit-learn"]
            )
        # models:/<model_id> sources are resolved through the global tracking URI.
        client.create_registered_model(MODEL_NAME, tags={"domain": "wine"}, description="predicts wine quality")
        client.create_model_version(MODEL_NAME, source=info.model_uri, run_id=run_id)
        client.create_model_version(MODEL_NAME, source=info.model_uri, run_id=run_id, model_id=info.model_id)
        client.set_registered_model_alias(MODEL_NAME, "champion", "1")

    sweep = []
    for i in range(4):
        r = client.create_run(experiment_id, run_name=f"sweep-{i}")
        client.log_param(r.info.run_id, "alpha", str(0.1 * (i + 1)))
        client.log_metric(r.info.run_id, "rmse", 1.0 - 0.1 * i)
        client.set_terminated(r.info.run_id)
        sweep.append(r.info.run_id)
    return MlflowStore(
        root=root,
        db_path=db_path,
        uri=uri,
        experiment_id=experiment_id,
        train_run_id=run_id,
        model_id=info.model_id,
        model_uri=info.model_uri,
        sweep_run_ids=tuple(sweep),
        pandas_digest=pandas_ds.digest,
    )


def copy_store(store: MlflowStore, dest: Path) -> MlflowStore:
    """A private copy of the database (artifacts stay shared: copies must not log artifacts)."""
    db_path = dest / "mlflow.db"
    shutil.copyfile(store.db_path, db_path)
    return replace(store, db_path=db_path, uri=f"sqlite:///{db_path}")


@pytest.fixture(scope="module")
def mlflow_store(tmp_path_factory: pytest.TempPathFactory) -> MlflowStore:
    return build_store(tmp_path_factory.mktemp("mlflow"))


def demo_catalog(store: MlflowStore, root: Path) -> tuple[object, MlflowStore]:
    """A catalog under ``root`` holding the repository's lineage.yml and a private copy of ``store``, ingested.

    Returns the catalog (open: use it in a ``with``, or close it) and the copy it read.
    """
    from catalog.config import Settings
    from catalog.service import Catalog

    copy = copy_store(store, root)
    catalog = Catalog(Settings(database_url=f"sqlite:///{root / 'catalog.db'}", mlflow_uri=copy.uri, user="tester"))
    catalog.ingest(lineage_path=Path(__file__).resolve().parents[1] / "lineage.yml", mlflow_uri=copy.uri)
    return catalog, copy
