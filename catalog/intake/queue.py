"""The hook's durable queue in the store: accept a delivery, claim work, finish or retry it.

A webhook is answered once its job row is committed (``accept``): the delivery id and the
job are written in one transaction, so a delivery is either refused or queued, never half.
The worker ``claim``s due jobs (a lease, so a worker that dies mid-job leaves them to the
next one), then ``finish``es or ``retry``s them. Every write is a short write transaction
of its own; the rows never leave this module, callers see frozen ``Job`` values.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from sqlalchemy import delete, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from catalog.canonical import canonical_json, digest
from catalog.errors import HookRejected
from catalog.intake.events import HookEvent
from catalog.intake.signature import DELIVERY_HEADER, Delivery
from catalog.store.schema import HookDeliveryRow, HookJobRow, now_ms

if TYPE_CHECKING:
    from catalog.service import Catalog

__all__ = ["DONE", "FAILED", "QUEUED", "RUNNING", "Job", "Receipt", "accept", "backoff_ms", "claim", "enqueue",
           "finish", "jobs", "retry"]

QUEUED, RUNNING, DONE, FAILED = "queued", "running", "done", "failed"
#: The longest wait between two attempts of a job (MLflow down for long: one try every 5 minutes).
MAX_BACKOFF_MS = 300_000


@dataclass(frozen=True, slots=True)
class Job:
    """One queued registry change, as the worker and ``catalog hook`` see it."""

    id: int
    origin: str  # "hook" (a webhook) or "reconcile"
    delivery_id: str
    event: HookEvent
    status: str
    attempts: int
    next_attempt_at: int
    created_at: int
    updated_at: int
    message: str
    result: Any

    def to_json(self) -> dict[str, Any]:
        return {"id": self.id, "origin": self.origin, "deliveryId": self.delivery_id or None,
                "event": self.event.event, "model": self.event.model, "version": self.event.version or None,
                "alias": self.event.alias or None, "status": self.status, "attempts": self.attempts,
                "message": self.message, "result": self.result}


@dataclass(frozen=True, slots=True)
class Receipt:
    """What ``accept`` did: the job that carries the delivery's work, and whether it was new."""

    job_id: int
    new: bool


def accept(catalog: Catalog, delivery: Delivery, event: HookEvent, *, window: int, now: int | None = None) -> Receipt:
    """Queue ``event`` for ``delivery``, or refuse a delivery id accepted before (``HookRejected``)."""
    now = now_ms() if now is None else now
    try:
        with catalog.write_session() as session, session.begin():
            session.execute(delete(HookDeliveryRow).where(HookDeliveryRow.expires_at < now))
            seen = session.get(HookDeliveryRow, delivery.delivery_id)
            if seen is not None:
                raise _replayed(delivery.delivery_id, seen.received_at, seen.job_id)
            receipt = enqueue(session, event, origin="hook", delivery_id=delivery.delivery_id, now=now)
            session.add(HookDeliveryRow(delivery_id=delivery.delivery_id, received_at=now,
                                        expires_at=(delivery.timestamp + window) * 1000, job_id=receipt.job_id))
    except IntegrityError:  # the same delivery, accepted by a concurrent request a moment ago
        raise _replayed(delivery.delivery_id, now, None) from None
    return receipt


def enqueue(session: Session, event: HookEvent, *, origin: str, delivery_id: str = "", now: int) -> Receipt:
    """Add a job for ``event`` in the caller's transaction; a queued job doing the same work takes it instead."""
    key = digest([event.work, event.model, event.version, event.alias])
    same = session.scalar(select(HookJobRow.id).where(HookJobRow.digest == key, HookJobRow.status == QUEUED)
                          .order_by(HookJobRow.id).limit(1))
    if same is not None:
        return Receipt(same, False)
    row = HookJobRow(origin=origin, delivery_id=delivery_id, event=event.event, model=event.model,
                     version=event.version, alias=event.alias, payload=canonical_json(event.data), digest=key,
                     status=QUEUED, attempts=0, next_attempt_at=now, lease_until=0, created_at=now, updated_at=now,
                     message="", result="")
    session.add(row)
    session.flush()
    return Receipt(row.id, True)


