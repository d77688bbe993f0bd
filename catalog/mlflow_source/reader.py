"""The MLflow reader: paginated queries, the incremental cursor, MLflow objects -> entities."""

from __future__ import annotations

import hashlib
import json
import os
import posixpath
import re
import tempfile
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import unquote, urlsplit

from catalog import naming
from catalog.mlflow_source.connect import _scrub
from catalog.model import Entity, EntityRef, Finding, SourceBatch

CURSOR_VERSION = 1
#: Window re-queried below each time high-water mark, for clock skew between MLflow
#: clients (run start/end times are client clocks) and commits racing a read.
OVERLAP_MS = 10 * 60 * 1000
#: Read the (few KB) MLmodel file of remote artifact stores to get signature/flavors.
FETCH_REMOTE_MLMODEL = True

PROJECT, RUN, LOGGED_MODEL = "ml_project", "ml_training_run", "ml_logged_model"
REGISTERED_MODEL, MODEL_VERSION = "ml_registered_model", "ml_model_version"
HIVE_TABLE, FS_PATH, ML_DATASET = "hive_table", "fs_path", "ml_dataset"
# Emission order: referenced entities before the entities referring to them.
_TYPE_ORDER = (PROJECT, HIVE_TABLE, FS_PATH, ML_DATASET, REGISTERED_MODEL, MODEL_VERSION, LOGGED_MODEL, RUN)

_TERMINAL = frozenset({"FINISHED", "FAILED", "KILLED"})
# mlflow.* run tags surfaced as their own attributes (or as outputs), left out of ``tags``.
_SURFACED_RUN_TAGS = frozenset(
    {"mlflow.runName", "mlflow.user", "mlflow.source.name", "mlflow.source.git.commit", "mlflow.log-model.history"}
)
_TABLE_KEYS = ("table_name", "delta_table_name", "table")
_PATH_KEYS = ("uri", "path", "url")
_NOT_PATH_SOURCES = frozenset({"code", "hugging_face", "huggingface"})
_ID_RE = re.compile(r"^[A-Za-z0-9_.\-]+$")
_LOGGED_MODEL_URI_RE = re.compile(r"^models:/(m-[0-9a-fA-F]+)/?$")
_IN_CHUNK = 100


@dataclass
class MlflowRead:
    """One read: the entities for the store and the cursor for the next read."""

    batch: SourceBatch
    cursor: dict = field(default_factory=dict)


def _no_progress(kind: str, n: int) -> None:
    pass


# -- small helpers ---------------------------------------------------------------------------


