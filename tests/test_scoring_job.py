"""``catalog score`` end to end on real Spark, a real MLflow store, a real catalog, Delta on disk.

The seeds' pipeline governed: CSV stream (available-now) -> compliance gate -> schema gate
-> row checks -> spark_udf -> predictions and quarantine as Delta -> a scoring run in the
lineage with its drift. Plus every way the issue says it must refuse before writing.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from catalog.cli import cli
from catalog.config import Settings
from catalog.service import Catalog
from tests.mlflow_fixtures import copy_store, mlflow_store  # noqa: F401 - fixture
from tests.spark_fixtures import spark  # noqa: F401 - fixture

LINEAGE = """\
version: 1
cluster: cm
datasets:
  default.wineds_ext@cm:
    classifications: [PII]
    format: csv
    schema: {fixed acidity: double, alcohol: double, quality: int}
  incoming:
    type: fs_path
    path: incoming/
    format: csv
    schema: {fixed acidity: double, alcohol: double}
models:
  wine-quality:
    owner: ml-team@example.com
    purpose: grades wine
    training: {datasets: [default.wineds_ext@cm]}
deployments:
  wine-stream:
    model: models:/wine-quality@champion
    mode: streaming
    target: prod
    input: incoming
    output: {path: out/predictions, format: delta}
    checkpoint: out/checkpoint
    expectations: suite.json
policy:
  targets:
    prod:
      rules:
        classifications-allowed: {allow: [PII]}
        training-data-agrees: 'off'
        expectations-pass: 'off'
