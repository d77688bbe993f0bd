"""The catalog store's tables (SQLAlchemy 2.0 declarative rows) and small shared helpers.

Alembic revisions in ``catalog/migrations`` create these tables; a test checks that the
two agree.
"""

from __future__ import annotations

import operator
from collections.abc import Iterator, Sequence
from itertools import chain
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column

from catalog.canonical import chunks

__all__ = [
    "Base",
    "EntityRow",
    "EdgeRow",
    "ClassificationRow",
    "AuditRow",
    "CursorRow",
    "FindingRow",
    "TypeDefRow",
    "UserRow",
    "TokenRow",
    "EvidenceRow",
    "WaiverSeenRow",
    "HookDeliveryRow",
    "HookJobRow",
    "OutboxSinkRow",
    "OutboxRow",
    "PushedRow",
    "INPUT_EDGE",
    "OUTPUT_EDGE",
    "now_ms",
    "insert_ignoring_conflicts",
    "bulk_insert",
    "bulk_insert_values",
    "select_in",
]

INPUT_EDGE = "I"  # dataset -> process (dataset_process_inputs)
OUTPUT_EDGE = "O"  # process -> dataset (process_dataset_outputs)


class Base(DeclarativeBase):
    pass


class EntityRow(Base):
    __tablename__ = "entity"

    guid: Mapped[str] = mapped_column(String(36), primary_key=True)
    type_name: Mapped[str] = mapped_column(String(255))
    qualified_name: Mapped[str] = mapped_column(String(2048))
    name: Mapped[str | None] = mapped_column(String(2048))
    is_process: Mapped[bool] = mapped_column(Boolean)
    status: Mapped[str] = mapped_column(String(16))
    attributes: Mapped[str] = mapped_column(Text)
    relationship_attributes: Mapped[str] = mapped_column(Text)
    content_hash: Mapped[str] = mapped_column(String(64))
    #: ``incoming_digest`` of what ``source`` last sent; equal again = nothing to do
    incoming_hash: Mapped[str] = mapped_column(String(64), server_default="")
    version: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[int] = mapped_column(BigInteger)
    updated_at: Mapped[int] = mapped_column(BigInteger)
    created_by: Mapped[str] = mapped_column(String(255))
    updated_by: Mapped[str] = mapped_column(String(255))
    source: Mapped[str] = mapped_column(String(1024))

    __table_args__ = (
        Index("ix_entity_qualified_name", "qualified_name"),
        Index("ix_entity_type_name", "type_name"),
        Index("ix_entity_source_incoming", "source", "guid", "incoming_hash"),
    )


class EdgeRow(Base):
    """A lineage edge along the data flow: dataset->process (I) or process->dataset (O)."""

    __tablename__ = "lineage_edge"

    from_guid: Mapped[str] = mapped_column(String(36), primary_key=True)
    to_guid: Mapped[str] = mapped_column(String(36), primary_key=True)
    direction: Mapped[str] = mapped_column(String(1))
    relationship_guid: Mapped[str] = mapped_column(String(36))

    __table_args__ = (Index("ix_lineage_edge_to", "to_guid"),)


class ClassificationRow(Base):
    """A classification on an entity; ``source_guid == entity_guid`` when direct."""

    __tablename__ = "classification"

    entity_guid: Mapped[str] = mapped_column(String(36), primary_key=True)
    type_name: Mapped[str] = mapped_column(String(255), primary_key=True)
    source_guid: Mapped[str] = mapped_column(String(36), primary_key=True)
    propagate: Mapped[bool] = mapped_column(Boolean)
    attributes: Mapped[str] = mapped_column(Text)
    origin: Mapped[str] = mapped_column(String(1024))

    __table_args__ = (Index("ix_classification_type", "type_name"),)


class AuditRow(Base):
    """Append-only: who changed what, when, from which source."""

    __tablename__ = "audit_event"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    at: Mapped[int] = mapped_column(BigInteger)
    user: Mapped[str] = mapped_column(String(255))
    source: Mapped[str] = mapped_column(String(1024))
    action: Mapped[str] = mapped_column(String(64))
    entity_guid: Mapped[str] = mapped_column(String(36))
    type_name: Mapped[str] = mapped_column(String(255))
    qualified_name: Mapped[str] = mapped_column(String(2048))
    detail: Mapped[str] = mapped_column(Text)

    __table_args__ = (Index("ix_audit_event_entity", "entity_guid"),)


