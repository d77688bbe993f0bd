"""catalog.mlflow_source against a real MLflow sqlite store (tests/mlflow_fixtures.py)."""

from __future__ import annotations

import hashlib
import json
import os
import socket
import time
from pathlib import Path

import pytest

from catalog import naming
from catalog.errors import SourceUnavailableError
from catalog.config import redact_uri
from catalog.mlflow_source import MlflowRead, read_mlflow
from catalog.atlas.json import incoming_digest
from catalog.model import EntityRef

from tests.mlflow_fixtures import (  # noqa: F401 - mlflow_store is a fixture
    FEATURES,
    MODEL_NAME,
    MlflowStore,
    copy_store,
    mlflow_store,
    mlflow_uris,
)

pytestmark = [
    # MLflow 3.17's tracking store configures its ORM with the ``noload`` loader strategy,
    # which SQLAlchemy 2.1 deprecates; raised once, inside MLflow, when its mappers configure.
    pytest.mark.filterwarnings(
        r"ignore:The ``noload`` loader strategy is deprecated:sqlalchemy.exc.SADeprecationWarning"
    ),
    # Importing mlflow.pyfunc (done by log_model) infers a schema for MLflow's own
    # ResponsesAgentRequest at module level and warns about its ``Any`` fields.
    pytest.mark.filterwarnings(r"ignore:.*Any type hint is inferred as AnyType:UserWarning"),
]

MODEL_VERSION, RUN = "ml_model_version", "ml_training_run"


# -- helpers ------------------------------------------------------------------------------


def by_key(read: MlflowRead) -> dict[tuple[str, str], object]:
    return {(e.type_name, e.qualified_name): e for e in read.batch.entities}


def entity(read: MlflowRead, type_name: str, qualified_name: str):
    found = by_key(read).get((type_name, qualified_name))
    assert found is not None, f"{type_name} {qualified_name} not in {sorted(by_key(read))}"
    return found


def qns(read: MlflowRead, type_name: str) -> set[str]:
    return {e.qualified_name for e in read.batch.entities if e.type_name == type_name}


def hashes(read: MlflowRead) -> dict[tuple[str, str], str]:
    return {(e.type_name, e.qualified_name): incoming_digest(e) for e in read.batch.entities}


def refs_of(value) -> list[EntityRef]:
    if isinstance(value, EntityRef):
        return [value]
    if isinstance(value, (list, tuple)):
        return [r for v in value for r in refs_of(v)]
    return []


def assert_only_changed(read: MlflowRead, known: dict, changed: set[tuple[str, str]]) -> None:
    """Everything in ``read`` but ``changed`` is content-identical to what was read before."""
    for key, digest in hashes(read).items():
        if key not in changed:
            assert known.get(key) == digest, f"{key} was emitted with changed content"
    assert changed <= set(hashes(read))


def mv_qn(version: int) -> str:
    return naming.model_version_qn(MODEL_NAME, version, "mlflow")


@pytest.fixture(scope="module")
def full(mlflow_store: MlflowStore) -> MlflowRead:
    return read_mlflow(mlflow_store.uri)


# -- mapping --------------------------------------------------------------------------------


def test_batch_source_and_entity_types(full: MlflowRead, mlflow_store: MlflowStore) -> None:
    assert full.batch.source == "mlflow:mlflow"
    assert full.batch.findings == []
    assert qns(full, "ml_project") == {
        naming.experiment_qn("0", "mlflow"),
        naming.experiment_qn(mlflow_store.experiment_id, "mlflow"),
    }
    assert qns(full, RUN) == {
        naming.run_qn(r, "mlflow") for r in (mlflow_store.train_run_id, *mlflow_store.sweep_run_ids)
    }
    assert qns(full, "ml_logged_model") == {naming.logged_model_qn(mlflow_store.model_id, "mlflow")}
    assert qns(full, "ml_registered_model") == {naming.registered_model_qn(MODEL_NAME, "mlflow")}
    assert qns(full, MODEL_VERSION) == {mv_qn(1), mv_qn(2)}
    assert qns(full, "hive_table") == {"default.wineds_ext@cm", "sales.wine_train@cm"}
    assert qns(full, "fs_path") == {"/data/wine_eval.csv@cm"}
    assert qns(full, "ml_dataset") == {
        naming.mlflow_dataset_qn("wine-train", mlflow_store.pandas_digest, "mlflow")
    }


