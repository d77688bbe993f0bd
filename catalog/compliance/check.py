"""Run the rules on a subject, apply the target's severities and the waivers, make the report.

Waivers follow Conftest's and Pulumi's semantics: a waived failure is still reported
(verdict ``waived``, counted apart); a waiver that matches nothing is reported as
unused; an expired waiver stops counting and the report says so. A waiver already
expired the first time the catalog sees it (or whose ``created`` is not before its
``expires``) is a policy error: the check cannot run (exit 2) rather than quietly
failing on a waiver nobody could have used.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any

from catalog import __version__
from catalog.canonical import canonical_json
from catalog.compliance.context import CheckContext
from catalog.compliance.model import CheckError, Report, RuleResult, WaiverUse
from catalog.compliance.rules import RULES, Outcome, digest_text
from catalog.errors import CatalogError

if TYPE_CHECKING:
    from catalog.lineage_file.policy import WaiverSpec

__all__ = ["run_rules", "policy_digest", "waiver_digest"]

#: A callback: the epoch milliseconds a waiver was first seen, recording ``now`` if never.
FirstSeen = Callable[["WaiverSpec", int], int]


def waiver_digest(waiver: WaiverSpec) -> str:
    return digest_text(canonical_json(waiver.model_dump(mode="json")))


def policy_digest(ctx: CheckContext) -> str:
    """sha256 over the effective policy of the target: its rules' settings and the waivers."""
    waivers = ctx.doc.policy.waivers if ctx.doc is not None else []
    body = {"target": ctx.target, "policy": ctx.policy.model_dump(mode="json", by_alias=True),
            "waivers": [w.model_dump(mode="json") for w in waivers],
            "metrics": dict(ctx.model_spec.policy.metrics) if ctx.model_spec is not None else {}}
    return digest_text(canonical_json(body))


def _matches(waiver: WaiverSpec, ctx: CheckContext) -> bool:
    from catalog.lineage_file.policy import waiver_scope

    kind, name, version = waiver_scope(waiver.scope)
    if kind == "deployment":
        return name == ctx.deployment_name
    if name != ctx.model_name:
        return False
    return kind == "model" or ctx.version.qualified_name.startswith(f"{name}/{version}@")


def _expiry_check(waivers: Iterable[WaiverSpec], now: int, first_seen: FirstSeen | None) -> None:
    for waiver in waivers:
        seen_at = first_seen(waiver, now) if first_seen is not None else now
        seen = dt.datetime.fromtimestamp(seen_at / 1000, dt.timezone.utc).date()
        if waiver.expires < seen:
            raise CheckError(
                f"waiver of {waiver.rule} for {waiver.scope} (approver {waiver.approver}) expired on "
                f"{waiver.expires.isoformat()}, before it was first used on {seen.isoformat()}: "
                "remove it or renew it with a new expiry"
            )


def _result(rule_id: str, severity: str, outcome: Outcome) -> RuleResult:
    rule = RULES[rule_id]
    verdict = {"pass": "pass", "warn": "warn", "error": "error"}.get(outcome.status, severity)
    return RuleResult(rule_id, rule.version, severity, verdict, outcome.message, dict(outcome.evidence),
                      rule.description, outcome.applicable, raw_verdict=verdict)


def _run_one(rule_id: str, ctx: CheckContext, settings: Any, severity: str) -> RuleResult:
    try:
        outcome = RULES[rule_id].run(ctx, settings)
    except (CatalogError, OSError, ValueError) as exc:
        outcome = Outcome("error", f"could not check: {exc}")
    return _result(rule_id, severity, outcome)


def run_rules(
    ctx: CheckContext,
    *,
    now: int,
    user: str,
    data: bool = True,
    first_seen: FirstSeen | None = None,
) -> Report:
    """Every applicable rule on ``ctx``, severities and waivers applied; ``data=False`` skips the sample rules."""
    today = dt.datetime.fromtimestamp(now / 1000, dt.timezone.utc).date()
    waivers = list(ctx.doc.policy.waivers) if ctx.doc is not None else []
    _expiry_check([w for w in waivers if _matches(w, ctx)], now, first_seen)
    results: list[RuleResult] = []
    for rule_id, rule in RULES.items():
        settings = ctx.policy.rules.settings(rule_id)
        severity = settings.severity or rule.severity
        if severity == "off" or (rule.data and not data):
            continue
        results.append(_run_one(rule_id, ctx, settings, severity))
    results, uses = _apply_waivers(results, waivers, ctx, today)
    sample = next((v for k, v in ctx.cache.items() if k.startswith("sample:")), None)
    signature = ctx.version.attributes.get("signature")
    return Report(
        subject_kind=ctx.subject_kind,  # type: ignore[arg-type]
        subject=ctx.subject, subject_label=ctx.subject_label, target=ctx.target, model_ref=ctx.model_ref,
        version_qn=ctx.version.qualified_name, version_guid=ctx.version.guid,
        deployment_guid=ctx.deployment.guid if ctx.deployment is not None else "",
        results=tuple(results), waivers=tuple(uses),
        policy_source=ctx.doc.policy_source if ctx.doc is not None else "built-in defaults",
        policy_digest=policy_digest(ctx), signature_digest=digest_text(signature) if signature else "",
        sample_digest=getattr(sample, "digest", "") if sample is not None else "",
        checked_at=now, checked_by=user, tool_version=__version__,
    )


def _apply_waivers(
    results: list[RuleResult], waivers: list[WaiverSpec], ctx: CheckContext, today: dt.date
) -> tuple[list[RuleResult], list[WaiverUse]]:
    """Waive failures and warnings the subject's in-scope, unexpired waivers cover; say what became of each."""
    mine = [w for w in waivers if _matches(w, ctx)]
    used: set[int] = set()
    out = []
    for result in results:
        if result.verdict in ("fail", "warn"):
            result = _waive(result, mine, today, used)
        out.append(result)
    uses = []
    for i, waiver in enumerate(mine):
        state = "used" if i in used else "expired" if waiver.expires < today else "unused"
        uses.append(WaiverUse(waiver.rule, waiver.scope, waiver.reason, waiver.approver,
                              waiver.expires.isoformat(), state))  # type: ignore[arg-type]
    return out, uses


def _waive(result: RuleResult, waivers: list[WaiverSpec], today: dt.date, used: set[int]) -> RuleResult:
    expired = None
    for i, waiver in enumerate(waivers):
        if waiver.rule != result.rule:
            continue
        if waiver.expires < today:
            expired = waiver
            continue
        used.add(i)
        return RuleResult(
            result.rule, result.version, result.severity, "waived", result.message, result.evidence,
            result.description, result.applicable, result.raw_verdict,
            waiver={"scope": waiver.scope, "reason": waiver.reason, "approver": waiver.approver,
                    "expires": waiver.expires.isoformat()},
        )
    if expired is None:
        return result
    note = f" (the waiver approved by {expired.approver} expired on {expired.expires.isoformat()})"
    return RuleResult(result.rule, result.version, result.severity, result.verdict, result.message + note,
                      result.evidence, result.description, result.applicable, result.raw_verdict)
