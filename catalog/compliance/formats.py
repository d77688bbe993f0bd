"""A compliance report for each reader: a terminal, machines, CI test reports, code scanning, job summaries.

``render(report, fmt)`` is the one entry point; every format reads only the frozen
``Report`` and nothing else (no clock, no catalog), so the same report renders the same
bytes today and when it is read back from evidence. Text that came from outside (rule
messages, waiver reasons, names) is made safe for its destination here, once: control
characters are shown escaped on a terminal, dropped where XML 1.0 forbids them, and
markdown's and HTML's special characters are escaped in job summaries.
"""

from __future__ import annotations

import hashlib
import json
import posixpath
import re
import unicodedata
import xml.etree.ElementTree as ET
from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import PurePosixPath, PureWindowsPath
from typing import Any
from urllib.parse import quote

from catalog.compliance.model import Report, RuleResult, WaiverUse
from catalog.errors import did_you_mean

__all__ = [
    "FORMATS",
    "SARIF_SCHEMA_URI",
    "TOOL_NAME",
    "evidence_summary",
    "iso_utc",
    "markdown_code",
    "markdown_text",
    "not_applicable",
    "render",
    "show_controls",
    "waiver_note",
]

FORMATS: tuple[str, ...] = ("text", "json", "junit", "sarif", "markdown")
TOOL_NAME = "ml-lineage-catalog"
SARIF_SCHEMA_URI = "https://docs.oasis-open.org/sarif/sarif/v2.1.0/errata01/os/schemas/sarif-schema-2.1.0.json"

_ANSI = {"PASS": "32", "WARN": "33", "FAIL": "31", "WAIVED": "36", "ERROR": "35"}
_VERDICT_WORDS = {"pass": "passed", "warn": "passed with warnings", "fail": "failed", "error": "could not run"}
# Characters that reorder what a reader sees (Trojan Source): shown escaped like controls.
_BIDI = frozenset("\u061c\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")
_XML_FORBIDDEN = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")
_MD_BACKSLASHED = frozenset("\\`*_[]#!|~")
_MD_ENTITIES = {"&": "&amp;", "<": "&lt;", ">": "&gt;"}
_MD_CODE_SAFE = re.compile(r"[A-Za-z0-9._:/@+=-]+")
_URI_SCHEME = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]+:")


def render(report: Report, fmt: str, *, color: bool = False) -> str:
    """``report`` as ``fmt`` (one of ``FORMATS``); ``color`` adds ANSI colours to ``text`` only."""
    if fmt == "text":
        return _text(report, color=color)
    renderer = _RENDERERS.get(fmt)
    if renderer is None:
        raise ValueError(f"unknown report format {fmt!r}: expected one of {', '.join(FORMATS)}"
                         f"{did_you_mean(fmt, FORMATS)}")
    return renderer(report)


# -- shared by every format (and by the model card) ---------------------------------------