def test_project(full: MlflowRead, mlflow_store: MlflowStore) -> None:
    project = entity(full, "ml_project", naming.experiment_qn(mlflow_store.experiment_id, "mlflow"))
    assert project.attributes["name"] == "wine-quality-exp"
    assert project.attributes["metadata"] == {
        "team": "ml",
        "artifact_location": str(mlflow_store.root / "artifacts"),
    }
    assert isinstance(project.attributes["createTime"], int)
    assert isinstance(project.attributes["modifiedTime"], int)


def test_training_run(full: MlflowRead, mlflow_store: MlflowStore) -> None:
    run = entity(full, RUN, naming.run_qn(mlflow_store.train_run_id, "mlflow"))
    a = run.attributes
    assert a["name"] == a["runName"] == "train-elasticnet"
    assert a["runId"] == mlflow_store.train_run_id
    assert a["experimentId"] == mlflow_store.experiment_id
    assert a["status"] == "FINISHED"
    assert a["userName"] and a["userName"] != "unknown"
    assert isinstance(a["startTime"], int) and isinstance(a["endTime"], int) and a["endTime"] >= a["startTime"]
    assert a["params"] == {"alpha": "0.5", "l1_ratio": "0.1"}
    assert a["metrics"] == {"rmse": 0.61, "r2": 0.42}
    assert a["tags"]["purpose"] == "demo"
    assert not {"mlflow.runName", "mlflow.user", "mlflow.source.git.commit", "mlflow.source.name"} & set(a["tags"])
    assert a["sourceGitCommit"] == "abc123"
    assert a["sourceName"]
    pandas_qn = naming.mlflow_dataset_qn("wine-train", mlflow_store.pandas_digest, "mlflow")
    assert a["datasetContexts"] == {
        pandas_qn: "training",
        "default.wineds_ext@cm": "training",
        "sales.wine_train@cm": "training",
        "/data/wine_eval.csv@cm": "evaluation",
    }
    assert set(a["datasetInputs"]) == set(a["datasetContexts"])
    [delta] = json.loads(a["datasetInputs"]["sales.wine_train@cm"])
    assert delta == {
        "name": "sales",
        "digest": "0a1b2c3d",
        "sourceType": "delta_table",
        "source": '{"delta_table_name": "Sales.Wine_Train"}',
        "context": "training",
    }
    [spark] = json.loads(a["datasetInputs"]["default.wineds_ext@cm"])
    assert spark["name"] == "wineds_ext" and spark["sourceType"] == "spark" and "schema" in spark
    project = EntityRef("ml_project", naming.experiment_qn(mlflow_store.experiment_id, "mlflow"))
    assert run.inputs[0] == project
    assert set(run.inputs[1:]) == {
        EntityRef("ml_dataset", pandas_qn),
        EntityRef("hive_table", "default.wineds_ext@cm"),
        EntityRef("hive_table", "sales.wine_train@cm"),
        EntityRef("fs_path", "/data/wine_eval.csv@cm"),
    }
    assert run.outputs == sorted([
        EntityRef("ml_logged_model", naming.logged_model_qn(mlflow_store.model_id, "mlflow")),
        EntityRef(MODEL_VERSION, mv_qn(1)),
        EntityRef(MODEL_VERSION, mv_qn(2)),
    ])


def test_sweep_run_has_no_datasets_or_outputs(full: MlflowRead, mlflow_store: MlflowStore) -> None:
    run = entity(full, RUN, naming.run_qn(mlflow_store.sweep_run_ids[0], "mlflow"))
    assert run.attributes["name"] == "sweep-0"
    assert run.attributes["params"] == {"alpha": "0.1"}
    assert run.attributes["datasetContexts"] == {}
    assert run.inputs == [EntityRef("ml_project", naming.experiment_qn(mlflow_store.experiment_id, "mlflow"))]
    assert run.outputs == []


