"""The targeted read: a few registered models, as the incremental read would emit them.

``TargetedReader.read(names, cursor)`` asks MLflow about the named registered models only:
each model (``get_registered_model``, which carries the aliases) and its versions
(``search_model_versions`` filtered on the name, the listing the incremental read pages
through for every model), compares their fingerprints with ``cursor``'s, and emits what
the incremental read would have emitted for those models: the changed versions and
their registered model, and for a version new to the cursor (or one gone from MLflow)
its run, with the run's experiment, logged datasets, logged models and every version
registered from it (its ``outputs``). No run search, no listing of other models, no
10-minute re-read; independent requests of an HTTP server are sent in parallel.

It returns a cursor *patch* (``MlflowRead.patch``: the fingerprints of the models it
listed) instead of a cursor; ``merge_cursor`` puts it into the stored cursor, whose
high-water marks stay where they were (docs/mlflow.md, "Targeted reads").
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, TypeVar

from catalog import naming
from catalog.mlflow_source.entities import MODEL_VERSION, model_id_from_source, model_outputs
from catalog.mlflow_source.reader import (
    _TYPE_ORDER,
    MlflowRead,
    Reader,
    _load_cursor,
    _safe_ids,
    model_fingerprint,
    no_progress,
    version_fingerprint,
)
from catalog.model import EntityRef, Finding, SourceBatch

__all__ = ["TargetedReader"]

T = TypeVar("T")
R = TypeVar("R")
#: Requests in flight at once against an HTTP tracking server.
MAX_PARALLEL = 8
_MISSING = ("RESOURCE_DOES_NOT_EXIST",)


@dataclass
class _Changes:
    """What a targeted read's first round found changed since the cursor."""

    patch: dict[str, dict] = field(default_factory=lambda: {"registered_models": {}, "model_versions": {}})
    changed_versions: list[Any] = field(default_factory=list)
    aliases: dict[tuple[str, int], list[str]] = field(default_factory=lambda: defaultdict(list))
    runs_to_read: set[str] = field(default_factory=set)
    gone: list[str] = field(default_factory=list)


