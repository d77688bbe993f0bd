"""MLflow objects -> Atlas entities (see docs/mlflow.md for the mapping), and MLmodel reading.

``EntityBuilder`` is mixed into the reader: it turns what the reader fetched into
entities and findings. It uses the reader's ``client``, ``instance``, ``cluster``,
``source``, ``out`` (emitted entities), ``findings``, ``logged_models`` and ``mlmodels``.
"""

from __future__ import annotations

import json
import os
import posixpath
import re
import tempfile
from collections import defaultdict
from typing import Any
from urllib.parse import unquote, urlsplit

from catalog import naming
from catalog.mlflow_source.connect import scrub
from catalog.canonical import canonical_json
from catalog.model import (
    FS_PATH,
    HIVE_TABLE,
    LOGGED_MODEL,
    ML_DATASET,
    MODEL_VERSION,
    PROJECT,
    REGISTERED_MODEL,
    RUN,
    Entity,
    EntityRef,
    Finding,
)

# mlflow.* run tags surfaced as their own attributes (or as outputs), left out of ``tags``.
_SURFACED_RUN_TAGS = frozenset(
    {"mlflow.runName", "mlflow.user", "mlflow.source.name", "mlflow.source.git.commit", "mlflow.log-model.history"}
)
_TABLE_KEYS = ("table_name", "delta_table_name", "table")
_PATH_KEYS = ("uri", "path", "url")
_NOT_PATH_SOURCES = frozenset({"code", "hugging_face", "huggingface"})
_LOGGED_MODEL_URI_RE = re.compile(r"^models:/(m-[0-9a-fA-F]+)/?$")