def test_dataset_mapping(full: MlflowRead, mlflow_store: MlflowStore) -> None:
    table = entity(full, "hive_table", "default.wineds_ext@cm")
    # Tables and paths carry only what names them; lineage.yml describes them.
    assert table.attributes == {"name": "wineds_ext"}
    delta = entity(full, "hive_table", "sales.wine_train@cm")
    assert delta.attributes == {"name": "wine_train"}
    path = entity(full, "fs_path", "/data/wine_eval.csv@cm")
    assert path.attributes == {"name": "wine_eval.csv", "path": "/data/wine_eval.csv"}
    ds = entity(full, "ml_dataset", naming.mlflow_dataset_qn("wine-train", mlflow_store.pandas_digest, "mlflow"))
    assert ds.attributes["name"] == "wine-train"
    assert ds.attributes["digest"] == mlflow_store.pandas_digest
    assert ds.attributes["sourceType"] == "code"
    assert isinstance(json.loads(ds.attributes["source"]), dict)
    assert "fixed acidity" in ds.attributes["schema"]
    assert json.loads(ds.attributes["profile"])["num_rows"] == 20


def test_logged_model(full: MlflowRead, mlflow_store: MlflowStore) -> None:
    lm = entity(full, "ml_logged_model", naming.logged_model_qn(mlflow_store.model_id, "mlflow"))
    a = lm.attributes
    assert a["name"] == "model"
    assert a["modelId"] == mlflow_store.model_id
    assert a["runId"] == mlflow_store.train_run_id
    assert a["artifactUri"].startswith(str(mlflow_store.root / "artifacts"))
    assert a["flavors"] == ["python_function", "sklearn"]
    assert isinstance(a["createTime"], int)


def test_registered_model_and_versions(full: MlflowRead, mlflow_store: MlflowStore) -> None:
    from mlflow.models.signature import ModelSignature

    rm = entity(full, "ml_registered_model", naming.registered_model_qn(MODEL_NAME, "mlflow"))
    assert rm.attributes["name"] == MODEL_NAME
    assert rm.attributes["description"] == "predicts wine quality"
    assert rm.attributes["tags"] == {"domain": "wine"}
    assert "owner" not in rm.attributes
    assert isinstance(rm.attributes["createTime"], int) and isinstance(rm.attributes["modifiedTime"], int)

    v1, v2 = entity(full, MODEL_VERSION, mv_qn(1)), entity(full, MODEL_VERSION, mv_qn(2))
    assert v1.attributes["aliases"] == ["champion"] and v2.attributes["aliases"] == []
    for version, mv in ((1, v1), (2, v2)):
        a = mv.attributes
        assert a["name"] == f"{MODEL_NAME} v{version}" and a["version"] == version
        assert a["modelName"] == MODEL_NAME
        assert a["runId"] == mlflow_store.train_run_id
        assert a["modelId"] == mlflow_store.model_id  # v1 only through its models:/<model_id> source
        assert a["source"] == mlflow_store.model_uri
        assert a["status"] == "READY"
        assert "stage" not in a
        assert a["flavors"] == ["python_function", "sklearn"]
        assert a["tags"] == {}
        assert isinstance(a["createTime"], int) and isinstance(a["lastUpdatedTime"], int)
        signature = ModelSignature.from_dict(json.loads(a["signature"]))
        assert signature.inputs.input_names() == FEATURES
        assert mv.relationship_attributes == {
            "registeredModel": EntityRef("ml_registered_model", naming.registered_model_qn(MODEL_NAME, "mlflow"))
        }


def test_every_reference_resolves_within_the_batch(full: MlflowRead) -> None:
    keys = set(by_key(full))
    for e in full.batch.entities:
        for value in [*e.attributes.values(), *e.relationship_attributes.values()]:
            for ref in refs_of(value):
                assert (ref.type_name, ref.qualified_name) in keys, f"{e} refers to missing {ref}"


def test_entities_conform_to_the_type_registry(full: MlflowRead) -> None:
    from catalog.types.registry import TypeRegistry

    registry = TypeRegistry.default()
    for e in full.batch.entities:
        registry.validate(e)


