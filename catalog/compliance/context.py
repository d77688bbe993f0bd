"""What a check looks at, read once: the subject, its pinned version and the graph around it.

Why a context read up front: the rules are then small pure functions (easy to test, each
pass / fail / waived / error), the alias is resolved exactly once before any rule runs,
and the whole read is a handful of indexed queries in one session, so a check of one
deployment in a large catalog stays in milliseconds.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from catalog import naming, refs, store
from catalog.compliance.model import CheckError
from catalog.errors import AmbiguousReference, NotFound
from catalog.model import DECLARED_TRAINING, DEPLOYMENT, StoredClassification, StoredEntity
from catalog.store.schema import INPUT_EDGE, EdgeRow

if TYPE_CHECKING:
    from catalog.lineage_file import DatasetSpec, DeploymentSpec, LineageDocument, ModelSpec
    from catalog.lineage_file.policy import TargetPolicySpec
    from catalog.types.registry import TypeRegistry

__all__ = ["CheckContext", "TrainingData", "build_context"]

RUN_TYPE = DECLARED_TRAINING  # ml_model_train_build_process: its subtypes are the runs
SCORING_TYPE = "ml_scoring_process"
#: Contexts MLflow logs a training input under (``mlflow.data.context``; none given = training).
TRAINING_CONTEXTS = frozenset({"", "training", "train"})


@dataclass(frozen=True, slots=True)
class TrainingData:
    """One training data set as the rules see it: declared in lineage.yml, logged by the run, or both."""

    type_name: str
    qualified_name: str
    declared: bool
    logged: bool
    entity: StoredEntity | None
    logged_details: tuple[Mapping[str, Any], ...] = ()  # what MLflow logged: digest, source, name, context

    def to_json(self) -> dict[str, Any]:
        return {
            "typeName": self.type_name, "qualifiedName": self.qualified_name, "declared": self.declared,
            "logged": self.logged, "guid": self.entity.guid if self.entity else None,
            "status": self.entity.status if self.entity else None,
            "digests": sorted({str(d.get("digest")) for d in self.logged_details if d.get("digest")}),
        }


@dataclass(frozen=True)
class CheckContext:
    """Everything the rules read about one subject, against one target's policy."""

    subject_kind: str  # "deployment" | "model"
    subject: str
    subject_label: str
    target: str
    policy: TargetPolicySpec
    doc: LineageDocument | None
    base_dir: Path
    model_name: str
    model_ref: str
    version: StoredEntity
    registered_model: StoredEntity | None
    model_spec: ModelSpec | None
    runs: tuple[StoredEntity, ...]
    training: tuple[TrainingData, ...]
    classifications: tuple[StoredClassification, ...]
    sources: Mapping[str, StoredEntity]  # where each propagated classification came from, by guid
    deployment: StoredEntity | None = None
    deployment_name: str = ""
    deployment_spec: DeploymentSpec | None = None
    input_spec: DatasetSpec | None = None
    input_qn: str = ""
    scoring_runs: tuple[StoredEntity, ...] = ()
    known_classifications: frozenset[str] = frozenset()
    atlas_url: str = ""  # CATALOG_ATLAS_URL: training data must be in that Atlas too
    cache: dict[str, Any] = field(default_factory=dict)  # the data sample, read once for both data rules

    @property
    def alias(self) -> str | None:
        """The alias the subject deploys through (``champion``), or None for a pinned version."""
        selector = refs.parse_model_ref(self.model_ref)[1]
        return selector if isinstance(selector, str) else None


def _deployment(doc: LineageDocument | None, name: str, target: str | None) -> tuple[str, DeploymentSpec]:
    """The lineage.yml deployment ``name`` (or its qualifiedName ``name:target@cluster``)."""
    if doc is None:
        raise CheckError(f"{name!r} is not a model reference (models:/...) and there is no lineage.yml "
                         "declaring deployments (CATALOG_LINEAGE_FILE)")
    key = name
    for candidate, spec in doc.deployments.items():
        if name == naming.deployment_qn(candidate, spec.target, doc.cluster):
            key = candidate
    spec = doc.deployments.get(key)
    if spec is None:
        from catalog.errors import did_you_mean

        declared = ", ".join(doc.deployments) or "none"
        raise CheckError(f"no deployment {name!r} in {doc.source}{did_you_mean(name, doc.deployments)} "
                         f"(declared: {declared})")
    if target is not None and target != spec.target:
        raise CheckError(f"deployment {key!r} targets {spec.target!r}, not {target!r}")
    return key, spec