"""

SUITE = {"name": "wine", "expectations": [
    {"type": "expect_column_values_to_be_between", "kwargs": {"column": "alcohol", "min_value": 5, "max_value": 16}},
    {"type": "expect_column_values_to_be_between", "kwargs": {"column": "fixed acidity", "max_value": 9},
     "meta": {"action": "warn", "id": "acidity-high"}},
]}

GOOD = ["7.1,9.5", "7.4,10.1", "9.5,11.0", "7.0,12.2"]  # the third is warned (acidity-high), not quarantined
BAD = {
    "7.2,40.0": "column_values_to_be_between:alcohol",  # out of range
    "7.3,": "null-input",  # a null
    "NaN,10.0": "null-input",  # NaN is null to the model
    "7.5,Infinity": "non-finite-input",
    "abc,10.5": "malformed-line",  # text in a double column: Spark's corrupt record (and a null to the model)
    "7.6,10.6,1,2": "malformed-line",  # too many fields
}


def _training_table(root: Path) -> None:
    table = root / "warehouse" / "default.db" / "wineds_ext"
    table.mkdir(parents=True)
    rows = [f"{7.0 + (i % 5) * 0.3:.1f},{9.0 + (i % 7) * 0.4:.1f},{5 + i % 3}" for i in range(40)]
    (table / "part-0.csv").write_text("fixed acidity,alcohol,quality\n" + "\n".join(rows) + "\n")


@pytest.fixture
def project(mlflow_store, tmp_path: Path):  # noqa: F811 - fixture
    mlflow = copy_store(mlflow_store, tmp_path)
    (tmp_path / "lineage.yml").write_text(LINEAGE)
    (tmp_path / "suite.json").write_text(json.dumps(SUITE))
    incoming = tmp_path / "incoming"
    incoming.mkdir()
    (incoming / "a.csv").write_text("fixed acidity,alcohol\n" + "\n".join(GOOD[:2]) + "\n")
    (incoming / "b.csv").write_text("fixed acidity,alcohol\n" + "\n".join([*GOOD[2:], *BAD]) + "\n")
    _training_table(tmp_path)
    env = {"CATALOG_DATABASE_URL": f"sqlite:///{tmp_path / 'catalog.db'}", "CATALOG_MLFLOW_URI": mlflow.uri,
           "CATALOG_LINEAGE_FILE": str(tmp_path / "lineage.yml"), "CATALOG_USER": "ci",
           "CATALOG_SPARK_WAREHOUSE": str(tmp_path / "warehouse")}
    result = CliRunner().invoke(cli, ["ingest"], env=env)
    assert result.exit_code in (0, 1), result.output
    return tmp_path, env


def settings_of(env: dict[str, str]) -> Settings:
    return Settings(database_url=env["CATALOG_DATABASE_URL"], mlflow_uri=env["CATALOG_MLFLOW_URI"],
                    lineage_file=env["CATALOG_LINEAGE_FILE"], user="ci", spark_warehouse=env["CATALOG_SPARK_WAREHOUSE"])


def run(env: dict[str, str], *args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(cli, list(args), env=env)
    if result.exception and not isinstance(result.exception, SystemExit):
        raise result.exception
    return result.exit_code, result.stdout, result.stderr


def delta_rows(path: Path) -> list[dict]:
    from deltalake import DeltaTable

    return DeltaTable(str(path)).to_pyarrow_table().to_pylist()


def scoring_runs(env: dict[str, str]) -> list:
    with Catalog(settings_of(env)) as catalog:
        return catalog.search(type_name="ml_scoring_process", limit=50)


def test_the_seeds_pipeline_runs_governed_and_conserves_every_row(project, spark):  # noqa: F811
    root, env = project
    code, out, err = run(env, "score", "wine-stream", "--available-now")
    assert code == 0, err + out
    predictions = delta_rows(root / "out" / "predictions")
    quarantine = delta_rows(root / "out" / "predictions_quarantine")
    assert sorted((r["fixed acidity"], r["alcohol"]) for r in predictions) == sorted(
        tuple(float(v) for v in line.split(",")) for line in GOOD)
    assert len(quarantine) == len(BAD)
    by_line = {r["raw_line"]: r["failed_rules"] for r in quarantine if r["raw_line"]}
    assert by_line == {"abc,10.5": ["malformed-line", "null-input"], "7.6,10.6,1,2": ["malformed-line"]}
    rules = sorted(rule for r in quarantine for rule in r["failed_rules"])
    # +inf also fails the range, a malformed line's empty field is also a null to the model
    assert rules == sorted([*BAD.values(), "null-input", "column_values_to_be_between:alcohol"])
    assert {r["source_file"].rsplit("/", 1)[1] for r in quarantine} == {"b.csv"}
    warned = {r["fixed acidity"]: r["warned_rules"] for r in predictions}
    assert warned[9.5] == ["acidity-high"] and warned[7.1] == []
    ids = [r["prediction_id"] for r in predictions + quarantine]
    assert len(set(ids)) == len(ids) == len(GOOD) + len(BAD)
    assert {r["model_version"] for r in predictions} == {"wine-quality/1@mlflow"}
    assert all(isinstance(r["prediction"], float) for r in predictions)
    assert f"rows: {len(GOOD) + len(BAD)} in = {len(GOOD)} scored + {len(BAD)} quarantined (1 warned)" in out


def test_the_run_is_recorded_downstream_of_the_deployment_with_counts_drift_and_pii(project, spark):  # noqa: F811
    root, env = project
    code, out, err = run(env, "score", "wine-stream")
    assert code == 0, err + out
    [entity] = scoring_runs(env)
    attrs = entity.attributes
    assert (attrs["rowsIn"], attrs["rowsScored"], attrs["rowsQuarantined"]) == (10, 4, 6)
    assert attrs["status"] == "SUCCEEDED" and attrs["modelVersion"] == "wine-quality/1@mlflow"
    assert len(attrs["ruleFingerprint"]) == 64 and attrs["sparkAppId"].startswith("local-")
    assert attrs["queryId"].startswith("query-")
    batches = json.loads(attrs["checkResults"])["batches"]
    assert sum(b["rows_in"] for b in batches) == 10
    assert all(b["rows_in"] == b["rows_scored"] + b["rows_quarantined"] for b in batches)
    drift = json.loads(attrs["drift"])
    assert set(drift["features"]) == {"fixed acidity", "alcohol"} and drift["verdict"] in ("ok", "drift")
    assert "psi" in drift["features"]["alcohol"] and drift["prediction"] is not None
    with Catalog(settings_of(env)) as catalog:
        graph = catalog.lineage("ml_deployment:wine-stream:prod@cm", direction="OUTPUT", depth=2)
        names = {e.qualified_name for e in graph.entities.values()}
        assert entity.qualified_name in names and "out/predictions@cm" in names
        table = catalog.resolve("fs_path:out/predictions@cm")
        assert "PII" in {c.type_name for c in table.classifications}  # training data -> model -> deployment -> run


def test_a_promotion_during_the_run_does_not_change_the_model_scored(project, spark):  # noqa: F811
    root, env = project
    from mlflow.tracking import MlflowClient

    from catalog.scoring.job import score

    client = MlflowClient(tracking_uri=env["CATALOG_MLFLOW_URI"], registry_uri=env["CATALOG_MLFLOW_URI"])
    said = []

    def say(line: str) -> None:
        said.append(line)
        if line.startswith("compliance: PASS"):
            client.set_registered_model_alias("wine-quality", "champion", "2")  # promoted mid-run

    with Catalog(settings_of(env)) as catalog:
        run_ = score(catalog, "wine-stream", say=say)
    assert run_.model_uri == "models:/wine-quality/1"
    assert {r["model_version"] for r in delta_rows(root / "out" / "predictions")} == {"wine-quality/1@mlflow"}
    assert str(client.get_model_version_by_alias("wine-quality", "champion").version) == "2"


def test_an_all_string_csv_is_stopped_before_scoring_naming_the_columns(project, spark):  # noqa: F811
    root, env = project
    (root / "lineage.yml").write_text(LINEAGE.replace(
        "    schema: {fixed acidity: double, alcohol: double}\n", "", 1).replace(
        "expectations-pass: 'off'", "expectations-pass: 'off'\n        signature-matches-input: 'off'"))
    code, out, err = run(env, "score", "wine-stream")
    assert code == 1, err + out
    assert "does not fit models:/wine-quality/1's signature (2 column(s))" in err
    assert "fixed acidity: string, expected double" in err and "alcohol: string, expected double" in err
    assert not (root / "out" / "predictions" / "_delta_log").exists()


def test_a_deployment_that_is_not_compliant_is_refused_with_the_report(project, spark):  # noqa: F811
    root, env = project
    (root / "lineage.yml").write_text(LINEAGE.replace("        expectations-pass: 'off'\n",
                                                      "        expectations-pass: 'off'\n"
                                                      "        alias-approved: {aliases: [gold]}\n"))
    code, out, err = run(env, "score", "wine-stream")
    assert code == 1, err + out
    assert "FAIL    alias-approved" in err
    assert "deployment wine-stream is not compliant for target 'prod' (verdict fail); nothing was scored" in err
    assert not (root / "out" / "predictions").exists() and scoring_runs(env) == []


def test_a_fail_rule_stops_the_batch_before_anything_is_written(project, spark):  # noqa: F811
    root, env = project
    suite = {"name": "wine", "expectations": [{"type": "expect_column_values_to_be_between",
             "kwargs": {"column": "alcohol", "max_value": 16}, "meta": {"action": "fail"}}]}
    (root / "suite.json").write_text(json.dumps(suite))
    code, out, err = run(env, "score", "wine-stream")
    assert code == 1, err + out
    assert "rule column_values_to_be_between:alcohol: 2 of 10 rows (20.00%) failed, action fail" in err
    assert "stopped before anything was written" in err
    assert not (root / "out" / "predictions" / "_delta_log").exists()
    [entity] = scoring_runs(env)
    assert entity.attributes["status"] == "FAILED" and "action fail" in json.loads(
        entity.attributes["checkResults"])["error"]


def test_a_quarantine_threshold_fails_the_batch(project, spark):  # noqa: F811
    root, env = project
    suite = {"name": "wine", "expectations": [{"type": "expect_column_values_to_be_between",
             "kwargs": {"column": "alcohol", "max_value": 16}, "meta": {"max_rows": 0}}]}
    (root / "suite.json").write_text(json.dumps(suite))
    code, out, err = run(env, "score", "wine-stream")
    assert code == 1 and "over its threshold (max_rows 0)" in err, err


def test_a_checkpoint_of_another_query_and_an_unwritable_output_are_refused(project, spark):  # noqa: F811
    root, env = project
    (root / "out" / "checkpoint").mkdir(parents=True)
    (root / "out" / "checkpoint" / "metadata").write_text('{"id":"someone-else"}\n')
    code, _, err = run(env, "score", "wine-stream")
    assert code == 2 and "holds another query's state" in err, err
    (root / "blocker").write_text("a file, not a folder")
    (root / "lineage.yml").write_text(LINEAGE.replace("path: out/predictions", "path: blocker/predictions"))
    code, _, err = run(env, "score", "wine-stream")
    assert code == 2 and "output 'blocker/predictions'" in err and "is not writable" in err, err


def test_unknown_and_online_deployments_name_the_key(project, spark):  # noqa: F811
    root, env = project
    code, _, err = run(env, "score", "wine-strem")
    assert code == 2 and "deployments.wine-strem: no such deployment; did you mean 'wine-stream'" in err, err
    code, _, err = run(env, "score", "wine-stream", "--once", "--trigger", "1 minute")
    assert code == 2 and "--trigger runs until stopped" in err


def test_a_replayed_batch_writes_nothing_twice(project, spark):  # noqa: F811
    root, env = project
    from catalog.scoring.batch import score_batch
    from catalog.scoring.job import RunSummary, _context
    from catalog.scoring.source import read_input
    from catalog.compliance.record import load_document
    from catalog.scoring.deployment import resolve_setup

    with Catalog(settings_of(env)) as catalog:
        setup = resolve_setup(load_document(catalog, required=True), "wine-stream", warehouse=env["CATALOG_SPARK_WAREHOUSE"])
        summary = RunSummary("r1", setup.qualified_name, "wine-quality/1@mlflow", "models:/wine-quality/1", setup=setup)
        ctx = _context(catalog, spark, setup, summary, say=lambda _line: None)
    ctx.app_id = "query-test"
    frame = read_input(spark, setup, streaming=False)
    first = score_batch(frame, 7, ctx)
    again = score_batch(frame, 7, ctx)
    assert first.status == "written" and again.status == "replayed"
    assert (again.rows_in, again.rows_scored, again.rows_quarantined) == (10, 4, 6)
    assert len(delta_rows(setup.output.path)) == 4 and len(delta_rows(setup.quarantine.path)) == 6
    assert score_batch(frame, 8, ctx).status == "written"
    assert len(delta_rows(setup.output.path)) == 8


def test_an_empty_batch_and_extra_columns_are_handled_by_rule(project, spark):  # noqa: F811
    root, env = project
    for f in (root / "incoming").iterdir():
        f.unlink()
    (root / "incoming" / "a.csv").write_text("fixed acidity,alcohol,colour\n7.1,9.5,red\n")
    (root / "incoming" / "b.csv").write_text("fixed acidity,alcohol,colour\n")
    code, out, err = run(env, "score", "wine-stream")
    assert code == 0, err + out
    [row] = delta_rows(root / "out" / "predictions")
    assert row["colour"] == "red" and row["alcohol"] == 9.5


def test_a_failing_schema_rule_quarantines_the_whole_batch_by_default(project, spark):  # noqa: F811
    root, env = project
    suite = {"name": "wine", "expectations": [{"type": "expect_column_to_exist", "kwargs": {"column": "colour"}}]}
    (root / "suite.json").write_text(json.dumps(suite))
    code, out, err = run(env, "score", "wine-stream")
    assert code == 0, err + out
    assert not (root / "out" / "predictions" / "_delta_log").exists()
    quarantine = delta_rows(root / "out" / "predictions_quarantine")
    assert len(quarantine) == 10 and all("column_to_exist:colour" in r["failed_rules"] for r in quarantine)
    assert "rows: 10 in = 0 scored + 10 quarantined" in out


def test_a_model_that_does_not_resolve_is_refused_before_spark_writes(project, spark):  # noqa: F811
    root, env = project
    (root / "lineage.yml").write_text(LINEAGE.replace("models:/wine-quality@champion", "models:/wine-quality@ghost"))
    code, out, err = run(env, "score", "wine-stream")
    assert code == 2, err + out
    assert "ghost" in err and "nothing was scored" in err
    assert not (root / "out" / "predictions").exists()


def _commits(table: Path) -> int:
    log = table / "_delta_log"
    return len(list(log.glob("*.json"))) if log.is_dir() else 0


def test_a_query_killed_mid_stream_and_restarted_writes_every_row_exactly_once(project):
    import os
    import signal
    import subprocess
    import sys
    import time

    root, env = project
    incoming = root / "incoming"
    for f in incoming.iterdir():
        f.unlink()
    expected = set()
    for k in range(8):
        rows = [(round(7.0 + k * 0.1 + j * 0.001, 3), 10.0) for j in range(25)]
        expected |= set(rows)
        (incoming / f"part-{k:02d}.csv").write_text(
            "fixed acidity,alcohol\n" + "\n".join(f"{a},{b}" for a, b in rows) + "\n")
    catalog_cmd = str(Path(sys.executable).with_name("catalog"))
    full_env = {**os.environ, **env, "CATALOG_SPARK_LOG_LEVEL": "ERROR"}
    table = root / "out" / "predictions"
    log = root / "first.log"
    with log.open("wb") as stderr:
        first = subprocess.Popen([catalog_cmd, "score", "wine-stream", "--trigger", "1 second",
                                  "--max-files-per-trigger", "1"], env=full_env, cwd=root, start_new_session=True,
                                 stdout=subprocess.DEVNULL, stderr=stderr)
        deadline = time.monotonic() + 240
        while _commits(table) < 2 and first.poll() is None and time.monotonic() < deadline:
            time.sleep(0.05)
        os.killpg(first.pid, signal.SIGKILL)  # the driver and Spark's JVM, mid-stream, no goodbye
        first.wait(30)
    written_before = _commits(table)
    assert 2 <= written_before < 8, log.read_text()[-3000:]
    again = subprocess.run([catalog_cmd, "score", "wine-stream", "--available-now"], env=full_env, cwd=root,
                           capture_output=True, text=True, timeout=400)
    assert again.returncode == 0, again.stderr[-3000:]
    rows = delta_rows(table)
    ids = [r["prediction_id"] for r in rows]
    assert len(ids) == len(set(ids)) == len(expected) == 200  # nothing lost, nothing twice
    assert {(r["fixed acidity"], r["alcohol"]) for r in rows} == expected


def test_a_spark_error_mid_run_is_one_clear_line_and_the_run_is_recorded_failed(project, spark):  # noqa: F811
    root, env = project
    # a later file whose header names the columns in another order: Spark refuses it (enforceSchema=false)
    (root / "incoming" / "c.csv").write_text("alcohol,fixed acidity\n9.9,7.7\n")
    code, out, err = run(env, "score", "wine-stream")
    assert code == 2, err + out
    assert "error: scoring wine-stream failed: " in err and "Traceback" not in err
    assert "CSV header does not conform to the schema" in err or "header" in err.lower()
    [entity] = scoring_runs(env)
    assert entity.attributes["status"] == "FAILED"
    assert entity.attributes["rowsIn"] == entity.attributes["rowsScored"] + entity.attributes["rowsQuarantined"]


def test_input_columns_named_like_the_added_ones_are_refused(project, spark):  # noqa: F811
    root, env = project
    for f in (root / "incoming").iterdir():
        f.unlink()
    (root / "incoming" / "a.csv").write_text("fixed acidity,alcohol,prediction\n7.1,9.5,3\n")
    code, _, err = run(env, "score", "wine-stream")
    assert code == 2 and "input column(s) 'prediction' would collide with a column the job adds" in err, err


def test_a_run_of_no_rows_does_not_hide_the_drift_of_the_last_run_that_scored(project, spark):  # noqa: F811
    root, env = project
    assert run(env, "score", "wine-stream")[0] == 0
    assert run(env, "score", "wine-stream")[0] == 0  # nothing new: 0 rows
    runs = sorted(scoring_runs(env), key=lambda e: e.attributes["startTime"])
    assert [r.attributes["rowsScored"] for r in runs] == [4, 0]
    code, out, _ = run(env, "check", "wine-stream", "--format", "json", "--no-record")
    found = next(r for r in json.loads(out)["results"] if r["rule"] == "no-drift")
    assert found["evidence"]["runs"][0]["qualifiedName"] == runs[0].qualified_name


def test_a_batch_deployment_scores_a_warehouse_table_into_parquet(project, spark):  # noqa: F811
    import pyarrow as pa
    import pyarrow.parquet as pq

    root, env = project
    table = root / "warehouse" / "default.db" / "wine_nolabel"
    table.mkdir(parents=True)
    pq.write_table(pa.table({"fixed acidity": [7.1, 7.4, None], "alcohol": [9.5, 10.1, 11.0]}), table / "part-0.parquet")
    lineage = LINEAGE.replace("deployments:\n", """deployments:
  wine-batch:
    model: models:/wine-quality@champion
    mode: batch
    input: default.wine_nolabel@cm
    output: {path: out/batch, format: parquet}
