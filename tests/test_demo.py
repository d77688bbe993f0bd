"""The demo: its wine data generator, and ``python -m demo.run`` end to end.

The end-to-end tests run the demo once per module in a temporary directory (its
own lineage.yml copy, catalog.db and mlflow.db), then query it with the real
``catalog`` console script, as the README does.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import shutil
import socket
import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest

from demo import data
from demo import run as demo_run

REPO = Path(__file__).resolve().parents[1]
CATALOG = Path(sys.executable).parent / "catalog"
UCI_COLUMNS = [
    "fixed acidity", "volatile acidity", "citric acid", "residual sugar", "chlorides",
    "free sulfur dioxide", "total sulfur dioxide", "density", "pH", "sulphates", "alcohol", "quality",
]

# ---------------------------------------------------------------- the generator


def test_generated_columns_are_the_uci_attributes_then_quality():
    wine = data.generate_wine()
    assert list(wine.columns) == UCI_COLUMNS
    assert len(wine) == 1599


def test_generator_is_deterministic_for_a_seed():
    assert data.generate_wine(seed=7).equals(data.generate_wine(seed=7))
    assert not data.generate_wine(seed=7).equals(data.generate_wine(seed=8))


def test_attributes_stay_in_the_uci_ranges():
    wine = data.generate_wine()
    ranges = {  # min and max seen in the UCI red wine data
        "fixed acidity": (4.6, 15.9), "volatile acidity": (0.12, 1.58), "citric acid": (0.0, 1.0),
        "residual sugar": (0.9, 15.5), "chlorides": (0.012, 0.611), "free sulfur dioxide": (1, 72),
        "total sulfur dioxide": (6, 289), "density": (0.990, 1.004), "pH": (2.74, 4.01),
        "sulphates": (0.33, 2.0), "alcohol": (8.4, 14.9),
    }
    for column, (low, high) in ranges.items():
        assert wine[column].between(low, high).all(), column
        assert wine[column].dtype == np.float64, column
    assert (wine["total sulfur dioxide"] >= wine["free sulfur dioxide"]).all()
    assert wine.notna().all().all()


def test_quality_is_an_integer_grade_from_3_to_9():
    quality = data.generate_wine()["quality"]
    assert quality.dtype == np.int64
    assert quality.between(3, 9).all()
    assert 5.3 < quality.mean() < 6.0
    assert quality.nunique() >= 5


def test_quality_rises_with_alcohol_and_sulphates_and_falls_with_volatile_acidity():
    corr = data.generate_wine().corr()
    assert corr.loc["quality", "alcohol"] > 0.3
    assert corr.loc["quality", "sulphates"] > 0.1
    assert corr.loc["quality", "volatile acidity"] < -0.15
    assert corr.loc["fixed acidity", "pH"] < -0.5
    assert corr.loc["alcohol", "density"] < -0.3


def test_demo_files_are_a_hive_warehouse_and_incoming_csvs(tmp_path):
    paths = data.write_demo_data(tmp_path / "data")
    assert paths.table == tmp_path / "data/warehouse/default.db/wineds_ext/part-0.csv"
    table = data.read_table(paths.table)
    assert table.equals(data.generate_wine())
    assert list(data.read_table(paths.nolabel_table).columns) == UCI_COLUMNS[:-1]
    assert [p.name for p in paths.incoming] == ["wine-0001.csv", "wine-0002.csv", "wine-0003.csv"]
    for path in paths.incoming:
        assert path.parent == tmp_path / "data/incoming"
        assert list(data.read_table(path).columns) == UCI_COLUMNS[:-1]


# ---------------------------------------------------------------- end to end


@dataclass(frozen=True)
class DemoDir:
    root: Path
    env: dict[str, str]
    code: int
    output: str

    @property
    def mlflow_uri(self) -> str:
        return self.env["CATALOG_MLFLOW_URI"]

    def catalog(self, *args: str) -> subprocess.CompletedProcess[str]:
        """The real ``catalog`` console script, run from the demo directory."""
        return subprocess.run(
            [str(CATALOG), *args], check=False, cwd=self.root, env=self.env, capture_output=True, text=True, timeout=60
        )

    def audit_rows(self, source: str | None = None) -> int:
        """Audit events in the demo's catalog (of one source, or of every source but the check's and scoring's)."""
        with contextlib.closing(sqlite3.connect(self.root / "catalog.db")) as con:
            if source is None:
                return con.execute("SELECT count(*) FROM audit_event WHERE source NOT IN "
                                   "('catalog-check', 'catalog-score')").fetchone()[0]
            return con.execute("SELECT count(*) FROM audit_event WHERE source = ?", (source,)).fetchone()[0]


def _demo_env(root: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("CATALOG_", "MLFLOW_TRACKING", "MLFLOW_REGISTRY"))}
    env.update(demo_run.ENVIRONMENT)
    env["CATALOG_DATABASE_URL"] = f"sqlite:///{root / 'catalog.db'}"
    env["CATALOG_MLFLOW_URI"] = f"sqlite:///{root / 'mlflow.db'}"
    return env


