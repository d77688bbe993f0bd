"""catalog.compliance.export: the model card, as markdown and as one standalone HTML page."""

from __future__ import annotations

import re
from dataclasses import replace
from html.parser import HTMLParser

import pytest

from catalog.compliance.export import (
    CARD_FORMATS,
    CardClassification,
    CardDeployment,
    EvidenceLink,
    ModelCard,
    ReportSummary,
    TrainingDataset,
    render_card,
)
from tests.fixtures.compliance_reports import CHECKED_AT, CHECKED_AT_ISO, HOSTILE, SHA, failing_report, report

SECTIONS = ("Model details", "Intended use", "Training data and provenance", "Classifications", "Evaluation",
            "Compliance checks", "Waivers", "Evidence")


def card(**changes: object) -> ModelCard:
    latest = report()
    earlier = replace(failing_report(), checked_at=CHECKED_AT - 86_400_000, evidence_digest="9" * 64)
    base = ModelCard(
        model_name="wine-quality", owner="ds-team@example.com", purpose="Score nightly wine batches | quality",
        description=HOSTILE, version_qn="wine-quality/3@mlflow", status="READY", run_id="0a1b2c",
        generated_at=CHECKED_AT + 60_000, generated_by="catalog 0.9.0",
        metrics=(("rmse", 0.91), ("r2", 1.0)), params=(("alpha", "0.5"), ("l1_ratio", "0.1")),
        signature_inputs=(("fixed acidity", "double"), ("pH", "double")), signature_outputs=(("quality", "long"),),
        training_data=(TrainingDataset("wine.red@prod", "hive_table", "f" * 64, declared=True, logged=True),
                       TrainingDataset("s3://bucket/white.csv", "aws_s3_object", "", declared=False, logged=True),
                       TrainingDataset("wine.notes@prod", "hive_table", "", declared=True)),
        classifications=(CardClassification("PII", "wine.red@prod"),
                         CardClassification("Confidential", "wine-quality/3@mlflow")),
        deployments=(CardDeployment("wine-quality-prod", "prod", "batch", "models:/wine-quality@champion"),),
        report=latest, history=(ReportSummary.of(earlier),), waivers=latest.waivers,
        evidence=EvidenceLink(position=5, digest=SHA["evidence"], previous="9" * 64),
    )
    return replace(base, **changes)  # type: ignore[arg-type]