class CursorRow(Base):
    """Incremental-ingest position per source (e.g. one per MLflow instance)."""

    __tablename__ = "ingest_cursor"

    name: Mapped[str] = mapped_column(String(512), primary_key=True)
    value: Mapped[str] = mapped_column(Text)
    updated_at: Mapped[int] = mapped_column(BigInteger)


class FindingRow(Base):
    """A finding of the latest ingest of a source (replaced as a set per source)."""

    __tablename__ = "finding"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    source: Mapped[str] = mapped_column(String(1024))
    kind: Mapped[str] = mapped_column(String(128))
    subject: Mapped[str] = mapped_column(String(2048))
    message: Mapped[str] = mapped_column(Text)
    digest: Mapped[str] = mapped_column(String(64))
    first_seen: Mapped[int] = mapped_column(BigInteger)

    __table_args__ = (
        UniqueConstraint("source", "digest", name="uq_finding"),
        Index("ix_finding_subject", "subject"),
    )


class TypeDefRow(Base):
    """A typedef with its Atlas bookkeeping; ``builtin`` = one of the catalog's own (read-only)."""

    __tablename__ = "typedef"

    name: Mapped[str] = mapped_column(String(255), primary_key=True)
    category: Mapped[str] = mapped_column(String(32))
    guid: Mapped[str] = mapped_column(String(36))
    service_type: Mapped[str] = mapped_column(String(255))
    body: Mapped[str] = mapped_column(Text)
    builtin: Mapped[bool] = mapped_column(Boolean)
    version: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[int] = mapped_column(BigInteger)
    updated_at: Mapped[int] = mapped_column(BigInteger)
    created_by: Mapped[str] = mapped_column(String(255))
    updated_by: Mapped[str] = mapped_column(String(255))

    __table_args__ = (Index("ix_typedef_guid", "guid", unique=True),)


class UserRow(Base):
    """A user of the API and UI: werkzeug password hash and role (viewer, steward, admin)."""

    __tablename__ = "app_user"

    name: Mapped[str] = mapped_column(String(255), primary_key=True)
    password_hash: Mapped[str] = mapped_column(String(512))
    role: Mapped[str] = mapped_column(String(16))
    created_at: Mapped[int] = mapped_column(BigInteger)
    updated_at: Mapped[int] = mapped_column(BigInteger)


class TokenRow(Base):
    """A bearer token of a user, kept only as the sha256 digest of the token."""

    __tablename__ = "api_token"

    token_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    user_name: Mapped[str] = mapped_column(String(255))
    label: Mapped[str] = mapped_column(String(255))
    created_at: Mapped[int] = mapped_column(BigInteger)
    last_used_at: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    revoked: Mapped[bool] = mapped_column(Boolean)

    __table_args__ = (Index("ix_api_token_user", "user_name"),)


class EvidenceRow(Base):
    """A compliance check's record: content-addressed, hash-chained per subject, never updated.

    ``digest`` = sha256 of ``body`` (canonical JSON holding the chain, seq, prev and the report).
    """

    __tablename__ = "evidence"

    digest: Mapped[str] = mapped_column(String(64), primary_key=True)
    chain: Mapped[str] = mapped_column(String(2048))
    seq: Mapped[int] = mapped_column(Integer)
    prev_digest: Mapped[str] = mapped_column(String(64))
    subject_guid: Mapped[str] = mapped_column(String(36))
    version_guid: Mapped[str] = mapped_column(String(36))
    verdict: Mapped[str] = mapped_column(String(16))
    at: Mapped[int] = mapped_column(BigInteger)
    by: Mapped[str] = mapped_column(String(255))
    body: Mapped[str] = mapped_column(Text)

    __table_args__ = (
        UniqueConstraint("chain", "seq", name="uq_evidence_chain_seq"),
        Index("ix_evidence_version", "version_guid"),
        Index("ix_evidence_subject", "subject_guid"),
    )


class WaiverSeenRow(Base):
    """When the catalog first saw a waiver (by the digest of its text): an expired-at-creation check."""

    __tablename__ = "waiver_seen"

    digest: Mapped[str] = mapped_column(String(64), primary_key=True)
    rule: Mapped[str] = mapped_column(String(255))
    scope: Mapped[str] = mapped_column(String(2048))
    first_seen: Mapped[int] = mapped_column(BigInteger)