def _run_demo(root: Path, env: dict[str, str]) -> tuple[int, str, list[object]]:
    """``demo.run.main()`` in ``root`` with ``env``; records any network connection attempt."""
    attempts: list[object] = []
    real_connect = socket.socket.connect

    def connect(sock: socket.socket, address: object) -> None:
        host = address[0] if isinstance(address, tuple) else None
        if sock.family != socket.AF_UNIX and host not in ("127.0.0.1", "::1", "localhost"):
            attempts.append(address)
        return real_connect(sock, address)

    out = io.StringIO()
    with pytest.MonkeyPatch.context() as mp:
        mp.chdir(root)
        for key in [k for k in os.environ if k not in env]:
            mp.delenv(key)
        for key, value in env.items():
            mp.setenv(key, value)
        mp.setattr(socket.socket, "connect", connect)
        with contextlib.redirect_stdout(out):
            code = demo_run.main([])
    return code, out.getvalue(), attempts


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DemoDir]:
    root = tmp_path_factory.mktemp("demo")
    shutil.copyfile(REPO / "lineage.yml", root / "lineage.yml")
    shutil.copytree(REPO / "expectations", root / "expectations")
    env = _demo_env(root)
    code, output, attempts = _run_demo(root, env)
    assert attempts == [], "the demo tried the network (beyond loopback, where Spark's JVM listens)"
    yield DemoDir(root, env, code, output)


def test_demo_prints_each_step_and_exits_0(demo):
    assert demo.code == 0, demo.output
    lines = demo.output.splitlines()
    for step in ("generating data…", "training…", "ingesting…"):
        assert any(line.startswith(step) for line in lines), (step, demo.output)
    assert "registered wine-quality version 1, alias champion" in demo.output
    assert "$ catalog lineage models:/wine-quality@champion --direction both" in demo.output
    assert "$ catalog check wine-quality-stream" in demo.output
    assert "PASS    signature-matches-input" in demo.output
    # the bad rows of wine-0003.csv: the check warns (lineage.yml), the scoring job quarantines them
    assert "WARN    expectations-pass        4 of 44 expectations failed on 104 rows" in demo.output
    assert "11 passed, 1 warning, 0 failed, 0 waived, 0 errors" in demo.output


def test_demo_ingest_records_no_findings(demo):
    assert ", 0 findings" in demo.output
    assert "finding [" not in demo.output
    result = demo.catalog("findings")
    assert (result.returncode, result.stdout) == (0, ""), result.stderr


def test_demo_writes_data_and_artifacts_inside_its_directory(demo):
    assert (demo.root / "data/warehouse/default.db/wineds_ext/part-0.csv").is_file()
    assert (demo.root / "data/warehouse/default.db/wineds_ext_nolabel/part-0.csv").is_file()
    assert sorted(p.name for p in (demo.root / "data/incoming").iterdir()) == [
        "wine-0001.csv", "wine-0002.csv", "wine-0003.csv"]
    from mlflow.tracking import MlflowClient

    client = MlflowClient(tracking_uri=demo.mlflow_uri, registry_uri=demo.mlflow_uri)
    version = client.get_model_version_by_alias("wine-quality", "champion")
    artifact_uri = client.get_run(version.run_id).info.artifact_uri
    assert artifact_uri.startswith((demo.root / "mlartifacts").as_uri()), artifact_uri
    assert any((demo.root / "mlartifacts").rglob("MLmodel"))


def test_mlflow_has_wine_quality_v1_as_champion_trained_on_the_table(demo):
    from mlflow.tracking import MlflowClient

    client = MlflowClient(tracking_uri=demo.mlflow_uri, registry_uri=demo.mlflow_uri)
    version = client.get_model_version_by_alias("wine-quality", "champion")
    assert str(version.version) == "1"
    run = client.get_run(version.run_id)
    assert set(run.data.metrics) >= {"rmse", "mae", "r2"}
    assert run.data.metrics["rmse"] <= 0.8  # lineage.yml's policy
    assert {"alpha", "l1_ratio"} <= set(run.data.params)
    inputs = run.inputs.dataset_inputs
    assert [i.dataset.name for i in inputs] == ["default.wineds_ext"]
    assert json.loads(inputs[0].dataset.source) == {"table_name": "default.wineds_ext"}
    assert {(t.key, t.value) for t in inputs[0].tags} >= {("mlflow.data.context", "training")}
    # MLflow's sqlite registry keeps the logged model in the version's source (models:/m-...).
    model = client.get_logged_model(version.model_id or version.source.removeprefix("models:/"))
    assert model.source_run_id == run.info.run_id


