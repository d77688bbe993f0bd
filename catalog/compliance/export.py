"""The model card: what an auditor files about one model version, with its compliance record.

``ModelCard`` is plain frozen data (whoever reads the catalog fills it in; nothing here
touches the store, the clock or the network), and ``render_card`` lays it out as markdown
or as one standalone HTML page. Both layouts are Jinja templates, package files under
``templates/`` (like ``web/templates``), so an auditor's layout is edited as a document and
not as Python strings. Escaping happens by construction: the HTML environment autoescapes
every value, the markdown one passes every value through ``markdown_text``.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from catalog.compliance.formats import (
    evidence_summary,
    iso_utc,
    markdown_code,
    markdown_text,
    not_applicable,
    show_controls,
    waiver_note,
)
from catalog.compliance.model import Report, RuleResult, WaiverUse
from catalog.errors import did_you_mean

if TYPE_CHECKING:
    import jinja2

__all__ = [
    "CARD_FORMATS",
    "CardClassification",
    "CardDeployment",
    "EvidenceLink",
    "ModelCard",
    "ReportSummary",
    "TrainingDataset",
    "render_card",
]

CARD_FORMATS: tuple[str, ...] = ("markdown", "html")
_TEMPLATES = {"markdown": "model_card.md", "html": "model_card.html"}


@dataclass(frozen=True, slots=True)
class TrainingDataset:
    """A data set the version was trained on, and how the catalog knows it."""

    qualified_name: str
    type_name: str
    digest: str = ""
    declared: bool = False  # named as an input in lineage.yml
    logged: bool = False  # logged to MLflow as an input of the training run

    @property
    def provenance(self) -> str:
        if self.declared and self.logged:
            return "declared and logged"
        return "declared only" if self.declared else "logged only" if self.logged else "unknown"


@dataclass(frozen=True, slots=True)
class CardClassification:
    """A classification (PII, ...) that reached the version, and the entity it came from."""

    name: str
    source: str  # qualifiedName of the entity it is attached to (the version itself when direct)


@dataclass(frozen=True, slots=True)
class CardDeployment:
    name: str
    target: str
    mode: str  # batch, streaming, online
    ref: str  # the model ref it serves (models:/name@alias or models:/name/3)


@dataclass(frozen=True, slots=True)
class ReportSummary:
    """An earlier compliance report, as the history table shows it."""

    verdict: str
    checked_at: int  # epoch milliseconds
    evidence_digest: str
    target: str = ""
    summary: str = ""

    @classmethod
    def of(cls, report: Report) -> ReportSummary:
        return cls(verdict=report.verdict, checked_at=report.checked_at, evidence_digest=report.evidence_digest,
                   target=report.target, summary=report.summary_line())


@dataclass(frozen=True, slots=True)
class EvidenceLink:
    """Where the latest report's evidence record sits in the append-only evidence chain."""

    position: int  # 1 for the first record
    digest: str
    previous: str = ""  # the digest of the record before it; "" for the first


@dataclass(frozen=True, slots=True)
class ModelCard:
    """Everything a model card says, as plain data; ``generated_at`` is the card's own timestamp."""

    model_name: str
    owner: str
    purpose: str
    description: str
    version_qn: str
    status: str
    run_id: str
    generated_at: int  # epoch milliseconds, set by whoever builds the card
    metrics: tuple[tuple[str, float], ...] = ()
    params: tuple[tuple[str, str], ...] = ()
    signature_inputs: tuple[tuple[str, str], ...] = ()  # (column, type)
    signature_outputs: tuple[tuple[str, str], ...] = ()
    training_data: tuple[TrainingDataset, ...] = ()
    classifications: tuple[CardClassification, ...] = ()
    deployments: tuple[CardDeployment, ...] = ()
    report: Report | None = None  # the latest compliance report
    history: tuple[ReportSummary, ...] = ()  # earlier reports, newest first
    waivers: tuple[WaiverUse, ...] = ()
    evidence: EvidenceLink | None = None
    generated_by: str = ""


def render_card(card: ModelCard, fmt: str) -> str:
    """``card`` as ``markdown`` or as a standalone ``html`` document."""
    if fmt not in _TEMPLATES:
        raise ValueError(f"unknown model card format {fmt!r}: expected one of {', '.join(CARD_FORMATS)}"
                         f"{did_you_mean(fmt, CARD_FORMATS)}")
    return _environment(fmt).get_template(_TEMPLATES[fmt]).render(_card_view(card))


def _card_view(card: ModelCard) -> dict[str, Any]:
    """What the templates show, worked out once for both layouts (the templates only lay it out)."""
    report = card.report
    return {
        "card": card,
        "generated_at": iso_utc(card.generated_at),
        "title": f"{card.model_name} {card.version_qn}".strip(),
        "metrics": [(name, _number(value)) for name, value in card.metrics],
        "rules": [_rule_view(r) for r in report.results] if report is not None else [],
        "report": _report_view(report) if report is not None else None,
        "history": [{"verdict": h.verdict, "checked_at": iso_utc(h.checked_at), "digest": h.evidence_digest,
                     "target": h.target, "summary": h.summary} for h in card.history],
        "waivers": card.waivers,
    }


def _report_view(report: Report) -> dict[str, Any]:
    return {
        "verdict": report.verdict, "exit_code": report.exit_code, "summary": report.summary_line(),
        "target": report.target, "subject": f"{report.subject_kind} {report.subject_label}",
        "checked_at": iso_utc(report.checked_at), "checked_by": report.checked_by,
        "tool_version": report.tool_version,
        "digests": [("Evidence record", report.evidence_digest), ("Policy", report.policy_digest),
                    ("Signature", report.signature_digest), ("Data sample", report.sample_digest)],
        "policy_source": report.policy_source, "version_qn": report.version_qn,
    }


def _rule_view(result: RuleResult) -> dict[str, Any]:
    verdict = "pass (not applicable)" if not_applicable(result) else result.verdict
    waiver = waiver_note(result.waiver) if result.waiver is not None else ""
    return {"rule": result.rule, "version": result.version, "severity": result.severity, "verdict": verdict,
            "css": result.verdict, "message": result.message, "evidence": evidence_summary(result.evidence),
            "waiver": waiver}


def _number(value: float) -> str:
    return str(int(value)) if isinstance(value, float) and value.is_integer() else str(value)


class _Raw(str):
    """A markdown fragment already made safe (a code span); the markdown environment leaves it as is."""


def _md_finalize(value: object) -> object:
    if isinstance(value, _Raw) or not isinstance(value, str):
        return value
    return markdown_text(value)


def _html_finalize(value: object) -> object:
    """Control characters (which HTML forbids in text) shown escaped; escaping markup is autoescape's."""
    import markupsafe

    if isinstance(value, markupsafe.Markup) or not isinstance(value, str):
        return value
    return show_controls(value)


@functools.cache
def _environment(fmt: str) -> jinja2.Environment:
    """One Jinja environment per layout, built on first use (no work at import)."""
    import jinja2

    loader = jinja2.PackageLoader("catalog.compliance", "templates")
    if fmt == "html":
        env = jinja2.Environment(loader=loader, autoescape=True, finalize=_html_finalize,
                                 undefined=jinja2.StrictUndefined, trim_blocks=True, lstrip_blocks=True)
    else:
        env = jinja2.Environment(loader=loader, autoescape=False, finalize=_md_finalize,
                                 undefined=jinja2.StrictUndefined, trim_blocks=True, lstrip_blocks=True,
                                 keep_trailing_newline=True)
        env.filters["code"] = lambda value: _Raw(markdown_code(value))
    return env