def test_instance_and_cluster_scope_names(mlflow_store: MlflowStore) -> None:
    read = read_mlflow(mlflow_store.uri, instance="prod", cluster="dw")
    assert read.batch.source == "mlflow:prod"
    assert naming.model_version_qn(MODEL_NAME, 1, "prod") in qns(read, MODEL_VERSION)
    assert "default.wineds_ext@dw" in qns(read, "hive_table")
    assert read.cursor["instance"] == "prod"


# -- determinism, no writes ---------------------------------------------------------------------


def test_rereading_unchanged_mlflow_is_identical(full: MlflowRead, mlflow_store: MlflowStore) -> None:
    again = read_mlflow(mlflow_store.uri)
    assert [(e.type_name, e.qualified_name) for e in again.batch.entities] == [
        (e.type_name, e.qualified_name) for e in full.batch.entities
    ]
    assert hashes(again) == hashes(full)
    assert again.cursor == full.cursor


def test_cursor_is_json(full: MlflowRead) -> None:
    assert json.loads(json.dumps(full.cursor)) == full.cursor


def test_read_writes_nothing(mlflow_store: MlflowStore) -> None:
    before = hashlib.sha256(mlflow_store.db_path.read_bytes()).hexdigest()
    listing = sorted(p.name for p in mlflow_store.root.iterdir())
    read_mlflow(mlflow_store.uri)
    assert hashlib.sha256(mlflow_store.db_path.read_bytes()).hexdigest() == before
    assert sorted(p.name for p in mlflow_store.root.iterdir()) == listing


# -- incremental --------------------------------------------------------------------------------


def test_second_read_with_cursor_has_no_runs_or_versions(full: MlflowRead, mlflow_store: MlflowStore) -> None:
    second = read_mlflow(mlflow_store.uri, cursor=json.loads(json.dumps(full.cursor)))
    assert qns(second, RUN) == set() and qns(second, MODEL_VERSION) == set()
    assert second.batch.entities == []
    assert second.cursor == full.cursor


def test_foreign_or_malformed_cursor_means_full_read(full: MlflowRead, mlflow_store: MlflowStore) -> None:
    other = read_mlflow(mlflow_store.uri, instance="other")
    assert hashes(read_mlflow(mlflow_store.uri, cursor=other.cursor)) == hashes(full)
    assert hashes(read_mlflow(mlflow_store.uri, cursor={"version": 1, "instance": "mlflow"})) == hashes(full)
    broken = json.loads(json.dumps(full.cursor))
    broken["runs"]["start_hwm"] = "yesterday"
    assert hashes(read_mlflow(mlflow_store.uri, cursor=broken)) == hashes(full)