def test_catalog_lineage_json_is_atlas_lineage_info_from_table_to_deployment(demo):
    result = demo.catalog("lineage", "models:/wine-quality@champion", "--format", "json")
    assert result.returncode == 0, result.stderr
    info = json.loads(result.stdout)
    assert {"baseEntityGuid", "lineageDirection", "lineageDepth", "guidEntityMap", "relations"} <= set(info)
    entities = {(e["typeName"], e["attributes"]["qualifiedName"]) for e in info["guidEntityMap"].values()}
    assert ("hive_table", "default.wineds_ext@cm") in entities
    assert ("ml_model_version", "wine-quality/1@mlflow") in entities
    assert any(t == "ml_training_run" for t, _ in entities)
    assert any(t == "ml_deployment" for t, _ in entities)
    base = info["guidEntityMap"][info["baseEntityGuid"]]
    assert base["attributes"]["qualifiedName"] == "wine-quality/1@mlflow"


def test_catalog_lineage_text_walks_from_table_through_run_and_version_to_deployment(demo):
    result = demo.catalog("lineage", "models:/wine-quality@champion", "--direction", "both")
    assert result.returncode == 0, result.stderr
    paths = [line.strip() for line in result.stdout.splitlines() if line.strip().startswith("default.wineds_ext@cm →")]
    assert any(
        "[ml_training_run] → wine-quality v1 [ml_model_version] →" in p
        and "wine-quality-stream (prod) [ml_deployment] → score wine-quality-stream" in p
        and p.endswith("[ml_scoring_process] → data/predictions/@cm")
        for p in paths
    ), result.stdout
    printed = demo.output.split("$ catalog lineage", 1)[1].split("$ catalog check", 1)[0].splitlines()[2:]
    now = [line.strip() for line in result.stdout.splitlines()[1:]]
    # what the demo printed, before its scoring run extended the stream deployment's paths
    assert printed and all(any(n.startswith(p.strip()) for n in now) for p in printed if p.strip()), printed
    assert any(n.endswith("[ml_scoring_process] → data/predictions/@cm") for n in now), now


@dataclass(frozen=True)
class SecondRun:
    code: int
    output: str
    network: list[object]
    audit_before: int
    audit_after: int


@pytest.fixture(scope="module")
def second_run(demo: DemoDir) -> SecondRun:
    before = demo.audit_rows()
    code, output, attempts = _run_demo(demo.root, demo.env)
    return SecondRun(code, output, attempts, before, demo.audit_rows())


def test_second_demo_run_reuses_the_model_and_creates_no_version_2(demo, second_run):
    assert second_run.code == 0, second_run.output
    assert second_run.network == []
    assert "training… skipped: wine-quality already has version 1" in second_run.output
    from mlflow.tracking import MlflowClient

    client = MlflowClient(tracking_uri=demo.mlflow_uri, registry_uri=demo.mlflow_uri)
    assert [str(v.version) for v in client.search_model_versions("name = 'wine-quality'")] == ["1"]
    assert "default.wineds_ext@cm →" in second_run.output


def test_second_demo_run_writes_nothing_to_the_catalog_but_the_checks_evidence(demo, second_run):
    assert second_run.audit_after == second_run.audit_before, second_run.output
    assert "(nothing written)" in second_run.output
    # each check is recorded (the demo's, and the one catalog score runs before scoring): its
    # verdict and evidence head on the deployment and the version
    assert demo.audit_rows("catalog-check") == 8
    with contextlib.closing(sqlite3.connect(demo.root / "catalog.db")) as con:
        assert con.execute("SELECT count(*), min(seq), max(seq) FROM evidence").fetchone() == (4, 1, 4)


def test_demo_scores_the_stream_once_and_quarantines_the_bad_rows(demo):
    from deltalake import DeltaTable

    assert "$ catalog score wine-quality-stream --available-now" in demo.output
    assert "rows: 104 in = 100 scored + 4 quarantined (0 warned)" in demo.output
    assert f"quarantine:  {demo.root / 'data/predictions_quarantine'} (delta)" in demo.output
    assert "  drift: " in demo.output and "    prediction: " in demo.output
    bad = DeltaTable(str(demo.root / "data/predictions_quarantine")).to_pyarrow_table().to_pylist()
    assert sorted(r["source_file"].rsplit("/", 1)[1] for r in bad) == ["wine-0003.csv"] * 4
    assert all(r["failed_rules"] for r in bad)
    predictions = DeltaTable(str(demo.root / "data/predictions")).to_pyarrow_table()
    assert predictions.num_rows == 100 and set(predictions.column("model_version").to_pylist()) == {
        "wine-quality/1@mlflow"}


def test_second_demo_run_scores_nothing_twice(demo, second_run):
    assert "rows: 0 in = 0 scored + 0 quarantined (0 warned)" in second_run.output
    from deltalake import DeltaTable

    assert DeltaTable(str(demo.root / "data/predictions")).to_pyarrow_table().num_rows == 100