class HookDeliveryRow(Base):
    """A webhook delivery id the catalog accepted, kept until its timestamp leaves the window (replays)."""

    __tablename__ = "hook_delivery"

    delivery_id: Mapped[str] = mapped_column(String(255), primary_key=True)
    received_at: Mapped[int] = mapped_column(BigInteger)
    expires_at: Mapped[int] = mapped_column(BigInteger)
    job_id: Mapped[int] = mapped_column(Integer)

    __table_args__ = (Index("ix_hook_delivery_expires", "expires_at"),)


class HookJobRow(Base):
    """The hook's durable queue: one MLflow registry change to ingest (or gate), until it is done.

    ``status``: ``queued`` (due at ``next_attempt_at``), ``running`` (claimed until
    ``lease_until``), ``done``, or ``failed`` (will never succeed: the version is gone from
    MLflow). ``digest`` names the work (what, model, version, alias): a queued job with the
    same digest takes a repeated event instead of a second job.
    """

    __tablename__ = "hook_job"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    origin: Mapped[str] = mapped_column(String(16))
    delivery_id: Mapped[str] = mapped_column(String(255))
    event: Mapped[str] = mapped_column(String(64))
    model: Mapped[str] = mapped_column(String(2048))
    version: Mapped[str] = mapped_column(String(32))
    alias: Mapped[str] = mapped_column(String(255))
    payload: Mapped[str] = mapped_column(Text)
    digest: Mapped[str] = mapped_column(String(64))
    status: Mapped[str] = mapped_column(String(16))
    attempts: Mapped[int] = mapped_column(Integer)
    next_attempt_at: Mapped[int] = mapped_column(BigInteger)
    lease_until: Mapped[int] = mapped_column(BigInteger)
    created_at: Mapped[int] = mapped_column(BigInteger)
    updated_at: Mapped[int] = mapped_column(BigInteger)
    message: Mapped[str] = mapped_column(Text)
    result: Mapped[str] = mapped_column(Text)

    __table_args__ = (
        Index("ix_hook_job_due", "status", "next_attempt_at"),
        Index("ix_hook_job_digest", "digest"),
    )


class OutboxSinkRow(Base):
    """Where committed changes are pushed (a real Atlas's REST API or its hook-message endpoint).

    While a sink exists, every transaction that changes an entity writes one ``OutboxRow``
    per sink (``catalog.store.outbox``). ``kind``: ``entities`` (``entity/bulk``) or
    ``messages`` (HookNotification V2). ``target`` is the URL with its credentials masked.
    """

    __tablename__ = "outbox_sink"

    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    kind: Mapped[str] = mapped_column(String(16))
    target: Mapped[str] = mapped_column(String(2048))
    created_at: Mapped[int] = mapped_column(BigInteger)
    last_push_at: Mapped[int] = mapped_column(BigInteger)
    last_error: Mapped[str] = mapped_column(Text)
    last_error_at: Mapped[int] = mapped_column(BigInteger)
    #: the pusher draining the sink (``host:pid:id``) and until when; one at a time
    lease_owner: Mapped[str] = mapped_column(String(255))
    lease_until: Mapped[int] = mapped_column(BigInteger)


class OutboxRow(Base):
    """One committed change of one entity, due to one sink, until the sink acknowledged it.

    ``status``: ``pending`` (due at ``next_attempt_at``) or ``parked`` (the sink rejected the
    entity; ``message`` holds its answer). An acknowledged row is deleted. Rows name the
    entity by guid and by (type, qualifiedName), so a delete can still be pushed after a purge.
    """

    __tablename__ = "outbox"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    sink: Mapped[str] = mapped_column(String(64))
    entity_guid: Mapped[str] = mapped_column(String(36))
    type_name: Mapped[str] = mapped_column(String(255))
    qualified_name: Mapped[str] = mapped_column(String(2048))
    created_at: Mapped[int] = mapped_column(BigInteger)
    status: Mapped[str] = mapped_column(String(16))
    attempts: Mapped[int] = mapped_column(Integer)
    next_attempt_at: Mapped[int] = mapped_column(BigInteger)
    message: Mapped[str] = mapped_column(Text)

    #: Rows are read in id order (the primary key), filtered by sink, status and due time: a
    #: second index for that would cost every ingest more than it saves the pusher.
    __table_args__ = (Index("ix_outbox_entity", "entity_guid"),)


