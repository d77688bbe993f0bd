"""catalog.compliance.formats: the five renderings of a hand-built report, and the schemas they must meet.

JUnit output is validated against Jenkins' junit-10.xsd and SARIF output against the
official OASIS SARIF 2.1.0 schema, both checked in under tests/fixtures/schemas (where they
come from, and why they are not a package: tests/fixtures/schemas/README.md).
"""

from __future__ import annotations

import hashlib
import json
import re
import xml.etree.ElementTree as ET
from dataclasses import replace
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import xmlschema

from catalog.compliance import formats
from catalog.compliance.formats import FORMATS, markdown_text, render
from catalog.compliance.model import Report
from tests.fixtures.compliance_reports import CHECKED_AT_ISO, HOSTILE, SHA, failing_report, report, rule

SCHEMAS = Path(__file__).parent / "fixtures" / "schemas"
SARIF_SCHEMA_SHA256 = "c3b4bb2d6093897483348925aaa73af03b3e3f4bd4ca38cef26dcb4212a2682e"
JUNIT_XSD_SHA256 = "a1a816f58d1bf95ebabf371994df0b9246dee66ea9572fbec4f9296f1b2c0ff6"


@pytest.fixture(scope="module")
def sarif_validator() -> jsonschema.protocols.Validator:
    schema = json.loads((SCHEMAS / "sarif-schema-2.1.0.json").read_text(encoding="utf-8"))
    validator_class = jsonschema.validators.validator_for(schema)
    validator_class.check_schema(schema)
    return validator_class(schema, format_checker=validator_class.FORMAT_CHECKER)


@pytest.fixture(scope="module")
def junit_xsd() -> xmlschema.XMLSchema:
    return xmlschema.XMLSchema(str(SCHEMAS / "junit-10.xsd"))


def _sarif_run(rep: Report) -> dict[str, Any]:
    return json.loads(render(rep, "sarif"))["runs"][0]


def _junit(rep: Report) -> ET.Element:
    return ET.fromstring(render(rep, "junit").encode("utf-8"))


def _case(root: ET.Element, name: str) -> ET.Element:
    (case,) = [c for c in root.iter("testcase") if c.get("name") == name]
    return case


# -- the entry point ------------------------------------------------------------------------

def test_the_formats_are_the_five_the_cli_offers() -> None:
    assert FORMATS == ("text", "json", "junit", "sarif", "markdown")


def test_an_unknown_format_names_the_known_ones_and_the_closest() -> None:
    with pytest.raises(ValueError) as caught:
        render(report(), "sarf")
    assert str(caught.value) == ("unknown report format 'sarf': expected one of text, json, junit, sarif, "
                                 "markdown; did you mean 'sarif'?")


@pytest.mark.parametrize("fmt", FORMATS)
def test_every_format_is_deterministic_and_ends_in_a_newline(fmt: str) -> None:
    first, second = render(report(), fmt), render(report(), fmt)
    assert first == second
    assert first.endswith("\n") and not first.endswith("\n\n")


def test_iso_utc_keeps_the_milliseconds_and_says_utc() -> None:
    assert formats.iso_utc(1_796_137_200_123) == CHECKED_AT_ISO
    assert formats.iso_utc(0) == "1970-01-01T00:00:00.000Z"


# -- text -----------------------------------------------------------------------------------

def test_text_header_names_subject_target_and_pinned_version() -> None:
    first, second = render(report(), "text").splitlines()[:2]
    assert first == ("compliance check of deployment wine-quality-prod for target prod: "
                     "model version wine-quality/3@mlflow")
    assert second == f"policy lineage.yml sha256 {SHA['policy']}"


def test_text_has_one_line_per_rule_with_status_rule_and_message() -> None:
    lines = render(failing_report(), "text").splitlines()
    assert "PASS    lineage-complete         every input has a producer" in lines
    assert "FAIL    metrics-threshold        rmse 0.91 is above 0.8" in lines
    assert "WAIVED  alias-approved           alias champion was set by nobody" in lines


def test_text_says_a_rule_was_not_applicable() -> None:
    assert ("PASS    signature-matches-input  not applicable: no deployment input: a model ref was checked"
            in render(report(), "text").splitlines())


def test_text_shows_the_waiver_under_a_waived_rule() -> None:
    lines = render(report(), "text").splitlines()
    at = lines.index("WAIVED  alias-approved           alias champion was set by nobody")
    assert lines[at + 1] == (" " * 33 + "waived: approved in the Q4 review (approved by risk@example.com, "
                             "expires 2027-01-31)")


