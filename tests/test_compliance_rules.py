"""Each built-in rule on a context built by hand: pass, fail, waived and error, with messages pinned.

The contexts are values (``StoredEntity`` as the store returns them, a validated
lineage.yml), so each rule's semantics is tested on its own; tests/test_compliance_check.py
runs the same rules end to end on a real MLflow store and catalog.
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Any

import pytest

from catalog.compliance.check import run_rules
from catalog.compliance.context import CheckContext, TrainingData
from catalog.compliance.model import CheckError, Report
from catalog.compliance.rules import RULES
from catalog.lineage_file import parse_lineage_text
from catalog.lineage_file.policy import RULE_IDS
from catalog.model import StoredClassification, StoredEntity

NOW = 1_796_000_000_000  # 2026-11-30
SIGNATURE = json.dumps({"inputs": json.dumps([{"type": "double", "name": "pH", "required": True}]),
                        "outputs": json.dumps([{"type": "double", "required": True}])}, sort_keys=True)

LINEAGE = """\
version: 1
datasets:
  default.wine@cm: {classifications: [PII]}
models:
  wine:
    owner: ml@example.com
    purpose: grades wine
    training: {datasets: [default.wine@cm]}
    policy: {metrics: {rmse: "<= 0.8"}}
deployments:
  wine-batch: {model: "models:/wine@champion", mode: batch, target: prod}
