"""``catalog check`` end to end: a real MLflow store, a real catalog, files on disk, the CLI's exit codes.

Covers the seeds' case (an all-string CSV against a double signature), int64 against
double, every output format, evidence (stored, chained, tamper detected, history), the
model card, the suite draft, and every "could not check" input (exit 2, nothing passed).
"""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest
from click.testing import CliRunner

from catalog.cli import cli
from catalog.config import Settings
from tests.mlflow_fixtures import FEATURES, copy_store, mlflow_store  # noqa: F401 - fixture

LINEAGE = """\
version: 1
cluster: cm
datasets:
  default.wineds_ext@cm: {classifications: [PII]}
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
    policy: {metrics: {rmse: "<= 0.8"}}
deployments:
  wine-stream:
    model: models:/wine-quality@champion
    mode: streaming
    target: prod
    input: incoming
    expectations: suite.json
policy:
  targets:
    prod:
      rules:
        classifications-allowed: {allow: [PII]}
        training-data-agrees: 'off'
"""

SUITE = {"name": "wine", "expectations": [
    {"type": "expect_column_values_to_not_be_null", "kwargs": {"column": "alcohol"}},
    {"type": "expect_column_values_to_be_between", "kwargs": {"column": "alcohol", "min_value": 5, "max_value": 16}},
]}


@pytest.fixture
def project(mlflow_store, tmp_path: Path):  # noqa: F811 - fixture
    """A repository with lineage.yml, incoming CSVs and a suite, ingested into a new catalog."""
    mlflow = copy_store(mlflow_store, tmp_path)
    (tmp_path / "lineage.yml").write_text(LINEAGE)
    (tmp_path / "suite.json").write_text(json.dumps(SUITE))
    incoming = tmp_path / "incoming"
    incoming.mkdir()
    (incoming / "a.csv").write_text("fixed acidity,alcohol\n7.1,9.5\n7.4,10.1\n")
    settings = Settings(database_url=f"sqlite:///{tmp_path / 'catalog.db'}", mlflow_uri=mlflow.uri,
                        lineage_file=str(tmp_path / "lineage.yml"), user="ci")
    env = {"CATALOG_DATABASE_URL": settings.database_url, "CATALOG_MLFLOW_URI": mlflow.uri,
           "CATALOG_LINEAGE_FILE": settings.lineage_file, "CATALOG_USER": "ci"}
    result = CliRunner().invoke(cli, ["ingest"], env=env)
    assert result.exit_code in (0, 1), result.output
    return tmp_path, env