def build_context(
    session: Session,
    registry: TypeRegistry,
    *,
    subject: str,
    target: str | None,
    doc: LineageDocument | None,
    instance: str,
    atlas_url: str = "",
) -> CheckContext:
    """Read what a check of ``subject`` (a deployment name or a ``models:/`` ref) looks at."""
    from catalog.lineage_file.policy import PolicySection

    policy_section = doc.policy if doc is not None else PolicySection()
    base_dir = Path(doc.source).parent if doc is not None else Path(".")
    deployment = deployment_spec = input_spec = None
    deployment_name = input_qn = ""
    if subject.startswith("models:/"):
        kind, model_ref, label = "model", subject, subject
        target = target or "prod"
        subject_name = subject
    else:
        deployment_name, deployment_spec = _deployment(doc, subject, target)
        assert doc is not None
        kind, model_ref, label, target = "deployment", deployment_spec.model, deployment_name, deployment_spec.target
        subject_name = naming.deployment_qn(deployment_name, target, doc.cluster)
        found = store.find_by_qualified_name(session, subject_name, registry.subtypes(DEPLOYMENT))
        if not found:
            raise CheckError(f"deployment {deployment_name!r} ({subject_name}) is not in the catalog: "
                             "run `catalog ingest` first")
        deployment = found[0]
        if deployment_spec.input is not None:
            input_spec = doc.datasets[deployment_spec.input]
            input_qn = doc.dataset_qn(deployment_spec.input)
    model_name, selector = refs.parse_model_ref(model_ref)
    try:
        version = refs.resolve_model_version(session, model_name, selector, registry, instance)
    except (NotFound, AmbiguousReference) as exc:
        raise CheckError(f"{model_ref} does not resolve: {exc}") from None
    registered = store.find_by_qualified_name(session, naming.registered_model_qn(model_name, instance))
    runs = tuple(store.producers_of(session, [version.guid], type_names=registry.subtypes(RUN_TYPE)))
    model_spec = doc.models.get(model_name) if doc is not None else None
    training = _training(session, doc, model_name, runs)
    tag_guids = [version.guid] + ([deployment.guid] if deployment is not None else [])
    tags = store.classifications_of(session, tag_guids)
    classifications = tuple(
        {(c.type_name, c.source_guid): c for guid in tag_guids for c in tags.get(guid, [])}.values()
    )
    sources = store.get_entities(session, sorted({c.source_guid for c in classifications}))
    scoring = _scoring_runs(session, deployment.guid) if deployment is not None else ()
    return CheckContext(
        subject_kind=kind, subject=subject_name, subject_label=label, target=target,
        policy=policy_section.target(target), doc=doc, base_dir=base_dir, model_name=model_name,
        model_ref=model_ref, version=version, registered_model=registered[0] if registered else None,
        model_spec=model_spec, runs=runs, training=training, classifications=classifications, sources=sources,
        deployment=deployment, deployment_name=deployment_name, deployment_spec=deployment_spec,
        input_spec=input_spec, input_qn=input_qn, scoring_runs=scoring,
        known_classifications=frozenset(registry.classification_names()), atlas_url=atlas_url,
    )


def _logged(runs: Sequence[StoredEntity]) -> dict[str, list[Mapping[str, Any]]]:
    """qualifiedName -> what MLflow logged of it as a training input, over the version's runs."""
    logged: dict[str, list[Mapping[str, Any]]] = {}
    for run in runs:
        contexts = run.attributes.get("datasetContexts") or {}
        details = run.attributes.get("datasetInputs") or {}
        for qn, context in contexts.items():
            if not set(str(context).split(",")) & TRAINING_CONTEXTS:
                continue
            try:
                entries = json.loads(details.get(qn) or "[]")
            except ValueError:
                entries = []
            logged.setdefault(qn, []).extend(
                e for e in entries if isinstance(e, dict) and str(e.get("context", "")) in TRAINING_CONTEXTS
            )
    return logged


def _training(
    session: Session, doc: LineageDocument | None, model: str, runs: Sequence[StoredEntity]
) -> tuple[TrainingData, ...]:
    declared: dict[str, str] = {}
    if doc is not None and model in doc.models:
        declared = {ref.qualified_name: ref.type_name for ref in doc.training_refs(model)}
    logged = _logged(runs)
    logged_types: dict[str, str] = {}
    for run in runs:
        for ref in run.attributes.get("inputs") or []:
            qn = (ref.get("uniqueAttributes") or {}).get("qualifiedName") if isinstance(ref, dict) else None
            if qn in logged:
                logged_types[qn] = ref.get("typeName", "")
    out = []
    for qn in sorted(set(declared) | set(logged)):
        type_name = declared.get(qn) or logged_types.get(qn, "DataSet")
        found = store.find_by_qualified_name(session, qn)
        entity = next((e for e in found if e.type_name == type_name), found[0] if found else None)
        out.append(TrainingData(type_name, qn, qn in declared, qn in logged, entity, tuple(logged.get(qn, ()))))
    return tuple(out)


def _scoring_runs(session: Session, deployment_guid: str) -> tuple[StoredEntity, ...]:
    """The scoring processes that read the deployment, newest first."""
    guids = list(session.scalars(
        select(EdgeRow.to_guid).where(EdgeRow.from_guid == deployment_guid, EdgeRow.direction == INPUT_EDGE)
    ))
    found = [e for e in store.get_entities(session, guids).values() if e.type_name == SCORING_TYPE]
    return tuple(sorted(found, key=lambda e: (e.attributes.get("endTime") or e.updated_at), reverse=True))
