"""The one owner of qualifiedName conventions (see docs/atlas-types.md).

Tables follow Atlas's hive hook (``db.table@cluster``); MLflow objects are scoped
by an MLflow instance name (``wine-quality@mlflow``, ``wine-quality/3@mlflow``,
``run:<run_id>@mlflow``); deployments by name and target.
"""

from __future__ import annotations

__all__ = [
    "table_qn",
    "split_cluster",
    "path_qn",
    "experiment_qn",
    "run_qn",
    "logged_model_qn",
    "registered_model_qn",
    "model_version_qn",
    "mlflow_dataset_qn",
    "declared_training_qn",
    "deployment_qn",
    "deploy_process_qn",
    "mlflow_source",
]


def split_cluster(qualified_name: str) -> tuple[str, str | None]:
    """``'db.t@cm'`` -> ``('db.t', 'cm')``; a name without ``@`` has no cluster."""
    name, sep, cluster = qualified_name.rpartition("@")
    if not sep:
        return qualified_name, None
    return name, cluster


def table_qn(table: str, cluster: str) -> str:
    """Atlas hive hook name of a table: ``db.table@cluster`` (lower-cased like Hive).

    A bare ``table`` lands in the ``default`` database; a name already carrying
    ``@cluster`` keeps it.
    """
    name, own_cluster = split_cluster(table)
    if "." not in name:
        name = f"default.{name}"
    return f"{name.lower()}@{own_cluster or cluster}"


def path_qn(path: str, cluster: str) -> str:
    """An ``fs_path``: the path (or URI) as written, scoped by cluster like Atlas's hdfs hook."""
    return f"{path}@{cluster}"


def experiment_qn(experiment_id: str, instance: str) -> str:
    return f"experiment:{experiment_id}@{instance}"


def run_qn(run_id: str, instance: str) -> str:
    return f"run:{run_id}@{instance}"


def logged_model_qn(model_id: str, instance: str) -> str:
    return f"model:{model_id}@{instance}"


def registered_model_qn(name: str, instance: str) -> str:
    return f"{name}@{instance}"


def model_version_qn(name: str, version: int | str, instance: str) -> str:
    return f"{name}/{version}@{instance}"


def mlflow_dataset_qn(name: str, digest: str, instance: str) -> str:
    """A logged dataset MLflow knows only by name and digest (no table, no path)."""
    return f"dataset:{name}:{digest}@{instance}"


def declared_training_qn(model_name: str, instance: str) -> str:
    """The process lineage.yml declares: training tables -> registered model."""
    return f"declared-training:{model_name}@{instance}"


def deployment_qn(name: str, target: str, cluster: str) -> str:
    return f"{name}:{target}@{cluster}"


def deploy_process_qn(name: str, target: str, cluster: str) -> str:
    return f"deploy:{name}:{target}@{cluster}"


def mlflow_source(instance: str) -> str:
    """The one name of an MLflow instance as a source: audits, findings, reports and its cursor."""
    return f"mlflow:{instance}"
