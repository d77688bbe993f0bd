"""Compliance evidence: content-addressed records, hash-chained per subject, and their verification.

Each record's body is canonical JSON of ``{"chain", "seq", "prev", "report"}``; its id is
the sha256 of that body. ``prev`` is the digest of the chain's previous record, so an
edited record breaks its own digest and a recomputed digest breaks the next record's
``prev``. The chain's head is also written on the subject entity (``complianceEvidence``)
and in its audit log, so deleting or rewriting the newest record is caught too. Records
are only inserted; nothing in the catalog (ingest included) deletes them.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from catalog.canonical import canonical_json
from catalog.store.schema import EvidenceRow, WaiverSeenRow

__all__ = ["EvidenceRecord", "Problem", "append", "first_seen", "history", "latest", "record", "verify"]


@dataclass(frozen=True, slots=True)
class EvidenceRecord:
    digest: str
    chain: str
    seq: int
    prev: str
    at: int
    by: str
    verdict: str
    report: Mapping[str, Any]


@dataclass(frozen=True, slots=True)
class Problem:
    """Something ``verify`` found wrong with a chain."""

    chain: str
    seq: int
    digest: str
    message: str

    def __str__(self) -> str:
        return f"{self.chain} #{self.seq} ({self.digest[:12]}): {self.message}"


def _digest(body: str) -> str:
    return hashlib.sha256(body.encode("utf-8")).hexdigest()


def append(
    session: Session, *, chain: str, report: Mapping[str, Any], subject_guid: str, version_guid: str,
    verdict: str, at: int, by: str,
) -> EvidenceRecord:
    """Add a record at the end of ``chain`` (in the caller's transaction, which holds the write lock)."""
    last = session.execute(
        select(EvidenceRow.seq, EvidenceRow.digest).where(EvidenceRow.chain == chain)
        .order_by(EvidenceRow.seq.desc()).limit(1)
    ).first()
    seq, prev = (last.seq + 1, last.digest) if last is not None else (1, "")
    body = canonical_json({"chain": chain, "seq": seq, "prev": prev, "report": report})
    digest = _digest(body)
    session.add(EvidenceRow(
        digest=digest, chain=chain, seq=seq, prev_digest=prev, subject_guid=subject_guid,
        version_guid=version_guid, verdict=verdict, at=at, by=by, body=body,
    ))
    session.flush()
    return EvidenceRecord(digest, chain, seq, prev, at, by, verdict, report)


def _record(row: Any) -> EvidenceRecord:
    data = json.loads(row.body)
    return EvidenceRecord(row.digest, row.chain, row.seq, row.prev_digest, row.at, row.by, row.verdict,
                          data.get("report", {}))


def history(session: Session, *, subject_guid: str | None = None, version_guid: str | None = None,
            limit: int = 100) -> list[EvidenceRecord]:
    """Records about a subject (deployment or version guid) or a version, newest first."""
    query = select(EvidenceRow)
    if subject_guid is not None:
        query = query.where(EvidenceRow.subject_guid == subject_guid)
    if version_guid is not None:
        query = query.where(EvidenceRow.version_guid == version_guid)
    rows = session.scalars(query.order_by(EvidenceRow.at.desc(), EvidenceRow.seq.desc(), EvidenceRow.digest).limit(limit))
    return [_record(r) for r in rows]


def record(session: Session, digest: str) -> EvidenceRecord | None:
    """The record with this digest, if any."""
    row = session.get(EvidenceRow, digest)
    return _record(row) if row is not None else None


def latest(session: Session, chain: str) -> EvidenceRecord | None:
    row = session.scalars(
        select(EvidenceRow).where(EvidenceRow.chain == chain).order_by(EvidenceRow.seq.desc()).limit(1)
    ).first()
    return _record(row) if row is not None else None


def _chains(session: Session, chain: str | None) -> list[str]:
    if chain is not None:
        return [chain]
    return list(session.scalars(select(EvidenceRow.chain).group_by(EvidenceRow.chain).order_by(EvidenceRow.chain)))


def _verify_chain(session: Session, chain: str, head: str | None) -> Iterator[Problem]:
    prev, expected_seq, last = "", 1, None
    for row in session.scalars(select(EvidenceRow).where(EvidenceRow.chain == chain).order_by(EvidenceRow.seq)):
        if _digest(row.body) != row.digest:
            yield Problem(chain, row.seq, row.digest, "the record was edited: its content no longer has its digest")
        try:
            body = json.loads(row.body)
        except ValueError:
            body = {}
        if (body.get("chain"), body.get("seq"), body.get("prev")) != (chain, row.seq, row.prev_digest):
            yield Problem(chain, row.seq, row.digest, "the record's columns disagree with its content")
        if row.seq != expected_seq:
            yield Problem(chain, row.seq, row.digest,
                          f"record #{expected_seq}{'-#' + str(row.seq - 1) if row.seq - 1 > expected_seq else ''} "
                          "is missing (deleted)")
        if row.prev_digest != prev:
            yield Problem(chain, row.seq, row.digest, "the previous record was edited, replaced or deleted "
                          f"(prev {row.prev_digest[:12] or 'none'}, chain has {prev[:12] or 'none'})")
        prev, expected_seq, last = row.digest, row.seq + 1, row
    if head is not None and (last is None or last.digest != head):
        yield Problem(chain, last.seq if last else 0, last.digest if last else "",
                      f"the newest record was deleted or replaced: the subject's head is {head[:12]}")


def verify(session: Session, chain: str | None = None, heads: Mapping[str, str] | None = None) -> tuple[int, list[Problem]]:
    """(records checked, problems) over one chain or all; ``heads``: chain -> the digest its subject holds."""
    problems: list[Problem] = []
    names = _chains(session, chain)
    for name in sorted(set(names) | set((heads or {}).keys()) if chain is None else names):
        problems.extend(_verify_chain(session, name, (heads or {}).get(name)))
    count_query = select(func.count()).select_from(EvidenceRow)
    if chain is not None:
        count_query = count_query.where(EvidenceRow.chain == chain)
    return int(session.scalar(count_query) or 0), problems


def first_seen(session: Session, digest: str, rule: str, scope: str, now: int) -> int:
    """When the waiver with ``digest`` was first seen; recorded as ``now`` the first time."""
    seen = session.scalar(select(WaiverSeenRow.first_seen).where(WaiverSeenRow.digest == digest))
    if seen is not None:
        return int(seen)
    session.add(WaiverSeenRow(digest=digest, rule=rule, scope=scope, first_seen=now))
    session.flush()
    return now
