"""The ``Catalog`` facade: owns the engine, sessions, type registry and settings.

The CLI and the web app talk to this class only. It does lifecycle (opening and
migrating the store on first use, sessions, closing) and delegates every operation
in one line: ingest to ``catalog.ingest``, references to ``catalog.refs``, reads to
``catalog.store``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from pathlib import Path

from sqlalchemy import Engine
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session, sessionmaker

from catalog import refs, store
from catalog.config import Settings, redact_uri
from catalog.db import make_engine, upgrade, writer
from catalog.embedded.typedefs import TypeDefs
from catalog.errors import NotFound
from catalog.ingest import IngestReport, run_ingest
from catalog.model import LineageGraph, StoredEntity
from catalog.types.registry import TypeRegistry

__all__ = ["Catalog", "IngestReport"]

#: Files SQLite keeps beside a store (removed with it when a first ingest fails).
_SQLITE_SIDE_FILES = ("", "-wal", "-shm", "-journal")


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
        #: The typedefs: ``registry`` (the packaged ones, or those given) plus those the store holds.
        self.typedefs = TypeDefs(registry or TypeRegistry.default(), open_store=lambda: self.engine)
        self._create = create
        self._engine: Engine | None = None
        self._read: sessionmaker[Session] | None = None
        self._write: sessionmaker[Session] | None = None

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
            self.typedefs.attach(engine, self._read, self._write, user=self.settings.user)
        return self._engine

    @property
    def registry(self) -> TypeRegistry:
        """The type registry: the given (or packaged) typedefs plus those created through the API.

        Reading it opens an existing store (never creates one), so an ingest checks its
        input against the stored typedefs before it writes; on an open store each read
        reloads the typedefs when the store's typedef table changed (one aggregate query
        when it did not). The object stays the same: holders see later changes.
        """
        if self._engine is not None or self.store_exists():
            return self.typedefs.current()
        return self.typedefs.registry

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
        mlflow_models: Iterable[str] | None = None,
    ) -> IngestReport:
        """Read lineage.yml and/or MLflow, then write all changes in one transaction.

        ``mlflow_models``: only those registered models of MLflow (``run_ingest``).
        A failed first ingest leaves no store behind: the SQLite file it created is removed.
        """
        new_store = not self.store_exists()
        try:
            return run_ingest(self, lineage_path=lineage_path, mlflow_uri=mlflow_uri, progress=progress, user=user,
                              mlflow_models=mlflow_models)
        except BaseException:
            if new_store:
                self._remove_new_store()
            raise

    def _remove_new_store(self) -> None:
        self.close()
        self._engine = self._read = self._write = None
        database = make_url(self.settings.database_url).database
        if database:
            for suffix in _SQLITE_SIDE_FILES:
                Path(database + suffix).unlink(missing_ok=True)

    # ------------------------------------------------------------------ reads

    def resolve(self, ref: str) -> StoredEntity:
        """An entity by guid, qualifiedName, ``type:qualifiedName``, ``models:/n/3``, ``models:/n@a``, ``runs:/id``."""
        with self.session() as session:
            return self._resolve(session, ref)

    def _resolve(self, session: Session, ref: str) -> StoredEntity:
        return refs.resolve(session, ref, self.registry, self.settings.mlflow_instance)

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

    def audit(self, ref: str | None = None, *, limit: int = 100, before: int | None = None) -> list[store.AuditEvent]:
        with self.session() as session:
            guid = self._resolve(session, ref).guid if ref else None
            return store.audit_events(session, guid, limit=limit, before=before)

    def delete(self, ref: str, *, user: str | None = None) -> bool:
        with self.write_session() as session, session.begin():
            entity = self._resolve(session, ref)
            return store.delete_entity(session, entity.guid, user=user or self.settings.user, source="api")
