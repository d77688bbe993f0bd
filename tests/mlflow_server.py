"""A real ``mlflow server`` on a free loopback port (SQL backend on sqlite), shared by the tests that need one.

``mlflow_server`` is module-scoped: it takes seconds to start, so each test module gets
one and its tests share it, each registering models of its own names. The server runs
with the webhook guards opened for loopback over plain HTTP (docs/hook.md), a fixed
secret encryption key, a one-second webhook cache and no delivery retries, so a
delivery to a catalog that is down is lost at once. ``Model`` trains and registers
versions on it: a tiny sklearn model with a signature, its run logging ``rmse`` and the
Spark table it trains on.
"""

from __future__ import annotations

import base64
import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest

from bench.mlflow_server import MLFLOW, QUIET, ServerDidNotStart, free_port, mlflow_server_process
from demo.train import mlflow_uris

__all__ = ["FEATURES", "MLFLOW", "QUIET", "WEBHOOK_ENV", "Model", "Server", "client", "free_port", "mlflow_server",
           "running_mlflow_server"]

#: What an MLflow server needs to post webhooks to a catalog on loopback (docs/hook.md), and test settings.
WEBHOOK_ENV = {
    "MLFLOW_WEBHOOK_ALLOW_PRIVATE_IPS": "true",
    "MLFLOW_WEBHOOK_ALLOWED_SCHEMES": "http,https",
    # a Fernet key: without one each server process encrypts webhook secrets with a key of its own
    "MLFLOW_WEBHOOK_SECRET_ENCRYPTION_KEY": base64.urlsafe_b64encode(b"catalog-tests-webhook-key-32byte").decode(),
    "MLFLOW_WEBHOOK_CACHE_TTL": "1",  # a hook installed during a test sees the next event
    "MLFLOW_WEBHOOK_REQUEST_MAX_RETRIES": "0",  # a delivery to a stopped catalog is lost at once
}
FEATURES = ["fixed acidity", "alcohol"]


@dataclass(frozen=True)
class Server:
    url: str
    root: Path


@contextmanager
def running_mlflow_server(root: Path, env: dict[str, str] | None = None) -> Iterator[Server]:
    """``mlflow server`` on a free loopback port, its store and artifacts in ``root``; stopped after."""
    saved = {k: os.environ.get(k) for k in QUIET}
    os.environ.update(QUIET)  # this process logs to the server too
    try:
        with mlflow_server_process(root, env) as url:
            yield Server(url, root)
    except ServerDidNotStart as exc:
        pytest.fail(str(exc))
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


@pytest.fixture(scope="module")
def mlflow_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    with running_mlflow_server(tmp_path_factory.mktemp("mlflow-server"), WEBHOOK_ENV) as server:
        yield server


def client(server: Server):
    from mlflow.tracking import MlflowClient

    return MlflowClient(tracking_uri=server.url, registry_uri=server.url)


class Model:
    """One registered model of a test, on the shared server."""

    def __init__(self, server: Server, name: str, *, register: bool = True) -> None:
        self.server, self.name = server, name
        self.table = f"default.{name.replace('-', '_')}_train"
        self.client = client(server)
        self.experiment_id = self.client.create_experiment(f"{name}-exp")
        if register:
            self.client.create_registered_model(name)

    def version(self, rmse: float) -> str:
        """Train, log and register a new version whose run logs ``rmse``; its version number."""
        import mlflow
        import mlflow.sklearn
        import pandas as pd
        from mlflow.data.spark_dataset_source import SparkDatasetSource
        from mlflow.models import infer_signature
        from sklearn.linear_model import ElasticNet

        df = pd.DataFrame({
            "fixed acidity": [7.0 + (i % 5) * 0.3 for i in range(20)],
            "alcohol": [9.0 + (i % 7) * 0.4 for i in range(20)],
            "quality": [5.0 + (i % 3) for i in range(20)],
        })
        with mlflow_uris(self.server.url):
            with mlflow.start_run(experiment_id=self.experiment_id, run_name=f"train-{rmse}") as run:
                mlflow.log_metric("rmse", rmse)
                table = mlflow.data.from_pandas(df, source=SparkDatasetSource(table_name=self.table),
                                                name=self.table)
                mlflow.log_input(table, context="training")
                model = ElasticNet(alpha=0.5, l1_ratio=0.1, random_state=0).fit(df[FEATURES], df["quality"])
                signature = infer_signature(df[FEATURES], model.predict(df[FEATURES]))
                info = mlflow.sklearn.log_model(model, name="model", signature=signature,
                                                pip_requirements=["scikit-learn"])
            mv = self.client.create_model_version(self.name, source=info.model_uri, run_id=run.info.run_id,
                                                  model_id=info.model_id)
        return str(mv.version)

    def alias(self, alias: str = "champion") -> str | None:
        """The version ``alias`` points at in MLflow (read back through the server), or None."""
        aliases = self.client.get_registered_model(self.name).aliases
        return aliases.get(alias)

    def set_alias(self, version: str, alias: str = "champion") -> None:
        self.client.set_registered_model_alias(self.name, alias, version)
