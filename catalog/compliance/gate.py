"""The alias gate: what the MLflow hook runs when an alias moves (``model_version_alias.created``).

``alias_gate(catalog, model, alias, version, mlflow_uri=...)``:

1. reads which version the catalog has carrying the alias: the version it pointed at
   before the move ("previous"; None when no version carried it);
2. ingests MLflow incrementally (and lineage.yml), so the catalog sees the move;
3. checks every deployment of lineage.yml whose ``model`` is ``models:/<model>@<alias>``,
   each check recorded as evidence like ``catalog check`` records it;
4. when a check of the gated version fails (verdict ``fail`` or ``error``, or the check
   cannot run) and the deployment's target has ``on_fail: revert``, moves the alias back
   in MLflow to the previous version (or deletes it when there was none), once however
   many deployments fail, ingests again and appends an ``ALIAS_REVERTED`` audit event
   naming the failing deployments and their evidence.

A failing check is an outcome (``GateOutcome``), never an exception. An unreachable
MLflow raises ``SourceUnavailableError`` naming the URI (without credentials).

Why the previous version comes from the catalog: MLflow's alias event carries the new
version only, and MLflow keeps no alias history; the catalog's last ingest does. So the
gate reads it before it ingests. When an ingest ran between the move and the hook, the
catalog already shows the new version carrying the alias; the audit event of that ingest
(each updated version's ``aliases`` before and after) then names the version the alias
left. When the log cannot say (the version was created carrying the alias), the gate
records the failure and says why it did not revert: it never guesses a version.

The revert is itself an alias move, so MLflow sends the hook again for the version the
alias went back to. Should that version fail as well, the gate does not move the alias
again (the newest ``ALIAS_REVERTED`` event says the gate put it there): two reverts would
otherwise hand the alias back and forth for ever.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from catalog import naming, refs
from catalog.compliance.model import CheckError, Report
from catalog.compliance.record import check, load_document
from catalog.compliance.revert import (
    alias_version,
    last_revert,
    move_alias,
    previous_from_audit,
    record_revert,
)
from catalog.config import redact_uri
from catalog.errors import AmbiguousReference, NotFound

if TYPE_CHECKING:
    from catalog.lineage_file import DeploymentSpec, LineageDocument
    from catalog.model import StoredEntity
    from catalog.service import Catalog

__all__ = ["FAILING", "GateError", "GateOutcome", "alias_gate"]

#: Report verdicts that fail a promotion.
FAILING = frozenset({"fail", "error"})
_ALIAS = re.compile(refs.ALIAS + r"\Z")


@dataclass(frozen=True, slots=True)
class GateError:
    """A deployment whose check could not run at all (no report): it fails the promotion like ``error``."""

    deployment: str
    target: str
    message: str

    def to_json(self) -> dict[str, Any]:
        return {"deployment": self.deployment, "target": self.target, "message": self.message}


@dataclass(frozen=True, slots=True)
class GateOutcome:
    """What the gate did about one alias move.

    ``reports`` are the recorded checks (``evidence_digest`` set), one per deployment
    using the alias; ``errors`` the deployments whose check could not run.
    ``reverted`` says the alias was moved in MLflow; ``reverted_to`` is the version it
    points at again, None when it was deleted (or not reverted).
    """

    model: str
    alias: str
    version: str
    previous: str | None
    reports: tuple[Report, ...]
    reverted: bool
    reverted_to: str | None
    message: str
    errors: tuple[GateError, ...] = ()
    #: False when neither the catalog nor its audit log says what the alias pointed at before
    #: (``previous`` is then None and the gate moves nothing)
    previous_known: bool = True
    audit_id: int | None = None  # the ALIAS_REVERTED audit event, when reverted

    @property
    def failed(self) -> bool:
        """A check of the promotion failed, or could not run."""
        return bool(self.errors) or any(r.verdict in FAILING for r in self.reports)

    def to_json(self) -> dict[str, Any]:
        return {
            "model": self.model,
            "alias": self.alias,
            "version": self.version,
            "previous": self.previous,
            "previousKnown": self.previous_known,
            "failed": self.failed,
            "reverted": self.reverted,
            "revertedTo": self.reverted_to,
            "message": self.message,
            "checks": [
                {"deployment": r.subject_label, "target": r.target, "verdict": r.verdict,
                 "version": r.version_qn, "evidence": r.evidence_digest, "report": r.to_json()}
                for r in self.reports
            ],
            "errors": [e.to_json() for e in self.errors],
            "auditId": self.audit_id,
        }


def alias_gate(
    catalog: Catalog,
    model: str,
    alias: str,
    version: str | int,
    *,
    mlflow_uri: str,
    user: str | None = None,
    data: bool | None = None,
) -> GateOutcome:
    """Check the deployments of ``models:/<model>@<alias>`` now that it points at ``version``; revert if told.

    ``data``: run the data rules (None: for each deployment that declares an input, as a
    deployment without one has no data to check).
    """
    version = _version_text(version)
    if not model:
        raise CheckError("the alias gate needs a registered model name")
    if not _ALIAS.match(alias):
        raise CheckError(f"expected an MLflow alias (letters, digits, '_', '-'), got {alias!r}")
    user = user or catalog.settings.user
    ref = refs.model_ref(model, alias)
    known, previous = _previous(catalog, model, alias, version)
    _ingest(catalog, mlflow_uri, user)
    doc = load_document(catalog, required=False)
    deployments = _deployments_of(doc, ref)

    reports: list[Report] = []
    errors: list[GateError] = []
    for name, spec in deployments:
        try:
            reports.append(check(catalog, name, user=user, data=spec.input is not None if data is None else data))
        except CheckError as exc:
            errors.append(GateError(name, spec.target, str(exc)))

    gated_qn = naming.model_version_qn(model, version, catalog.settings.mlflow_instance)
    failing = [r for r in reports if r.verdict in FAILING and r.version_qn == gated_qn]
    stale = [r for r in reports if r.version_qn != gated_qn]
    assert doc is not None or not deployments
    revert_targets = sorted({r.target for r in failing} | {e.target for e in errors})
    revert_targets = [t for t in revert_targets if doc is not None and doc.policy.target(t).on_fail == "revert"]

    outcome = dict(model=model, alias=alias, version=version, previous=previous, reports=tuple(reports),
                   errors=tuple(errors), previous_known=known)
    lead = _summary(ref, version, deployments, reports, errors)
    if not revert_targets:
        why = _why_not(failing, errors, stale)
        return GateOutcome(**outcome, reverted=False, reverted_to=None, message=lead + why)  # type: ignore[arg-type]

    refusal = _refusal(catalog, mlflow_uri, model, alias, version, previous, known)
    if refusal is not None:
        return GateOutcome(**outcome, reverted=False, reverted_to=None, message=lead + refusal)  # type: ignore[arg-type]
    reverted_to, event_id = _revert(catalog, mlflow_uri, model, alias, version, previous, failing, errors,
                                    revert_targets, user)
    if reverted_to is None:
        done = (f"; {alias!r} deleted: no earlier version carried it" if previous is None else
                f"; {alias!r} deleted: version {previous}, which carried it before, is gone from MLflow")
    else:
        done = f"; {alias!r} moved back to version {reverted_to}"
    done += f" (on_fail: revert for target{'s' if len(revert_targets) > 1 else ''} {', '.join(revert_targets)})"
    return GateOutcome(**outcome, reverted=True, reverted_to=reverted_to, message=lead + done,  # type: ignore[arg-type]
                       audit_id=event_id)


def _refusal(catalog: Catalog, mlflow_uri: str, model: str, alias: str, version: str, previous: str | None,
             known: bool) -> str | None:
    """Why a failing promotion is not reverted (the message's tail), or None: revert it."""
    if not known:
        return (f"; not reverted: the catalog already saw version {version} carrying {alias!r} before this "
                "check, and its audit log does not say which version carried it before")
    undone = last_revert(catalog, model, alias)
    if undone is not None and undone.detail.get("to") == version and undone.detail.get("from") == previous:
        # The alias is on this version because the gate moved it back here: going back again
        # would hand it to the version that failed then, and the two moves would never end.
        return (f"; not reverted: the gate itself moved {alias!r} back to version {version} from version "
                f"{previous} (audit event {undone.id}), which failed then")
    now_on = alias_version(mlflow_uri, model, alias)
    if now_on != version:
        where = f"version {now_on}" if now_on is not None else "no version"
        return f"; not reverted: {alias!r} points at {where} in MLflow now, not {version}"
    return None


def _revert(catalog: Catalog, mlflow_uri: str, model: str, alias: str, version: str, previous: str | None,
            failing: list[Report], errors: list[GateError], targets: list[str], user: str) -> tuple[str | None, int]:
    """Move the alias back in MLflow, audit it, ingest again: (the version it is on now, the audit event id)."""
    reverted_to = move_alias(mlflow_uri, model, alias, previous)
    detail = {
        "model": model, "alias": alias, "from": version, "to": reverted_to, "previous": previous,
        "registeredModel": naming.registered_model_qn(model, catalog.settings.mlflow_instance),
        "mlflowUri": redact_uri(mlflow_uri), "targets": targets,
        "deployments": [
            {"name": r.subject_label, "target": r.target, "verdict": r.verdict, "evidence": r.evidence_digest,
             "failed": [x.rule for x in r.results if x.verdict in FAILING]}
            for r in failing
        ] + [{"name": e.deployment, "target": e.target, "verdict": "error", "evidence": None, "error": e.message}
             for e in errors],
    }
    event = record_revert(catalog, subject=_entity(catalog, model, version), detail=detail, user=user)
    _ingest(catalog, mlflow_uri, user)
    return reverted_to, event.id


def _version_text(version: str | int) -> str:
    text = str(version).strip() if not isinstance(version, bool) else ""
    if not text.isdigit() or not text.isascii() or int(text) < 1:
        raise CheckError(f"expected a model version number (1, 2, ...), got {version!r}")
    return str(int(text))


def _previous(catalog: Catalog, model: str, alias: str, version: str) -> tuple[bool, str | None]:
    """``(known, previous)``: the version the catalog has carrying ``alias`` before this ingest.

    None when no version carries it (or there is no catalog yet). When the catalog shows
    ``version`` itself carrying it (an ingest saw the move already), the audit log of that
    ingest says which version it left; ``known`` is False when nothing says (or two
    versions carry it in the catalog): the gate then never moves the alias.
    """
    if not catalog.store_exists():
        return True, None
    try:
        found = catalog.resolve(refs.model_ref(model, alias))
    except NotFound:
        return True, None
    except AmbiguousReference:
        return False, None
    number = found.attributes.get("version")
    carrier = str(number) if number is not None else found.qualified_name.rsplit("@", 1)[0].rsplit("/", 1)[-1]
    if carrier != version:
        return True, carrier
    known, previous = previous_from_audit(catalog, model, alias, version)
    return (known, previous) if known else _previous_at_creation(catalog, model, alias, version)


def _previous_at_creation(catalog: Catalog, model: str, alias: str, version: str) -> tuple[bool, str | None]:
    """``(known, previous)`` when the catalog's first sight of ``version`` already showed it carrying ``alias``.

    The MLflow hook's ingest of a new version can run after the alias moved onto it (the
    two events arrive a moment apart): the version is then created carrying the alias, and
    no update of it records the move. The version that lost the alias in that same write
    (same time and source) is the previous one; none, or several, and nothing is known.
    """
    import json

    from sqlalchemy import select

    from catalog.model import MODEL_VERSION
    from catalog.store.schema import AuditRow

    instance = catalog.settings.mlflow_instance
    gated, prefix, suffix = naming.model_version_qn(model, version, instance), f"{model}/", f"@{instance}"
    with catalog.session() as session:
        created = session.execute(
            select(AuditRow.at, AuditRow.source)
            .where(AuditRow.action == "ENTITY_CREATE", AuditRow.type_name == MODEL_VERSION,
                   AuditRow.qualified_name == gated).order_by(AuditRow.id.desc()).limit(1)).first()
        if created is None:
            return False, None
        rows = session.execute(
            select(AuditRow.qualified_name, AuditRow.detail)
            .where(AuditRow.action == "ENTITY_UPDATE", AuditRow.type_name == MODEL_VERSION,
                   AuditRow.at == created.at, AuditRow.source == created.source,
                   AuditRow.qualified_name.startswith(prefix, autoescape=True))).all()
    losers = []
    for qn, detail in rows:
        try:
            before, after = (json.loads(detail).get("changed") or {}).get("aliases") or (None, None)
        except (ValueError, TypeError, AttributeError):
            continue
        if isinstance(before, list) and alias in before and alias not in (after or []) and qn.endswith(suffix):
            losers.append(qn[len(prefix):-len(suffix)])
    if len(losers) != 1 or not losers[0].isdigit():
        return False, None
    return True, losers[0]


def _ingest(catalog: Catalog, mlflow_uri: str, user: str) -> None:
    lineage = Path(catalog.settings.lineage_file)
    catalog.ingest(mlflow_uri=mlflow_uri, lineage_path=lineage if lineage.exists() else None, user=user or None)


def _deployments_of(doc: LineageDocument | None, ref: str) -> list[tuple[str, DeploymentSpec]]:
    if doc is None:
        return []
    return [(name, spec) for name, spec in doc.deployments.items() if spec.model.strip() == ref]


def _entity(catalog: Catalog, model: str, version: str) -> StoredEntity | None:
    try:
        return catalog.resolve(refs.model_ref(model, int(version)))
    except (NotFound, AmbiguousReference):
        return None


def _failed_rules(report: Report) -> str:
    parts = [f"{r.rule}: {r.message}" for r in report.results if r.verdict in FAILING]
    return f" ({'; '.join(parts)})" if parts else ""


def _summary(ref: str, version: str, deployments: list[Any], reports: list[Report], errors: list[GateError]) -> str:
    head = f"{ref} -> version {version}"
    if not deployments:
        return f"{head}: no deployment of lineage.yml uses {ref}; nothing checked"
    parts = [f"{r.subject_label} {r.verdict}{_failed_rules(r)}" for r in reports]
    parts += [f"{e.deployment} could not be checked: {e.message}" for e in errors]
    return f"{head}: " + ", ".join(parts)


def _why_not(failing: list[Report], errors: list[GateError], stale: list[Report]) -> str:
    if failing or errors:
        targets = sorted({r.target for r in failing} | {e.target for e in errors})
        return f"; recorded, not reverted (on_fail: record for target{'s' if len(targets) > 1 else ''} " \
               f"{', '.join(targets)})"
    if stale:
        return f"; the alias points at {stale[0].version_qn} in the catalog now: not this version's check"
    return ""
