"""The MLflow reader: paginated queries and the incremental cursor (entities: ``entities``)."""
from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from catalog import naming
from catalog.canonical import chunks, digest
from catalog.mlflow_source.entities import (
    FS_PATH,
    HIVE_TABLE,
    LOGGED_MODEL,
    ML_DATASET,
    MODEL_VERSION,
    PROJECT,
    REGISTERED_MODEL,
    RUN,
    EntityBuilder,
    model_id_from_source,
    model_outputs,
    enum_text,
)
from catalog.model import Entity, EntityRef, Finding, SourceBatch

CURSOR_VERSION = 1
#: Window re-queried below each time high-water mark, for clock skew between MLflow
#: clients (run start/end times are client clocks) and commits racing a read.
OVERLAP_MS = 10 * 60 * 1000

# Emission order: referenced entities before the entities referring to them.
_TYPE_ORDER = (PROJECT, HIVE_TABLE, FS_PATH, ML_DATASET, REGISTERED_MODEL, MODEL_VERSION, LOGGED_MODEL, RUN)

_TERMINAL = frozenset({"FINISHED", "FAILED", "KILLED"})
_ID_RE = re.compile(r"^[A-Za-z0-9_.\-]+$")
_IN_CHUNK = 100


@dataclass
class MlflowRead:
    """One read: the entities for the store and the cursor for the next read.

    A targeted read (``read_mlflow_models``) leaves ``cursor`` empty and carries ``patch``
    instead: the fingerprints of the models it read, for ``merge_cursor`` to put into the
    stored cursor when the batch is stored.
    """

    batch: SourceBatch
    cursor: dict = field(default_factory=dict)
    patch: dict | None = None


def no_progress(kind: str, n: int) -> None:
    pass


# -- small helpers ---------------------------------------------------------------------------


def _fingerprint(value: Any) -> str:
    return digest(value)[:16]


def model_fingerprint(rm: Any) -> str:
    """The cursor's fingerprint of a registered model (aliases are the versions')."""
    return _fingerprint([rm.description, dict(rm.tags), rm.creation_timestamp, rm.last_updated_timestamp])


def version_fingerprint(mv: Any, aliases: Iterable[str]) -> str:
    """``<fingerprint>:<run id>``: the run id lets a later read re-emit the run of a deleted version."""
    return _fingerprint([
        mv.source, mv.model_id, enum_text(mv.status), mv.current_stage, mv.description,
        dict(mv.tags), mv.creation_timestamp, mv.last_updated_timestamp, sorted(aliases),
    ]) + f":{mv.run_id or ''}"


def _chunks(items: Iterable[str], size: int = _IN_CHUNK) -> Iterator[Sequence[str]]:
    """Sorted distinct ids in IN-list sized pieces (MLflow's search filters take short lists)."""
    return chunks(sorted(set(items)), size)


def _in_list(ids: Iterable[str]) -> str:
    return "(" + ", ".join(f"'{i}'" for i in ids) + ")"


def _safe_ids(ids: Iterable[str | None]) -> set[str]:
    return {i for i in ids if i and _ID_RE.match(i)}


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


def cursor_usable(cursor: Any, instance: str) -> bool:
    """Whether ``cursor`` is a cursor of ``instance`` an incremental (or targeted) read can start from."""
    return _load_cursor(cursor, instance) is not None


def merge_cursor(cursor: Any, patch: Mapping[str, Any], instance: str) -> dict | None:
    """``cursor`` with a targeted read's fingerprints; None when ``cursor`` is not usable (nothing to merge into).

    Only the registry fingerprints of the models the targeted read listed change (a
    ``None`` in the patch: the model is gone from MLflow); high-water marks, ``seen`` and
    ``open`` stay, so the next incremental read still fetches every run and logged model
    it would have.
    """
    loaded = _load_cursor(cursor, instance)
    if loaded is None:
        return None
    models, versions = loaded["registered_models"], loaded["model_versions"]
    for name, fp in patch.get("registered_models", {}).items():
        if fp is None:
            models.pop(name, None)
        else:
            models[name] = fp
    for name, fps in patch.get("model_versions", {}).items():
        if fps:
            versions[name] = dict(sorted(fps.items()))
        else:
            versions.pop(name, None)
    return {
        "version": CURSOR_VERSION,
        "instance": instance,
        "experiments": loaded["experiments"],
        "runs": loaded["runs"],
        "logged_models": loaded["logged_models"],
        "registered_models": dict(sorted(models.items())),
        "model_versions": {n: dict(sorted(v.items())) for n, v in sorted(versions.items())},
    }


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


class Reader(EntityBuilder):
    def __init__(self, client: Any, uri: str, instance: str, cluster: str, page_size: int, progress: Callable) -> None:
        self.client = client
        self.uri = uri
        self.instance = instance
        self.cluster = cluster
        self.page_size = page_size
        self.progress = progress
        self.source = naming.mlflow_source(instance)
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
        run_model_ids = {o.model_id for r in runs.values() for o in model_outputs(r)}
        version_model_ids = {mv.model_id or model_id_from_source(mv.source) for mv in changed_mvs}
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
        reg.model_fps = {n: model_fingerprint(rm) for n, rm in reg.models.items()}
        for rm in reg.models.values():  # search_model_versions leaves aliases empty; models carry them
            for alias, version in (rm.aliases or {}).items():
                reg.aliases[(rm.name, int(version))].append(alias)
        for mv in versions:
            if mv.name not in reg.models:  # deleted while we read: not recorded, so seen again next read
                continue
            version = int(mv.version)
            fp = version_fingerprint(mv, reg.aliases[(mv.name, version)])
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

def _run_token(run: Any) -> str:
    return f"{run.info.status}:{run.info.end_time if run.info.end_time is not None else ''}"


def _lm_token(lm: Any) -> str:
    return f"{enum_text(lm.status)}:{lm.last_updated_timestamp}"


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