def _fingerprint(value: Any) -> str:
    raw = json.dumps(value, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(raw.encode()).hexdigest()[:16]


def _chunks(items: Iterable[str], size: int = _IN_CHUNK) -> Iterator[list[str]]:
    items = sorted(set(items))
    for i in range(0, len(items), size):
        yield items[i : i + size]


def _in_list(ids: Iterable[str]) -> str:
    return "(" + ", ".join(f"'{i}'" for i in ids) + ")"


def _safe_ids(ids: Iterable[str | None]) -> set[str]:
    return {i for i in ids if i and _ID_RE.match(i)}


def _status(value: Any) -> str:
    return str(getattr(value, "value", value))


def _opt(attrs: dict[str, Any], key: str, value: Any) -> None:
    if value is not None and value != "":
        attrs[key] = value


def _model_id_from_source(source: str | None) -> str | None:
    match = _LOGGED_MODEL_URI_RE.match(source or "")
    return match.group(1) if match else None


def _local_path(location: str) -> str | None:
    parts = urlsplit(location)
    if parts.scheme == "file":
        return unquote(parts.path)
    if not parts.scheme and location.startswith("/"):
        return location
    return None


def _load_cursor(cursor: Any, instance: str) -> dict | None:
    """The previous cursor, or None (full read) when absent, foreign or malformed."""
    if not isinstance(cursor, Mapping):
        return None
    if cursor.get("version") != CURSOR_VERSION or cursor.get("instance") != instance:
        return None
    try:
        runs, lms = cursor["runs"], cursor["logged_models"]
        return {
            "experiments": dict(cursor["experiments"]),
            "runs": {
                "start_hwm": _hwm(runs["start_hwm"]),
                "end_hwm": _hwm(runs["end_hwm"]),
                "seen": dict(runs["seen"]),
                "open": list(runs["open"]),
            },
            "logged_models": {"hwm": _hwm(lms["hwm"]), "seen": dict(lms["seen"])},
            "registered_models": dict(cursor["registered_models"]),
            "model_versions": {k: dict(v) for k, v in cursor["model_versions"].items()},
        }
    except (KeyError, TypeError, ValueError, AttributeError):
        return None


def _hwm(value: Any) -> int | None:
    if value is None or (isinstance(value, int) and not isinstance(value, bool)):
        return value
    raise ValueError(f"not a high-water mark: {value!r}")


@dataclass
class _Registry:
    """One sweep of the model registry."""

    models: dict[str, Any] = field(default_factory=dict)
    model_fps: dict[str, str] = field(default_factory=dict)
    aliases: dict[tuple[str, int], list[str]] = field(default_factory=lambda: defaultdict(list))
    version_fps: dict[str, dict[str, str]] = field(default_factory=lambda: defaultdict(dict))
    versions_by_run: dict[str, list[EntityRef]] = field(default_factory=lambda: defaultdict(list))
    changed_versions: list[Any] = field(default_factory=list)
    runs_of_new_versions: set[str] = field(default_factory=set)


# -- the reader -------------------------------------------------------------------------------


class _Reader:
    def __init__(self, client: Any, uri: str, instance: str, cluster: str, page_size: int, progress: Callable) -> None:
        self.client = client
        self.uri = uri
        self.instance = instance
        self.cluster = cluster
        self.page_size = page_size
        self.progress = progress
        self.source = f"mlflow:{instance}"
        self.out: dict[tuple[str, str], Entity] = {}
        self.findings: list[Finding] = []
        self.exp_ids: list[str] = []
        self.logged_models: dict[str, Any] = {}  # model_id -> LoggedModel, loaded this read
        self.mlmodels: dict[str, dict | None] = {}  # artifact location -> parsed MLmodel

    # pagination
    def _pages(self, kind: str, search: Callable[..., Any], max_results: int, **kwargs: Any) -> Iterator[Any]:
        token = None
        seen_tokens: set[Any] = set()
        while True:
            page = search(max_results=min(self.page_size, max_results), page_token=token, **kwargs)
            self.progress(kind, len(page))
            yield from page
            token = page.token
            if not token or token in seen_tokens:
                return
            seen_tokens.add(token)

    def _search_runs(self, filter_string: str | None) -> dict[str, Any]:
        runs: dict[str, Any] = {}
        for exp_chunk in _chunks(self.exp_ids):
            for run in self._pages(
                "runs",
                self.client.search_runs,
                50_000,
                experiment_ids=exp_chunk,
                filter_string=filter_string or "",
                order_by=["attributes.start_time ASC", "attributes.run_id ASC"],
            ):
                runs[run.info.run_id] = run
        return runs

    def _runs_by_id(self, run_ids: Iterable[str]) -> dict[str, Any]:
        runs: dict[str, Any] = {}
        for chunk in _chunks(_safe_ids(run_ids)):
            runs.update(self._search_runs(f"attributes.run_id IN {_in_list(chunk)}"))
        return runs

    def _search_logged_models(self, filter_string: str | None) -> dict[str, Any]:
        models: dict[str, Any] = {}
        for exp_chunk in _chunks(self.exp_ids):
            for lm in self._pages(
                "logged_models",
                self.client.search_logged_models,
                1_000,
                experiment_ids=exp_chunk,
                filter_string=filter_string,
                order_by=[{"field_name": "creation_timestamp", "ascending": True}],
            ):
                models[lm.model_id] = lm
        self.logged_models.update(models)
        return models

    def _logged_models_by_id(self, model_ids: Iterable[str]) -> dict[str, Any]:
        wanted = _safe_ids(model_ids)
        missing = wanted - set(self.logged_models)
        for chunk in _chunks(missing):
            self._search_logged_models(f"model_id IN {_in_list(chunk)}")
        return {m: self.logged_models[m] for m in wanted if m in self.logged_models}

    # the read
    def read(self, cursor: Any) -> MlflowRead:
        loaded = _load_cursor(cursor, self.instance)
        full = loaded is None
        prev = _empty_cursor(self.instance) if loaded is None else loaded

        experiments = {
            e.experiment_id: e
            for e in self._pages("experiments", self.client.search_experiments, 50_000,
                                 order_by=["creation_time ASC", "experiment_id ASC"])
        }
        self.exp_ids = sorted(experiments)
        exp_fps = {
            i: _fingerprint([e.name, e.artifact_location, dict(e.tags), e.creation_time, e.last_update_time])
            for i, e in experiments.items()
        }
        changed_exps = {i for i, fp in exp_fps.items() if full or prev["experiments"].get(i) != fp}

        runs, runs_cursor = self._changed_runs(prev["runs"], full)
        changed_lms, lms_cursor = self._changed_logged_models(prev["logged_models"], full)

        reg = self._registry(prev, full)
        rms, rm_fps, mv_fps, changed_mvs = reg.models, reg.model_fps, reg.version_fps, reg.changed_versions

        # Runs whose outputs changed: versions registered from them or deleted, new/updated logged models.
        deleted_mv_runs = self._note_deleted(prev, experiments, rms, mv_fps)
        extra = reg.runs_of_new_versions | deleted_mv_runs
        extra |= {lm.source_run_id for lm in changed_lms.values() if lm.source_run_id}
        extra -= set(runs)
        runs.update(self._runs_by_id(extra))

        # Logged models referenced by emitted runs (re-emitted so refs resolve) and by versions.
        run_model_ids = {o.model_id for r in runs.values() for o in _model_outputs(r)}
        version_model_ids = {mv.model_id or _model_id_from_source(mv.source) for mv in changed_mvs}
        self._logged_models_by_id(run_model_ids | {m for m in version_model_ids if m})

        for i in sorted(changed_exps | {r.info.experiment_id for r in runs.values()}):
            if i in experiments:
                self._emit(self._project(experiments[i]))
        for model_id in sorted(set(changed_lms) | (run_model_ids & set(self.logged_models))):
            self._emit(self._logged_model(self.logged_models[model_id]))
        # Oldest run first, so a dataset logged by several runs carries the latest run's details.
        for run in sorted(runs.values(), key=lambda r: (r.info.start_time or 0, r.info.run_id)):
            self._emit_run(run, reg.versions_by_run.get(run.info.run_id, []))
        for n in sorted({n for n, fp in rm_fps.items() if full or prev["registered_models"].get(n) != fp}
                        | {mv.name for mv in changed_mvs}):
            self._emit(self._registered_model(rms[n]))
        for mv in changed_mvs:
            self._emit(self._model_version(mv, sorted(reg.aliases[(mv.name, int(mv.version))])))

        entities = sorted(self.out.values(), key=lambda e: (_TYPE_ORDER.index(e.type_name), e.qualified_name))
        new_cursor = {
            "version": CURSOR_VERSION,
            "instance": self.instance,
            "experiments": exp_fps,
            "runs": runs_cursor,
            "logged_models": lms_cursor,
            "registered_models": rm_fps,
            "model_versions": {n: dict(sorted(v.items())) for n, v in sorted(mv_fps.items())},
        }
        return MlflowRead(SourceBatch(self.source, entities, self.findings), new_cursor)

    def _registry(self, prev: dict, full: bool) -> _Registry:
        """Sweep the registry listings; versions whose fingerprint moved are the changed ones."""
        reg = _Registry()
        # Versions before registered models: every listed version's model is then listed too.
        versions = list(self._pages(
            "model_versions", self.client.search_model_versions, 200_000,
            order_by=["creation_timestamp ASC", "name ASC", "version_number ASC"],
        ))
        reg.models = {rm.name: rm for rm in self._pages(
            "registered_models", self.client.search_registered_models, 1_000, order_by=["name ASC"],
        )}
        reg.model_fps = {
            n: _fingerprint([rm.description, dict(rm.tags), rm.creation_timestamp, rm.last_updated_timestamp])
            for n, rm in reg.models.items()
        }
        for rm in reg.models.values():  # search_model_versions leaves aliases empty; models carry them
            for alias, version in (rm.aliases or {}).items():
                reg.aliases[(rm.name, int(version))].append(alias)
        for mv in versions:
            if mv.name not in reg.models:  # deleted while we read: not recorded, so seen again next read
                continue
            version = int(mv.version)
            # "<fingerprint>:<run id>": the run id lets a later read re-emit the run of a deleted version.
            fp = _fingerprint([
                mv.source, mv.model_id, _status(mv.status), mv.current_stage, mv.description,
                dict(mv.tags), mv.creation_timestamp, mv.last_updated_timestamp,
                sorted(reg.aliases[(mv.name, version)]),
            ]) + f":{mv.run_id or ''}"
            reg.version_fps[mv.name][str(version)] = fp
            if mv.run_id:
                reg.versions_by_run[mv.run_id].append(
                    EntityRef(MODEL_VERSION, naming.model_version_qn(mv.name, version, self.instance))
                )
            old = prev["model_versions"].get(mv.name, {}).get(str(version))
            if full or old != fp:
                reg.changed_versions.append(mv)
                if old is None and mv.run_id:
                    reg.runs_of_new_versions.add(mv.run_id)
        return reg

    def _changed_runs(self, prev: dict, full: bool) -> tuple[dict[str, Any], dict]:
        if full or prev["start_hwm"] is None:
            candidates = self._search_runs(None)
        else:
            candidates = self._search_runs(f"attributes.start_time >= {int(prev['start_hwm']) - OVERLAP_MS}")
            if prev["end_hwm"] is not None:
                candidates.update(self._search_runs(f"attributes.end_time >= {int(prev['end_hwm']) - OVERLAP_MS}"))
            candidates.update(self._runs_by_id(prev["open"]))
        was_open = set(prev["open"])
        changed = {
            i: r for i, r in candidates.items()
            if full or i in was_open or prev["seen"].get(i) != _run_token(r)
        }
        starts = [r.info.start_time for r in candidates.values() if r.info.start_time is not None]
        ends = [r.info.end_time for r in candidates.values() if r.info.end_time is not None]
        start_hwm = max(starts + ([prev["start_hwm"]] if prev["start_hwm"] is not None else []), default=None)
        end_hwm = max(ends + ([prev["end_hwm"]] if prev["end_hwm"] is not None else []), default=None)
        seen = {
            i: _run_token(r) for i, r in candidates.items()
            if (start_hwm is not None and (r.info.start_time or 0) >= start_hwm - OVERLAP_MS)
            or (end_hwm is not None and r.info.end_time is not None and r.info.end_time >= end_hwm - OVERLAP_MS)
        }
        open_ids = sorted(i for i, r in candidates.items() if r.info.status not in _TERMINAL)
        return changed, {"start_hwm": start_hwm, "end_hwm": end_hwm, "seen": dict(sorted(seen.items())),
                         "open": open_ids}

    def _changed_logged_models(self, prev: dict, full: bool) -> tuple[dict[str, Any], dict]:
        if full or prev["hwm"] is None:
            candidates = self._search_logged_models(None)
        else:
            candidates = self._search_logged_models(f"last_updated_timestamp >= {int(prev['hwm']) - OVERLAP_MS}")
        changed = {i: m for i, m in candidates.items() if full or prev["seen"].get(i) != _lm_token(m)}
        hwm = max([m.last_updated_timestamp for m in candidates.values() if m.last_updated_timestamp is not None]
                  + ([prev["hwm"]] if prev["hwm"] is not None else []), default=None)
        seen = {i: _lm_token(m) for i, m in candidates.items()
                if hwm is not None and (m.last_updated_timestamp or 0) >= hwm - OVERLAP_MS}
        return changed, {"hwm": hwm, "seen": dict(sorted(seen.items()))}

    def _note_deleted(self, prev: dict, experiments: dict, rms: dict, mv_fps: dict) -> set[str]:
        """Findings for what the cursor knew and MLflow no longer lists; the runs of gone versions."""
        gone = [naming.experiment_qn(i, self.instance) for i in prev["experiments"] if i not in experiments]
        gone += [naming.registered_model_qn(n, self.instance) for n in prev["registered_models"] if n not in rms]
        runs: set[str] = set()
        for name, versions in prev["model_versions"].items():
            for version, fp in versions.items():
                if version not in mv_fps.get(name, {}):
                    gone.append(naming.model_version_qn(name, version, self.instance))
                    runs.add(str(fp).partition(":")[2])
        for qn in sorted(gone):
            self.findings.append(
                Finding("deleted-in-mlflow", qn, f"{qn} is no longer in MLflow (deleted)", self.source)
            )
        return runs - {""}

    # entity builders
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
            for o in _model_outputs(run) if o.model_id in self.logged_models
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
                qn: json.dumps(sorted(d, key=lambda x: json.dumps(x, sort_keys=True)), sort_keys=True)
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
        model_id = mv.model_id or _model_id_from_source(mv.source)
        attrs: dict[str, Any] = {"name": f"{mv.name} v{version}", "version": version, "modelName": mv.name}
        _opt(attrs, "runId", mv.run_id)
        _opt(attrs, "modelId", model_id)
        _opt(attrs, "source", mv.source)
        _opt(attrs, "status", _status(mv.status) if mv.status is not None else None)
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
        elif FETCH_REMOTE_MLMODEL:
            import mlflow.artifacts

            with tempfile.TemporaryDirectory(prefix="catalog-mlmodel-") as tmp:
                path = mlflow.artifacts.download_artifacts(
                    artifact_uri=location.rstrip("/") + "/MLmodel", dst_path=tmp, tracking_uri=self.uri
                )
                with open(path, encoding="utf-8") as f:
                    doc = yaml.safe_load(f)
        else:
            return None
        return doc if isinstance(doc, dict) else None

    def _unreadable(self, subject: str, exc: BaseException) -> None:
        self.findings.append(
            Finding("mlmodel-unreadable", subject,
                    f"MLmodel of {subject} could not be read ({type(exc).__name__}: {_scrub(str(exc))[:200]}); "
                    "signature and flavors left out", self.source)
        )


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


def _model_outputs(run: Any) -> list[Any]:
    outputs = getattr(run, "outputs", None)
    return list(getattr(outputs, "model_outputs", None) or [])


def _run_token(run: Any) -> str:
    return f"{run.info.status}:{run.info.end_time if run.info.end_time is not None else ''}"


def _lm_token(lm: Any) -> str:
    return f"{_status(lm.status)}:{lm.last_updated_timestamp}"


def _empty_cursor(instance: str) -> dict:
    return {
        "version": CURSOR_VERSION,
        "instance": instance,
        "experiments": {},
        "runs": {"start_hwm": None, "end_hwm": None, "seen": {}, "open": []},
        "logged_models": {"hwm": None, "seen": {}},
        "registered_models": {},
        "model_versions": {},
    }
