"""The model pages' own sections (issue 10, item 1), apart from the generic entity page.

- ``model_sections``: a registered model's key metrics per version (its run's metrics),
  its deployments, and, for the home page, the last compliance check and scoring run;
- ``version_sections``: a version's run (params, metrics), its training data sets with
  their digests and where each came from (declared in lineage.yml, logged to the run with
  ``mlflow.log_input``, or both), and its signature as a table.

Reads only; every query goes through one store session per call.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from catalog import naming, refs, store
from catalog.model import EntityRef, StoredEntity
from catalog.store import evidence
from web.impact import epoch_ms
from web.ui_runs import scoring_runs

__all__ = ["ModelRow", "TrainingSet", "deployed_versions", "deployments_by_model", "model_rows", "model_sections",
           "signature_table", "version_sections"]

DEPLOYMENT = "ml_deployment"
RUN = "ml_training_run"
#: The metrics shown as a model's key metrics, at most, in the run's order of names.
KEY_METRICS = 4


@dataclass
class ModelRow:
    """A registered model at a glance (the home page's table)."""

    entity: StoredEntity
    versions: list[StoredEntity]
    last_check: evidence.EvidenceRecord | None = None
    last_scoring: StoredEntity | None = None

    @property
    def latest(self) -> StoredEntity | None:
        return max(self.versions, key=version_number, default=None)

    @property
    def aliases(self) -> list[tuple[str, str]]:
        found = []
        for v in self.versions:
            for alias in v.attributes.get("aliases") or ():
                found.append((str(alias), str(v.attributes.get("version", ""))))
        return sorted(found)


@dataclass
class TrainingSet:
    """One data set a version was trained on, and where the catalog learnt it."""

    entity: StoredEntity
    digests: list[str] = field(default_factory=list)
    contexts: list[str] = field(default_factory=list)
    declared: bool = False  # an input of the model's declared training in lineage.yml
    logged: bool = False  # logged to the run with mlflow.log_input


def version_number(entity: StoredEntity) -> int:
    try:
        return int(str(entity.attributes.get("version", "0")))
    except ValueError:
        return 0


def _instance(entity: StoredEntity) -> str:
    return entity.qualified_name.rpartition("@")[2]


def _run_guid(version: StoredEntity) -> str | None:
    run_id = version.attributes.get("runId")
    return EntityRef(RUN, naming.run_qn(str(run_id), _instance(version))).guid if run_id else None


def _refs(values: Any) -> list[EntityRef]:
    """The references of a stored reference attribute (AtlasObjectId dicts)."""
    out = []
    for ref in values or ():
        if isinstance(ref, Mapping):
            qn = (ref.get("uniqueAttributes") or {}).get("qualifiedName")
            if isinstance(qn, str) and isinstance(ref.get("typeName"), str):
                out.append(EntityRef(ref["typeName"], qn))
    return out


def _logged_digests(run: StoredEntity, qualified_name: str) -> tuple[list[str], list[str]]:
    """(digests, contexts) MLflow recorded for a data set logged to ``run``."""
    records = (run.attributes.get("datasetInputs") or {}).get(qualified_name)
    try:
        items = json.loads(records) if isinstance(records, str) else records
    except (ValueError, RecursionError):
        return [], []
    if not isinstance(items, list):
        return [], []
    digests = [str(i["digest"]) for i in items if isinstance(i, Mapping) and i.get("digest")]
    contexts = [str(i["context"]) for i in items if isinstance(i, Mapping) and i.get("context")]
    return sorted(set(digests)), sorted(set(contexts))


def _training_sets(session: Any, version: StoredEntity, run: StoredEntity | None) -> list[TrainingSet]:
    """The run's input data sets and those the model's declared training reads, in that order."""
    model = str(version.attributes.get("modelName", ""))
    declared_process = store.get_entity(
        session, EntityRef("ml_model_train_build_process", naming.declared_training_qn(model, _instance(version))).guid)
    declared = _refs(declared_process.attributes.get("inputs")) if declared_process else []
    logged = {r.qualified_name for r in _refs(run.attributes.get("loggedInputs"))} if run else set()
    run_inputs = [r for r in _refs(run.attributes.get("inputs")) if r.type_name != "ml_project"] if run else []
    wanted = list(dict.fromkeys([*run_inputs, *declared]))
    found = store.get_entities(session, [r.guid for r in wanted])
    declared_names = {r.qualified_name for r in declared}
    out = []
    for ref in wanted:
        if (entity := found.get(ref.guid)) is None:
            continue
        digests, contexts = _logged_digests(run, ref.qualified_name) if run else ([], [])
        out.append(TrainingSet(entity, digests, contexts, declared=ref.qualified_name in declared_names,
                               logged=ref.qualified_name in logged))
    return out


def signature_table(text: Any) -> dict[str, list[tuple[str, str, str]]] | None:
    """An MLflow signature (its JSON) as rows (name, type, required) per part; None when unreadable."""
    try:
        return _signature_rows(text)
    except (ValueError, TypeError, AttributeError, RecursionError):  # not MLflow's shape, at any depth
        return None


def _signature_rows(text: Any) -> dict[str, list[tuple[str, str, str]]] | None:
    signature = json.loads(text) if isinstance(text, str) else text
    if not isinstance(signature, Mapping):
        return None
    parts: dict[str, list[tuple[str, str, str]]] = {}
    for part in ("inputs", "outputs", "params"):
        specs = signature.get(part)
        specs = json.loads(specs) if isinstance(specs, str) else specs
        if not specs:
            continue
        if not isinstance(specs, list):
            return None
        rows = []
        for spec in specs:
            if not isinstance(spec, Mapping):
                return None
            kind = str(spec.get("type", ""))
            if kind == "tensor":
                tensor = spec.get("tensor-spec") or {}
                shape = tensor.get("shape") or ()
                kind = f"tensor {tensor.get('dtype', '')} {tuple(shape) if isinstance(shape, list) else shape}"
            elif part == "params" and "default" in spec:
                kind += f" (default {spec['default']!r})"
            rows.append((str(spec.get("name", "(unnamed)")), kind, "yes" if spec.get("required", True) else "no"))
        parts[part] = rows
    return parts


def deployments_by_model(catalog: Any) -> dict[str, list[StoredEntity]]:
    """Deployments by the registered model their ``modelRef`` names."""
    out: dict[str, list[StoredEntity]] = {}
    for d in catalog.search("", type_name=DEPLOYMENT, limit=1000):
        try:
            name, _selector = refs.parse_model_ref(str(d.attributes.get("modelRef", "")))
        except ValueError:
            continue
        out.setdefault(name, []).append(d)
    return out


def _last_scoring(catalog: Any, deployments: Iterable[StoredEntity]) -> StoredEntity | None:
    newest = [runs[0] for d in deployments if (runs := scoring_runs(catalog, d))]  # each newest first
    return max(newest, key=lambda r: (epoch_ms(r.attributes.get("startTime")), r.qualified_name), default=None)


def model_rows(catalog: Any, models: Sequence[StoredEntity],
               versions_of: Any) -> list[ModelRow]:
    """The home page's rows: versions, aliases, the last check verdict and the last scoring run."""
    deployed = deployments_by_model(catalog)
    rows = []
    with catalog.session() as session:
        for m in models:
            versions = versions_of(m)
            checks = [r for v in versions for r in evidence.history(session, version_guid=v.guid, limit=1)]
            last = max(checks, key=lambda r: (r.at, r.seq), default=None)
            rows.append(ModelRow(m, versions, last, None))
    for row in rows:
        row.last_scoring = _last_scoring(catalog, deployed.get(str(row.entity.attributes.get("name")), ()))
    return rows


def model_sections(catalog: Any, model: StoredEntity, versions: Sequence[StoredEntity]) -> dict[str, Any]:
    """``metrics`` (version guid -> its run's key metrics), ``metric_names``, ``deployments``, and
    ``deployment_checks`` (deployment guid -> its newest compliance record)."""
    with catalog.session() as session:
        runs = store.get_entities(session, [g for g in map(_run_guid, versions) if g])
    metrics: dict[str, dict[str, Any]] = {}
    names: list[str] = []
    for v in versions:
        run = runs.get(_run_guid(v) or "")
        values = dict((run.attributes.get("metrics") or {}) if run else {})
        metrics[v.guid] = values
        names += [n for n in sorted(values) if n not in names]
    deployments = deployments_by_model(catalog).get(str(model.attributes.get("name")), [])
    with catalog.session() as session:
        checks = {d.guid: found[0] for d in deployments
                  if (found := evidence.history(session, subject_guid=d.guid, limit=1))}
    return {"metrics": metrics, "metric_names": names[:KEY_METRICS], "deployments": deployments,
            "deployment_checks": checks}


def deployed_versions(catalog: Any, deployment: StoredEntity) -> list[EntityRef]:
    """The model versions the deployment runs now: the inputs of its deploy process (``deploy:<deployment>``).

    Only versions: when the deployment's model reference resolved to no version, the ingest
    links the registered model instead, and that is no version running.
    """
    with catalog.session() as session:
        process = store.get_entity(session, EntityRef(  # naming.deploy_process_qn: deploy:<name>:<target>@<cluster>
            "ml_model_deploy_process", f"deploy:{deployment.qualified_name}").guid)
        versions = catalog.registry.subtypes("ml_model_version")
    return [r for r in _refs(process.attributes.get("inputs")) if r.type_name in versions] if process else []


def version_sections(catalog: Any, version: StoredEntity) -> dict[str, Any]:
    """``run``, ``training`` (list of TrainingSet), ``signature`` (see ``signature_table``)."""
    with catalog.session() as session:
        guid = _run_guid(version)
        run = store.get_entity(session, guid) if guid else None
        training = _training_sets(session, version, run)
    return {"run": run, "training": training, "signature": signature_table(version.attributes.get("signature"))}
