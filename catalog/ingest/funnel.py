"""The ingest transaction: read every source, join, plan and apply in one write transaction.

An ingest reads and validates all its sources first and then writes everything in
one transaction, so a bad file or an unreachable MLflow leaves the store exactly as
it was. Each batch is planned (``store.plan_upsert``) and applied (``store.apply_plan``)
in order; propagated tags are recomputed once at the end.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

from sqlalchemy.orm import Session

from catalog import naming, refs, store
from catalog.atlas.json import ref_from_atlas, stored_to_entity
from catalog.config import Settings, redact_uri
from catalog.errors import AmbiguousReference, NotFound
from catalog.ingest.join import ModelVersionLookup, plan_ingest
from catalog.model import ACTIVE, MODEL_VERSION, RUN, Entity, EntityRef, Finding, StoredEntity

if TYPE_CHECKING:
    from catalog.mlflow_source import MlflowRead
    from catalog.types.registry import TypeRegistry

__all__ = ["IngestReport", "StoreLookup", "StoreHandle", "run_ingest"]

log = logging.getLogger("catalog.ingest")


@dataclass
class IngestReport:
    """What an ingest read and wrote, counted once per entity over all its batches.

    ``created``: entities new to the catalog; ``updated``: entities that existed and
    changed; ``unchanged``: entities the sources sent that were already as sent. An
    entity two sources describe in one ingest counts once, under its first change.
    """

    results: list[store.IngestResult] = field(default_factory=list)
    findings: list[Finding] = field(default_factory=list)
    sources: list[str] = field(default_factory=list)
    cursor_written: bool = False
    findings_written: int = 0
    #: the MLflow tracking URI read, without credentials ("" when MLflow was not read)
    mlflow_uri: str = ""

    def _guids(self, kind: str) -> set[str]:
        return {g for r in self.results for g in getattr(r, kind)}

    @property
    def created(self) -> int:
        return len(self._guids("created"))

    @property
    def updated(self) -> int:
        return len(self._guids("updated") - self._guids("created"))

    @property
    def unchanged(self) -> int:
        return len(self._guids("unchanged_guids") - self._guids("created") - self._guids("updated"))

    @property
    def propagated(self) -> int:
        return sum(r.propagated_added for r in self.results)

    @property
    def wrote(self) -> bool:
        return any(r.changed for r in self.results) or self.cursor_written or self.findings_written > 0

    def summary(self) -> str:
        return (
            f"{self.created} created, {self.updated} updated, {self.unchanged} unchanged, "
            f"{self.propagated} classifications propagated, {len(self.findings)} findings"
        )

    def describe_sources(self) -> str:
        """``lineage.yml:/abs/lineage.yml, mlflow:mlflow (sqlite:///mlflow.db)``: each source by its one name."""
        uri = f" ({self.mlflow_uri})" if self.mlflow_uri else ""
        return ", ".join(s + (uri if s.startswith("mlflow:") else "") for s in self.sources)

    def to_json(self) -> dict:
        return {
            "sources": self.sources,
            "mlflowUri": self.mlflow_uri or None,
            "created": self.created,
            "updated": self.updated,
            "unchanged": self.unchanged,
            "propagated": self.propagated,
            "findings": [
                {"kind": f.kind, "subject": f.subject, "message": f.message, "source": f.source}
                for f in self.findings
            ],
        }


class StoreLookup:
    """``ModelVersionLookup`` over one session of the store."""

    def __init__(self, session: Session, registry: TypeRegistry, instance: str) -> None:
        self._session = session
        self._registry = registry
        self._instance = instance

    def exists(self, ref: EntityRef) -> bool:
        found = store.get_entity(self._session, ref.guid)
        return found is not None and found.status == ACTIVE

    def version(self, model: str, selector: str | int) -> StoredEntity | None:
        try:
            return refs.resolve_model_version(self._session, model, selector, self._registry, self._instance)
        except (NotFound, AmbiguousReference):  # the funnel records an unresolved-model finding
            return None

    def declared_training(self, model: str) -> list[EntityRef] | None:
        qn = naming.declared_training_qn(model, self._instance)
        found = store.find_by_qualified_name(self._session, qn)
        if not found:
            return None
        return [r for r in (ref_from_atlas(v) for v in found[0].attributes.get("inputs") or []) if r]

    def training_runs(self, model: str) -> list[Entity]:
        prefix = f"{model}/"
        versions = [
            e.guid
            for e in store.search(self._session, prefix, type_names={MODEL_VERSION}, limit=100_000)
            if e.qualified_name.startswith(prefix) and e.qualified_name.endswith("@" + self._instance)
        ]
        runs = store.producers_of(self._session, versions, type_names=self._registry.subtypes(RUN))
        return [stored_to_entity(e) for e in runs if e.status == ACTIVE]


class StoreHandle(Protocol):
    """What an ingest needs of the catalog: settings, registry, sessions."""

    settings: Settings
    registry: TypeRegistry

    def store_exists(self) -> bool: ...

    def session(self) -> Session: ...

    def write_session(self) -> Session: ...


def _read_mlflow(
    catalog: StoreHandle, uri: str, source_name: str, cluster: str, progress: Callable[[str, int], None] | None,
    models: Iterable[str] | None = None,
) -> MlflowRead:
    """MLflow at ``uri``, incrementally from the stored cursor of ``source_name`` when there is one.

    With ``models``, only those registered models (``read_mlflow_models``), when the stored
    cursor can say what the catalog holds; without a usable cursor, the whole read.
    """
    from catalog.mlflow_source import cursor_usable, read_mlflow, read_mlflow_models

    cursor = None
    instance = catalog.settings.mlflow_instance
    if catalog.store_exists():
        with catalog.session() as session:
            cursor = store.get_cursor(session, source_name)
    if models is not None and cursor is not None and cursor_usable(cursor, instance):
        return read_mlflow_models(uri, models, cursor=cursor, instance=instance, cluster=cluster)
    return read_mlflow(uri, instance=instance, cluster=cluster, cursor=cursor, progress=progress)


def _store_cursor(session: Session, source_name: str, read: MlflowRead, instance: str) -> bool:
    """The read's cursor, or its patch merged into the cursor stored now (in this transaction)."""
    if read.patch is None:
        return store.set_cursor(session, source_name, read.cursor)
    from catalog.mlflow_source import merge_cursor

    merged = merge_cursor(store.get_cursor(session, source_name), read.patch, instance)
    return merged is not None and store.set_cursor(session, source_name, merged)


def run_ingest(
    catalog: StoreHandle,
    *,
    lineage_path: str | Path | None = None,
    mlflow_uri: str | None = None,
    progress: Callable[[str, int], None] | None = None,
    user: str | None = None,
    mlflow_models: Iterable[str] | None = None,
) -> IngestReport:
    """Read lineage.yml and/or MLflow, then write all changes in one transaction.

    ``mlflow_models``: read only those registered models of MLflow (a targeted read, as
    the MLflow hook's worker does for the models its jobs name), when the stored cursor
    allows it; otherwise (no earlier read) the whole incremental read.
    """
    from catalog.lineage_file import load_lineage_file

    settings, registry = catalog.settings, catalog.registry
    user = user or settings.user
    report = IngestReport()
    doc = None
    if lineage_path is not None:
        path = Path(lineage_path).resolve()
        doc = load_lineage_file(
            path,
            max_bytes=settings.max_lineage_file_bytes,
            known_classifications=set(registry.classification_names()),
        )
        report.sources.append(f"lineage.yml:{path}")
    source_name = naming.mlflow_source(settings.mlflow_instance)
    mlflow_read = None
    if mlflow_uri is not None:
        mlflow_read = _read_mlflow(catalog, mlflow_uri, source_name, doc.cluster if doc else settings.cluster, progress,
                                   mlflow_models)
        report.sources.append(source_name)
        report.mlflow_uri = redact_uri(mlflow_uri)
    with catalog.write_session() as session, session.begin():
        lookup: ModelVersionLookup = StoreLookup(session, registry, settings.mlflow_instance)
        plan = plan_ingest(
            doc,
            mlflow_read.batch if mlflow_read else None,
            instance=settings.mlflow_instance,
            cluster=settings.cluster,
            lookup=lookup,
        )
        for batch in plan.batches:
            write = store.plan_upsert(session, batch, registry, user=user)
            report.results.append(store.apply_plan(session, write, recompute_tags=False))
            session.flush()
        if any(r.lineage_changed for r in report.results):
            # Once per ingest, after every batch: the CTE covers the whole graph.
            added, removed = store.recompute_propagation(session, user=user, source=", ".join(report.sources))
            report.results.append(store.IngestResult(propagated_added=added, propagated_removed=removed))
        report.findings = plan.findings
        scope = set(plan.finding_scope) | {f.subject for f in plan.findings}
        report.findings_written = store.replace_findings(session, "ingest", plan.findings, scope=scope)
        if mlflow_read is not None:
            report.cursor_written = _store_cursor(session, source_name, mlflow_read, settings.mlflow_instance)
    log.info("ingest %s: %s", report.describe_sources(), report.summary())
    return report