class EntityBuilder:
    """Builds entities from MLflow objects; mixed into the reader, which owns the state."""

    def _emit(self, entity: Entity) -> None:
        self.out[(entity.type_name, entity.qualified_name)] = entity

    def _project(self, exp: Any) -> Entity:
        metadata = {str(k): str(v) for k, v in sorted(dict(exp.tags).items())}
        _opt(metadata, "artifact_location", exp.artifact_location)
        attrs: dict[str, Any] = {"name": exp.name, "metadata": metadata}
        _opt(attrs, "createTime", exp.creation_time)
        _opt(attrs, "modifiedTime", exp.last_update_time)
        return Entity(PROJECT, naming.experiment_qn(exp.experiment_id, self.instance), attrs)

    def _dataset(self, ds: Any) -> Entity:
        """A logged dataset: the table or path it names, else an ``ml_dataset`` (docs/mlflow.md)."""
        try:
            source = json.loads(ds.source) if ds.source else {}
        except (TypeError, ValueError):
            source = {}
        source = source if isinstance(source, dict) else {}
        table = next((source[k] for k in _TABLE_KEYS if isinstance(source.get(k), str) and source[k]), None)
        if table:
            qn = naming.table_qn(table, self.cluster)
            name = naming.split_cluster(qn)[0].rsplit(".", 1)[-1]
            # Tables and paths carry only what names them: lineage.yml and the data
            # platform describe them; a run's digest belongs to the run, not the table.
            return Entity(HIVE_TABLE, qn, {"name": name})
        path = next((source[k] for k in _PATH_KEYS if isinstance(source.get(k), str) and source[k]), None)
        if path and (ds.source_type or "").lower() not in _NOT_PATH_SOURCES:
            name = posixpath.basename(urlsplit(path).path.rstrip("/")) or path
            return Entity(FS_PATH, naming.path_qn(path, self.cluster),
                          {"name": name, "path": path})
        attrs: dict[str, Any] = {"name": ds.name, "digest": ds.digest}
        _opt(attrs, "source", ds.source)
        _opt(attrs, "sourceType", ds.source_type)
        _opt(attrs, "schema", ds.schema)
        _opt(attrs, "profile", ds.profile)
        return Entity(ML_DATASET, naming.mlflow_dataset_qn(ds.name, ds.digest, self.instance), attrs)

    def _emit_run(self, run: Any, version_refs: list[EntityRef]) -> None:
        info, data = run.info, run.data
        tags = dict(data.tags)
        datasets: set[EntityRef] = set()
        contexts: dict[str, set[str]] = defaultdict(set)
        details: dict[str, list[dict[str, Any]]] = defaultdict(list)
        for dataset_input in (run.inputs.dataset_inputs if run.inputs else None) or []:
            ds = dataset_input.dataset
            entity = self._dataset(ds)
            self._emit(entity)
            datasets.add(entity.ref)
            context = ""
            for tag in dataset_input.tags or []:
                if tag.key == "mlflow.data.context" and tag.value:
                    contexts[entity.qualified_name].add(tag.value)
                    context = tag.value
            details[entity.qualified_name].append(_dataset_detail(ds, context))
        outputs = {
            EntityRef(LOGGED_MODEL, naming.logged_model_qn(o.model_id, self.instance))
            for o in model_outputs(run) if o.model_id in self.logged_models
        } | set(version_refs)
        attrs: dict[str, Any] = {
            "name": info.run_name or info.run_id,
            "userName": info.user_id or tags.get("mlflow.user") or "unknown",
            "runId": info.run_id,
            "experimentId": info.experiment_id,
            "status": info.status,
            "params": dict(sorted(data.params.items())),
            "metrics": {k: float(v) for k, v in sorted(data.metrics.items())},
            "tags": {k: v for k, v in sorted(tags.items()) if k not in _SURFACED_RUN_TAGS},
            "datasetContexts": {qn: ",".join(sorted(c)) for qn, c in sorted(contexts.items())},
            # What MLflow logged of each input (a table entity keeps only its name).
            "datasetInputs": {
                qn: canonical_json(sorted(d, key=canonical_json))
                for qn, d in sorted(details.items())
            },
            "inputs": [EntityRef(PROJECT, naming.experiment_qn(info.experiment_id, self.instance)), *sorted(datasets)],
            "outputs": sorted(outputs),
        }
        _opt(attrs, "runName", info.run_name)
        _opt(attrs, "startTime", info.start_time)
        _opt(attrs, "endTime", info.end_time)
        _opt(attrs, "sourceGitCommit", tags.get("mlflow.source.git.commit"))
        _opt(attrs, "sourceName", tags.get("mlflow.source.name"))
        self._emit(Entity(RUN, naming.run_qn(info.run_id, self.instance), attrs))

    def _logged_model(self, lm: Any) -> Entity:
        attrs: dict[str, Any] = {"name": lm.name, "modelId": lm.model_id}
        _opt(attrs, "runId", lm.source_run_id)
        _opt(attrs, "artifactUri", lm.artifact_location)
        _opt(attrs, "modelType", lm.model_type)
        mlmodel = self._mlmodel(lm.artifact_location, naming.logged_model_qn(lm.model_id, self.instance))
        if mlmodel is not None:
            attrs["flavors"] = sorted(mlmodel.get("flavors") or {})
        _opt(attrs, "createTime", lm.creation_timestamp)
        return Entity(LOGGED_MODEL, naming.logged_model_qn(lm.model_id, self.instance), attrs)

    def _registered_model(self, rm: Any) -> Entity:
        attrs: dict[str, Any] = {"name": rm.name}
        if rm.tags:
            attrs["tags"] = dict(sorted(dict(rm.tags).items()))
        if rm.description:
            attrs["description"] = rm.description
        _opt(attrs, "createTime", rm.creation_timestamp)
        _opt(attrs, "modifiedTime", rm.last_updated_timestamp)
        return Entity(REGISTERED_MODEL, naming.registered_model_qn(rm.name, self.instance), attrs)

    def _model_version(self, mv: Any, aliases: list[str]) -> Entity:
        version = int(mv.version)
        qn = naming.model_version_qn(mv.name, version, self.instance)
        model_id = mv.model_id or model_id_from_source(mv.source)
        attrs: dict[str, Any] = {"name": f"{mv.name} v{version}", "version": version, "modelName": mv.name}
        _opt(attrs, "runId", mv.run_id)
        _opt(attrs, "modelId", model_id)
        _opt(attrs, "source", mv.source)
        _opt(attrs, "status", enum_text(mv.status) if mv.status is not None else None)
        if mv.current_stage and mv.current_stage != "None":
            attrs["stage"] = mv.current_stage
        mlmodel = self._mlmodel(self._version_location(mv, model_id), qn)
        if mlmodel is not None:
            if isinstance(mlmodel.get("signature"), dict):
                attrs["signature"] = json.dumps(mlmodel["signature"], sort_keys=True)
            attrs["flavors"] = sorted(mlmodel.get("flavors") or {})
        attrs["aliases"] = aliases
        attrs["tags"] = dict(sorted(dict(mv.tags).items()))
        if mv.description is not None:
            attrs["description"] = mv.description
        _opt(attrs, "createTime", mv.creation_timestamp)
        _opt(attrs, "lastUpdatedTime", mv.last_updated_timestamp)
        registered = EntityRef(REGISTERED_MODEL, naming.registered_model_qn(mv.name, self.instance))
        return Entity(MODEL_VERSION, qn, attrs, {"registeredModel": registered})

    # MLmodel (signature, flavors)
    def _version_location(self, mv: Any, model_id: str | None) -> str | None:
        if model_id and model_id in self.logged_models:
            return self.logged_models[model_id].artifact_location
        # MLflow's download URI is the source itself unless the source is a models:/ or
        # runs:/ URI it must resolve; asking for it costs a registered-model load per version.
        if mv.source and not str(mv.source).startswith(("models:/", "runs:/")):
            return str(mv.source)
        try:
            return self.client.get_model_version_download_uri(mv.name, mv.version)
        except Exception as exc:  # noqa: BLE001 - a missing location only costs the signature
            self._unreadable(naming.model_version_qn(mv.name, mv.version, self.instance), exc)
            return None

    def _mlmodel(self, location: str | None, subject: str) -> dict | None:
        if not location:
            return None
        if location not in self.mlmodels:
            try:
                self.mlmodels[location] = self._read_mlmodel(location)
            except Exception as exc:  # noqa: BLE001 - an unreadable MLmodel only costs signature/flavors
                self._unreadable(subject, exc)
                self.mlmodels[location] = None
        return self.mlmodels[location]

    def _read_mlmodel(self, location: str) -> dict | None:
        import yaml

        local = _local_path(location)
        if local is not None:
            path = os.path.join(local, "MLmodel")
            if not os.path.isfile(path):
                return None
            with open(path, encoding="utf-8") as f:
                doc = yaml.safe_load(f)
        else:  # a remote artifact store: the MLmodel file is a few KB
            import mlflow.artifacts

            with tempfile.TemporaryDirectory(prefix="catalog-mlmodel-") as tmp:
                path = mlflow.artifacts.download_artifacts(
                    artifact_uri=location.rstrip("/") + "/MLmodel", dst_path=tmp, tracking_uri=self.uri
                )
                with open(path, encoding="utf-8") as f:
                    doc = yaml.safe_load(f)
        return doc if isinstance(doc, dict) else None

    def _unreadable(self, subject: str, exc: BaseException) -> None:
        self.findings.append(
            Finding("mlmodel-unreadable", subject,
                    f"MLmodel of {subject} could not be read ({type(exc).__name__}: {scrub(str(exc))[:200]}); "
                    "signature and flavors left out", self.source)
        )


def enum_text(value: Any) -> str:
    return str(getattr(value, "value", value))


def _opt(attrs: dict[str, Any], key: str, value: Any) -> None:
    if value is not None and value != "":
        attrs[key] = value


def model_id_from_source(source: str | None) -> str | None:
    match = _LOGGED_MODEL_URI_RE.match(source or "")
    return match.group(1) if match else None


def _local_path(location: str) -> str | None:
    parts = urlsplit(location)
    if parts.scheme == "file":
        return unquote(parts.path)
    if not parts.scheme and location.startswith("/"):
        return location
    return None


def _dataset_detail(ds: Any, context: str) -> dict[str, Any]:
    """One logged dataset input as MLflow recorded it: name, digest, source, schema, context."""
    detail = {
        "name": ds.name,
        "digest": ds.digest,
        "sourceType": ds.source_type,
        "source": ds.source,
        "context": context,
    }
    if ds.schema:
        detail["schema"] = ds.schema
    return detail


def model_outputs(run: Any) -> list[Any]:
    outputs = getattr(run, "outputs", None)
    return list(getattr(outputs, "model_outputs", None) or [])
