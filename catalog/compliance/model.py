"""What a compliance check says: rule results, the report, and the verdict and exit code.

Why one small module of frozen values: the check, the five report formats, the evidence
chain, the model-card export and the alias gate all read the same report; none of them
needs the catalog to do so, and a stored report reads back as the same object.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from catalog.errors import CatalogError

__all__ = [
    "EXIT_CODES",
    "SEVERITIES",
    "VERDICTS",
    "CheckError",
    "NotCompliant",
    "Report",
    "RuleResult",
    "WaiverUse",
    "overall_verdict",
]

Verdict = Literal["pass", "warn", "fail", "waived", "error"]
Severity = Literal["fail", "warn", "off"]

#: The verdicts of a rule, worst last (a report's verdict is its worst rule's, waived aside).
VERDICTS: tuple[str, ...] = ("pass", "waived", "warn", "fail", "error")
SEVERITIES: tuple[str, ...] = ("fail", "warn", "off")
#: ``catalog check``'s exit status per report verdict: 0 pass (warnings allowed), 1 fail,
#: 2 could not check.
EXIT_CODES: Mapping[str, int] = {"pass": 0, "waived": 0, "warn": 0, "fail": 1, "error": 2}


class CheckError(CatalogError, ValueError):
    """The check could not run: unknown deployment or ref, malformed policy, unreadable input."""


class NotCompliant(CatalogError):
    """A gate refused: the report's verdict is fail (or the check could not decide)."""

    exit_code = 1

    def __init__(self, report: Report) -> None:
        super().__init__(f"{report.subject_label}: compliance check {report.verdict} "
                         f"({report.summary_line()})")
        self.report = report


@dataclass(frozen=True, slots=True)
class RuleResult:
    """One rule's finding about the subject.

    ``evidence`` is what the rule looked at (guids, digests, values), as JSON-able data.
    ``applicable`` is False when the subject has nothing the rule is about (no deployment
    input for ``signature-matches-input`` when a model ref is checked, no scoring runs
    yet for ``no-drift``): the verdict is then ``pass`` and the message says why.
    ``waiver`` is the waiver that turned a failure into ``waived``; ``raw_verdict`` is
    what the rule said before waivers.
    """

    rule: str
    version: int
    severity: str
    verdict: str
    message: str
    evidence: Mapping[str, Any] = field(default_factory=dict)
    description: str = ""
    applicable: bool = True
    raw_verdict: str = ""
    waiver: Mapping[str, Any] | None = None

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "rule": self.rule, "version": self.version, "severity": self.severity, "verdict": self.verdict,
            "message": self.message, "evidence": dict(self.evidence), "description": self.description,
            "applicable": self.applicable, "rawVerdict": self.raw_verdict or self.verdict,
        }
        if self.waiver is not None:
            out["waiver"] = dict(self.waiver)
        return out

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> RuleResult:
        return cls(
            rule=data["rule"], version=int(data["version"]), severity=data["severity"], verdict=data["verdict"],
            message=data["message"], evidence=data.get("evidence") or {}, description=data.get("description", ""),
            applicable=bool(data.get("applicable", True)), raw_verdict=data.get("rawVerdict", ""),
            waiver=data.get("waiver"),
        )


@dataclass(frozen=True, slots=True)
class WaiverUse:
    """A waiver of the policy and what became of it in this check: used, unused or expired."""

    rule: str
    scope: str
    reason: str
    approver: str
    expires: str
    state: Literal["used", "unused", "expired"]
    line: int = 0

    def to_json(self) -> dict[str, Any]:
        return {"rule": self.rule, "scope": self.scope, "reason": self.reason, "approver": self.approver,
                "expires": self.expires, "state": self.state, "line": self.line}

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> WaiverUse:
        return cls(rule=data["rule"], scope=data["scope"], reason=data["reason"], approver=data["approver"],
                   expires=data["expires"], state=data["state"], line=int(data.get("line", 0)))


