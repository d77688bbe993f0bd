"""The ``Catalog`` facade: owns the engine, sessions, type registry and settings.

The CLI and the web app talk to this class only. An ingest reads and validates all
its sources first and then writes everything in one transaction, so a bad file or
an unreachable MLflow leaves the store exactly as it was.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy import Engine
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session, sessionmaker

from catalog import naming, store
from catalog.atlas import stored_to_entity
from catalog.config import Settings, redact_uri
from catalog.db import make_engine, upgrade, writer
from catalog.errors import AmbiguousReference, NotFound
from catalog.ingest import ModelVersionLookup, plan_ingest
from catalog.model import Entity, EntityRef, Finding, LineageGraph, StoredEntity
from catalog.types.registry import TypeRegistry

__all__ = ["Catalog", "IngestReport"]

log = logging.getLogger(__name__)
_GUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")
_MODELS_VERSION = re.compile(r"^models:/(?P<name>[^/@]+)/(?P<version>\d+)$")
_MODELS_ALIAS = re.compile(r"^models:/(?P<name>[^/@]+)@(?P<alias>[^/@]+)$")
_RUNS = re.compile(r"^runs:/(?P<run>[0-9A-Za-z_-]+)(?:/.*)?$")


@dataclass
class IngestReport:
    """What an ingest read and wrote."""

    results: list[store.IngestResult] = field(default_factory=list)
    findings: list[Finding] = field(default_factory=list)
    sources: list[str] = field(default_factory=list)
    cursor_written: bool = False
    findings_written: int = 0

    @property
    def created(self) -> int:
        return sum(len(r.created) for r in self.results)

    @property
    def updated(self) -> int:
        return sum(len(r.updated) for r in self.results)

    @property
    def unchanged(self) -> int:
        return sum(r.unchanged for r in self.results)

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

    def to_json(self) -> dict:
        return {
            "sources": self.sources,
            "created": self.created,
            "updated": self.updated,
            "unchanged": self.unchanged,
            "propagated": self.propagated,
            "findings": [_finding_json(f) for f in self.findings],
        }


def _finding_json(finding: Finding) -> dict:
    return {"kind": finding.kind, "subject": finding.subject, "message": finding.message, "source": finding.source}


class _StoreLookup:
    """``ModelVersionLookup`` over a session of this catalog."""

    def __init__(self, catalog: Catalog, session: Session) -> None:
        self._catalog = catalog
        self._session = session

    def version(self, model: str, selector: str | int) -> StoredEntity | None:
        ref = f"models:/{model}/{selector}" if str(selector).isdigit() else f"models:/{model}@{selector}"
        try:
            return self._catalog._resolve(self._session, ref)
        except (NotFound, AmbiguousReference):  # the funnel records an unresolved-model finding
            return None

    def declared_training(self, model: str) -> list[EntityRef] | None:
        qn = naming.declared_training_qn(model, self._catalog.settings.mlflow_instance)
        found = store.find_by_qualified_name(self._session, qn)
        if not found:
            return None
        from catalog.atlas import ref_from_atlas

        return [r for r in (ref_from_atlas(v) for v in found[0].attributes.get("inputs") or []) if r]

    def training_runs(self, model: str) -> list[Entity]:
        instance = self._catalog.settings.mlflow_instance
        prefix = f"{model}/"
        versions = [
            e.guid
            for e in store.search(self._session, prefix, type_names={"ml_model_version"}, limit=100_000)
            if e.qualified_name.startswith(prefix) and e.qualified_name.endswith("@" + instance)
        ]
        runs = store.producers_of(self._session, versions, type_names=self._catalog.registry.subtypes("ml_training_run"))
        return [stored_to_entity(e) for e in runs if e.status == "ACTIVE"]


class Catalog:
    """The catalog: one store, one registry, one set of settings."""

    def __init__(
        self, settings: Settings | None = None, *, registry: TypeRegistry | None = None, create: bool = True
    ) -> None:
        """``create=False``: refuse (``NotFound``) rather than create a SQLite store that is not there.

        The store is opened (and migrated) on first use, so a command that fails on its
        input never creates or touches it.
        """
        self.settings = settings or Settings.from_env()
        self.registry = registry or TypeRegistry.default()
        self._create = create
        self._engine: Engine | None = None
        self._read: sessionmaker[Session] | None = None
        self._write: sessionmaker[Session] | None = None

    @classmethod
    def from_env(cls) -> Catalog:
        return cls(Settings.from_env())

    @property
    def engine(self) -> Engine:
        """The store's engine, opened and migrated on first use."""
        if self._engine is None:
            if not self._create and not self.store_exists():
                raise NotFound(
                    f"no catalog at {redact_uri(self.settings.database_url)} yet: run `catalog ingest` first "
                    "(or set CATALOG_DATABASE_URL)"
                )
            engine = make_engine(self.settings.database_url)
            upgrade(engine)
            self._engine = engine
            self._read = sessionmaker(engine, expire_on_commit=False)
            self._write = sessionmaker(writer(engine), expire_on_commit=False)
        return self._engine

    def _sessionmakers(self) -> tuple[sessionmaker[Session], sessionmaker[Session]]:
        self.engine  # noqa: B018 - the property opens the store on first use
        assert self._read is not None and self._write is not None
        return self._read, self._write

    def store_exists(self) -> bool:
        """False only for a SQLite store whose file is not there (other backends: assumed)."""
        url = make_url(self.settings.database_url)
        if url.get_backend_name() != "sqlite" or url.database in (None, "", ":memory:"):
            return True
        return Path(url.database).exists()

    def close(self) -> None:
        if self._engine is not None:
            self._engine.dispose()

    def __enter__(self) -> Catalog:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def session(self) -> Session:
        """A read session (``with catalog.session() as s: ...``)."""
        return self._sessionmakers()[0]()

    def write_session(self) -> Session:
        """A session whose transactions take the write lock up front."""
        return self._sessionmakers()[1]()

    # ------------------------------------------------------------------ ingest

    def ingest(
        self,
        *,
        lineage_path: str | Path | None = None,
        mlflow_uri: str | None = None,
        progress: Callable[[str, int], None] | None = None,
        user: str | None = None,
    ) -> IngestReport:
        """Read lineage.yml and/or MLflow, then write all changes in one transaction."""
        from catalog.lineage_file import load_lineage_file

        user = user or self.settings.user
        report = IngestReport()
        doc = None
        if lineage_path is not None:
            path = Path(lineage_path).resolve()
            doc = load_lineage_file(
                path,
                max_bytes=self.settings.max_lineage_file_bytes,
                known_classifications=set(self.registry.classification_names()),
            )
            report.sources.append(f"lineage.yml:{path}")
        cursor_name = None
        mlflow_read = None
        if mlflow_uri is not None:
            from catalog.mlflow_source import read_mlflow

            cursor_name = f"mlflow:{self.settings.mlflow_instance}:{redact_uri(mlflow_uri)}"
            cursor = None
            if self.store_exists():
                with self.session() as session:
                    cursor = store.get_cursor(session, cursor_name)
            mlflow_read = read_mlflow(
                mlflow_uri,
                instance=self.settings.mlflow_instance,
                cluster=doc.cluster if doc is not None else self.settings.cluster,
                cursor=cursor,
                progress=progress,
            )
            report.sources.append(f"mlflow:{redact_uri(mlflow_uri)}")
        with self.write_session() as session, session.begin():
            lookup: ModelVersionLookup = _StoreLookup(self, session)
            plan = plan_ingest(
                doc,
                mlflow_read.batch if mlflow_read else None,
                instance=self.settings.mlflow_instance,
                cluster=self.settings.cluster,
                lookup=lookup,
            )
            for batch in plan.batches:
                report.results.append(store.upsert_batch(session, batch, self.registry, user=user, recompute_tags=False))
                session.flush()
            if any(r.lineage_changed for r in report.results):
                # Once per ingest, after every batch: the CTE covers the whole graph.
                added, removed = store.recompute_propagation(session, user=user, source=", ".join(report.sources))
                report.results.append(store.IngestResult(propagated_added=added, propagated_removed=removed))
            report.findings = plan.findings
            scope = set(plan.finding_scope) | {f.subject for f in plan.findings}
            report.findings_written = store.replace_findings(session, "ingest", plan.findings, scope=scope)
            if mlflow_read is not None and cursor_name is not None:
                report.cursor_written = store.set_cursor(session, cursor_name, mlflow_read.cursor)
        log.info("ingest %s: %s", ", ".join(report.sources), report.summary())
        return report

    # ------------------------------------------------------------------ reads

    def resolve(self, ref: str) -> StoredEntity:
        """An entity by qualifiedName, ``type:qualifiedName``, guid, ``models:/n/3``, ``models:/n@a``, ``runs:/id``."""
        with self.session() as session:
            return self._resolve(session, ref)

    def _resolve(self, session: Session, ref: str) -> StoredEntity:
        instance = self.settings.mlflow_instance
        text = ref.strip()
        if _GUID.match(text):
            found = store.get_entity(session, text)
            if found is None:
                raise NotFound(f"no entity with guid {text}")
            return found
        if m := _MODELS_VERSION.match(text):
            qn = naming.model_version_qn(m["name"], m["version"], instance)
            return self._one(session, text, store.find_by_qualified_name(session, qn, self.registry.subtypes("ml_model_build")))
        if m := _MODELS_ALIAS.match(text):
            prefix = m["name"] + "/"
            candidates = [
                e
                for e in store.search(session, prefix, type_names=self.registry.subtypes("ml_model_build"), limit=10_000)
                if e.qualified_name.startswith(prefix)
                and m["alias"] in (e.attributes.get("aliases") or [])
                and e.qualified_name.endswith("@" + instance)
            ]
            if not candidates:
                raise NotFound(f"{text}: no version of model '{m['name']}' carries alias '{m['alias']}' in the catalog")
            return self._one(session, text, candidates)
        if m := _RUNS.match(text):
            qn = naming.run_qn(m["run"], instance)
            return self._one(session, text, store.find_by_qualified_name(session, qn))
        type_name, sep, rest = text.partition(":")
        if sep and self.registry.has_entity_type(type_name):
            return self._one(session, text, store.find_by_qualified_name(session, rest, {type_name}))
        return self._one(session, text, store.find_by_qualified_name(session, text))

    def _one(self, session: Session, ref: str, found: list[StoredEntity]) -> StoredEntity:
        if len(found) == 1:
            return found[0]
        if len(found) > 1:
            names = ", ".join(f"{e.type_name}:{e.qualified_name}" for e in found)
            raise AmbiguousReference(f"{ref} matches {len(found)} entities: {names}; prefix it with the type")
        stem = naming.split_cluster(ref.rsplit("/", 1)[-1].split(":", 1)[-1])[0][:40]
        similar = [e.qualified_name for e in store.search(session, stem, limit=5)] if stem else []
        hint = f"; similar: {', '.join(similar)}" if similar else ""
        raise NotFound(f"no entity matches '{ref}'{hint}")

    def lineage(self, ref: str, *, direction: str = "BOTH", depth: int = 3) -> LineageGraph:
        with self.session() as session:
            base = self._resolve(session, ref)
            return store.lineage(
                session,
                base.guid,
                direction=direction,
                depth=depth,
                max_depth=self.settings.lineage_max_depth,
                registry=self.registry,
            )

    def search(
        self, text: str = "", *, type_name: str | None = None, classification: str | None = None, limit: int = 100
    ) -> list[StoredEntity]:
        types: Iterable[str] | None = None
        if type_name:
            self.registry.entity_def(type_name)  # raises UnknownTypeError with a suggestion
            types = self.registry.subtypes(type_name)
        if classification:
            self.registry.classification_def(classification)
        with self.session() as session:
            return store.search(session, text, type_names=types, classification=classification, limit=limit)

    def findings(self) -> list[store.StoredFinding]:
        with self.session() as session:
            return store.list_findings(session)

    def audit(self, ref: str | None = None, *, limit: int = 100) -> list[store.AuditEvent]:
        with self.session() as session:
            guid = self._resolve(session, ref).guid if ref else None
            return store.audit_events(session, guid, limit=limit)

    def delete(self, ref: str, *, user: str | None = None) -> bool:
        with self.write_session() as session, session.begin():
            entity = self._resolve(session, ref)
            return store.delete_entity(session, entity.guid, user=user or self.settings.user, source="api")