""").replace("  incoming:\n", "  default.wine_nolabel@cm: {format: parquet, schema: {fixed acidity: double, alcohol: double}}\n  incoming:\n")
    (root / "lineage.yml").write_text(lineage)
    assert run(env, "ingest")[0] in (0, 1)
    code, out, err = run(env, "score", "wine-batch")
    assert code == 0, err + out
    assert "rows: 3 in = 2 scored + 1 quarantined (0 warned)" in out
    scored = pq.read_table(root / "out" / "batch").to_pylist()
    assert sorted(r["alcohol"] for r in scored) == [9.5, 10.1]
    assert pq.read_table(root / "out" / "batch_quarantine").to_pylist()[0]["failed_rules"] == ["null-input"]
    files = sorted(p.name for p in (root / "out" / "batch").glob("*.parquet"))
    assert len(files) == 1 and files[0].endswith("-00000000.parquet")  # one file per (run, batch)


def test_the_session_the_job_starts_has_a_driver_heap_of_two_gigabytes(spark):  # noqa: F811
    """A million-row batch is collected to the driver as Arrow; with Spark's 1 GB default heap
    a task's result was now and then dropped before it was fetched (TaskResultLost)."""
    heap = spark.sparkContext._jvm.java.lang.Runtime.getRuntime().maxMemory()
    assert heap > 1.8 * 2**30, f"the driver's heap is {heap / 2**30:.2f} GiB"
    assert spark.sparkContext.getConf().get("spark.driver.memory") == "2g"