def iso_utc(epoch_ms: int) -> str:
    """Epoch milliseconds as ISO-8601 UTC with milliseconds: ``2026-12-01T15:00:00.123Z``."""
    moment = datetime.fromtimestamp(epoch_ms // 1000, tz=UTC).replace(microsecond=(epoch_ms % 1000) * 1000)
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def not_applicable(result: RuleResult) -> bool:
    """True for a rule that found nothing to check (it passes, and every format says why)."""
    return not result.applicable and result.verdict == "pass"


def waiver_note(waiver: Mapping[str, Any] | WaiverUse) -> str:
    """``waived: <reason> (approved by <approver>, expires <date>)``."""
    data = waiver.to_json() if isinstance(waiver, WaiverUse) else waiver
    return (f"waived: {data.get('reason', '')} (approved by {data.get('approver', '') or 'nobody'}, "
            f"expires {data.get('expires', '') or 'never'})")


def evidence_summary(evidence: Mapping[str, Any], limit: int = 200) -> str:
    """``key=value; key=value`` in key order, non-strings as compact JSON, cut at ``limit`` characters."""
    parts = []
    for key in sorted(evidence, key=str):
        value = evidence[key]
        shown = value if isinstance(value, str) else json.dumps(value, sort_keys=True, ensure_ascii=False,
                                                                separators=(",", ":"), default=str)
        parts.append(f"{key}={shown}")
    text = "; ".join(parts)
    return text if len(text) <= limit else text[: limit - 1] + "\u2026"


def _is_control(ch: str) -> bool:
    return unicodedata.category(ch) in ("Cc", "Cs") or ch in _BIDI


def show_controls(text: str) -> str:
    """Control characters (``\\r`` too) and bidi overrides shown as ``\\x1b``-style escapes.

    On a terminal they then cannot move the cursor or recolour the screen, and in a
    document a reader sees that something was there instead of reordered text.
    """
    out = []
    for ch in text.replace("\r\n", "\n"):
        if ch == "\n":
            out.append(ch)
        elif ch == "\t":
            out.append(" ")
        elif _is_control(ch):
            out.append(f"\\x{ord(ch):02x}" if ord(ch) < 0x100 else f"\\u{ord(ch):04x}")
        else:
            out.append(ch)
    return "".join(out)


def markdown_text(value: object) -> str:
    """``value`` as inline markdown that renders as exactly that text.

    HTML's ``& < >`` become entities, markdown's inline punctuation is backslash-escaped
    (``|`` included, so it is safe in a table cell), newlines become ``<br>``, other
    control characters are shown as by ``show_controls``, and a leading ``-``, ``+``,
    ``=`` or ``1.`` cannot start a list or an underline where the text begins a line.
    """
    out = []
    for ch in show_controls(str(value)):
        if ch in _MD_ENTITIES:
            out.append(_MD_ENTITIES[ch])
        elif ch in _MD_BACKSLASHED:
            out.append("\\" + ch)
        elif ch == "\n":
            out.append("<br>")
        else:
            out.append(ch)
    text = "".join(out)
    if text[:1] in ("-", "+", "="):
        return "\\" + text
    return re.sub(r"^(\d+)([.)])(?=\s|$)", r"\1\\\2", text)


def markdown_code(value: object) -> str:
    """``value`` in a code span when it is a plain token (a digest, a rule id), else as ``markdown_text``."""
    text = str(value)
    return f"`{text}`" if _MD_CODE_SAFE.fullmatch(text) else markdown_text(text)


# -- text -----------------------------------------------------------------------------------

def _text(report: Report, *, color: bool) -> str:
    def tag(word: str, pad: int = 7) -> str:
        padded = f"{word:<{pad}}"
        return f"\x1b[{_ANSI[word]}m{padded}\x1b[0m" if color and word in _ANSI else padded

    width = max((len(show_controls(r.rule)) for r in report.results), default=0)
    indent = " " * (8 + width + 2)
    lines = [show_controls(f"compliance check of {report.subject_kind} {report.subject_label} for target "
                           f"{report.target}: model version {report.version_qn or '(unresolved)'}"),
             show_controls(f"policy {report.policy_source or '(none)'} sha256 {report.policy_digest or '-'}"), ""]
    for result in report.results:
        message = ("not applicable: " if not_applicable(result) else "") + result.message
        if result.verdict == "waived" and result.waiver is not None:
            message += "\n" + waiver_note(result.waiver)
        body = show_controls(message).replace("\n", "\n" + indent)
        lines.append(f"{tag(result.verdict.upper())} {show_controls(result.rule):<{width}}  {body}")
    leftover = [w for w in report.waivers if w.state in ("unused", "expired")]
    if leftover:
        lines += ["", "waivers not applied:"]
        for waiver in leftover:
            where = f", line {waiver.line}" if waiver.line else ""
            lines.append(show_controls(f"  {waiver.state:<7} {waiver.rule} {waiver.scope}: {waiver.reason} "
                                       f"(approved by {waiver.approver}, expires {waiver.expires}{where})"))
    lines += ["", report.summary_line(),
              f"verdict: {tag(report.verdict.upper(), 0)} (exit code {report.exit_code})"]
    return "\n".join(lines) + "\n"


# -- json -----------------------------------------------------------------------------------

def _json(report: Report) -> str:
    return json.dumps(report.to_json(), indent=2, sort_keys=False) + "\n"


# -- junit ----------------------------------------------------------------------------------

def _xml(value: object) -> str:
    return _XML_FORBIDDEN.sub("", str(value))


def _sub(parent: ET.Element, tag: str, text: str | None = None, **attrs: object) -> ET.Element:
    element = ET.SubElement(parent, tag, {k: _xml(v) for k, v in attrs.items()})
    if text is not None:
        element.text = _xml(text)
    return element


def _evidence_text(result: RuleResult) -> str:
    return json.dumps(dict(result.evidence), indent=2, sort_keys=True, ensure_ascii=False, default=str)


def _junit(report: Report) -> str:
    counts = report.counts()
    skipped = counts["waived"] + sum(1 for r in report.results if not_applicable(r))
    name = f"compliance:{report.subject_label}@{report.target}"
    totals = {"tests": len(report.results), "failures": counts["fail"], "errors": counts["error"]}
    root = ET.Element("testsuites", {"name": _xml(name)} | {k: str(v) for k, v in totals.items()})
    suite = _sub(root, "testsuite", name=name, **totals, skipped=skipped, time="0",
                 timestamp=iso_utc(report.checked_at))
    properties = _sub(suite, "properties")
    for key, value in _pinned(report):
        _sub(properties, "property", name=key, value=value)
    for result in report.results:
        if result.verdict == "warn":  # JUnit has no warning: the case passes, the suite records it
            _sub(properties, "property", name=f"warning:{result.rule}", value=result.message)
    for result in report.results:
        _junit_case(suite, result, classname=f"compliance.{report.target}")
    ET.indent(root)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, encoding="unicode") + "\n"


