"""A check run end to end on the catalog: context, rules, and the evidence it leaves.

``check`` reads the context in one session, runs the rules outside any transaction
(the data rules read files), then, when asked to record, writes in one transaction:
the evidence record at the end of the subject's chain, and the verdict and the
record's digest on the deployment and the model version (attributes of our typedefs,
so the push carries them to Atlas and the audit log keeps every head of the chain).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import select

from catalog import store
from catalog.atlas import stored_to_entity
from catalog.compliance.check import run_rules, waiver_digest
from catalog.compliance.context import build_context
from catalog.compliance.model import CheckError, Report
from catalog.errors import LineageFileError
from catalog.model import DEPLOYMENT, MODEL_BUILD, SourceBatch
from catalog.store import evidence
from catalog.store.schema import EntityRow, now_ms

if TYPE_CHECKING:
    from catalog.lineage_file import LineageDocument
    from catalog.service import Catalog

__all__ = ["SOURCE", "chain_of", "check", "history", "load_document", "verify"]

#: The source (and audit ``source``) of what a check writes.
SOURCE = "catalog-check"


def chain_of(report: Report) -> str:
    """The evidence chain a report belongs to: the deployment's qualifiedName, or ``<version>#<target>``."""
    if report.subject_kind == "deployment":
        return report.subject
    return f"{report.version_qn}#{report.target}"


def load_document(catalog: Catalog, *, required: bool) -> LineageDocument | None:
    """lineage.yml (``CATALOG_LINEAGE_FILE``), with its policy; None when absent and not ``required``."""
    from catalog.lineage_file import load_lineage_file

    path = Path(catalog.settings.lineage_file)
    if not path.exists():
        if required:
            raise CheckError(f"{path}: no such file: a deployment is checked against its lineage.yml "
                             "(set CATALOG_LINEAGE_FILE)")
        return None
    try:
        return load_lineage_file(path, max_bytes=catalog.settings.max_lineage_file_bytes)
    except LineageFileError as exc:
        raise CheckError(f"the policy cannot be read:\n{exc}") from None


def check(
    catalog: Catalog, subject: str, *, target: str | None = None, data: bool = True, record: bool = True,
    user: str | None = None, now: int | None = None,
) -> Report:
    """Check ``subject`` (a deployment of lineage.yml, or ``models:/name@alias`` / ``models:/name/3``)."""
    doc = load_document(catalog, required=not subject.startswith("models:/"))
    user = user or catalog.settings.user or "catalog"
    now = now_ms() if now is None else now
    registry = catalog.registry
    with catalog.session() as session:
        ctx = build_context(session, registry, subject=subject, target=target, doc=doc,
                            instance=catalog.settings.mlflow_instance, atlas_url=catalog.settings.atlas_url)
    if not record:
        return run_rules(ctx, now=now, user=user, data=data)
    with catalog.write_session() as session, session.begin():
        def seen(waiver: Any, at: int) -> int:
            return evidence.first_seen(session, waiver_digest(waiver), waiver.rule, waiver.scope, at)

        report = run_rules(ctx, now=now, user=user, data=data, first_seen=seen)
        record_ = evidence.append(
            session, chain=chain_of(report), report=report.to_json(), subject_guid=report.deployment_guid
            or report.version_guid, version_guid=report.version_guid, verdict=report.verdict, at=now, by=user,
        )
        _mark(session, registry, report, record_.digest, user)
    return Report.from_json(report.to_json(), evidence_digest=record_.digest)


def _mark(session: Any, registry: Any, report: Report, digest: str, user: str) -> None:
    """The verdict and the chain's head on the deployment and the version, through the diff-then-apply path."""
    guids = [g for g in (report.deployment_guid, report.version_guid) if g]
    stored = store.get_entities(session, guids)
    entities = []
    key = chain_of(report)
    for guid in guids:
        old = stored[guid]
        entity = stored_to_entity(old)
        entity.status = old.status
        entity.classifications = []  # this source holds none; everyone else's stay
        if guid == report.deployment_guid:
            entity.attributes.update({
                "complianceVerdict": report.verdict, "complianceCheckedAt": report.checked_at,
                "complianceVersion": report.version_qn, "complianceEvidence": digest,
            })
        else:
            entity.attributes["complianceVerdicts"] = {**(old.attributes.get("complianceVerdicts") or {}),
                                                       key: report.verdict}
            entity.attributes["complianceEvidence"] = {**(old.attributes.get("complianceEvidence") or {}),
                                                       key: digest}
        entities.append(entity)
    plan = store.plan_upsert(session, SourceBatch(SOURCE, entities), registry, user=user)
    store.apply_plan(session, plan)


def history(catalog: Catalog, ref: str, *, limit: int = 100) -> list[evidence.EvidenceRecord]:
    """Evidence about ``ref``: a deployment name or qualifiedName, a model ref, or any entity ref."""
    doc = load_document(catalog, required=False)
    with catalog.session() as session:
        guid = _subject_guid(catalog, session, ref, doc)
        entity = store.get_entity(session, guid)
        if entity is not None and entity.type_name in catalog.registry.subtypes(MODEL_BUILD):
            return evidence.history(session, version_guid=guid, limit=limit)
        return evidence.history(session, subject_guid=guid, limit=limit)


def _subject_guid(catalog: Catalog, session: Any, ref: str, doc: LineageDocument | None) -> str:
    from catalog import naming

    if doc is not None and ref in doc.deployments:
        spec = doc.deployments[ref]
        ref = f"{DEPLOYMENT}:{naming.deployment_qn(ref, spec.target, doc.cluster)}"
    return catalog._resolve(session, ref).guid  # noqa: SLF001 - the facade's one resolver


def heads(session: Any, registry: Any) -> dict[str, str]:
    """chain -> the digest the subject entities hold as its head (the deployment's own value wins)."""
    versions: dict[str, str] = {}
    deployments: dict[str, str] = {}
    types = sorted(set(registry.subtypes(DEPLOYMENT)) | set(registry.subtypes(MODEL_BUILD)))
    rows = session.execute(select(EntityRow.qualified_name, EntityRow.attributes).where(
        EntityRow.type_name.in_(types), EntityRow.attributes.like('%"complianceEvidence"%')))
    for qn, text in rows:
        head = json.loads(text).get("complianceEvidence")
        if isinstance(head, str):
            deployments[qn] = head
        elif isinstance(head, dict):
            versions.update({str(k): str(v) for k, v in head.items()})
    return {**versions, **deployments}


def verify(catalog: Catalog, chain: str | None = None) -> tuple[int, list[evidence.Problem]]:
    """(records checked, problems) of every evidence chain, or of one."""
    with catalog.session() as session:
        known = heads(session, catalog.registry)
        wanted = {chain: known[chain]} if chain is not None and chain in known else (known if chain is None else {})
        return evidence.verify(session, chain, wanted)