def overall_verdict(results: tuple[RuleResult, ...] | list[RuleResult]) -> str:
    """The worst verdict among ``results`` (``pass`` when there are none)."""
    worst = "pass"
    for result in results:
        if VERDICTS.index(result.verdict) > VERDICTS.index(worst):
            worst = result.verdict
    return "pass" if worst == "waived" else worst


@dataclass(frozen=True, slots=True)
class Report:
    """A check of one subject (a deployment, or a model version) against one target's policy.

    The report pins what it checked: ``version_qn`` / ``version_guid`` (an alias is
    resolved once, before any rule runs), ``signature_digest``, ``policy_digest`` and
    ``sample_digest`` (sha256 hex; "" when there was nothing to digest).
    """

    subject_kind: Literal["deployment", "model"]
    subject: str  # the deployment's qualifiedName, or the model ref as given
    subject_label: str  # what a person calls it: the deployment name, or the ref
    target: str
    model_ref: str
    version_qn: str
    version_guid: str
    deployment_guid: str
    results: tuple[RuleResult, ...]
    waivers: tuple[WaiverUse, ...]
    policy_source: str
    policy_digest: str
    signature_digest: str
    sample_digest: str
    checked_at: int  # epoch milliseconds
    checked_by: str
    tool_version: str
    evidence_digest: str = ""  # set once the report is stored (the evidence record's id)

    @property
    def verdict(self) -> str:
        return overall_verdict(self.results)

    @property
    def exit_code(self) -> int:
        return EXIT_CODES[self.verdict]

    def counts(self) -> dict[str, int]:
        counts = {v: 0 for v in VERDICTS}
        for result in self.results:
            counts[result.verdict] += 1
        return counts

    def summary_line(self) -> str:
        """``"8 passed, 1 warning, 1 failed, 1 waived, 0 errors"``."""
        c = self.counts()
        return (f"{c['pass']} passed, {c['warn']} warning{'s' if c['warn'] != 1 else ''}, {c['fail']} failed, "
                f"{c['waived']} waived, {c['error']} error{'s' if c['error'] != 1 else ''}")

    def to_json(self) -> dict[str, Any]:
        """The report as stored in evidence and printed by ``--format json``."""
        return {
            "subject": {"kind": self.subject_kind, "name": self.subject, "label": self.subject_label,
                        "deploymentGuid": self.deployment_guid},
            "target": self.target,
            "model": {"ref": self.model_ref, "version": self.version_qn, "guid": self.version_guid},
            "verdict": self.verdict,
            "exitCode": self.exit_code,
            "counts": self.counts(),
            "results": [r.to_json() for r in self.results],
            "waivers": [w.to_json() for w in self.waivers],
            "policy": {"source": self.policy_source, "digest": self.policy_digest},
            "signatureDigest": self.signature_digest,
            "sampleDigest": self.sample_digest,
            "checkedAt": self.checked_at,
            "checkedBy": self.checked_by,
            "toolVersion": self.tool_version,
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any], evidence_digest: str = "") -> Report:
        subject, model, policy = data["subject"], data["model"], data["policy"]
        return cls(
            subject_kind=subject["kind"], subject=subject["name"], subject_label=subject["label"],
            target=data["target"], model_ref=model["ref"], version_qn=model["version"], version_guid=model["guid"],
            deployment_guid=subject.get("deploymentGuid", ""),
            results=tuple(RuleResult.from_json(r) for r in data["results"]),
            waivers=tuple(WaiverUse.from_json(w) for w in data["waivers"]),
            policy_source=policy["source"], policy_digest=policy["digest"],
            signature_digest=data["signatureDigest"], sample_digest=data["sampleDigest"],
            checked_at=int(data["checkedAt"]), checked_by=data["checkedBy"], tool_version=data["toolVersion"],
            evidence_digest=evidence_digest,
        )