def _junit_case(suite: ET.Element, result: RuleResult, classname: str) -> None:
    case = _sub(suite, "testcase", classname=classname, name=result.rule, time="0")
    if result.verdict == "fail":
        _sub(case, "failure", _evidence_text(result), message=result.message, type="compliance.fail")
    elif result.verdict == "error":
        _sub(case, "error", _evidence_text(result), message=result.message, type="compliance.error")
    elif result.verdict == "waived":
        note = waiver_note(result.waiver) if result.waiver is not None else "waived"
        _sub(case, "skipped", f"{result.message}\n{_evidence_text(result)}", message=note)
    elif not_applicable(result):
        _sub(case, "skipped", message=f"not applicable: {result.message}")
    elif result.verdict == "warn":
        _sub(case, "system-out", f"WARNING: {result.message}\n{_evidence_text(result)}")


def _pinned(report: Report) -> list[tuple[str, str]]:
    return [
        ("model.version", report.version_qn), ("model.guid", report.version_guid),
        ("model.ref", report.model_ref), ("subject", report.subject),
        ("policy.source", report.policy_source), ("policy.digest", report.policy_digest),
        ("signature.digest", report.signature_digest), ("sample.digest", report.sample_digest),
        ("evidence.digest", report.evidence_digest), ("checked.by", report.checked_by),
        ("tool.version", report.tool_version), ("verdict", report.verdict),
    ]


# -- sarif ----------------------------------------------------------------------------------

_DEFAULT_LEVELS = {"fail": "error", "warn": "warning", "off": "none"}
_RESULT_LEVELS = {"fail": "error", "warn": "warning", "waived": "note", "error": "error"}


def _sarif(report: Report) -> str:
    rules: list[dict[str, Any]] = []
    index: dict[str, int] = {}
    for result in report.results:
        if result.rule not in index:
            index[result.rule] = len(rules)
            rules.append({
                "id": result.rule,
                "shortDescription": {"text": result.description or result.rule},
                "defaultConfiguration": {"level": _DEFAULT_LEVELS.get(result.severity, "warning"),
                                         "enabled": result.severity != "off"},
                "properties": {"ruleVersion": result.version},
            })
    location = _policy_location(report.policy_source)
    run = {
        "tool": {"driver": {"name": TOOL_NAME, "version": report.tool_version, "rules": rules}},
        "automationDetails": {"id": f"catalog-check/{report.target}/{report.subject_label}/"},
        "invocations": [{"executionSuccessful": report.verdict != "error", "exitCode": report.exit_code,
                         "endTimeUtc": iso_utc(report.checked_at)}],
        "results": [_sarif_result(report, r, index[r.rule], location) for r in report.results
                    if r.verdict != "pass"],
        "properties": {key: value for key, value in _pinned(report)} | {"checkedAt": iso_utc(report.checked_at)},
    }
    log = {"$schema": SARIF_SCHEMA_URI, "version": "2.1.0", "runs": [run]}
    return json.dumps(log, indent=2) + "\n"


