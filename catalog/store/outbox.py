"""The transactional outbox: committed entity changes waiting for a push target (a sink).

While a sink is registered, ``enqueue`` (called by ``writes.apply_plan`` and
``writes.delete_entity``, in the writer's own transaction) adds one row per changed
entity and sink, so a change is committed together with its duty to be pushed or not at
all. The pusher (``catalog.push``) reads the rows due, sends the entities' *current*
state (several rows of one entity collapse into one push), and deletes the rows it sent
once the sink acknowledged them; a row written meanwhile stays and is pushed next time.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import delete, func, insert, literal, select, text, update
from sqlalchemy.orm import Session

from catalog.canonical import chunks
from catalog.model import ACTIVE
from catalog.store.schema import EntityRow, OutboxRow, OutboxSinkRow, PushedRow, bulk_insert_values, now_ms

__all__ = [
    "PENDING", "PARKED", "SinkState", "Due", "register_sink", "drop_sink", "lease", "release", "sinks", "enqueue", "enqueue_all", "due", "acknowledge",
    "park", "retry_later", "unpark", "pending_among", "pushed", "record_pushed", "forget_pushed", "sink_state", "note_error", "note_push",
]

PENDING, PARKED = "pending", "parked"
_ROW_COLUMNS = ("sink", "entity_guid", "type_name", "qualified_name", "created_at", "status", "attempts",
                "next_attempt_at", "message")


@dataclass(frozen=True, slots=True)
class Due:
    """The pending rows of one entity due to a sink, by id: exactly those are acknowledged, parked or delayed.

    By id, not "up to the newest id": on PostgreSQL a row with a smaller id may commit after
    a larger one was read, and must stay queued.
    """

    guid: str
    type_name: str
    qualified_name: str
    ids: tuple[int, ...]
    attempts: int


@dataclass(frozen=True, slots=True)
class SinkState:
    name: str
    kind: str
    target: str
    pending: int
    parked: int
    oldest_pending_at: int | None
    last_push_at: int
    last_error: str
    last_error_at: int
    parked_messages: tuple[tuple[str, str, str], ...]  # (type, qualifiedName, message), a few


def sinks(session: Session) -> list[str]:
    return list(session.scalars(select(OutboxSinkRow.name).order_by(OutboxSinkRow.name)))


def register_sink(session: Session, name: str, kind: str, target: str, *, at: int | None = None) -> bool:
    """Make ``name`` a sink pushing to ``target``; True when every active entity was enqueued for it.

    A new sink, or one whose target changed (another Atlas: what the old one acknowledged
    says nothing about it), gets every active entity queued. On PostgreSQL the entity table
    is locked against writers (``SHARE`` mode) until the registration commits, so no writer
    commits a change after the queueing read it without an outbox row of its own.
    """
    at = now_ms() if at is None else at
    row = session.get(OutboxSinkRow, name)
    if row is not None and row.target == target and row.kind == kind:
        return False
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text("LOCK TABLE entity IN SHARE MODE"))
    if row is None:
        session.add(OutboxSinkRow(name=name, kind=kind, target=target, created_at=at, last_push_at=0, last_error="",
                                  last_error_at=0, lease_owner="", lease_until=0))
    else:
        row.kind, row.target, row.last_error, row.last_error_at = kind, target, "", 0
        session.execute(delete(PushedRow).where(PushedRow.sink == name))
    session.flush()
    enqueue_all(session, name, at=at)
    return True


def drop_sink(session: Session, name: str) -> bool:
    """Forget sink ``name``, its queued rows and what it acknowledged (the push no longer names it)."""
    row = session.get(OutboxSinkRow, name)
    if row is None:
        return False
    session.execute(delete(OutboxRow).where(OutboxRow.sink == name))
    session.execute(delete(PushedRow).where(PushedRow.sink == name))
    session.delete(row)
    return True


def lease(session: Session, sink: str, owner: str, *, seconds: int, at: int | None = None) -> bool:
    """Take or renew the sink's lease for ``owner``; False while another pusher holds it.

    A lease held by a process of this host that no longer runs (killed) is taken over at once.
    """
    at = now_ms() if at is None else at
    row = session.get(OutboxSinkRow, sink, with_for_update=True)
    if row is None:
        return False
    if row.lease_owner and row.lease_owner != owner and row.lease_until > at and not _dead(row.lease_owner):
        return False
    row.lease_owner, row.lease_until = owner, at + seconds * 1000
    return True


def release(session: Session, sink: str, owner: str) -> None:
    session.execute(update(OutboxSinkRow).where(OutboxSinkRow.name == sink, OutboxSinkRow.lease_owner == owner)
                    .values(lease_owner="", lease_until=0))


def _dead(owner: str) -> bool:
    """Whether ``host:pid:...`` names a process of this host that is gone."""
    import os
    import socket

    host, _, rest = owner.partition(":")
    pid = rest.partition(":")[0]
    if host != socket.gethostname() or not pid.isdigit():
        return False
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False
    return False


def enqueue(session: Session, changed: Iterable[tuple[str, str, str]], *, at: int | None = None) -> int:
    """One row per (guid, type, qualifiedName) in ``changed`` and per sink; none when there is no sink."""
    names = sinks(session)
    if not names:
        return 0
    at = now_ms() if at is None else at
    changed = list(changed)
    values = [(s, g, t, q, at, PENDING, 0, 0, "") for s in names for g, t, q in changed]
    bulk_insert_values(session, OutboxRow.__table__, _ROW_COLUMNS, values)
    return len(values)


def enqueue_all(session: Session, sink: str, *, at: int | None = None) -> int:
    """Every active entity, for ``sink`` (a new sink, or ``catalog sync --full``), in one INSERT ... SELECT."""
    at = now_ms() if at is None else at
    source = select(
        literal(sink), EntityRow.guid, EntityRow.type_name, EntityRow.qualified_name, literal(at), literal(PENDING),
        literal(0), literal(0), literal(""),
    ).where(EntityRow.status == ACTIVE)
    result = session.execute(insert(OutboxRow).from_select(list(_ROW_COLUMNS), source))
    return result.rowcount or 0


def due(session: Session, sink: str, *, limit: int, at: int | None = None, after_id: int = 0) -> list[Due]:
    """The entities of the (up to ``limit``) oldest pending rows due at ``at`` with an id above ``after_id``."""
    at = now_ms() if at is None else at
    rows = session.execute(
        select(OutboxRow.id, OutboxRow.entity_guid, OutboxRow.type_name, OutboxRow.qualified_name, OutboxRow.attempts)
        .where(OutboxRow.sink == sink, OutboxRow.status == PENDING, OutboxRow.next_attempt_at <= at,
               OutboxRow.id > after_id)
        .order_by(OutboxRow.id).limit(limit)
    ).all()
    found: dict[str, list[Any]] = {}
    for row_id, guid, type_name, qualified_name, attempts in rows:
        entry = found.get(guid)
        if entry is None:
            found[guid] = [type_name, qualified_name, [row_id], attempts]
        else:
            entry[2].append(row_id)
            entry[3] = max(entry[3], attempts)
    return [Due(g, t, q, tuple(ids), a) for g, (t, q, ids, a) in found.items()]


def _ids(items: Sequence[Due]) -> list[int]:
    return [i for item in items for i in item.ids]


def acknowledge(session: Session, sink: str, done: Sequence[Due]) -> None:
    """Delete the rows the sink took (those that were read, by id)."""
    for chunk in chunks(_ids(done)):
        session.execute(delete(OutboxRow).where(OutboxRow.id.in_(chunk)))


def park(session: Session, sink: str, item: Due, message: str) -> None:
    """The sink rejected the entity: its rows wait (not retried) with the sink's answer; a new change retries."""
    session.execute(update(OutboxRow).where(OutboxRow.id.in_(item.ids), OutboxRow.status == PENDING)
                    .values(status=PARKED, message=message[:4000]))