def run(env: dict[str, str], *args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(cli, list(args), env=env)
    if result.exception and not isinstance(result.exception, SystemExit):
        raise result.exception
    return result.exit_code, result.stdout, result.stderr


def test_the_deployment_passes_every_rule_and_the_report_pins_version_and_digests(project):
    root, env = project
    code, out, _ = run(env, "check", "wine-stream", "--format", "json")
    report = json.loads(out)
    assert code == 0 and report["verdict"] == "pass", out
    assert report["model"]["version"] == "wine-quality/1@mlflow"  # champion -> 1, resolved once
    verdicts = {r["rule"]: r["verdict"] for r in report["results"]}
    assert "training-data-agrees" not in verdicts  # 'off' in the target's policy
    assert verdicts["expectations-pass"] == verdicts["signature-matches-input"] == "pass"
    assert len(report["signatureDigest"]) == len(report["policy"]["digest"]) == len(report["sampleDigest"]) == 64
    assert report["checkedBy"] == "ci"


def test_the_seeds_all_string_csv_fails_naming_every_column_and_the_expected_type(project):
    root, env = project
    (root / "lineage.yml").write_text(LINEAGE.replace("    schema: {fixed acidity: double, alcohol: double}\n", ""))
    code, out, _ = run(env, "check", "wine-stream", "--no-record")
    assert code == 1, out
    line = next(line for line in out.splitlines() if "signature-matches-input" in line)
    assert line.startswith("FAIL")
    for column in FEATURES:
        assert f"'{column}'" in line or column in line
    assert "double" in line and "string" in line


def test_an_int64_column_against_a_double_signature_fails_as_mlflow_refuses_it(project):
    root, env = project
    (root / "lineage.yml").write_text(LINEAGE.replace("alcohol: double}", "alcohol: bigint}"))
    (root / "incoming" / "a.csv").write_text("fixed acidity,alcohol\n7.1,9\n7.4,10\n")
    code, out, _ = run(env, "check", "wine-stream", "--format", "json", "--no-record")
    found = next(r for r in json.loads(out)["results"] if r["rule"] == "signature-matches-input")
    assert code == 1 and found["verdict"] == "fail"
    assert "alcohol" in found["message"] and "double" in found["message"]
    assert "fixed acidity" not in found["message"]


def test_failing_expectations_fail_the_check_with_unexpected_counts(project):
    root, env = project
    (root / "incoming" / "a.csv").write_text("fixed acidity,alcohol\n7.1,9.5\n7.4,19.0\n7.2,21.0\n")
    code, out, _ = run(env, "check", "wine-stream", "--format", "json", "--no-record")
    found = next(r for r in json.loads(out)["results"] if r["rule"] == "expectations-pass")
    assert code == 1 and found["verdict"] == "fail"
    assert "expect_column_values_to_be_between(alcohol) 2 unexpected" in found["message"]


@pytest.mark.parametrize("fmt", ["text", "json", "junit", "sarif", "markdown"])
def test_every_format_is_written_to_the_output_file_with_the_exit_code(project, fmt):
    root, env = project
    (root / "lineage.yml").write_text(LINEAGE.replace('rmse: "<= 0.8"', 'rmse: "<= 0.1"'))
    target = root / "reports" / f"check.{fmt}"
    code, out, err = run(env, "check", "wine-stream", "--format", fmt, "--output", str(target), "--no-record")
    assert code == 1
    text = target.read_text()
    assert "metrics-threshold" in text and "rmse" in text
    assert f"report written to {target}" in err and "wine-stream: fail" in err
    assert out == ""


def test_evidence_is_stored_chained_listed_and_survives_a_re_ingest(project):
    root, env = project
    for _ in range(2):
        assert run(env, "check", "wine-stream")[0] == 0
    code, out, _ = run(env, "check", "--history", "wine-stream", "--format", "json")
    records = json.loads(out)
    assert [r["seq"] for r in records] == [2, 1] and records[0]["verdict"] == "pass"
    assert records[0]["report"]["model"]["version"] == "wine-quality/1@mlflow"
    code, out, _ = run(env, "ingest")
    assert "0 created, 0 updated" in out
    assert run(env, "evidence", "verify")[1].startswith("2 records checked: every digest and chain link holds")
    code, out, _ = run(env, "show", "ml_deployment:wine-stream:prod@cm", "--json")
    attributes = json.loads(out)["entity"]["attributes"] if "entity" in json.loads(out) else json.loads(out)["attributes"]
    assert attributes["complianceVerdict"] == "pass" and attributes["complianceEvidence"] == records[0]["digest"]


def test_an_edited_or_deleted_evidence_record_is_detected(project):
    root, env = project
    for _ in range(3):
        run(env, "check", "wine-stream")
    db = sqlite3.connect(root / "catalog.db")
    with db:
        db.execute("UPDATE evidence SET body = replace(body, '\"pass\"', '\"fail\"') WHERE seq = 1 AND chain LIKE 'wine-stream%'")
    code, out, _ = run(env, "evidence", "verify")
    assert code == 1 and "the record was edited" in out and "wine-stream:prod@cm #1" in out
    with db:
        db.execute("DELETE FROM evidence WHERE seq = 1 AND chain LIKE 'wine-stream%'")
        db.execute("DELETE FROM evidence WHERE seq = 3 AND chain LIKE 'wine-stream%'")
    code, out, _ = run(env, "evidence", "verify", "wine-stream:prod@cm")
    assert code == 1
    assert "record #1 is missing (deleted)" in out
    assert "the newest record was deleted or replaced" in out
    db.close()


def test_a_model_ref_is_checked_against_a_target_with_deployment_rules_not_applicable(project):
    root, env = project
    code, out, _ = run(env, "check", "models:/wine-quality/2", "--target", "prod", "--format", "json")
    report = json.loads(out)
    by_rule = {r["rule"]: r for r in report["results"]}
    assert code == 1 and report["model"]["version"] == "wine-quality/2@mlflow"
    assert by_rule["alias-approved"]["verdict"] == "fail"  # version 2 carries no alias
    assert by_rule["signature-matches-input"]["applicable"] is False


def test_a_waiver_in_lineage_yml_lets_the_failure_through_counted_apart(project):
    root, env = project
    text = LINEAGE.replace('rmse: "<= 0.8"', 'rmse: "<= 0.1"') + (
        "  waivers:\n    - {rule: metrics-threshold, scope: 'models:/wine-quality/1', reason: 'new data next sprint',"
        " approver: risk@example.com, expires: 2099-01-31}\n")
    (root / "lineage.yml").write_text(text)
    code, out, _ = run(env, "check", "wine-stream")
    assert code == 0, out
    assert "1 waived" in out and "WAIVED" in out and "risk@example.com" in out


@pytest.mark.parametrize(("args", "change", "message"), [
    (["check", "wine-steam"], None, "no deployment 'wine-steam' in"),
    (["check", "models:/wine-quality@gold"], None, "models:/wine-quality@gold does not resolve"),
    (["check", "models:/nope/1"], None, "does not resolve"),
    (["check", "wine-stream", "--target", "staging"], None, "deployment 'wine-stream' targets 'prod', not 'staging'"),
    (["check", "wine-stream"], ("suite.json", "{not json"), "suite.json"),
    (["check", "wine-stream"], ("lineage.yml", LINEAGE.replace("path: incoming/", "path: missing/")), "missing"),
    (["check", "wine-stream"], ("lineage.yml", LINEAGE + "  waivers:\n    - {rule: no-such-rule, scope: wine-stream, "
                                "reason: r, approver: a, expires: 2099-01-01}\n"), "no-such-rule"),
    (["check", "wine-stream"], ("lineage.yml", LINEAGE + "  waivers:\n    - {rule: owner-declared, scope: wine-stream, "
                                "reason: r, expires: 2099-01-01}\n"), "required key 'approver' is missing"),
    (["check", "wine-stream"], ("lineage.yml", LINEAGE + "  waivers:\n    - {rule: owner-declared, scope: wine-stream, "
                                "reason: r, approver: a, expires: 2020-01-01}\n"), "expired on 2020-01-01, before it"),
])
def test_what_cannot_be_checked_exits_2_with_the_reason_and_records_no_pass(project, args, change, message):
    root, env = project
    if change is not None:
        (root / change[0]).write_text(change[1])
    code, out, err = run(env, *args)
    assert code == 2, out + err
    assert message in out + err
    db = sqlite3.connect(root / "catalog.db")
    assert db.execute("SELECT count(*) FROM evidence WHERE verdict = 'pass'").fetchone() == (0,)
    db.close()


def test_the_model_card_exports_provenance_checks_and_waivers(project):
    root, env = project
    run(env, "check", "wine-stream")
    code, out, _ = run(env, "evidence", "export", "wine-stream")
    assert code == 0
    assert "wine-quality/1@mlflow" in out and "default.wineds_ext@cm" in out and "PII" in out
    assert "metrics-threshold" in out and "ml-team@example.com" in out
    html = root / "card.html"
    assert run(env, "evidence", "export", "wine-stream", "--format", "html", "--output", str(html))[0] == 0
    assert html.read_text().lstrip().lower().startswith("<!doctype html>")


def test_expectations_suggest_drafts_a_suite_the_same_data_passes(project):
    root, env = project
    data = root / "train.csv"
    data.write_text("fixed acidity,alcohol,quality\n7.0,9.0,5\n7.3,9.4,6\n7.6,9.8,7\n")
    code, out, _ = run(env, "expectations", "suggest", "models:/wine-quality@champion", "--dataset", str(data),
                       "--output", str(root / "suite.json"))
    assert code == 0
    suite = json.loads((root / "suite.json").read_text())
    between = [e for e in suite["expectations"] if e["type"] == "expect_column_values_to_be_between"]
    assert {(e["kwargs"]["column"], e["kwargs"]["min_value"], e["kwargs"]["max_value"]) for e in between} >= {
        ("alcohol", 9.0, 9.8), ("fixed acidity", 7.0, 7.6)}
    (root / "incoming" / "a.csv").write_text("fixed acidity,alcohol\n7.1,9.5\n7.4,9.7\n")
    assert run(env, "check", "wine-stream", "--no-record")[0] == 0


def test_the_json_api_lists_a_subjects_checks_newest_first(project):
    from catalog.service import Catalog
    from tests.web_fixtures import catalog_app

    root, env = project
    run(env, "check", "wine-stream")
    run(env, "check", "wine-stream", "--target", "prod")
    settings = Settings(database_url=env["CATALOG_DATABASE_URL"], lineage_file=env["CATALOG_LINEAGE_FILE"], user="ci")
    with catalog_app(settings) as app:
        client = app.test_client()
        answer = client.get("/api/v1/checks", query_string={"ref": "wine-stream"})
        assert answer.status_code == 200
        records = answer.get_json()["items"]
        assert [r["seq"] for r in records] == [2, 1] and records[1]["prev"] == ""
        assert answer.get_json()["next"] is None
        assert records[0]["prev"] == records[1]["digest"] and records[0]["report"]["verdict"] == "pass"
        by_version = client.get("/api/v1/checks", query_string={"ref": "models:/wine-quality/1"}).get_json()["items"]
        assert [r["digest"] for r in by_version] == [r["digest"] for r in records]
        first = client.get("/api/v1/checks", query_string={"ref": "wine-stream", "limit": "1"}).get_json()
        assert [r["seq"] for r in first["items"]] == [2] and first["next"]
        rest = client.get("/api/v1/checks", query_string={"ref": "wine-stream", "limit": "1", "cursor": first["next"]})
        assert [r["seq"] for r in rest.get_json()["items"]] == [1] and rest.get_json()["next"] is None
        assert client.get("/api/v1/checks").status_code == 400
        assert client.get("/api/v1/checks", query_string={"ref": "wine-stream", "limit": "0"}).status_code == 400
        missing = client.get("/api/v1/checks", query_string={"ref": "models:/nope/1"})
        assert missing.status_code == 404 and "nope" in missing.get_data(as_text=True)
    with Catalog(settings) as catalog:  # the API read, nothing written
        from catalog.compliance.record import history

        assert len(history(catalog, "wine-stream")) == 2


@pytest.mark.parametrize(("rule", "changes"), [
    ("signature-matches-input", [("lineage.yml", "alcohol: double}", "alcohol: bigint}"),
                                 ("incoming/a.csv", "9.5", "9"), ("incoming/a.csv", "10.1", "10")]),
    ("expectations-pass", [("incoming/a.csv", "10.1", "31.0")]),
])
def test_the_data_rules_failures_are_waivable_too(project, rule, changes):
    root, env = project
    for path, old, new in changes:
        (root / path).write_text((root / path).read_text().replace(old, new))
    lineage = (root / "lineage.yml").read_text() + (
        f"  waivers:\n    - {{rule: {rule}, scope: wine-stream, reason: 'known, fixed upstream next week', "
        "approver: risk@example.com, expires: 2099-01-31}\n")
    (root / "lineage.yml").write_text(lineage)
    code, out, _ = run(env, "check", "wine-stream", "--format", "json", "--no-record")
    report = json.loads(out)
    found = next(r for r in report["results"] if r["rule"] == rule)
    assert code == 0, out
    assert (found["verdict"], found["rawVerdict"]) == ("waived", "fail")
    assert report["counts"]["waived"] == 1 and report["waivers"][0]["state"] == "used"


def test_training_data_must_also_be_in_the_configured_atlas(project, tmp_path):
    """CATALOG_ATLAS_URL: a second instance of the catalog on loopback stands in for a real Atlas cluster.

    It speaks Atlas's v2 API (the embedded-Atlas issue); it holds the same entities, ingested
    from the same sources, and is read with basic auth from the URL's user part.
    """
    from catalog import users
    from catalog.service import Catalog
    from tests.web_fixtures import catalog_app, served

    root, env = project
    atlas_settings = Settings(database_url=f"sqlite:///{tmp_path / 'atlas' / 'atlas.db'}",
                              mlflow_uri=env["CATALOG_MLFLOW_URI"], lineage_file=env["CATALOG_LINEAGE_FILE"],
                              user="atlas-admin")
    (tmp_path / "atlas").mkdir()
    with Catalog(atlas_settings) as atlas:
        atlas.ingest(lineage_path=atlas_settings.lineage_file, mlflow_uri=atlas_settings.mlflow_uri)
        with atlas.write_session() as session, session.begin():
            users.add_user(session, "reader", "reader-password-1", "viewer")
    with catalog_app(atlas_settings, open_reads=False) as app, served(app, "stand-in-atlas") as url:
        host = url.removeprefix("http://")
        atlas_env = {**env, "CATALOG_ATLAS_URL": f"http://reader:reader-password-1@{host}"}
        code, out, err = run(atlas_env, "check", "wine-stream", "--format", "json", "--no-record")
        found = next(r for r in json.loads(out)["results"] if r["rule"] == "training-lineage-known")
        assert code == 0 and found["verdict"] == "pass", out
        assert f"(and in Atlas at http://***@{host})" in found["message"]
        entities = found["evidence"]["atlas"]["entities"]
        assert entities["default.wineds_ext@cm"]["status"] == "ACTIVE" and len(entities) == 3
        assert "reader-password-1" not in out + err

        app.extensions["catalog"].delete("hive_table:default.wineds_ext@cm")
        code, out, _ = run(atlas_env, "check", "wine-stream", "--format", "json", "--no-record")
        found = next(r for r in json.loads(out)["results"] if r["rule"] == "training-lineage-known")
        assert code == 1 and found["message"] == (
            f"training data deleted in Atlas at http://***@{host}: default.wineds_ext@cm")

        wrong = {**env, "CATALOG_ATLAS_URL": f"http://reader:wrong-password@{host}"}
        code, out, _ = run(wrong, "check", "wine-stream", "--no-record")
        assert code == 2 and f"Atlas at http://***@{host} answered 401" in out
    code, out, _ = run(atlas_env, "check", "wine-stream", "--no-record")  # the stand-in is stopped
    assert code == 2 and f"could not check: Atlas at http://***@{host} could not be read" in out