def _sarif_result(report: Report, result: RuleResult, rule_index: int, uri: str | None) -> dict[str, Any]:
    fingerprint = hashlib.sha256(f"{report.subject}\0{report.target}\0{result.rule}".encode()).hexdigest()
    out: dict[str, Any] = {
        "ruleId": result.rule, "ruleIndex": rule_index, "level": _RESULT_LEVELS[result.verdict],
        "message": {"text": result.message or result.rule},
        "partialFingerprints": {"catalogComplianceRule/v1": fingerprint},
        "properties": {"verdict": result.verdict, "rawVerdict": result.raw_verdict or result.verdict,
                       "ruleVersion": result.version, "evidence": dict(result.evidence)},
    }
    if result.verdict == "error":
        out["properties"]["checkCouldNotRun"] = True
    line = 1
    if result.verdict == "waived":  # a waived result is suppressed, not dropped: auditors see it
        waiver = result.waiver or {}
        out["suppressions"] = [{"kind": "external", "status": "accepted",
                                "justification": str(waiver.get("reason", ""))}]
        out["properties"]["waiver"] = dict(waiver)
        line = _waiver_line(report, result.rule, waiver)
    if uri is not None:  # code scanning places an alert only by file and line (region.startLine)
        out["locations"] = [{"physicalLocation": {"artifactLocation": {"uri": uri},
                                                  "region": {"startLine": max(line, 1)}}}]
    return out


def _waiver_line(report: Report, rule: str, waiver: Mapping[str, Any]) -> int:
    """The policy line of the waiver a result used (the mapping's ``line``, else the report's use of it)."""
    if waiver.get("line"):
        return int(waiver["line"])
    for use in report.waivers:
        if use.state == "used" and use.rule == rule and use.scope == waiver.get("scope", use.scope):
            return use.line or 1
    return 1


def _policy_location(source: str) -> str | None:
    """The policy source as a URI reference when it names a file (``ml/lineage.yml``), else None.

    Not files: ``""``, ``built-in defaults`` (no folder, no extension), ``builtin:...`` and
    other URIs. A relative path stays relative (code scanning resolves it from the
    repository root); an absolute one becomes a ``file://`` URI.
    """
    if source.startswith("file:"):
        return source
    if PureWindowsPath(source).drive:
        return PureWindowsPath(source).as_uri()
    path = source.replace("\\", "/")
    if not path or _URI_SCHEME.match(path) or ("/" not in path and not PurePosixPath(path).suffix):
        return None
    if path.startswith("/"):
        return "file://" + quote(posixpath.normpath(path))
    return quote(posixpath.normpath(path))


# -- markdown -------------------------------------------------------------------------------

def _markdown(report: Report) -> str:
    lines = [f"## Compliance check {_VERDICT_WORDS[report.verdict]}: {markdown_text(report.subject_label)}", "",
             f"{markdown_text(report.subject_kind.capitalize())} **{markdown_text(report.subject_label)}**, "
             f"target **{markdown_text(report.target)}**, model version "
             f"**{markdown_text(report.version_qn or '(unresolved)')}**", "",
             "| Rule | Verdict | Message |", "| --- | --- | --- |"]
    for result in report.results:
        verdict = "pass (not applicable)" if not_applicable(result) else result.verdict
        message = result.message
        if result.verdict == "waived" and result.waiver is not None:
            message += "\n" + waiver_note(result.waiver)
        lines.append(f"| {markdown_code(result.rule)} | {verdict} | {markdown_text(message)} |")
    lines += ["", f"**{markdown_text(report.summary_line())}**: exit code {report.exit_code}", ""]
    if report.waivers:
        lines += ["### Waivers", "", "| Rule | Scope | State | Reason | Approver | Expires |",
                  "| --- | --- | --- | --- | --- | --- |"]
        lines += [f"| {markdown_code(w.rule)} | {markdown_text(w.scope)} | {w.state} | {markdown_text(w.reason)} "
                  f"| {markdown_text(w.approver)} | {markdown_text(w.expires)} |" for w in report.waivers]
        lines.append("")
    lines += ["### Pinned", ""]
    lines += [f"- {label}: {markdown_code(value) if value else '(none)'}" for label, value in (
        ("Model version", report.version_qn), ("Policy", report.policy_source),
        ("Policy digest", report.policy_digest), ("Signature digest", report.signature_digest),
        ("Sample digest", report.sample_digest), ("Evidence digest", report.evidence_digest))]
    lines.append(f"- Checked at {iso_utc(report.checked_at)} by {markdown_text(report.checked_by)} "
                 f"with {TOOL_NAME} {markdown_text(report.tool_version)}")
    return "\n".join(lines) + "\n"


_RENDERERS = {"json": _json, "junit": _junit, "sarif": _sarif, "markdown": _markdown}
