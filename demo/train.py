"""Train the demo's ElasticNet with MLflow and register it as ``wine-quality@champion``.

The run logs its parameters, test metrics (rmse, mae, r2), the training table as a
dataset input whose source names ``default.wineds_ext`` (so the catalog maps it to
``hive_table default.wineds_ext@cm``), and the model with a signature and an input
example. MLflow is imported lazily and its global tracking URI is restored afterwards.
"""

from __future__ import annotations

import contextlib
import os
import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

import pandas as pd

from demo.data import FEATURES, LABEL, TABLE

__all__ = ["ALIAS", "EXPERIMENT", "MODEL_NAME", "TrainResult", "artifact_root", "existing_version", "train"]

MODEL_NAME = "wine-quality"
ALIAS = "champion"
EXPERIMENT = "wine-quality"
PARAMS = {"alpha": 0.01, "l1_ratio": 0.5}
TEST_SIZE = 0.25
SEED = 42
DESCRIPTION = "predicts the quality of wine using wine attributes"


@dataclass(frozen=True)
class TrainResult:
    run_id: str
    version: str
    model_uri: str
    metrics: dict[str, float]


@contextlib.contextmanager
def mlflow_uris(uri: str) -> Iterator[None]:
    """Point MLflow's fluent API at ``uri``; restore the previous URIs (and env) after."""
    import mlflow
    import mlflow.tracking._model_registry.utils as registry_utils
    import mlflow.tracking._tracking_service.utils as tracking_utils

    env_keys = ("MLFLOW_TRACKING_URI", "MLFLOW_REGISTRY_URI")
    saved_env = {k: os.environ.get(k) for k in env_keys}
    saved = (tracking_utils._tracking_uri, registry_utils._registry_uri)
    mlflow.set_tracking_uri(uri)
    mlflow.set_registry_uri(uri)
    try:
        yield
    finally:
        tracking_utils._tracking_uri, registry_utils._registry_uri = saved
        for key, value in saved_env.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


def _client(uri: str):
    from mlflow.tracking import MlflowClient

    return MlflowClient(tracking_uri=uri, registry_uri=uri)


def artifact_root(uri: str) -> str | None:
    """``mlartifacts/`` next to a sqlite store, so nothing lands outside the demo's directory.

    For a tracking server (http) the server decides where artifacts go.
    """
    parts = urlsplit(uri)
    if parts.scheme != "sqlite":
        return None
    db = Path(uri.removeprefix("sqlite:///")) if uri.startswith("sqlite:///") else None
    if db is None or str(db) in ("", ":memory:"):
        return None
    return (db.resolve().parent / "mlartifacts").as_uri()


def existing_version(uri: str) -> str | None:
    """The latest version of ``wine-quality`` in MLflow at ``uri``, or None."""
    if uri.startswith("sqlite:///") and not Path(uri.removeprefix("sqlite:///")).exists():
        return None
    versions = _client(uri).search_model_versions(f"name = '{MODEL_NAME}'")
    if not versions:
        return None
    return str(max(int(v.version) for v in versions))


def _experiment_id(uri: str) -> str:
    client = _client(uri)
    found = client.get_experiment_by_name(EXPERIMENT)
    if found is not None:
        return found.experiment_id
    return client.create_experiment(EXPERIMENT, artifact_location=artifact_root(uri), tags={"team": "ml"})


def train(uri: str, wine: pd.DataFrame) -> TrainResult:
    """One run on ``wine`` (the whole table), registered as the next ``wine-quality`` version."""
    import mlflow
    import mlflow.sklearn
    import numpy as np
    import sklearn
    from mlflow.data.spark_dataset_source import SparkDatasetSource
    from mlflow.models import infer_signature
    from sklearn.linear_model import ElasticNet
    from sklearn.metrics import mean_absolute_error, mean_squared_error, r2_score
    from sklearn.model_selection import train_test_split

    client = _client(uri)
    experiment_id = _experiment_id(uri)
    train_df, test_df = train_test_split(wine, test_size=TEST_SIZE, random_state=SEED)
    model = ElasticNet(**PARAMS, random_state=SEED).fit(train_df[FEATURES], train_df[LABEL])
    predicted = model.predict(test_df[FEATURES])
    metrics = {
        "rmse": float(np.sqrt(mean_squared_error(test_df[LABEL], predicted))),
        "mae": float(mean_absolute_error(test_df[LABEL], predicted)),
        "r2": float(r2_score(test_df[LABEL], predicted)),
    }
    # A table source is what makes the catalog record hive_table default.wineds_ext@cm
    # rather than an anonymous dataset. Spark's names the table and nothing else; Delta's
    # would take "default" for a Unity Catalog name and try to look the table up.
    dataset = mlflow.data.from_pandas(
        wine, source=SparkDatasetSource(table_name=TABLE), name=TABLE, targets=LABEL
    )
    with mlflow_uris(uri):
        with mlflow.start_run(experiment_id=experiment_id, run_name="train-elasticnet") as run:
            mlflow.set_tags({"purpose": "demo", "model": "ElasticNet"})
            mlflow.log_params({**PARAMS, "test_size": TEST_SIZE, "random_state": SEED})
            mlflow.log_metrics(metrics)
            with warnings.catch_warnings():
                # The table's schema holds the integer label; this hint is about model inputs.
                warnings.filterwarnings("ignore", message="Hint: Inferred schema contains integer", category=UserWarning)
                mlflow.log_input(dataset, context="training")
            signature = infer_signature(train_df[FEATURES], model.predict(train_df[FEATURES]))
            info = mlflow.sklearn.log_model(
                model,
                name="model",
                signature=signature,
                input_example=train_df[FEATURES].head(5),
                pip_requirements=[f"scikit-learn=={sklearn.__version__}", f"pandas=={pd.__version__}"],
            )
        _ensure_registered_model(client)
        version = client.create_model_version(
            MODEL_NAME, source=info.model_uri, run_id=run.info.run_id, model_id=info.model_id,
            description=f"ElasticNet alpha={PARAMS['alpha']} l1_ratio={PARAMS['l1_ratio']}",
        )
        client.set_registered_model_alias(MODEL_NAME, ALIAS, version.version)
    return TrainResult(run.info.run_id, str(version.version), info.model_uri, metrics)


def _ensure_registered_model(client) -> None:
    if not client.search_registered_models(filter_string=f"name = '{MODEL_NAME}'"):
        # Same tags as lineage.yml declares for the model, so the two sources agree.
        client.create_registered_model(MODEL_NAME, tags={"team": "ml"}, description=DESCRIPTION)