def retry_later(session: Session, sink: str, items: Sequence[Due], *, delay_ms: int, message: str,
                at: int | None = None) -> None:
    """Leave ``items`` pending, due again after ``delay_ms``, with ``message`` saying why."""
    at = now_ms() if at is None else at
    for chunk in chunks(_ids(items)):
        session.execute(update(OutboxRow).where(OutboxRow.id.in_(chunk), OutboxRow.status == PENDING).values(
            attempts=OutboxRow.attempts + 1, next_attempt_at=at + delay_ms, message=message[:4000]))


def unpark(session: Session, sink: str) -> int:
    """Every parked row of ``sink`` pending again (``catalog sync --full``)."""
    result = session.execute(update(OutboxRow).where(OutboxRow.sink == sink, OutboxRow.status == PARKED)
                             .values(status=PENDING, next_attempt_at=0, message=""))
    return result.rowcount or 0


def pending_among(session: Session, sink: str, guids: Sequence[str], *, at: int) -> dict[str, bool]:
    """Those of ``guids`` with pending rows for ``sink``: guid -> whether one is due at ``at``."""
    found: dict[str, bool] = {}
    for chunk in chunks(list(guids)):
        rows = session.execute(select(OutboxRow.entity_guid, func.min(OutboxRow.next_attempt_at)).where(
            OutboxRow.sink == sink, OutboxRow.status == PENDING, OutboxRow.entity_guid.in_(chunk),
        ).group_by(OutboxRow.entity_guid))
        found.update((g, first <= at) for g, first in rows)
    return found


