"""The join of the ingestion funnel: lineage.yml + MLflow -> batches for the store.

Sources produce entities on their own (``lineage_file.declared_batch``,
``mlflow_source.read_mlflow``); this module joins them where they meet:

- a training run's inputs become the union of the data sets it logged and the
  data sets lineage.yml declares for the model it produced; where they disagree a
  ``Finding`` is recorded (``declared-not-logged``, ``logged-not-declared``);
- deployments declared in lineage.yml become an ``ml_model_deploy_process`` and an
  ``ml_deployment``, linked to the model version their ``models:/`` reference
  resolves to (in this ingest, or already in the store).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

from catalog import naming
from catalog.model import (
    DEPLOY_PROCESS,
    DEPLOYMENT,
    HIVE_TABLE,
    ML_DATASET,
    MODEL_VERSION,
    PROJECT,
    REGISTERED_MODEL,
    RUN,
    Entity,
    EntityRef,
    Finding,
    SourceBatch,
    StoredEntity,
)

if TYPE_CHECKING:
    from catalog.lineage_file import LineageDocument

__all__ = ["IngestPlan", "plan_ingest", "ModelVersionLookup"]


class ModelVersionLookup(Protocol):
    """What the funnel needs from the store: versions, declared training, stored runs."""

    def exists(self, ref: EntityRef) -> bool:
        """Whether the catalog holds an ACTIVE entity ``ref``."""
        ...

    def version(self, model: str, selector: str | int) -> StoredEntity | None:
        """The version ``selector`` (a number or an alias) of ``model``, if stored."""
        ...

    def declared_training(self, model: str) -> list[EntityRef] | None:
        """The training data lineage.yml declared for ``model`` at an earlier ingest."""
        ...

    def training_runs(self, model: str) -> list[Entity]:
        """Stored training runs that produced a version of ``model``, as ingest entities."""
        ...


@dataclass
class IngestPlan:
    """Batches in write order, and the subjects whose findings this ingest re-evaluated."""

    batches: list[SourceBatch] = field(default_factory=list)
    findings: list[Finding] = field(default_factory=list)
    finding_scope: set[str] = field(default_factory=set)


def _version_of(ref: EntityRef) -> tuple[str, str] | None:
    """``wine-quality/3@mlflow`` -> (``wine-quality``, ``3``)."""
    if ref.type_name != MODEL_VERSION:
        return None
    name, _cluster = naming.split_cluster(ref.qualified_name)
    model, sep, version = name.rpartition("/")
    return (model, version) if sep else None


def _declared_training(doc: LineageDocument) -> dict[str, list[EntityRef]]:
    return {name: doc.training_refs(name) for name, model in doc.models.items() if model.training.datasets}


def _matches(logged: EntityRef, logged_entity: Entity | None, declared: EntityRef, cluster: str) -> bool:
    """Is a logged MLflow dataset the same data as a declared table or path?"""
    if logged == declared:
        return True
    if logged_entity is None or logged.type_name != ML_DATASET:
        return False
    name = str(logged_entity.attributes.get("name") or "")
    if not name:
        return False
    if declared.type_name == HIVE_TABLE:
        return naming.table_qn(name, cluster) == declared.qualified_name
    return naming.split_cluster(declared.qualified_name)[0] in (name, str(logged_entity.attributes.get("source")))


def _merge_training(
    run: Entity,
    declared: Mapping[str, list[EntityRef]],
    entities: Mapping[EntityRef, Entity],
    cluster: str,
    findings: list[Finding],
) -> None:
    models = sorted({mv[0] for ref in run.outputs if (mv := _version_of(ref))})
    wanted = [d for m in models for d in declared.get(m, [])]
    project = [r for r in run.inputs if r.type_name == PROJECT]
    if "loggedInputs" not in run.attributes:
        run.attributes["loggedInputs"] = [r for r in run.inputs if r.type_name != PROJECT]
    logged = list(run.attributes["loggedInputs"])
    run.attributes["inputs"] = project + logged
    if not any(m in declared for m in models):
        return
    matched: set[EntityRef] = set()
    inputs: list[EntityRef] = list(project)
    for ref in logged:
        twin = next((d for d in wanted if _matches(ref, entities.get(ref), d, cluster)), None)
        if twin is None:
            inputs.append(ref)
            findings.append(
                Finding(
                    "logged-not-declared",
                    run.qualified_name,
                    f"run {run.attributes.get('runId', run.qualified_name)} logged {ref} as an input, but "
                    f"lineage.yml does not declare it as training data of {', '.join(models)}",
                    run.qualified_name,
                )
            )
        else:
            matched.add(twin)
            inputs.append(twin)
    for ref in wanted:
        if ref not in matched:
            inputs.append(ref)
            findings.append(
                Finding(
                    "declared-not-logged",
                    run.qualified_name,
                    f"lineage.yml declares {ref} as training data of {', '.join(models)}, but run "
                    f"{run.attributes.get('runId', run.qualified_name)} did not log it as a dataset input",
                    run.qualified_name,
                )
            )
    run.attributes["inputs"] = list(dict.fromkeys(inputs))


def _declared_values_win(declared: SourceBatch, mlflow: Mapping[EntityRef, Entity]) -> None:
    """Where lineage.yml and MLflow describe one entity, lineage.yml's values win.

    Applied to the MLflow copy too, so both writes in this ingest agree and a later
    incremental ingest (which may not re-read that MLflow object) changes nothing.
    """
    for entity in declared.entities:
        twin = mlflow.get(entity.ref)
        if twin is None:
            continue
        for key, value in entity.attributes.items():
            if key not in ("inputs", "outputs") and value not in (None, "", {}, []):
                twin.attributes[key] = value


def _selector_matches(entity: Entity, model: str, selector: str | int) -> bool:
    if entity.attributes.get("modelName") != model:
        return False
    if isinstance(selector, int):
        return int(entity.attributes.get("version", -1)) == selector
    return selector in (entity.attributes.get("aliases") or [])


def _resolve_version(
    model: str, selector: int | str, versions: list[Entity], lookup: ModelVersionLookup | None
) -> tuple[EntityRef | None, int]:
    """The version a deployment's reference names (this ingest first, then the store), and its createTime.

    A stored version this ingest also read is not taken from the store: what MLflow says
    now wins (an alias deleted or moved away from it no longer resolves to it).
    """
    found = next((v for v in versions if _selector_matches(v, model, selector)), None)
    if found is not None:
        return found.ref, int(found.attributes.get("createTime") or 0)
    stored = lookup.version(model, selector) if lookup is not None else None
    if stored is not None and stored.ref not in {v.ref for v in versions}:
        return stored.ref, int(stored.attributes.get("createTime") or 0)
    return None, 0


def _deployment_attributes(doc: LineageDocument, name: str, spec: Any, owner: str, created: int) -> dict[str, Any]:
    attributes: dict[str, Any] = {
        "name": f"{name} ({spec.target})",
        "owner": owner,
        "mode": spec.mode,
        "target": spec.target,
        "modelRef": spec.model,
        "status": spec.status,
        "cpuMillicores": spec.cpu_millicores,
        "createTime": created,
        "deployedTime": created,
    }
    optional = {
        "trigger": spec.trigger,
        "inputPath": _input_name(doc, spec.input),
        "outputPath": spec.output.location if spec.output else None,
        "outputFormat": spec.output.format if spec.output else None,
        "checkpoint": spec.checkpoint,
        "expectations": spec.expectations,
    }
    attributes.update({k: v for k, v in optional.items() if v})
    return attributes


def _deployments(
    doc: LineageDocument,
    emitted: Mapping[EntityRef, Entity],
    lookup: ModelVersionLookup | None,
    instance: str,
    findings: list[Finding],
) -> list[Entity]:
    entities: list[Entity] = []
    versions = [e for e in emitted.values() if e.type_name == MODEL_VERSION]
    for name, spec in doc.deployments.items():
        model = spec.model_name
        deployment_qn = naming.deployment_qn(name, spec.target, doc.cluster)
        version_ref, version_created = _resolve_version(model, spec.model_selector, versions, lookup)
        model_spec = doc.models.get(model)
        owner = (model_spec.owner if model_spec else None) or "lineage.yml"
        created = spec.created_millis() or version_created
        deployment = Entity(DEPLOYMENT, deployment_qn, _deployment_attributes(doc, name, spec, owner, created))
        upstream: list[EntityRef] = []
        if version_ref is None:
            registered = EntityRef(REGISTERED_MODEL, naming.registered_model_qn(model, instance))
            known = registered in emitted or (lookup is not None and lookup.exists(registered))
            linked = f"linked to the registered model {model} instead" if known else (
                f"the registered model {model} is not in MLflow or the catalog either, so the deployment has "
                "no upstream until it is registered"
            )
            message = f"deployment {name}: {spec.model} matches no model version in MLflow or the catalog; {linked}"
            findings.append(Finding("deployment-model-unresolved", deployment_qn, message, deployment_qn))
            upstream = [registered] if known else []
            deployment.relationship_attributes["build"] = None  # an update keeps what it does not send
        else:
            upstream = [version_ref]
            deployment.relationship_attributes["build"] = version_ref
        process = Entity(
            DEPLOY_PROCESS,
            naming.deploy_process_qn(name, spec.target, doc.cluster),
            {"name": f"deploy {name} to {spec.target}", "userName": owner, "inputs": upstream,
             "outputs": [deployment.ref]},
        )
        entities.extend([deployment, process])
    return entities


def _input_name(doc: LineageDocument, key: str | None) -> str | None:
    if not key:
        return None
    spec = doc.datasets.get(key)
    if spec is None:
        return key
    return spec.path or spec.qualified_name(key, doc.cluster)


def plan_ingest(
    doc: LineageDocument | None,
    mlflow: SourceBatch | None,
    *,
    instance: str,
    cluster: str,
    lookup: ModelVersionLookup | None = None,
) -> IngestPlan:
    """Join lineage.yml and MLflow into batches: declared, MLflow (merged), deployments."""
    from catalog.lineage_file import declared_batch

    plan = IngestPlan()
    declared: dict[str, list[EntityRef]] = {}
    lineage_source = ""
    if doc is not None:
        batch = declared_batch(doc, instance=instance)
        lineage_source = batch.source
        plan.batches.append(batch)
        plan.findings.extend(batch.findings)
        declared = _declared_training(doc)
        cluster = doc.cluster
    if mlflow is not None:
        by_ref = {e.ref: e for e in mlflow.entities}
        if doc is not None:
            _declared_values_win(plan.batches[0], by_ref)
        for entity in mlflow.entities:
            if entity.type_name != RUN:
                continue
            plan.finding_scope.add(entity.qualified_name)
            models = {mv[0] for ref in entity.outputs if (mv := _version_of(ref))}
            known = dict(declared)
            if lookup is not None:
                for model in models - set(known):
                    refs = lookup.declared_training(model)
                    if refs is not None:
                        known[model] = refs
            _merge_training(entity, known, by_ref, cluster, plan.findings)
        plan.findings.extend(mlflow.findings)
        plan.batches.append(mlflow)
    if doc is not None and lookup is not None:
        emitted = {e.ref for e in mlflow.entities} if mlflow is not None else set()
        replanned: dict[EntityRef, Entity] = {}
        for model in doc.models:
            if lookup.declared_training(model) == declared.get(model):
                # The training lineage.yml declares is the one the last ingest stored, and every
                # ingest merges the runs it writes with it: the stored runs have it already.
                continue
            for run in lookup.training_runs(model):
                if run.ref in emitted or run.ref in replanned:
                    continue
                _merge_training(run, declared, {}, cluster, plan.findings)
                replanned[run.ref] = run
                plan.finding_scope.add(run.qualified_name)
        if replanned:
            plan.batches.append(SourceBatch(lineage_source, list(replanned.values()), []))
    if doc is not None and doc.deployments:
        found: list[Finding] = []
        emitted = {e.ref: e for b in plan.batches for e in b.entities}
        entities = _deployments(doc, emitted, lookup, instance, found)
        plan.batches.append(SourceBatch(lineage_source, entities, []))
        plan.findings.extend(found)
        plan.finding_scope.update(e.qualified_name for e in entities if e.type_name == DEPLOYMENT)
    return plan