class PushedRow(Base):
    """What a sink last acknowledged for an entity: the sink's guid for it and the digest of the body sent."""

    __tablename__ = "outbox_pushed"

    sink: Mapped[str] = mapped_column(String(64), primary_key=True)
    entity_guid: Mapped[str] = mapped_column(String(36), primary_key=True)
    remote_guid: Mapped[str] = mapped_column(String(64))
    body_hash: Mapped[str] = mapped_column(String(64))
    pushed_at: Mapped[int] = mapped_column(BigInteger)


def now_ms() -> int:
    import time

    return int(time.time() * 1000)


def insert_ignoring_conflicts(session: Session, table: Any):
    """An INSERT that skips rows a concurrent writer already inserted (same key)."""
    dialect = session.get_bind().dialect.name
    if dialect == "postgresql":
        return postgresql.insert(table).on_conflict_do_nothing()
    if dialect == "sqlite":
        return sqlite.insert(table).on_conflict_do_nothing()
    return table.insert()


_MARKERS = {"qmark": "?", "format": "%s", "pyformat": "%s"}


def bulk_insert(session: Session, table: Any, rows: list[dict[str, Any]]) -> None:
    """Insert many rows (dicts with the same keys); see ``bulk_insert_values``."""
    if rows:
        columns = list(rows[0])
        getter = operator.itemgetter(*columns)
        values = list(map(getter, rows)) if len(columns) > 1 else [(getter(r),) for r in rows]
        bulk_insert_values(session, table, columns, values)


def bulk_insert_values(session: Session, table: Any, columns: Sequence[str], values: list[tuple]) -> None:
    """Insert many rows in one DBAPI ``executemany``, skipping rows whose key already exists.

    Why not ``session.execute(insert, rows)``: SQLAlchemy processes every row's
    parameters in Python, which costs as much as SQLite's own work at 100k rows; the
    values here are plain str/int/bool already. Same ``ON CONFLICT DO NOTHING`` as
    ``insert_ignoring_conflicts`` (a concurrent writer's identical row wins).
    """
    if not values:
        return
    dialect = session.get_bind().dialect
    marker = _marker(session)
    if marker is None:
        session.execute(insert_ignoring_conflicts(session, table), [dict(zip(columns, v, strict=True)) for v in values])
        return
    names = ", ".join(dialect.identifier_preparer.quote(c) for c in columns)
    sql = (f"INSERT INTO {dialect.identifier_preparer.format_table(table)} ({names}) "
           f"VALUES ({', '.join([marker] * len(columns))}) ON CONFLICT DO NOTHING")
    cursor = session.connection().connection.cursor()
    try:
        cursor.executemany(sql, values)
    finally:
        cursor.close()


def _marker(session: Session) -> str | None:
    dialect = session.get_bind().dialect
    return _MARKERS.get(dialect.paramstyle) if dialect.name in ("sqlite", "postgresql") else None


def _select_chunks(session: Session, sql: str, fixed: tuple[Any, ...], keys: Sequence[Any]) -> Iterator[list[tuple]]:
    """The rows of ``sql`` for each chunk of ``keys``, a list per chunk (on the DBAPI cursor)."""
    marker = _marker(session) or "?"
    cursor = session.connection().connection.cursor()
    try:
        for chunk in chunks(keys):
            text = sql.format(p=marker, **{"in": ", ".join([marker] * len(chunk))})
            cursor.execute(text, (*fixed, *chunk))
            yield cursor.fetchall()
    finally:
        cursor.close()


def select_in(session: Session, sql: str, fixed: tuple[Any, ...], keys: Sequence[Any]) -> Iterator[tuple]:
    """Rows of ``sql`` (one ``{in}`` placeholder, ``{p}`` for each fixed parameter) for ``keys`` in chunks.

    On the DBAPI cursor directly: an unchanged re-ingest reads one row per entity, and
    SQLAlchemy's row processing would cost more than the query. ``sql`` is ours; all
    values travel as bound parameters.
    """
    for rows in _select_chunks(session, sql, fixed, keys):
        yield from rows


def select_in_column(session: Session, sql: str, fixed: tuple[Any, ...], keys: Sequence[Any]) -> set[Any]:
    """``select_in`` for a one-column ``sql``: the set of its values, gathered at C speed.

    No Python step per row (an unchanged re-ingest of 100k entities reads 100k digests
    here; the row-by-row set comprehension over ``select_in`` took 0.1 s of it).
    """
    values: set[Any] = set()
    for rows in _select_chunks(session, sql, fixed, keys):
        values.update(chain.from_iterable(rows))
    return values