"""


def entity(type_name: str, qn: str, guid: str, **attributes: Any) -> StoredEntity:
    return StoredEntity(guid=guid, type_name=type_name, qualified_name=qn, status="ACTIVE", attributes=attributes,
                        relationship_attributes={}, classifications=(), version=1, created_at=NOW, updated_at=NOW,
                        created_by="t", updated_by="t", source="test")


TABLE = entity("hive_table", "default.wine@cm", "g-table", name="wine")
RUN = entity("ml_training_run", "run:r1@mlflow", "g-run", runId="r1", metrics={"rmse": 0.61, "r2": 0.4},
             datasetContexts={"default.wine@cm": "training"},
             datasetInputs={"default.wine@cm": json.dumps([{"context": "training", "digest": "d1"}])})
VERSION = entity("ml_model_version", "wine/3@mlflow", "g-version", runId="r1", status="READY",
                 aliases=["champion"], signature=SIGNATURE)
MODEL = entity("ml_registered_model", "wine@mlflow", "g-model", name="wine", owner="ml@example.com",
               purpose="grades wine")
DEPLOYMENT = entity("ml_deployment", "wine-batch:prod@cm", "g-dep", target="prod")
PII = StoredClassification("PII", "g-version", "g-table")


def context(lineage: str = LINEAGE, **changes: Any) -> CheckContext:
    doc = parse_lineage_text(lineage, filename="lineage.yml")
    ctx = CheckContext(
        subject_kind="deployment", subject=DEPLOYMENT.qualified_name, subject_label="wine-batch", target="prod",
        policy=doc.policy.target("prod"), doc=doc, base_dir=Path("."), model_name="wine",
        model_ref="models:/wine@champion", version=VERSION, registered_model=MODEL,
        model_spec=doc.models.get("wine"), runs=(RUN,),
        training=(TrainingData("hive_table", TABLE.qualified_name, True, True, TABLE,
                               ({"context": "training", "digest": "d1"},)),),
        classifications=(PII,), sources={"g-table": TABLE}, deployment=DEPLOYMENT, deployment_name="wine-batch",
        deployment_spec=doc.deployments.get("wine-batch"), known_classifications=frozenset({"PII", "SENSITIVE"}),
    )
    return dataclasses.replace(ctx, **changes)


def check(ctx: CheckContext, **kwargs: Any) -> Report:
    return run_rules(ctx, now=NOW, user="tester", data=False, **kwargs)


def result(report: Report, rule: str):
    return next(r for r in report.results if r.rule == rule)


def with_policy(policy: str) -> str:
    return LINEAGE + policy


# -- the rule set -----------------------------------------------------------------------


def test_the_rules_are_exactly_the_policy_vocabulary_with_versions_and_descriptions():
    assert tuple(RULES) == RULE_IDS
    assert {r.severity for r in RULES.values()} <= {"fail", "warn"}
    assert all(r.version >= 1 and r.description.endswith(".") for r in RULES.values())


def test_a_good_subject_passes_every_graph_rule():
    report = check(context())
    assert report.verdict == "pass" and report.exit_code == 0
    verdicts = {r.rule: r.verdict for r in report.results}
    assert verdicts == {rule: "pass" for rule in RULE_IDS if not RULES[rule].data}
    assert result(report, "metrics-threshold").message == "rmse = 0.61 <= 0.8"
    assert result(report, "classifications-allowed").message == "allowed for target 'prod': PII"
    assert result(report, "classifications-allowed").evidence["classifications"] == [
        {"classification": "PII", "on": "g-version", "from": "default.wine@cm", "fromGuid": "g-table",
         "propagated": True}]
    assert report.version_qn == "wine/3@mlflow" and len(report.signature_digest) == 64


# -- each rule fails, with its reason ------------------------------------------------------


FAILURES = [
    ("owner-declared", dict(registered_model=dataclasses.replace(MODEL, attributes={"name": "wine"}),
                            model_spec=None), "model 'wine' declares no owner"),
    ("purpose-declared", dict(registered_model=dataclasses.replace(MODEL, attributes={"name": "wine", "owner": "o"}),
                              model_spec=None), "model 'wine' declares no purpose"),
    ("training-lineage-known", dict(training=()), "no training data set is declared in lineage.yml or logged"),
    ("training-lineage-known", dict(training=(TrainingData("hive_table", "default.gone@cm", True, False, None),)),
     "training data not in the catalog: default.gone@cm"),
    ("training-lineage-known", dict(training=(TrainingData("hive_table", "default.wine@cm", True, True,
                                                           dataclasses.replace(TABLE, status="DELETED")),)),
     "training data deleted: default.wine@cm"),
    ("training-data-agrees", dict(training=(
        TrainingData("hive_table", "default.wine@cm", True, False, TABLE),
        TrainingData("hive_table", "default.other@cm", False, True, TABLE, ({"digest": "a"}, {"digest": "b"})))),
     "declared in lineage.yml but not logged by the run: default.wine@cm; logged by the run but not declared in "
     "lineage.yml: default.other@cm; logged with different digests: default.other@cm (a, b)"),
    ("signature-present", dict(version=dataclasses.replace(VERSION, attributes={"status": "READY", "runId": "r1",
                                                                                "aliases": ["champion"]})),
     "wine/3@mlflow has no model signature"),
    ("classifications-allowed", dict(lineage=with_policy(
        "policy:\n  targets:\n    prod:\n      rules:\n        classifications-allowed: {deny: [PII]}\n")),
     "not allowed for target 'prod': PII (from default.wine@cm)"),
    ("classifications-allowed", dict(lineage=with_policy(
        "policy:\n  targets:\n    prod:\n      rules:\n        classifications-allowed: {allow: [SENSITIVE]}\n")),
     "not allowed for target 'prod': PII (from default.wine@cm)"),
    ("alias-approved", dict(model_ref="models:/wine@challenger"),
     "alias 'challenger' is not approved for target 'prod' (approved: champion)"),
    ("alias-approved", dict(model_ref="models:/wine/3", version=dataclasses.replace(
        VERSION, attributes={**VERSION.attributes, "aliases": ["challenger"]})),
     "models:/wine/3 is pinned to a version that carries no approved alias for target 'prod' "
     "(approved: champion; it carries: challenger)"),
    ("metrics-threshold", dict(runs=(dataclasses.replace(RUN, attributes={**RUN.attributes,
                                                                         "metrics": {"rmse": 0.93}}),)),
     "rmse = 0.93, needs <= 0.8"),
    ("metrics-threshold", dict(lineage=with_policy(
        "policy:\n  targets:\n    prod:\n      rules:\n        metrics-threshold: {metrics: {mae: '< 0.5'}}\n")),
     "mae was not logged by the run (needs < 0.5)"),
    ("version-ready", dict(version=dataclasses.replace(VERSION, attributes={**VERSION.attributes,
                                                                           "status": "PENDING_REGISTRATION"})),
     "wine/3@mlflow is PENDING_REGISTRATION, not READY"),
    ("version-ready", dict(version=dataclasses.replace(VERSION, status="DELETED")),
     "wine/3@mlflow is DELETED in the catalog"),
]


@pytest.mark.parametrize(("rule", "changes", "message"), FAILURES, ids=[f"{f[0]}-{i}" for i, f in enumerate(FAILURES)])
def test_each_rule_fails_with_its_reason(rule, changes, message):
    report = check(context(**changes))
    found = result(report, rule)
    expected = RULES[rule].severity
    assert (found.verdict, found.raw_verdict) == (expected, expected)
    assert message in found.message
    assert report.verdict == expected and report.exit_code == (1 if expected == "fail" else 0)


def test_no_drift_fails_on_the_latest_scoring_run_over_the_threshold_and_passes_under_it():
    runs = (entity("ml_scoring_process", "score:2@cm", "g-s2", drift=json.dumps({"features": {"pH": {"psi": 0.31}}}),
                   endTime=NOW),
            entity("ml_scoring_process", "score:1@cm", "g-s1", drift=json.dumps({"pH": 0.01}), endTime=NOW - 1))
    found = result(check(context(scoring_runs=runs)), "no-drift")
    assert (found.verdict, found.message) == ("warn", "drift over 0.2: pH 0.310 in score:2@cm")
    relaxed = with_policy("policy:\n  targets:\n    prod:\n      rules:\n        no-drift: {max: 0.5, runs: 2}\n")
    found = result(check(context(lineage=relaxed, scoring_runs=runs)), "no-drift")
    assert (found.verdict, found.message) == ("pass", "latest 2 scoring run(s) within drift 0.5")
    found = result(check(context()), "no-drift")
    assert found.applicable is False and found.message.startswith("no scoring runs of wine/3@mlflow")


def test_severity_from_the_target_policy_turns_a_failure_into_a_warning_or_skips_the_rule():
    lineage = with_policy("policy:\n  targets:\n    prod:\n      rules:\n        owner-declared: warn\n"
                          "        version-ready: 'off'\n")
    ctx = context(lineage=lineage, registered_model=dataclasses.replace(MODEL, attributes={"name": "wine"}),
                  model_spec=None, version=dataclasses.replace(VERSION, status="DELETED"))
    report = check(ctx)
    assert result(report, "owner-declared").verdict == "warn"
    assert "version-ready" not in {r.rule for r in report.results}
    assert report.verdict == "warn" and report.exit_code == 0
    other = dataclasses.replace(ctx, target="staging", policy=ctx.doc.policy.target("staging"))
    assert result(check(other), "owner-declared").verdict == "fail"


# -- errors: the rule could not decide -----------------------------------------------------------


ERRORS = [
    ("owner-declared", dict(registered_model=None, model_spec=None), "is neither in the catalog nor in lineage.yml"),
    ("purpose-declared", dict(registered_model=None, model_spec=None), "is neither in the catalog nor in lineage.yml"),
    ("training-lineage-known", dict(runs=()), "run r1 of wine/3@mlflow is not in the catalog"),
    ("training-data-agrees", dict(runs=()), "run r1 of wine/3@mlflow is not in the catalog"),
    ("signature-present", dict(version=dataclasses.replace(VERSION, attributes={**VERSION.attributes,
                                                                               "signature": "{not json"})),
     "the stored signature is not MLflow's JSON"),
    ("classifications-allowed", dict(lineage=with_policy(
        "policy:\n  targets:\n    prod:\n      rules:\n        classifications-allowed: {allow: [PIII]}\n")),
     "names unknown classification(s) PIII"),
    ("alias-approved", dict(lineage=with_policy(
        "policy:\n  targets:\n    prod:\n      rules:\n        alias-approved: {aliases: []}\n")),
     "approves no alias"),
    ("metrics-threshold", dict(runs=()), "run r1 of wine/3@mlflow is not in the catalog"),
    ("version-ready", dict(version=dataclasses.replace(VERSION, attributes={"runId": "r1", "aliases": ["champion"],
                                                                           "signature": SIGNATURE})),
     "the status of wine/3@mlflow is unknown"),
    ("no-drift", dict(scoring_runs=(entity("ml_scoring_process", "score:1@cm", "g-s1", drift="{oops"),)),
     "could not check: scoring run score:1@cm: its drift record is not JSON"),
]


@pytest.mark.parametrize(("rule", "changes", "message"), ERRORS, ids=[f"{e[0]}-{i}" for i, e in enumerate(ERRORS)])
def test_each_rule_reports_an_error_when_it_cannot_decide_and_the_check_cannot_pass(rule, changes, message):
    report = check(context(**changes))
    found = result(report, rule)
    assert found.verdict == "error" and message in found.message
    assert report.verdict == "error" and report.exit_code == 2


# -- waivers ------------------------------------------------------------------------------


WAIVABLE = [f for f in FAILURES if f[0] in ("owner-declared", "metrics-threshold", "alias-approved",
                                                "training-lineage-known", "version-ready", "signature-present",
                                                "classifications-allowed", "training-data-agrees",
                                                "purpose-declared")]


def waiver(rule: str, scope: str = "models:/wine/3", expires: str = "2027-01-31", extra: str = "") -> str:
    return (f"  waivers:\n    - {{rule: {rule}, scope: '{scope}', reason: 'retraining in progress', "
            f"approver: risk@example.com, expires: {expires}{extra}}}\n")


@pytest.mark.parametrize(("rule", "changes", "message"), WAIVABLE, ids=[f"{f[0]}-{i}" for i, f in enumerate(WAIVABLE)])
def test_a_waiver_turns_each_rules_failure_into_waived_still_shown_and_counted_apart(rule, changes, message):
    changes = dict(changes)
    lineage = changes.pop("lineage", LINEAGE)
    if "\npolicy:" not in lineage:
        lineage += "policy:\n"
    ctx = context(lineage=lineage + waiver(rule), **changes)
    report = check(ctx)
    found = result(report, rule)
    assert (found.verdict, found.raw_verdict) == ("waived", RULES[rule].severity)
    assert message in found.message
    assert found.waiver == {"scope": "models:/wine/3", "reason": "retraining in progress",
                            "approver": "risk@example.com", "expires": "2027-01-31"}
    assert report.counts()["waived"] == 1 and "1 waived" in report.summary_line()
    assert [w.state for w in report.waivers] == ["used"]


def test_waiver_scopes_model_version_and_deployment_match_only_their_subject():
    failing = dict(runs=(dataclasses.replace(RUN, attributes={**RUN.attributes, "metrics": {"rmse": 0.93}}),))
    for scope, waived in (("models:/wine", True), ("models:/wine/3", True), ("models:/wine/4", False),
                          ("wine-batch", True), ("models:/other", False)):
        report = check(context(lineage=LINEAGE + "policy:\n" + waiver("metrics-threshold", scope), **failing))
        assert (result(report, "metrics-threshold").verdict == "waived") is waived, scope
        assert [w.state for w in report.waivers] == (["used"] if waived else [])  # others' waivers are not listed


def test_a_waiver_that_matches_nothing_is_reported_unused_and_changes_nothing():
    report = check(context(lineage=LINEAGE + "policy:\n" + waiver("metrics-threshold")))
    assert result(report, "metrics-threshold").verdict == "pass"
    assert [(w.rule, w.state) for w in report.waivers] == [("metrics-threshold", "unused")]


def test_an_expired_waiver_stops_counting_and_the_report_says_so():
    failing = dict(runs=(dataclasses.replace(RUN, attributes={**RUN.attributes, "metrics": {"rmse": 0.93}}),))
    ctx = context(lineage=LINEAGE + "policy:\n" + waiver("metrics-threshold", expires="2026-11-01"), **failing)
    seen_earlier = {}

    def first_seen(waiver: Any, now: int) -> int:
        return seen_earlier.setdefault(waiver.rule, NOW - 90 * 86_400_000)  # first used in September

    report = check(ctx, first_seen=first_seen)
    found = result(report, "metrics-threshold")
    assert found.verdict == "fail"
    assert found.message.endswith("(the waiver approved by risk@example.com expired on 2026-11-01)")
    assert [w.state for w in report.waivers] == ["expired"] and report.exit_code == 1


def test_a_waiver_already_expired_when_first_seen_is_a_policy_error():
    ctx = context(lineage=LINEAGE + "policy:\n" + waiver("metrics-threshold", expires="2026-11-01"))
    with pytest.raises(CheckError, match=r"waiver of metrics-threshold for models:/wine/3 \(approver "
                       r"risk@example.com\) expired on 2026-11-01, before it was first used on 2026-11-"):
        check(ctx, first_seen=lambda waiver, now: now)


def test_errors_cannot_be_waived():
    ctx = context(lineage=LINEAGE + "policy:\n" + waiver("metrics-threshold"), runs=())
    found = result(check(ctx), "metrics-threshold")
    assert found.verdict == "error" and found.waiver is None


def test_the_report_round_trips_through_json_and_pins_the_policy_digest():
    report = check(context())
    assert Report.from_json(report.to_json()) == report
    other = check(context(lineage=with_policy("policy:\n  targets:\n    prod: {on_fail: revert}\n")))
    assert other.policy_digest != report.policy_digest
    assert check(context()).policy_digest == report.policy_digest


def test_a_drift_warning_is_waivable_and_then_counted_apart():
    runs = (entity("ml_scoring_process", "score:1@cm", "g-s1", drift=json.dumps({"pH": 0.4})),)
    lineage = with_policy("policy:\n  targets:\n    prod:\n      rules:\n        no-drift: fail\n") + waiver(
        "no-drift", scope="wine-batch")
    report = check(context(lineage=lineage, scoring_runs=runs))
    found = result(report, "no-drift")
    assert (found.verdict, found.raw_verdict, found.severity) == ("waived", "fail", "fail")
    assert found.message == "drift over 0.2: pH 0.400 in score:1@cm"
    assert report.exit_code == 0 and report.counts()["waived"] == 1


def test_signature_matches_input_errors_without_an_input_or_a_known_schema():
    from catalog.lineage_file import DatasetSpec

    found = result(run_rules(context(), now=NOW, user="t", data=True), "signature-matches-input")
    assert found.verdict == "error"
    assert found.message == "deployment 'wine-batch' declares no input (lineage.yml deployments.wine-batch.input)"
    table = context(input_spec=DatasetSpec(), input_qn="default.scoring@cm",
                    deployment_spec=parse_lineage_text(LINEAGE.replace(
                        "mode: batch, target: prod}", "mode: batch, target: prod, input: default.wine@cm}"),
                        filename="lineage.yml").deployments["wine-batch"])
    found = result(run_rules(table, now=NOW, user="t", data=True), "signature-matches-input")
    assert found.verdict == "error"
    assert found.message.startswith("the schema of input default.scoring@cm is unknown: declare it in lineage.yml")
    model_ref = dataclasses.replace(context(), subject_kind="model", deployment=None, deployment_spec=None)
    found = result(run_rules(model_ref, now=NOW, user="t", data=True), "signature-matches-input")
    assert (found.verdict, found.applicable) == ("pass", False)