class _Tags(HTMLParser):
    """Every start tag and attribute of an HTML document, and its text per section id."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))

    def handle_data(self, data: str) -> None:
        self.text.append(data)


def _parsed(html: str) -> _Tags:
    parser = _Tags()
    parser.feed(html)
    parser.close()
    return parser


def _md_section(text: str, title: str) -> str:
    return text.split(f"\n## {title}\n\n")[1].split("\n## ")[0]


def test_card_formats_and_an_unknown_one() -> None:
    assert CARD_FORMATS == ("markdown", "html")
    with pytest.raises(ValueError) as caught:
        render_card(card(), "htm")
    assert str(caught.value) == "unknown model card format 'htm': expected one of markdown, html; did you mean 'html'?"


@pytest.mark.parametrize("fmt", CARD_FORMATS)
def test_card_is_deterministic(fmt: str) -> None:
    assert render_card(card(), fmt) == render_card(card(), fmt)


def test_markdown_card_has_the_sections_in_order() -> None:
    headings = [line[3:] for line in render_card(card(), "markdown").splitlines() if line.startswith("## ")]
    assert headings == list(SECTIONS)


def test_markdown_card_title_and_generated_at_come_from_the_card() -> None:
    lines = render_card(card(), "markdown").splitlines()
    assert lines[0] == "# Model card: wine-quality wine-quality/3@mlflow"
    assert lines[2] == "Generated at 2026-12-01T15:01:00.123Z by catalog 0.9.0."
    assert render_card(card(generated_at=0, generated_by=""), "markdown").splitlines()[2] == (
        "Generated at 1970-01-01T00:00:00.000Z.")


def test_markdown_card_model_details_escape_the_description() -> None:
    details = _md_section(render_card(card(), "markdown"), "Model details")
    assert "| Version | `wine-quality/3@mlflow` |" in details.splitlines()
    assert ("| Description | &lt;script&gt;alert('x')&lt;/script&gt; \\| a &amp; b<br>second line\\\\x1b\\[31m"
            "\\\\x00\\\\x07 é 模型 \\\\u202egnp.exe |") in details.splitlines()
    assert "| input | fixed acidity | double |" in details and "| output | quality | long |" in details


def test_markdown_card_intended_use_has_purpose_and_deployments() -> None:
    use = _md_section(render_card(card(), "markdown"), "Intended use").splitlines()
    assert use[0] == "Purpose: Score nightly wine batches \\| quality"
    assert "| wine-quality-prod | prod | batch | `models:/wine-quality@champion` |" in use
    assert "Not deployed." in render_card(card(deployments=()), "markdown")


def test_markdown_card_training_data_says_how_each_set_is_known() -> None:
    rows = _md_section(render_card(card(), "markdown"), "Training data and provenance").splitlines()
    assert rows[2:5] == [
        f"| `wine.red@prod` | hive\\_table | `{'f' * 64}` | declared and logged |",
        "| `s3://bucket/white.csv` | aws\\_s3\\_object | (none) | logged only |",
        "| `wine.notes@prod` | hive\\_table | (none) | declared only |",
    ]


def test_markdown_card_classifications_name_their_source() -> None:
    rows = _md_section(render_card(card(), "markdown"), "Classifications").splitlines()
    assert rows[2:] == ["| PII | `wine.red@prod` |", "| Confidential | `wine-quality/3@mlflow` |"]
    assert "No classification reached this version." in render_card(card(classifications=()), "markdown")


def test_markdown_card_evaluation_lists_metrics_and_params() -> None:
    rows = _md_section(render_card(card(), "markdown"), "Evaluation").splitlines()
    assert rows[2:4] == ["| rmse | 0.91 |", "| r2 | 1 |"]
    assert "| l1\\_ratio | 0.1 |" in rows


def test_markdown_card_compliance_shows_each_rule_with_evidence_and_waiver() -> None:
    rows = _md_section(render_card(card(), "markdown"), "Compliance checks").splitlines()
    assert rows[0] == ("Latest check of deployment wine-quality-prod for target prod at 2026-12-01T15:00:00.123Z by "
                       "ci@example.com: verdict error (2 passed, 1 warning, 1 failed, 1 waived, 1 error), exit code 2.")
    assert ("| `metrics-threshold` v1, severity fail | fail | rmse 0.91 is above 0.8 | metric=rmse; "
            "threshold=&lt;= 0.8; value=0.91 | (none) |") in rows
    assert ("| `alias-approved` v1, severity fail | waived | alias champion was set by nobody | alias=champion | "
            "waived: approved in the Q4 review (approved by risk@example.com, expires 2027-01-31) |") in rows
    assert ("| `signature-matches-input` v1, severity fail | pass (not applicable) | no deployment input: a model "
            "ref was checked | (none) | (none) |") in rows


def test_markdown_card_history_lists_earlier_reports() -> None:
    rows = _md_section(render_card(card(), "markdown"), "Compliance checks").split("### Earlier checks\n\n")[1]
    assert rows.splitlines()[2] == (f"| 2026-11-30T15:00:00.123Z | prod | fail | 2 passed, 1 warning, 1 failed, "
                                    f"1 waived, 0 errors | `{'9' * 64}` |")


def test_markdown_card_without_a_report_says_it_was_not_checked() -> None:
    text = render_card(card(report=None, history=()), "markdown")
    assert "This version has not been checked." in text and "Earlier checks" not in text
    assert _md_section(text, "Evidence").startswith("Chain position: record 5")


def test_markdown_card_waivers_show_every_state() -> None:
    rows = _md_section(render_card(card(), "markdown"), "Waivers").splitlines()
    assert [row.split(" | ")[2] for row in rows[2:]] == ["used", "unused", "expired"]
    assert "No waivers apply to this version." in render_card(card(waivers=()), "markdown")


def test_markdown_card_evidence_has_digests_and_chain_position() -> None:
    evidence = _md_section(render_card(card(), "markdown"), "Evidence").splitlines()
    assert evidence[2:6] == [f"| Evidence record | `{SHA['evidence']}` |", f"| Policy | `{SHA['policy']}` |",
                             f"| Signature | `{SHA['signature']}` |", f"| Data sample | `{SHA['sample']}` |"]
    assert f"Chain position: record 5 (`{SHA['evidence']}`), after `{'9' * 64}`." in evidence
    first = render_card(card(evidence=EvidenceLink(1, SHA["evidence"])), "markdown")
    assert f"Chain position: record 1 (`{SHA['evidence']}`), after nothing (the first record)." in first
    assert "This card's report is not in the evidence chain." in render_card(card(evidence=None), "markdown")


def test_html_card_is_a_standalone_document_without_external_resources() -> None:
    html = render_card(card(), "html")
    assert html.startswith("<!DOCTYPE html>\n<html lang=\"en\">")
    assert html.rstrip().endswith("</html>")
    tags = _parsed(html).tags
    assert [t for t, _ in tags].count("style") == 1
    assert not [t for t, _ in tags if t in ("script", "link", "img", "iframe", "object", "embed")]
    assert not [a for _, attrs in tags for a in attrs if a in ("src", "href") or a.startswith("on")]
    assert "url(" not in html and "@import" not in html
    csp = [a["content"] for t, a in tags if t == "meta" and a.get("http-equiv") == "Content-Security-Policy"]
    assert csp == ["default-src 'none'; style-src 'unsafe-inline'"]


def test_html_card_has_the_sections_in_order() -> None:
    tags = _parsed(render_card(card(), "html")).tags
    assert [a["id"] for t, a in tags if t == "section"] == ["model-details", "intended-use", "training-data",
                                                          "classifications", "evaluation", "compliance", "waivers",
                                                          "evidence"]
    html = render_card(card(), "html")
    assert [h for h in re.findall(r"<h2>(.*?)</h2>", html)] == list(SECTIONS)


def test_html_card_escapes_hostile_text_everywhere() -> None:
    hostile = '"><script>alert(1)</script><img src=x onerror=alert(2)>'
    html = render_card(card(model_name=hostile, owner=hostile, purpose=hostile, generated_by=hostile), "html")
    parsed = _parsed(html)
    assert not [t for t, _ in parsed.tags if t in ("script", "img")]
    assert f"Model card: {hostile} wine-quality/3@mlflow" in "".join(parsed.text)
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html


def test_html_card_shows_control_characters_escaped_and_keeps_non_ascii() -> None:
    html = render_card(card(), "html")
    assert not re.search("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\u202e]", html)
    assert "second line\\x1b[31m\\x00\\x07 é 模型 \\u202egnp.exe" in html


def test_html_card_generated_at_comes_from_the_card() -> None:
    html = render_card(card(), "html")
    assert '<time datetime="2026-12-01T15:01:00.123Z">2026-12-01T15:01:00.123Z</time>' in html
    assert CHECKED_AT_ISO in html  # the report's own check time


def test_html_card_marks_each_rule_verdict() -> None:
    tags = _parsed(render_card(card(), "html")).tags
    classes = [a["class"] for t, a in tags if t == "td" and (a.get("class") or "").startswith("verdict")]
    assert classes[:6] == ["verdict pass", "verdict pass", "verdict fail", "verdict warn", "verdict waived",
                           "verdict error"]


def test_html_card_without_optional_parts_still_renders() -> None:
    bare = ModelCard(model_name="m", owner="", purpose="", description="", version_qn="m/1", status="", run_id="",
                     generated_at=0)
    text = "".join(_parsed(render_card(bare, "html")).text)
    for phrase in ("No signature was logged", "Not deployed.", "No training data is recorded",
                   "No classification reached", "No metrics were logged.", "This version has not been checked.",
                   "No waivers apply", "not in the evidence chain"):
        assert phrase in text


def test_the_card_is_plain_frozen_data() -> None:
    with pytest.raises(AttributeError):
        card().owner = "someone else"  # type: ignore[misc]
    assert ReportSummary.of(report()) == ReportSummary("error", CHECKED_AT, SHA["evidence"], "prod",
                                                       "2 passed, 1 warning, 1 failed, 1 waived, 1 error")
    assert TrainingDataset("t", "hive_table").provenance == "unknown"