def claim(catalog: Catalog, *, now: int | None = None, limit: int = 100, lease_ms: int = 600_000) -> list[Job]:
    """Take up to ``limit`` due jobs (queued and due, or running with an expired lease), oldest first.

    With nothing due (the worker's every poll, most of the time) it only reads: the write lock
    is taken when there is a job to claim, so an idle worker neither waits behind a long
    ingest nor makes writers wait behind it.
    """
    now = now_ms() if now is None else now
    due = or_((HookJobRow.status == QUEUED) & (HookJobRow.next_attempt_at <= now),
              (HookJobRow.status == RUNNING) & (HookJobRow.lease_until <= now))
    with catalog.session() as session:
        if session.scalar(select(HookJobRow.id).where(due).limit(1)) is None:
            return []
    with catalog.write_session() as session, session.begin():
        rows = list(session.scalars(select(HookJobRow).where(due).order_by(HookJobRow.id).limit(limit)))
        for row in rows:
            row.status, row.lease_until, row.updated_at = RUNNING, now + lease_ms, now
            row.attempts += 1
        session.flush()
        return [_job(row) for row in rows]


def finish(catalog: Catalog, outcomes: Iterable[tuple[int, str, str, Any]], *, now: int | None = None) -> None:
    """Record ``(job id, DONE or FAILED, message, result)`` for each job."""
    now = now_ms() if now is None else now
    with catalog.write_session() as session, session.begin():
        for job_id, status, message, result in outcomes:
            session.execute(update(HookJobRow).where(HookJobRow.id == job_id).values(
                status=status, message=message, result=canonical_json(result) if result is not None else "",
                lease_until=0, updated_at=now))


def retry(catalog: Catalog, queued: Sequence[Job], message: str, *, now: int | None = None) -> None:
    """Put ``queued`` back in the queue, each due again after its back-off, with why it failed."""
    now = now_ms() if now is None else now
    with catalog.write_session() as session, session.begin():
        for job in queued:
            session.execute(update(HookJobRow).where(HookJobRow.id == job.id).values(
                status=QUEUED, message=message, lease_until=0, updated_at=now,
                next_attempt_at=now + backoff_ms(job.attempts)))


def backoff_ms(attempts: int) -> int:
    """1 s after the first failed attempt, doubling, at most ``MAX_BACKOFF_MS``."""
    return min(1000 * 2 ** max(attempts - 1, 0), MAX_BACKOFF_MS)


def jobs(catalog: Catalog, *, status: str | None = None, limit: int = 100) -> list[Job]:
    """The newest jobs first (all, or those with ``status``)."""
    query = select(HookJobRow).order_by(HookJobRow.id.desc()).limit(limit)
    if status is not None:
        query = query.where(HookJobRow.status == status)
    with catalog.session() as session:
        return [_job(row) for row in session.scalars(query)]


def _job(row: HookJobRow) -> Job:
    data = json.loads(row.payload) if row.payload else {}
    event = HookEvent(row.event, row.model, row.version, row.alias, data if isinstance(data, dict) else {})
    return Job(row.id, row.origin, row.delivery_id, event, row.status, row.attempts, row.next_attempt_at,
               row.created_at, row.updated_at, row.message, json.loads(row.result) if row.result else None)


def _replayed(delivery_id: str, at: int, job_id: int | None) -> HookRejected:
    when = dt.datetime.fromtimestamp(at / 1000, dt.timezone.utc).strftime("%Y-%m-%d %H:%M:%S UTC")
    job = f" (job {job_id})" if job_id is not None else ""
    return HookRejected(f"replayed {DELIVERY_HEADER} {delivery_id}: already received at {when}{job}; "
                        "its work is queued once")
