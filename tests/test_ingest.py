"""The ingest funnel end to end: lineage.yml + a real MLflow store -> one lineage in the store."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import func, select

from catalog import store
from catalog.errors import LineageFileError, SourceUnavailableError
from tests.conftest import reference
from tests.mlflow_fixtures import copy_store, mlflow_store  # noqa: F401 - fixture

LINEAGE = """\
version: 1
cluster: cm
datasets:
  default.wineds_ext@cm:
    classifications: [PII]
  default.extra@cm: {}
  default.scoring@cm: {}
models:
  wine-quality:
    owner: ml-team@example.com
    training:
      datasets: [default.wineds_ext@cm, default.extra@cm]
deployments:
  wine-batch:
    model: models:/wine-quality@champion
    mode: batch
    target: prod
    input: default.scoring@cm
    output: {path: out/, format: delta}
"""


@pytest.fixture
def lineage_file(tmp_path: Path) -> Path:
    path = tmp_path / "lineage.yml"
    path.write_text(LINEAGE)
    return path


@pytest.fixture
def mlflow(mlflow_store, tmp_path):  # noqa: F811 - fixture
    """A private copy of the shared MLflow store, so tests may change it."""
    copy = tmp_path / "mlflow-copy"
    copy.mkdir()
    return copy_store(mlflow_store, copy)


def table_counts(catalog) -> dict[str, int]:
    with catalog.session() as session:
        return {
            t.name: session.scalar(select(func.count()).select_from(t)) for t in store.Base.metadata.sorted_tables
        }


def run_qn(mlflow) -> str:
    return f"run:{mlflow.train_run_id}@mlflow"


def input_names(entity) -> set[str]:
    return {ref["uniqueAttributes"]["qualifiedName"] for ref in entity.attributes["inputs"]}


def test_run_inputs_merge_declared_and_logged_training_data(catalog, lineage_file, mlflow):
    catalog.ingest(lineage_path=lineage_file, mlflow_uri=mlflow.uri)
    run = catalog.resolve(f"runs:/{mlflow.train_run_id}")
    names = input_names(run)
    assert {"default.wineds_ext@cm", "default.extra@cm"} <= names
    assert f"experiment:{mlflow.experiment_id}@mlflow" in names
    assert "sales.wine_train@cm" in names  # logged, not declared: kept, and reported


def test_disagreements_between_declared_and_logged_are_findings_not_errors(catalog, lineage_file, mlflow):
    report = catalog.ingest(lineage_path=lineage_file, mlflow_uri=mlflow.uri)
    kinds = {(f.kind, f.subject) for f in report.findings}
    assert ("declared-not-logged", run_qn(mlflow)) in kinds
    assert ("logged-not-declared", run_qn(mlflow)) in kinds
    declared = [f.message for f in report.findings if f.kind == "declared-not-logged"]
    assert declared == [
        f"lineage.yml declares hive_table:default.extra@cm as training data of wine-quality, but run "
        f"{mlflow.train_run_id} did not log it as a dataset input"
    ]
    stored = {(f.kind, f.subject) for f in catalog.findings()}
    assert kinds <= stored


def test_deployment_links_to_the_version_its_alias_resolves_to(catalog, lineage_file, mlflow):
    catalog.ingest(lineage_path=lineage_file, mlflow_uri=mlflow.uri)
    deployment = catalog.resolve("wine-batch:prod@cm")
    assert deployment.type_name == "ml_deployment"
    assert deployment.attributes["mode"] == "batch"
    assert deployment.relationship_attributes["build"]["uniqueAttributes"]["qualifiedName"] == "wine-quality/1@mlflow"
    graph = catalog.lineage("models:/wine-quality@champion", direction="BOTH", depth=3)
    names = {e.qualified_name for e in graph.entities.values()}
    assert {"default.wineds_ext@cm", run_qn(mlflow), "wine-quality/1@mlflow", "wine-batch:prod@cm"} <= names


def test_pii_on_a_training_table_reaches_versions_and_deployment(catalog, lineage_file, mlflow):
    catalog.ingest(lineage_path=lineage_file, mlflow_uri=mlflow.uri)
    for ref in ("models:/wine-quality/1", "models:/wine-quality/2", "wine-batch:prod@cm"):
        tags = {(c.type_name, c.propagated) for c in catalog.resolve(ref).classifications}
        assert tags == {("PII", True)}, ref


def test_second_ingest_of_unchanged_sources_writes_nothing(catalog, lineage_file, mlflow):
    catalog.ingest(lineage_path=lineage_file, mlflow_uri=mlflow.uri)
    before = table_counts(catalog)
    report = catalog.ingest(lineage_path=lineage_file, mlflow_uri=mlflow.uri)
    assert report.created == 0 and report.updated == 0
    assert not report.wrote
    assert table_counts(catalog) == before


def test_moving_the_alias_relinks_the_deployment_incrementally(catalog, lineage_file, mlflow):
    from mlflow.tracking import MlflowClient

    catalog.ingest(lineage_path=lineage_file, mlflow_uri=mlflow.uri)
    MlflowClient(tracking_uri=mlflow.uri, registry_uri=mlflow.uri).set_registered_model_alias(
        "wine-quality", "champion", "2"
    )
    report = catalog.ingest(lineage_path=lineage_file, mlflow_uri=mlflow.uri)
    assert report.updated >= 2  # both versions' aliases, and the deploy process inputs
    deploy = catalog.resolve("ml_model_deploy_process:deploy:wine-batch:prod@cm")
    assert input_names(deploy) == {"wine-quality/2@mlflow"}
    assert catalog.resolve("models:/wine-quality@champion").qualified_name == "wine-quality/2@mlflow"


def test_deleting_the_alias_unlinks_the_deployment_with_a_finding(catalog, lineage_file, mlflow):
    from mlflow.tracking import MlflowClient

    catalog.ingest(lineage_path=lineage_file, mlflow_uri=mlflow.uri)
    MlflowClient(tracking_uri=mlflow.uri, registry_uri=mlflow.uri).delete_registered_model_alias(
        "wine-quality", "champion")
    report = catalog.ingest(lineage_path=lineage_file, mlflow_uri=mlflow.uri)
    unresolved = [f for f in report.findings if f.kind == "deployment-model-unresolved"]
    assert len(unresolved) == 1 and "models:/wine-quality@champion matches no model version" in unresolved[0].message
    deploy = catalog.resolve("ml_model_deploy_process:deploy:wine-batch:prod@cm")
    assert input_names(deploy) == {"wine-quality@mlflow"}  # the registered model, not the old version
    deployment = catalog.resolve("ml_deployment:wine-batch:prod@cm")
    assert not deployment.relationship_attributes.get("build")
    assert catalog.resolve("models:/wine-quality/1").attributes["aliases"] == []


def test_mlflow_only_ingest_keeps_the_declared_training_from_the_store(catalog, lineage_file, mlflow):
    catalog.ingest(lineage_path=lineage_file)
    catalog.ingest(mlflow_uri=mlflow.uri)
    names = input_names(catalog.resolve(f"runs:/{mlflow.train_run_id}"))
    assert {"default.wineds_ext@cm", "default.extra@cm"} <= names


def test_bad_lineage_file_writes_nothing_even_with_good_mlflow(catalog, lineage_file, mlflow, tmp_path):
    catalog.ingest(lineage_path=lineage_file)
    before = table_counts(catalog)
    bad = tmp_path / "bad.yml"
    bad.write_text(LINEAGE.replace("[default.wineds_ext@cm, default.extra@cm]", "[default.wineds_extt@cm]"))
    with pytest.raises(LineageFileError, match=r"bad\.yml:12.*models\.wine-quality\.training\.datasets\[0\]"):
        catalog.ingest(lineage_path=bad, mlflow_uri=mlflow.uri)
    assert table_counts(catalog) == before


def test_unreachable_mlflow_writes_nothing_even_with_a_good_lineage_file(catalog, lineage_file, tmp_path):
    catalog.ingest(lineage_path=lineage_file)
    before = table_counts(catalog)
    missing = f"sqlite:///{tmp_path / 'nope' / 'mlflow.db'}"
    with pytest.raises(SourceUnavailableError, match="nope/mlflow.db"):
        catalog.ingest(lineage_path=lineage_file, mlflow_uri=missing)
    assert table_counts(catalog) == before
    assert not (tmp_path / "nope").exists()


def test_reference_cml_lineage_file_ingests_unchanged(catalog):
    path = reference("wine/cml-lineage.yml")
    report = catalog.ingest(lineage_path=path)
    assert report.created == 4
    model = catalog.resolve("Predict w/ Monitoring & Lineage@mlflow")
    assert model.type_name == "ml_registered_model"
    graph = catalog.lineage(model.qualified_name, direction="INPUT", depth=1)
    assert {e.qualified_name for e in graph.entities.values()} >= {
        "default.wineds_ext@cm",
        "default.wineds_ext_nolabel@cm",
    }


def test_changing_declared_training_data_relinks_runs_mlflow_does_not_reread(catalog, lineage_file, mlflow):
    catalog.ingest(lineage_path=lineage_file, mlflow_uri=mlflow.uri)
    run_ref = f"runs:/{mlflow.train_run_id}"
    assert "default.extra@cm" in input_names(catalog.resolve(run_ref))
    extra_finding = ("declared-not-logged", run_qn(mlflow))
    assert extra_finding in {(f.kind, f.subject) for f in catalog.findings()}

    # Drop default.extra@cm and declare a SENSITIVE table instead; MLflow is unchanged,
    # so the incremental read emits no run: the funnel must re-plan the stored one.
    lineage_file.write_text(
        LINEAGE.replace("  default.scoring@cm: {}", "  default.scoring@cm: {}\n  default.new@cm:\n    classifications: [SENSITIVE]")
        .replace("[default.wineds_ext@cm, default.extra@cm]", "[default.wineds_ext@cm, default.new@cm]")
    )
    report = catalog.ingest(lineage_path=lineage_file, mlflow_uri=mlflow.uri)
    names = input_names(catalog.resolve(run_ref))
    assert "default.extra@cm" not in names and "default.new@cm" in names
    assert {"default.wineds_ext@cm", "sales.wine_train@cm"} <= names  # logged inputs stay
    version_tags = {c.type_name for c in catalog.resolve("models:/wine-quality/1").classifications}
    assert version_tags == {"PII", "SENSITIVE"}
    messages = [f.message for f in catalog.findings() if f.kind == "declared-not-logged"]
    assert len(messages) == 1 and "default.new@cm" in messages[0]
    assert any(f.kind == "declared-not-logged" for f in report.findings)

    # And a third ingest of the same sources writes nothing.
    assert not catalog.ingest(lineage_path=lineage_file, mlflow_uri=mlflow.uri).wrote