class TargetedReader(Reader):
    """A ``Reader`` that reads named registered models only; ``parallel``: send independent requests at once."""

    def __init__(self, client: Any, uri: str, instance: str, cluster: str, page_size: int, *,
                 parallel: bool, first_round: Callable[[], Any] | None = None) -> None:
        super().__init__(client, uri, instance, cluster, page_size, no_progress)
        self.parallel = parallel
        #: context manager factory the first round of requests runs in (the HTTP probe's short timeout)
        self.first_round = first_round
        self._prefetched: dict[str, tuple[str, Any]] = {}  # MLmodel location -> ("ok", doc) or ("error", exc)

    def _map(self, fn: Callable[[T], R], items: Sequence[T]) -> list[R]:
        if not self.parallel or len(items) < 2:
            return [fn(i) for i in items]
        with ThreadPoolExecutor(max_workers=min(MAX_PARALLEL, len(items)), thread_name_prefix="mlflow-read") as pool:
            return list(pool.map(fn, items))

    # single objects; None when MLflow does not have them
    def _get(self, fetch: Callable[[], T]) -> T | None:
        from mlflow.exceptions import MlflowException

        try:
            return fetch()
        except MlflowException as exc:
            if exc.error_code in _MISSING:
                return None
            raise

    def _model_versions(self, name: str) -> list[Any]:
        """Every version of ``name``, through the listing the incremental read uses."""
        from mlflow.exceptions import MlflowException

        order = ["creation_timestamp ASC", "name ASC", "version_number ASC"]
        quote = "'" if "'" not in name else '"' if '"' not in name else None
        if quote is not None:
            try:
                found = list(self._pages("model_versions", self.client.search_model_versions, 200_000,
                                         filter_string=f"name = {quote}{name}{quote}", order_by=order))
                return [mv for mv in found if mv.name == name]
            except MlflowException as exc:
                if exc.error_code != "INVALID_PARAMETER_VALUE":
                    raise
        # A name MLflow's filter grammar cannot hold: the whole listing, kept to the model.
        return [mv for mv in self._pages("model_versions", self.client.search_model_versions, 200_000,
                                         order_by=order) if mv.name == name]

    def _ask(self, question: tuple[str, str]) -> Any:
        kind, key = question
        if kind == "registered_model":
            return self._get(lambda: self.client.get_registered_model(key))
        if kind == "model_versions":
            return self._model_versions(key)
        if kind == "run":
            return self._get(lambda: self.client.get_run(key))
        if kind == "run_versions":
            return list(self._pages("model_versions", self.client.search_model_versions, 200_000,
                                    filter_string=f"run_id = '{key}'"))
        if kind == "logged_model":
            return self._get(lambda: self.client.get_logged_model(key))
        if kind == "experiment":
            return self._get(lambda: self.client.get_experiment(key))
        if kind == "mlmodel":
            try:
                return ("ok", self._read_mlmodel(key))
            except Exception as exc:  # noqa: BLE001 - recorded as an mlmodel-unreadable finding, as ``_mlmodel`` does
                return ("error", exc)
        raise ValueError(kind)

    def _round(self, questions: Iterable[tuple[str, str]]) -> dict[tuple[str, str], Any]:
        asked = sorted(set(questions))
        return dict(zip(asked, self._map(self._ask, asked), strict=True))

    # the read
    def read(self, names: Iterable[str], cursor: Any) -> MlflowRead:  # type: ignore[override]
        prev = _load_cursor(cursor, self.instance)
        if prev is None:
            raise ValueError("a targeted MLflow read needs the cursor of an earlier read of this instance")
        names = sorted(set(names))
        first = [q for n in names for q in (("registered_model", n), ("model_versions", n))]
        if self.first_round is not None:
            with self.first_round():
                answers = self._round(first)
        else:
            answers = self._round(first)

        changes = self._compare(names, answers, prev)
        patch, changed_versions, aliases = changes.patch, changes.changed_versions, changes.aliases
        runs_to_read = changes.runs_to_read

        # The runs whose outputs changed, every version registered from them, the versions' logged models.
        run_ids = sorted(_safe_ids(runs_to_read))
        version_model_ids = _safe_ids(mv.model_id or model_id_from_source(mv.source) for mv in changed_versions)
        second = self._round([("run", r) for r in run_ids] + [("run_versions", r) for r in run_ids]
                             + [("logged_model", m) for m in version_model_ids])
        runs = {r: run for r in run_ids if (run := second[("run", r)]) is not None
                and getattr(run.info, "lifecycle_stage", "active") == "active"}  # searches see active runs only
        self.logged_models.update({m: lm for m in version_model_ids if (lm := second[("logged_model", m)]) is not None})

        # Their experiments and the logged models they produced.
        run_model_ids = _safe_ids(o.model_id for run in runs.values() for o in model_outputs(run))
        third = self._round([("experiment", run.info.experiment_id) for run in runs.values()]
                            + [("logged_model", m) for m in run_model_ids - set(self.logged_models)])
        experiments = {}
        for run_id, run in list(runs.items()):
            exp = third[("experiment", run.info.experiment_id)]
            if exp is None or getattr(exp, "lifecycle_stage", "active") != "active":
                del runs[run_id]  # the incremental read searches the runs of active experiments only
            else:
                experiments[exp.experiment_id] = exp
        self.logged_models.update({m: lm for (kind, m), lm in third.items() if kind == "logged_model" and lm})
        run_model_ids = _safe_ids(o.model_id for run in runs.values() for o in model_outputs(run))

        # The MLmodel files the entities read (signature, flavors), at once. A changed version's logged
        # model is emitted too: the incremental read would have, when it is new.
        emitted_lms = sorted((run_model_ids | version_model_ids) & set(self.logged_models))
        locations = {self.logged_models[m].artifact_location for m in emitted_lms}
        for mv in changed_versions:
            model_id = mv.model_id or model_id_from_source(mv.source)
            if model_id in self.logged_models:
                locations.add(self.logged_models[model_id].artifact_location)
            elif mv.source and not str(mv.source).startswith(("models:/", "runs:/")):
                locations.add(str(mv.source))
        fourth = self._round(("mlmodel", loc) for loc in locations if loc and loc not in self.mlmodels)
        prefetched = {loc: answer for (_kind, loc), answer in fourth.items()}

        versions_by_run: dict[str, list[EntityRef]] = defaultdict(list)
        for run_id in runs:
            for mv in second[("run_versions", run_id)]:
                versions_by_run[run_id].append(
                    EntityRef(MODEL_VERSION, naming.model_version_qn(mv.name, int(mv.version), self.instance)))
        self._prefetched = prefetched
        for exp_id in sorted(experiments):
            self._emit(self._project(experiments[exp_id]))
        for model_id in emitted_lms:
            self._emit(self._logged_model(self.logged_models[model_id]))
        for run in sorted(runs.values(), key=lambda r: (r.info.start_time or 0, r.info.run_id)):
            self._emit_run(run, versions_by_run.get(run.info.run_id, []))
        for mv in changed_versions:
            self._emit(self._model_version(mv, sorted(aliases[(mv.name, int(mv.version))])))

        entities = sorted(self.out.values(), key=lambda e: (_TYPE_ORDER.index(e.type_name), e.qualified_name))
        return MlflowRead(SourceBatch(self.source, entities, self.findings), {}, patch)

    def _compare(self, names: list[str], answers: dict[tuple[str, str], Any], prev: dict[str, Any]) -> _Changes:
        """The first round's answers against the cursor: what changed, what went, which runs to read.

        A registered model with a changed fingerprint, or with a changed version, is emitted here.
        """
        changes = _Changes()
        patch, changed_versions, aliases = changes.patch, changes.changed_versions, changes.aliases
        runs_to_read, gone = changes.runs_to_read, changes.gone
        for name in names:
            rm = answers[("registered_model", name)]
            old = prev["model_versions"].get(name, {})
            if rm is None:  # deleted in MLflow (or never there): its versions went with it
                if name in prev["registered_models"]:
                    gone.append(naming.registered_model_qn(name, self.instance))
                    patch["registered_models"][name] = None
                for version, fp in old.items():
                    gone.append(naming.model_version_qn(name, version, self.instance))
                    runs_to_read.add(str(fp).partition(":")[2])
                if old:
                    patch["model_versions"][name] = None
                continue
            for alias, version in (rm.aliases or {}).items():
                aliases[(name, int(version))].append(alias)
            fps: dict[str, str] = {}
            for mv in answers[("model_versions", name)]:
                version = int(mv.version)
                fp = version_fingerprint(mv, aliases[(name, version)])
                fps[str(version)] = fp
                was = old.get(str(version))
                if was != fp:
                    changed_versions.append(mv)
                    if was is None and mv.run_id:
                        runs_to_read.add(mv.run_id)
            for version, fp in old.items():
                if version not in fps:
                    gone.append(naming.model_version_qn(name, version, self.instance))
                    runs_to_read.add(str(fp).partition(":")[2])
            rm_fp = model_fingerprint(rm)
            if prev["registered_models"].get(name) != rm_fp or any(mv.name == name for mv in changed_versions):
                self._emit(self._registered_model(rm))
            patch["registered_models"][name] = rm_fp
            patch["model_versions"][name] = fps
        for qn in sorted(gone):
            self.findings.append(Finding("deleted-in-mlflow", qn, f"{qn} is no longer in MLflow (deleted)", self.source))
        return changes

    def _read_mlmodel(self, location: str) -> dict | None:
        answer = self._prefetched.pop(location, None)
        if answer is None:
            return super()._read_mlmodel(location)
        status, value = answer
        if status == "error":
            raise value
        return value
