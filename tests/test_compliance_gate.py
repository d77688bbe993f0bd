"""The alias gate against a real ``mlflow server`` on loopback: check, record, revert.

One server per module (it takes seconds to start); each test registers its own model
(its own name, its own runs) on it and keeps its own catalog and lineage.yml, so the
tests share nothing but the server. Each version is a tiny sklearn model logged with a
signature by its own run, which logs the ``rmse`` the policy thresholds and the Spark
table the model trains on (the one lineage.yml declares).
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from catalog.compliance.gate import GateOutcome, alias_gate
from catalog.compliance.record import history
from catalog.config import Settings
from catalog.errors import SourceUnavailableError
from catalog.service import Catalog
from tests.mlflow_server import Model, Server, free_port, mlflow_server  # noqa: F401 - module-scoped fixture


def lineage(tmp_path: Path, model: Model, *, on_fail: str, deployments: tuple[str, ...] = ("batch",),
            waivers: str = "") -> Path:
    path = tmp_path / "lineage.yml"
    deployed = "".join(
        f"  {model.name}-{d}:\n    model: models:/{model.name}@champion\n    mode: batch\n    target: prod\n"
        for d in deployments
    )
    path.write_text(
        "version: 1\n"
        "cluster: cm\n"
        "datasets:\n"
        f"  {model.table}@cm:\n"
        "    description: what the model trains on\n"
        "models:\n"
        f"  {model.name}:\n"
        "    owner: ml-team@example.com\n"
        "    purpose: predicts the quality of wine\n"
        "    training:\n"
        f"      datasets: [{model.table}@cm]\n"
        "    policy:\n"
        "      metrics:\n"
        '        rmse: "<= 0.8"\n'
        "deployments:\n"
        + deployed
        + "policy:\n"
        "  targets:\n"
        "    prod:\n"
        f"      on_fail: {on_fail}\n"
        + waivers,
        encoding="utf-8",
    )
    return path


@pytest.fixture
def make_catalog(tmp_path: Path, mlflow_server: Server) -> Iterator:
    opened: list[Catalog] = []

    def make(lineage_file: Path) -> Catalog:
        settings = Settings(database_url=f"sqlite:///{tmp_path / 'catalog.db'}", mlflow_uri=mlflow_server.url,
                            lineage_file=str(lineage_file), user="tester")
        catalog = Catalog(settings)
        opened.append(catalog)
        catalog.ingest(lineage_path=lineage_file, mlflow_uri=mlflow_server.url)
        return catalog

    yield make
    for catalog in opened:
        catalog.close()


def aliases(catalog: Catalog, model: str, version: str) -> list[str]:
    return list(catalog.resolve(f"models:/{model}/{version}").attributes.get("aliases") or [])


def rule(outcome: GateOutcome, deployment: str, rule_id: str):
    report = next(r for r in outcome.reports if r.subject_label == deployment)
    return next(r for r in report.results if r.rule == rule_id)


# -- revert ------------------------------------------------------------------------------


def test_a_failing_promotion_is_reverted_once_and_recorded(tmp_path, mlflow_server, make_catalog):
    m = Model(mlflow_server, "gate-revert")
    assert (m.version(0.5), m.version(0.95)) == ("1", "2")
    m.set_alias("1")
    catalog = make_catalog(lineage(tmp_path, m, on_fail="revert", deployments=("batch", "online")))
    assert aliases(catalog, m.name, "1") == ["champion"]

    m.set_alias("2")
    outcome = alias_gate(catalog, m.name, "champion", 2, mlflow_uri=mlflow_server.url, user="hook")

    assert (outcome.model, outcome.alias, outcome.version, outcome.previous) == (m.name, "champion", "2", "1")
    assert [(r.subject_label, r.verdict, r.version_qn) for r in outcome.reports] == [
        ("gate-revert-batch", "fail", "gate-revert/2@mlflow"),
        ("gate-revert-online", "fail", "gate-revert/2@mlflow"),
    ]
    failed = rule(outcome, "gate-revert-batch", "metrics-threshold")
    assert (failed.verdict, failed.message) == ("fail", "rmse = 0.95, needs <= 0.8")
    assert [r.rule for r in outcome.reports[0].results if r.verdict != "pass"] == ["metrics-threshold"]
    assert (outcome.reverted, outcome.reverted_to, outcome.errors) == (True, "1", ())
    assert outcome.message == (
        "models:/gate-revert@champion -> version 2: gate-revert-batch fail (metrics-threshold: rmse = 0.95, "
        "needs <= 0.8), gate-revert-online fail (metrics-threshold: rmse = 0.95, needs <= 0.8); 'champion' "
        "moved back to version 1 (on_fail: revert for target prod)"
    )

    # MLflow: champion is back on 1; the catalog sees it there again.
    assert m.alias() == "1"
    assert aliases(catalog, m.name, "1") == ["champion"] and aliases(catalog, m.name, "2") == []
    assert catalog.resolve(f"models:/{m.name}@champion").qualified_name == "gate-revert/1@mlflow"

    # The failing checks are evidence, each the head of its deployment's chain.
    for report in outcome.reports:
        records = history(catalog, report.subject_label)
        assert [(r.digest, r.verdict, r.by) for r in records] == [(report.evidence_digest, "fail", "hook")]
        assert records[0].report["model"]["version"] == "gate-revert/2@mlflow"
        assert len(report.evidence_digest) == 64

    # One revert, one audit event, on the version moved off, naming both failures.
    events = [e for e in catalog.audit(limit=1000) if e.action == "ALIAS_REVERTED"]
    assert len(events) == 1
    event = events[0]
    assert outcome.audit_id == event.id
    assert (event.source, event.user, event.qualified_name, event.type_name) == (
        "catalog-check", "hook", "gate-revert/2@mlflow", "ml_model_version")
    assert event.detail == {
        "model": "gate-revert", "alias": "champion", "from": "2", "to": "1", "previous": "1",
        "registeredModel": "gate-revert@mlflow", "mlflowUri": mlflow_server.url, "targets": ["prod"],
        "deployments": [
            {"name": "gate-revert-batch", "target": "prod", "verdict": "fail",
             "evidence": outcome.reports[0].evidence_digest, "failed": ["metrics-threshold"]},
            {"name": "gate-revert-online", "target": "prod", "verdict": "fail",
             "evidence": outcome.reports[1].evidence_digest, "failed": ["metrics-threshold"]},
        ],
    }
    assert [e.id for e in catalog.audit(f"models:/{m.name}/2", limit=1000) if e.action == "ALIAS_REVERTED"] == [
        event.id]
    as_json = json.loads(json.dumps(outcome.to_json()))
    assert (as_json["reverted"], as_json["revertedTo"], as_json["previous"], as_json["failed"]) == (
        True, "1", "1", True)
    assert [(c["deployment"], c["verdict"], c["evidence"]) for c in as_json["checks"]] == [
        (r.subject_label, "fail", r.evidence_digest) for r in outcome.reports]

    # The hook fires again for the revert itself (alias champion -> 1): it passes, nothing moves.
    again = alias_gate(catalog, m.name, "champion", "1", mlflow_uri=mlflow_server.url, user="hook")
    assert (again.previous, [r.verdict for r in again.reports], again.reverted) == ("2", ["pass", "pass"], False)
    assert again.message == ("models:/gate-revert@champion -> version 1: gate-revert-batch pass, "
                             "gate-revert-online pass")
    assert m.alias() == "1"
    assert len([e for e in catalog.audit(limit=1000) if e.action == "ALIAS_REVERTED"]) == 1

    # Had version 1 failed then too, the gate would not hand the alias back to version 2:
    # two reverts would undo each other for ever.
    path = Path(catalog.settings.lineage_file)
    path.write_text(path.read_text(encoding="utf-8").replace('"<= 0.8"', '"<= 0.4"'), encoding="utf-8")
    stuck = alias_gate(catalog, m.name, "champion", "1", mlflow_uri=mlflow_server.url, user="hook")
    assert ([r.verdict for r in stuck.reports], stuck.previous, stuck.reverted) == (["fail", "fail"], "2", False)
    assert stuck.message == (
        "models:/gate-revert@champion -> version 1: gate-revert-batch fail (metrics-threshold: rmse = 0.5, "
        "needs <= 0.4), gate-revert-online fail (metrics-threshold: rmse = 0.5, needs <= 0.4); not reverted: "
        f"the gate itself moved 'champion' back to version 1 from version 2 (audit event {event.id}), "
        "which failed then"
    )
    assert m.alias() == "1"
    assert len([e for e in catalog.audit(limit=1000) if e.action == "ALIAS_REVERTED"]) == 1


def test_an_ingest_before_the_hook_still_knows_the_previous_version(tmp_path, mlflow_server, make_catalog):
    m = Model(mlflow_server, "gate-late")
    assert [m.version(0.5), m.version(0.95)] == ["1", "2"]
    m.set_alias("1")
    catalog = make_catalog(lineage(tmp_path, m, on_fail="revert"))
    m.set_alias("2")
    catalog.ingest(lineage_path=catalog.settings.lineage_file, mlflow_uri=mlflow_server.url)  # a scheduled ingest
    assert aliases(catalog, m.name, "2") == ["champion"]

    outcome = alias_gate(catalog, m.name, "champion", "2", mlflow_uri=mlflow_server.url)

    assert ([r.verdict for r in outcome.reports], outcome.previous) == (["fail"], "1")
    assert (outcome.reverted, outcome.reverted_to) == (True, "1")
    assert outcome.message.endswith("; 'champion' moved back to version 1 (on_fail: revert for target prod)")
    assert m.alias() == "1" and aliases(catalog, m.name, "1") == ["champion"]


def test_a_previous_version_nobody_recorded_is_not_guessed(tmp_path, mlflow_server, make_catalog):
    m = Model(mlflow_server, "gate-unknown")
    assert [m.version(0.5), m.version(0.95)] == ["1", "2"]
    m.set_alias("2")  # before the catalog ever saw the model: no record of what it moved from
    catalog = make_catalog(lineage(tmp_path, m, on_fail="revert"))

    outcome = alias_gate(catalog, m.name, "champion", "2", mlflow_uri=mlflow_server.url)

    assert ([r.verdict for r in outcome.reports], outcome.previous, outcome.previous_known, outcome.reverted) == (
        ["fail"], None, False, False)
    assert (outcome.to_json()["previous"], outcome.to_json()["previousKnown"]) == (None, False)
    assert outcome.message == (
        "models:/gate-unknown@champion -> version 2: gate-unknown-batch fail (metrics-threshold: rmse = 0.95, "
        "needs <= 0.8); not reverted: the catalog already saw version 2 carrying 'champion' before this check, "
        "and its audit log does not say which version carried it before"
    )
    assert m.alias() == "2"
    assert [r.verdict for r in history(catalog, "gate-unknown-batch")] == ["fail"]
    assert [e for e in catalog.audit(limit=1000) if e.action == "ALIAS_REVERTED"] == []


def test_a_check_that_cannot_run_fails_the_promotion(tmp_path, mlflow_server, make_catalog):
    m = Model(mlflow_server, "gate-error")
    assert [m.version(0.5), m.version(0.95)] == ["1", "2"]
    m.set_alias("1")
    expired = ("  waivers:\n"
               "    - rule: metrics-threshold\n"
               "      scope: gate-error-batch\n"
               "      reason: an old exception\n"
               "      approver: lead@example.com\n"
               "      expires: 2020-01-31\n")
    catalog = make_catalog(lineage(tmp_path, m, on_fail="revert", waivers=expired))
    m.set_alias("2")

    before = time.strftime("%Y-%m-%d", time.gmtime())
    outcome = alias_gate(catalog, m.name, "champion", "2", mlflow_uri=mlflow_server.url)
    after = time.strftime("%Y-%m-%d", time.gmtime())

    first_used = before if before in outcome.errors[0].message else after  # the check's own day
    problem = ("waiver of metrics-threshold for gate-error-batch (approver lead@example.com) expired on 2020-01-31, "
               f"before it was first used on {first_used}: remove it or renew it with a new expiry")
    assert outcome.reports == ()
    assert [e.to_json() for e in outcome.errors] == [
        {"deployment": "gate-error-batch", "target": "prod", "message": problem}]
    assert (outcome.failed, outcome.reverted, outcome.reverted_to) == (True, True, "1")
    assert outcome.message == (f"models:/gate-error@champion -> version 2: gate-error-batch could not be checked: "
                               f"{problem}; 'champion' moved back to version 1 (on_fail: revert for target prod)")
    assert m.alias() == "1"
    event = next(e for e in catalog.audit(limit=1000) if e.action == "ALIAS_REVERTED")
    assert event.detail["deployments"] == [
        {"name": "gate-error-batch", "target": "prod", "verdict": "error", "evidence": None, "error": problem}]
    assert history(catalog, "gate-error-batch") == []  # the check wrote nothing: it did not run


def test_record_leaves_the_alias_and_records_the_failure(tmp_path, mlflow_server, make_catalog):
    m = Model(mlflow_server, "gate-record")
    assert [m.version(0.5), m.version(0.95)] == ["1", "2"]
    m.set_alias("1")
    catalog = make_catalog(lineage(tmp_path, m, on_fail="record"))
    m.set_alias("2")

    outcome = alias_gate(catalog, m.name, "champion", "2", mlflow_uri=mlflow_server.url)

    assert [(r.subject_label, r.verdict) for r in outcome.reports] == [("gate-record-batch", "fail")]
    assert rule(outcome, "gate-record-batch", "metrics-threshold").message == "rmse = 0.95, needs <= 0.8"
    assert (outcome.previous, outcome.reverted, outcome.reverted_to) == ("1", False, None)
    assert outcome.message == (
        "models:/gate-record@champion -> version 2: gate-record-batch fail (metrics-threshold: rmse = 0.95, "
        "needs <= 0.8); recorded, not reverted (on_fail: record for target prod)"
    )
    assert m.alias() == "2"
    assert aliases(catalog, m.name, "2") == ["champion"] and aliases(catalog, m.name, "1") == []
    records = history(catalog, "gate-record-batch")
    assert [(r.digest, r.verdict, r.by) for r in records] == [(outcome.reports[0].evidence_digest, "fail", "tester")]
    deployment = catalog.resolve("ml_deployment:gate-record-batch:prod@cm")
    assert (deployment.attributes["complianceVerdict"], deployment.attributes["complianceEvidence"],
            deployment.attributes["complianceVersion"]) == ("fail", records[0].digest, "gate-record/2@mlflow")
    assert [e for e in catalog.audit(limit=1000) if e.action == "ALIAS_REVERTED"] == []


def test_a_passing_promotion_stays(tmp_path, mlflow_server, make_catalog):
    m = Model(mlflow_server, "gate-pass")
    assert [m.version(r) for r in (0.5, 0.95, 0.6)] == ["1", "2", "3"]
    m.set_alias("1")
    catalog = make_catalog(lineage(tmp_path, m, on_fail="revert"))
    m.set_alias("3")

    outcome = alias_gate(catalog, m.name, "champion", "3", mlflow_uri=mlflow_server.url)

    assert [(r.subject_label, r.verdict, r.version_qn) for r in outcome.reports] == [
        ("gate-pass-batch", "pass", "gate-pass/3@mlflow")]
    assert rule(outcome, "gate-pass-batch", "metrics-threshold").message == "rmse = 0.6 <= 0.8"
    assert (outcome.previous, outcome.reverted, outcome.reverted_to) == ("1", False, None)
    assert outcome.message == "models:/gate-pass@champion -> version 3: gate-pass-batch pass"
    assert m.alias() == "3"
    assert aliases(catalog, m.name, "3") == ["champion"]
    assert [r.verdict for r in history(catalog, "gate-pass-batch")] == ["pass"]
    assert [e for e in catalog.audit(limit=1000) if e.action == "ALIAS_REVERTED"] == []

    # An alias no deployment uses: nothing to check, nothing moves.
    m.set_alias("2", alias="challenger")
    other = alias_gate(catalog, m.name, "challenger", "2", mlflow_uri=mlflow_server.url)
    assert (other.previous, other.reports, other.reverted) == (None, (), False)
    assert other.message == ("models:/gate-pass@challenger -> version 2: no deployment of lineage.yml uses "
                             "models:/gate-pass@challenger; nothing checked")
    assert m.alias("challenger") == "2"


def test_the_first_alias_ever_is_deleted_when_it_fails(tmp_path, mlflow_server, make_catalog):
    m = Model(mlflow_server, "gate-first")
    m.version(0.95)
    catalog = make_catalog(lineage(tmp_path, m, on_fail="revert"))
    assert aliases(catalog, m.name, "1") == []
    m.set_alias("1")

    outcome = alias_gate(catalog, m.name, "champion", "1", mlflow_uri=mlflow_server.url)

    assert [(r.subject_label, r.verdict) for r in outcome.reports] == [("gate-first-batch", "fail")]
    assert (outcome.previous, outcome.reverted, outcome.reverted_to) == (None, True, None)
    assert outcome.message == (
        "models:/gate-first@champion -> version 1: gate-first-batch fail (metrics-threshold: rmse = 0.95, "
        "needs <= 0.8); 'champion' deleted: no earlier version carried it (on_fail: revert for target prod)"
    )
    assert m.alias() is None
    assert aliases(catalog, m.name, "1") == []
    event = next(e for e in catalog.audit(limit=1000) if e.action == "ALIAS_REVERTED")
    assert (event.qualified_name, event.detail["from"], event.detail["to"], event.detail["previous"]) == (
        "gate-first/1@mlflow", "1", None, None)
    assert event.detail["deployments"] == [
        {"name": "gate-first-batch", "target": "prod", "verdict": "fail",
         "evidence": outcome.reports[0].evidence_digest, "failed": ["metrics-threshold"]}]
    assert [r.verdict for r in history(catalog, "gate-first-batch")] == ["fail"]


def test_an_unreachable_mlflow_is_named(tmp_path, mlflow_server):
    port = free_port()  # nothing listens there
    url = f"http://127.0.0.1:{port}"
    lineage_file = tmp_path / "lineage.yml"
    lineage_file.write_text("version: 1\n", encoding="utf-8")
    settings = Settings(database_url=f"sqlite:///{tmp_path / 'catalog.db'}", mlflow_uri=url,
                        lineage_file=str(lineage_file), user="tester")
    with Catalog(settings) as catalog, pytest.raises(SourceUnavailableError) as raised:
        alias_gate(catalog, "gate-nowhere", "champion", 1, mlflow_uri=url)
    assert str(raised.value).startswith(f"MLflow at {url} could not be read: ")
    assert not (tmp_path / "catalog.db").exists()