def test_text_lists_unused_and_expired_waivers_but_not_the_used_one() -> None:
    text = render(report(), "text")
    tail = text.split("waivers not applied:\n")[1].split("\n\n")[0].splitlines()
    assert tail == [
        "  unused  metrics-threshold models:/wine-quality/2: old version (approved by lead@example.com, "
        "expires 2027-03-01, line 20)",
        "  expired no-drift wine-quality-prod: drift job | migrating & <late> (approved by ops@example.com, "
        "expires 2026-11-01, line 26)",
    ]


def test_text_without_leftover_waivers_has_no_waiver_section() -> None:
    assert "waivers not applied" not in render(report(waivers=()), "text")


def test_text_ends_with_summary_and_verdict() -> None:
    assert render(report(), "text").splitlines()[-2:] == [
        "2 passed, 1 warning, 1 failed, 1 waived, 1 error", "verdict: ERROR (exit code 2)"]
    assert render(failing_report(), "text").splitlines()[-1] == "verdict: FAIL (exit code 1)"
    passing = report(tuple(r for r in report().results if r.verdict == "pass"))
    assert render(passing, "text").splitlines()[-1] == "verdict: PASS (exit code 0)"


def test_text_escapes_terminal_controls_and_indents_continuation_lines() -> None:
    text = render(report(), "text")
    assert "\x1b" not in text and "\x00" not in text and "\x07" not in text and "\u202e" not in text
    assert "WARN    classifications-allowed  <script>alert('x')</script> | a & b" in text.splitlines()
    assert " " * 33 + "second line\\x1b[31m\\x00\\x07 é 模型 \\u202egnp.exe" in text.splitlines()


def test_text_carriage_return_cannot_overwrite_the_line() -> None:
    rep = report((rule("r", "fail", "fine\rFAKE PASS"),))
    assert "FAIL    r  fine\\x0dFAKE PASS" in render(rep, "text").splitlines()


def test_text_has_colours_only_when_asked() -> None:
    assert "\x1b[" not in render(failing_report(), "text")
    coloured = render(failing_report(), "text", color=True)
    assert "\x1b[31mFAIL   \x1b[0m metrics-threshold" in coloured
    assert coloured.splitlines()[-1] == "verdict: \x1b[31mFAIL\x1b[0m (exit code 1)"


# -- json -----------------------------------------------------------------------------------

def test_json_is_the_report_document_and_reads_back_as_the_same_report() -> None:
    out = render(report(), "json")
    assert out == json.dumps(report().to_json(), indent=2) + "\n"
    again = Report.from_json(json.loads(out), evidence_digest=SHA["evidence"])
    assert again == report()
    assert json.loads(out)["results"][3]["message"] == HOSTILE


# -- junit ----------------------------------------------------------------------------------

def test_the_junit_schema_is_the_pinned_jenkins_file() -> None:
    assert hashlib.sha256((SCHEMAS / "junit-10.xsd").read_bytes()).hexdigest() == JUNIT_XSD_SHA256


@pytest.mark.parametrize("make", [report, failing_report, lambda: report(results=())], ids=["error", "fail", "empty"])
def test_junit_is_valid_against_the_jenkins_junit_xsd(make: Any, junit_xsd: xmlschema.XMLSchema) -> None:
    junit_xsd.validate(render(make(), "junit"))


def test_the_junit_xsd_rejects_a_testcase_without_a_name(junit_xsd: xmlschema.XMLSchema) -> None:
    broken = render(report(), "junit").replace(' name="no-drift"', "")
    with pytest.raises(xmlschema.XMLSchemaValidationError, match="name"):
        junit_xsd.validate(broken)


def test_junit_suite_counts_name_and_timestamp() -> None:
    suite = _junit(report()).find("testsuite")
    assert suite is not None
    assert {k: suite.get(k) for k in ("name", "tests", "failures", "errors", "skipped", "timestamp")} == {
        "name": "compliance:wine-quality-prod@prod", "tests": "6", "failures": "1", "errors": "1",
        "skipped": "2", "timestamp": CHECKED_AT_ISO}


def test_junit_properties_pin_version_and_digests() -> None:
    props = {p.get("name"): p.get("value") for p in _junit(report()).iter("property")}
    assert props["model.version"] == "wine-quality/3@mlflow"
    assert (props["policy.digest"], props["signature.digest"], props["sample.digest"], props["evidence.digest"]) == (
        SHA["policy"], SHA["signature"], SHA["sample"], SHA["evidence"])