def test_incremental_reads_pick_up_exactly_the_changes(mlflow_store: MlflowStore, tmp_path: Path) -> None:
    from mlflow.tracking import MlflowClient

    store = copy_store(mlflow_store, tmp_path)
    client = MlflowClient(tracking_uri=store.uri, registry_uri=store.uri)
    read = read_mlflow(store.uri)
    known = hashes(read)
    train_qn = naming.run_qn(store.train_run_id, "mlflow")

    def next_read() -> MlflowRead:
        nonlocal read
        read = read_mlflow(store.uri, cursor=read.cursor)
        known.update(hashes(read))
        return read

    # a new run
    new = client.create_run(store.experiment_id, run_name="late-run")
    client.log_param(new.info.run_id, "alpha", "0.9")
    client.set_terminated(new.info.run_id)
    before = dict(known)
    r = next_read()
    new_qn = naming.run_qn(new.info.run_id, "mlflow")
    assert qns(r, RUN) == {new_qn} and qns(r, MODEL_VERSION) == set()
    assert entity(r, RUN, new_qn).attributes["params"] == {"alpha": "0.9"}
    assert_only_changed(r, before, {(RUN, new_qn)})

    # a new version: the version, and the run whose outputs gained it
    with mlflow_uris(store.uri):  # MLflow resolves the models:/ source through the global URI
        client.create_model_version(MODEL_NAME, source=store.model_uri, run_id=store.train_run_id)
    before = dict(known)
    r = next_read()
    assert qns(r, MODEL_VERSION) == {mv_qn(3)} and qns(r, RUN) == {train_qn}
    assert EntityRef(MODEL_VERSION, mv_qn(3)) in entity(r, RUN, train_qn).outputs
    rm_key = ("ml_registered_model", naming.registered_model_qn(MODEL_NAME, "mlflow"))
    assert_only_changed(r, before, {(MODEL_VERSION, mv_qn(3)), (RUN, train_qn), rm_key})

    # an alias moves: both versions, nothing else changes
    client.set_registered_model_alias(MODEL_NAME, "champion", "2")
    before = dict(known)
    r = next_read()
    assert qns(r, MODEL_VERSION) == {mv_qn(1), mv_qn(2)} and qns(r, RUN) == set()
    assert entity(r, MODEL_VERSION, mv_qn(1)).attributes["aliases"] == []
    assert entity(r, MODEL_VERSION, mv_qn(2)).attributes["aliases"] == ["champion"]
    assert_only_changed(r, before, {(MODEL_VERSION, mv_qn(1)), (MODEL_VERSION, mv_qn(2))})

    # a version tag
    client.set_model_version_tag(MODEL_NAME, "2", "validated", "true")
    before = dict(known)
    r = next_read()
    assert qns(r, MODEL_VERSION) == {mv_qn(2)} and qns(r, RUN) == set()
    assert entity(r, MODEL_VERSION, mv_qn(2)).attributes["tags"] == {"validated": "true"}
    assert_only_changed(r, before, {(MODEL_VERSION, mv_qn(2))})

    # a run still RUNNING is re-read every time until it ends
    open_run = client.create_run(store.experiment_id, run_name="long-run")
    open_qn = naming.run_qn(open_run.info.run_id, "mlflow")
    r = next_read()
    assert qns(r, RUN) == {open_qn} and entity(r, RUN, open_qn).attributes["status"] == "RUNNING"
    assert "endTime" not in entity(r, RUN, open_qn).attributes
    client.log_metric(open_run.info.run_id, "loss", 0.5)
    r = next_read()
    assert qns(r, RUN) == {open_qn} and entity(r, RUN, open_qn).attributes["metrics"] == {"loss": 0.5}
    client.set_terminated(open_run.info.run_id, status="FAILED")
    r = next_read()
    assert qns(r, RUN) == {open_qn} and entity(r, RUN, open_qn).attributes["status"] == "FAILED"
    assert isinstance(entity(r, RUN, open_qn).attributes["endTime"], int)

    # quiet again
    r = next_read()
    assert r.batch.entities == [] and r.batch.findings == []

    # a deleted version is reported, not silently forgotten
    client.delete_model_version(MODEL_NAME, "3")
    before = dict(known)
    r = next_read()
    assert qns(r, MODEL_VERSION) == set() and qns(r, RUN) == {train_qn}  # its outputs lost version 3
    assert EntityRef(MODEL_VERSION, mv_qn(3)) not in entity(r, RUN, train_qn).outputs
    assert_only_changed(r, before, {(RUN, train_qn), rm_key})  # the model's modifiedTime moved
    assert [(f.kind, f.subject) for f in r.batch.findings] == [("deleted-in-mlflow", mv_qn(3))]

    # and the incremental result agrees with a full read of the same state
    fresh = read_mlflow(store.uri)
    assert {k: known[k] for k in hashes(fresh)} == hashes(fresh)


# -- pagination, progress -----------------------------------------------------------------------


def test_small_pages_read_everything(full: MlflowRead, mlflow_store: MlflowStore) -> None:
    calls: list[tuple[str, int]] = []
    paged = read_mlflow(mlflow_store.uri, page_size=2, progress=lambda kind, n: calls.append((kind, n)))
    assert hashes(paged) == hashes(full)
    run_pages = [n for kind, n in calls if kind == "runs"]
    assert len(run_pages) >= 3 and sum(run_pages) == 5 and max(run_pages) <= 2
    assert {kind for kind, _ in calls} == {
        "experiments", "runs", "logged_models", "model_versions", "registered_models"
    }
    assert sum(n for kind, n in calls if kind == "model_versions") == 2