def pushed(session: Session, sink: str, guids: Sequence[str]) -> dict[str, tuple[str, str]]:
    """guid -> (the sink's guid, digest of the body it took) for the ``guids`` the sink has."""
    found: dict[str, tuple[str, str]] = {}
    for chunk in chunks(list(guids)):
        rows = session.execute(select(PushedRow.entity_guid, PushedRow.remote_guid, PushedRow.body_hash)
                               .where(PushedRow.sink == sink, PushedRow.entity_guid.in_(chunk)))
        found.update((g, (r, h)) for g, r, h in rows)
    return found


def record_pushed(session: Session, sink: str, entries: Sequence[tuple[str, str, str]], *, at: int | None = None) -> None:
    """Remember (guid, remote guid, body digest) the sink acknowledged, replacing what was there."""
    at = now_ms() if at is None else at
    forget_pushed(session, sink, [g for g, _r, _h in entries])
    bulk_insert_values(session, PushedRow.__table__, ("sink", "entity_guid", "remote_guid", "body_hash", "pushed_at"),
                       [(sink, g, r, h, at) for g, r, h in entries])


def forget_pushed(session: Session, sink: str, guids: Sequence[str]) -> None:
    for chunk in chunks(list(guids)):
        session.execute(delete(PushedRow).where(PushedRow.sink == sink, PushedRow.entity_guid.in_(chunk)))


def note_push(session: Session, sink: str, *, at: int | None = None) -> None:
    """A pass that reached the sink without an error: its time, and no last error any more."""
    session.execute(update(OutboxSinkRow).where(OutboxSinkRow.name == sink)
                    .values(last_push_at=now_ms() if at is None else at, last_error="", last_error_at=0))


def note_error(session: Session, sink: str, message: str, *, at: int | None = None) -> None:
    session.execute(update(OutboxSinkRow).where(OutboxSinkRow.name == sink)
                    .values(last_error=message[:4000], last_error_at=now_ms() if at is None else at))


def sink_state(session: Session, sink: str, *, parked_shown: int = 5) -> SinkState | None:
    row = session.get(OutboxSinkRow, sink)
    if row is None:
        return None
    counts = dict(session.execute(select(OutboxRow.status, func.count(func.distinct(OutboxRow.entity_guid)))
                                  .where(OutboxRow.sink == sink).group_by(OutboxRow.status)).all())
    oldest = session.scalar(select(func.min(OutboxRow.created_at))
                            .where(OutboxRow.sink == sink, OutboxRow.status == PENDING))
    parked = session.execute(select(OutboxRow.type_name, OutboxRow.qualified_name, OutboxRow.message)
                             .where(OutboxRow.sink == sink, OutboxRow.status == PARKED)
                             .group_by(OutboxRow.type_name, OutboxRow.qualified_name, OutboxRow.message)
                             .limit(parked_shown)).all()
    return SinkState(row.name, row.kind, row.target, int(counts.get(PENDING, 0)), int(counts.get(PARKED, 0)), oldest,
                     row.last_push_at, row.last_error, row.last_error_at, tuple(tuple(p) for p in parked))