def test_junit_testcases_are_the_rules_in_order() -> None:
    cases = list(_junit(report()).iter("testcase"))
    assert [c.get("name") for c in cases] == [r.rule for r in report().results]
    assert {c.get("classname") for c in cases} == {"compliance.prod"}


def test_junit_a_failure_carries_message_and_evidence() -> None:
    failure = _case(_junit(report()), "metrics-threshold").find("failure")
    assert failure is not None and failure.get("message") == "rmse 0.91 is above 0.8"
    assert json.loads(failure.text or "") == {"metric": "rmse", "value": 0.91, "threshold": "<= 0.8"}


def test_junit_an_error_is_an_error_element() -> None:
    error = _case(_junit(report()), "no-drift").find("error")
    assert error is not None and error.get("message") == "scoring runs could not be read: store offline"


def test_junit_waived_and_not_applicable_rules_are_skipped_with_the_reason() -> None:
    root = _junit(report())
    waived = _case(root, "alias-approved").find("skipped")
    assert waived is not None and waived.get("message") == (
        "waived: approved in the Q4 review (approved by risk@example.com, expires 2027-01-31)")
    na = _case(root, "signature-matches-input").find("skipped")
    assert na is not None and na.get("message") == "not applicable: no deployment input: a model ref was checked"


def test_junit_a_warning_passes_with_system_out_and_a_property() -> None:
    root = _junit(report())
    case = _case(root, "classifications-allowed")
    assert [child.tag for child in case] == ["system-out"]
    out = case.find("system-out")
    assert out is not None and (out.text or "").startswith("WARNING: <script>alert('x')</script> | a & b\n")
    props = {p.get("name"): p.get("value") for p in root.iter("property")}
    assert props["warning:classifications-allowed"].startswith("<script>")


def test_junit_a_pass_is_an_empty_testcase() -> None:
    assert list(_case(_junit(report()), "lineage-complete")) == []


def test_junit_escapes_markup_and_drops_characters_xml_forbids() -> None:
    raw = render(report(), "junit")
    assert "<script>" not in raw and "&lt;script&gt;" in raw
    assert not re.search("[\x00-\x08\x0b\x0c\x0e-\x1f]", raw)
    message = _case(ET.fromstring(raw.encode()), "classifications-allowed").find("system-out")
    assert message is not None and "second line[31m é 模型 \u202egnp.exe" in (message.text or "")


def test_junit_survives_a_lone_surrogate(junit_xsd: xmlschema.XMLSchema) -> None:
    rep = report((rule("r", "fail", "half \ud800 a pair"),))
    junit_xsd.validate(render(rep, "junit"))
    assert _case(_junit(rep), "r").find("failure").get("message") == "half  a pair"  # type: ignore[union-attr]


# -- sarif ----------------------------------------------------------------------------------

def test_the_sarif_schema_is_the_pinned_oasis_file() -> None:
    assert hashlib.sha256((SCHEMAS / "sarif-schema-2.1.0.json").read_bytes()).hexdigest() == SARIF_SCHEMA_SHA256


@pytest.mark.parametrize("make", [
    report, failing_report, lambda: report(results=()), lambda: report(policy_source="builtin:default"),
    lambda: report(policy_source="/srv/ml repo/lineage.yml"),
], ids=["error", "fail", "empty", "no-file", "absolute-path"])
def test_sarif_is_valid_against_the_oasis_schema(make: Any, sarif_validator: Any) -> None:
    log = json.loads(render(make(), "sarif"))
    errors = [f"{list(e.absolute_path)}: {e.message}" for e in sarif_validator.iter_errors(log)]
    assert errors == []


def test_the_sarif_schema_rejects_a_result_without_a_message(sarif_validator: Any) -> None:
    log = json.loads(render(report(), "sarif"))
    del log["runs"][0]["results"][0]["message"]
    assert [e.message for e in sarif_validator.iter_errors(log)] == ["'message' is a required property"]


def test_sarif_top_level_names_the_version_and_schema() -> None:
    log = json.loads(render(report(), "sarif"))
    assert (log["version"], log["$schema"]) == ("2.1.0", formats.SARIF_SCHEMA_URI)