def test_page_size_must_be_positive(mlflow_store: MlflowStore) -> None:
    with pytest.raises(ValueError):
        read_mlflow(mlflow_store.uri, page_size=0)


# -- unavailable sources --------------------------------------------------------------------------


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_unreachable_http_fails_fast_without_credentials() -> None:
    port = _closed_port()
    env_before = {k: v for k, v in os.environ.items() if k.startswith("MLFLOW_HTTP_REQUEST")}
    started = time.monotonic()
    with pytest.raises(SourceUnavailableError) as info:
        read_mlflow(f"http://alice:s3cret@127.0.0.1:{port}")
    assert time.monotonic() - started < 5
    message = str(info.value)
    assert f"http://127.0.0.1:{port}" in message
    assert "s3cret" not in message and "alice" not in message
    assert info.value.__cause__ is None and info.value.__suppress_context__
    assert isinstance(info.value, ConnectionError)
    assert {k: v for k, v in os.environ.items() if k.startswith("MLFLOW_HTTP_REQUEST")} == env_before


def test_missing_sqlite_database_is_not_created(tmp_path: Path) -> None:
    uri = f"sqlite:///{tmp_path}/nowhere/mlflow.db"
    with pytest.raises(SourceUnavailableError, match="does not exist") as info:
        read_mlflow(uri)
    assert uri in str(info.value)
    assert list(tmp_path.iterdir()) == []


def test_sqlite_file_that_is_not_mlflow_is_left_alone(tmp_path: Path) -> None:
    empty = tmp_path / "empty.db"
    empty.touch()
    with pytest.raises(SourceUnavailableError, match="not an MLflow tracking database"):
        read_mlflow(f"sqlite:///{empty}")
    assert empty.stat().st_size == 0
    assert [p.name for p in tmp_path.iterdir()] == ["empty.db"]
    junk = tmp_path / "junk.db"
    junk.write_bytes(b"not a database at all, just bytes" * 10)
    with pytest.raises(SourceUnavailableError, match="cannot be read"):
        read_mlflow(f"sqlite:///{junk}")


def test_missing_file_store(tmp_path: Path) -> None:
    with pytest.raises(SourceUnavailableError):
        read_mlflow(f"file://{tmp_path}/mlruns")
    assert list(tmp_path.iterdir()) == []


def test_redact_uri() -> None:
    assert redact_uri("https://u:p@mlflow.example.com:8443/x") == "https://***@mlflow.example.com:8443/x"
    assert redact_uri("https://token@mlflow.example.com/x") == "https://***@mlflow.example.com/x"
    assert redact_uri("postgresql+psycopg://catalog:s3cr@t@db:5432/c") == "postgresql+psycopg://***@db:5432/c"
    assert redact_uri("sqlite:////tmp/mlflow.db") == "sqlite:////tmp/mlflow.db"


def test_merge_cursor_puts_a_targeted_reads_fingerprints_in_and_keeps_the_high_water_marks():
    from catalog.mlflow_source import cursor_usable, merge_cursor

    stored = {
        "version": 1, "instance": "mlflow", "experiments": {"1": "e"},
        "runs": {"start_hwm": 10, "end_hwm": 20, "seen": {"r1": "FINISHED:20"}, "open": ["r2"]},
        "logged_models": {"hwm": 5, "seen": {}},
        "registered_models": {"a": "fa", "gone": "fg"},
        "model_versions": {"a": {"1": "x:r1"}, "gone": {"1": "y:r3"}},
    }
    patch = {"registered_models": {"a": "fa2", "b": "fb", "gone": None},
             "model_versions": {"a": {"2": "z:r4", "1": "x2:r1"}, "b": {}, "gone": None}}

    merged = merge_cursor(stored, patch, "mlflow")

    assert merged == {**stored, "registered_models": {"a": "fa2", "b": "fb"},
                      "model_versions": {"a": {"1": "x2:r1", "2": "z:r4"}}}
    assert cursor_usable(merged, "mlflow") and not cursor_usable(merged, "other")
    assert merge_cursor(None, patch, "mlflow") is None
    assert merge_cursor({**stored, "instance": "other"}, patch, "mlflow") is None