def test_sarif_driver_lists_every_rule_with_description_and_default_level() -> None:
    driver = _sarif_run(report())["tool"]["driver"]
    assert (driver["name"], driver["version"]) == ("ml-lineage-catalog", "0.9.0")
    assert [r["id"] for r in driver["rules"]] == [r.rule for r in report().results]
    levels = {r["id"]: r["defaultConfiguration"]["level"] for r in driver["rules"]}
    assert levels["classifications-allowed"] == "warning" and levels["metrics-threshold"] == "error"
    assert driver["rules"][2]["shortDescription"] == {"text": "metrics-threshold description"}


def test_sarif_results_are_the_non_passing_rules_with_their_levels() -> None:
    results = _sarif_run(report())["results"]
    assert [(r["ruleId"], r["level"]) for r in results] == [
        ("metrics-threshold", "error"), ("classifications-allowed", "warning"),
        ("alias-approved", "note"), ("no-drift", "error")]
    assert [r["ruleIndex"] for r in results] == [2, 3, 4, 5]
    assert results[1]["message"]["text"] == HOSTILE


def test_sarif_a_waived_result_is_an_accepted_external_suppression() -> None:
    waived = _sarif_run(report())["results"][2]
    assert waived["suppressions"] == [{"kind": "external", "status": "accepted",
                                       "justification": "approved in the Q4 review"}]
    assert waived["properties"]["waiver"]["approver"] == "risk@example.com"
    assert [r for r in _sarif_run(report())["results"] if "suppressions" in r] == [waived]


def test_sarif_an_error_says_the_check_could_not_run() -> None:
    error = _sarif_run(report())["results"][3]
    assert error["properties"]["checkCouldNotRun"] is True
    assert "checkCouldNotRun" not in _sarif_run(report())["results"][0]["properties"]


def test_sarif_locations_point_at_the_policy_file_and_the_waiver_line() -> None:
    results = _sarif_run(report())["results"]
    places = [(r["locations"][0]["physicalLocation"]["artifactLocation"]["uri"],
               r["locations"][0]["physicalLocation"]["region"]["startLine"]) for r in results]
    assert places == [("lineage.yml", 1), ("lineage.yml", 1), ("lineage.yml", 14), ("lineage.yml", 1)]


@pytest.mark.parametrize(("source", "uri"), [
    ("ml/lineage.yml", "ml/lineage.yml"),
    ("./ml/../lineage.yml", "lineage.yml"),
    ("ml repo/lineage #2.yml", "ml%20repo/lineage%20%232.yml"),
    ("/srv/ml/lineage.yml", "file:///srv/ml/lineage.yml"),
    ("C:\\ml\\lineage.yml", "file:///C:/ml/lineage.yml"),
    ("built-in defaults", None),  # what catalog.compliance.check says when lineage.yml has no policy
    ("builtin:default", None),
    ("", None),
])
def test_sarif_policy_source_becomes_a_uri_only_when_it_is_a_file(source: str, uri: str | None) -> None:
    result = _sarif_run(report(policy_source=source))["results"][0]
    found = result["locations"][0]["physicalLocation"]["artifactLocation"]["uri"] if "locations" in result else None
    assert found == uri


def test_sarif_a_waived_result_points_at_the_line_of_the_waiver_it_used() -> None:
    waived = report().results[4]
    with_line = replace(waived, waiver=dict(waived.waiver or {}) | {"line": 31})
    lines = [r["locations"][0]["physicalLocation"]["region"]["startLine"]
             for rep in (report((waived,)), report((with_line,)), report((waived,), waivers=()))
             for r in _sarif_run(rep)["results"]]
    assert lines == [14, 31, 1]


def test_sarif_invocation_reports_success_and_exit_code() -> None:
    assert _sarif_run(report())["invocations"][0] | {"endTimeUtc": ""} == {
        "executionSuccessful": False, "exitCode": 2, "endTimeUtc": ""}
    failed = _sarif_run(failing_report())["invocations"][0]
    assert (failed["executionSuccessful"], failed["exitCode"], failed["endTimeUtc"]) == (True, 1, CHECKED_AT_ISO)


def test_sarif_run_properties_pin_version_and_digests() -> None:
    props = _sarif_run(report())["properties"]
    assert (props["model.version"], props["policy.digest"], props["signature.digest"], props["sample.digest"],
            props["evidence.digest"]) == ("wine-quality/3@mlflow", SHA["policy"], SHA["signature"], SHA["sample"],
                                          SHA["evidence"])


def test_sarif_fingerprints_are_stable_per_subject_target_and_rule() -> None:
    first = [r["partialFingerprints"] for r in _sarif_run(report())["results"]]
    assert first == [r["partialFingerprints"] for r in _sarif_run(report(checked_at=1))["results"]]
    assert first != [r["partialFingerprints"] for r in _sarif_run(report(target="staging"))["results"]]
    assert len({json.dumps(f) for f in first}) == len(first)


# -- markdown -------------------------------------------------------------------------------

def test_markdown_heading_says_the_verdict_in_words() -> None:
    assert render(report(), "markdown").splitlines()[0] == "## Compliance check could not run: wine-quality-prod"
    assert render(failing_report(), "markdown").splitlines()[0] == "## Compliance check failed: wine-quality-prod"


def test_markdown_table_has_one_row_of_three_cells_per_rule() -> None:
    lines = render(report(), "markdown").splitlines()
    start = lines.index("| Rule | Verdict | Message |")
    rows = lines[start + 2: start + 2 + len(report().results)]
    assert [len(re.findall(r"(?<!\\)\|", row)) for row in rows] == [4] * 6
    assert rows[1] == ("| `signature-matches-input` | pass (not applicable) | "
                       "no deployment input: a model ref was checked |")
    assert rows[4] == ("| `alias-approved` | waived | alias champion was set by nobody<br>waived: approved in the "
                       "Q4 review (approved by risk@example.com, expires 2027-01-31) |")


def test_markdown_escapes_hostile_text_in_a_cell() -> None:
    row = [line for line in render(report(), "markdown").splitlines() if "classifications-allowed" in line][0]
    assert row == ("| `classifications-allowed` | warn | &lt;script&gt;alert('x')&lt;/script&gt; \\| a &amp; b<br>"
                   "second line\\\\x1b\\[31m\\\\x00\\\\x07 é 模型 \\\\u202egnp.exe |")


def test_markdown_lists_every_waiver_with_its_state() -> None:
    text = render(report(), "markdown")
    section = text.split("### Waivers\n\n")[1].split("\n\n")[0].splitlines()
    assert section[2:] == [
        "| `alias-approved` | models:/wine-quality/3 | used | approved in the Q4 review | risk@example.com "
        "| 2027-01-31 |",
        "| `metrics-threshold` | models:/wine-quality/2 | unused | old version | lead@example.com | 2027-03-01 |",
        "| `no-drift` | wine-quality-prod | expired | drift job \\| migrating &amp; &lt;late&gt; | ops@example.com "
        "| 2026-11-01 |",
    ]
    assert "### Waivers" not in render(report(waivers=()), "markdown")


def test_markdown_pins_version_and_digests() -> None:
    text = render(report(), "markdown")
    for line in (f"- Model version: `wine-quality/3@mlflow`", f"- Policy digest: `{SHA['policy']}`",
                 f"- Signature digest: `{SHA['signature']}`", f"- Sample digest: `{SHA['sample']}`",
                 f"- Evidence digest: `{SHA['evidence']}`",
                 f"- Checked at {CHECKED_AT_ISO} by ci@example.com with ml-lineage-catalog 0.9.0"):
        assert line in text.splitlines()
    assert "- Evidence digest: (none)" in render(report(evidence_digest=""), "markdown").splitlines()


def test_markdown_a_rule_id_that_is_not_a_plain_token_is_escaped_not_code() -> None:
    rep = report((rule("bad`|<b>", "fail", "x"),))
    assert "| bad\\`\\|&lt;b&gt; | fail | x |" in render(rep, "markdown").splitlines()


@pytest.mark.parametrize(("raw", "escaped"), [
    ("- not a list", "\\- not a list"),
    ("+ nor this", "\\+ nor this"),
    ("=== nor a heading", "\\=== nor a heading"),
    ("1. nor numbered", "1\\. nor numbered"),
    ("0.9.0", "0.9.0"),
    ("[link](javascript:x) ![img](y)", "\\[link\\](javascript:x) \\!\\[img\\](y)"),
    ("*em* _em_ `code` ~~del~~ # h", "\\*em\\* \\_em\\_ \\`code\\` \\~\\~del\\~\\~ \\# h"),
    ("a\r\nb\rc", "a<br>b\\\\x0dc"),
    ("back\\slash", "back\\\\slash"),
])
def test_markdown_text_renders_as_exactly_the_text(raw: str, escaped: str) -> None:
    assert markdown_text(raw) == escaped
