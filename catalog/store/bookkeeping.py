"""Ingest bookkeeping: the findings of the latest ingests and the incremental cursors."""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from catalog.model import Finding
from catalog.canonical import canonical_json, digest
from catalog.store.schema import CursorRow, FindingRow, now_ms

__all__ = ["StoredFinding", "replace_findings", "list_findings", "get_cursor", "set_cursor"]


@dataclass(frozen=True, slots=True)
class StoredFinding:
    source: str
    kind: str
    subject: str
    message: str
    first_seen: int


def replace_findings(
    session: Session,
    source: str,
    findings: Iterable[Finding],
    *,
    scope: Iterable[str] | None = None,
    at: int | None = None,
) -> int:
    """Make the stored findings of ``source`` about ``scope`` subjects equal to ``findings``.

    A finding is identified by (kind, subject, message), so several findings about one
    subject are all kept. ``scope`` lists the subjects this run re-evaluated (None: all
    of the source's); findings about other subjects stay. Returns rows written.
    """
    at = now_ms() if at is None else at
    wanted = {_finding_digest(f): f for f in findings}
    subjects = None if scope is None else set(scope)
    have = {
        row.digest: row
        for row in session.scalars(select(FindingRow).where(FindingRow.source == source))
        if subjects is None or row.subject in subjects
    }
    writes = 0
    for digest, row in have.items():
        if digest not in wanted:
            session.delete(row)
            writes += 1
    for digest, finding in wanted.items():
        if digest not in have:
            session.add(
                FindingRow(
                    source=source,
                    kind=finding.kind,
                    subject=finding.subject,
                    message=finding.message,
                    digest=digest,
                    first_seen=at,
                )
            )
            writes += 1
    return writes


def _finding_digest(finding: Finding) -> str:
    return digest("\x1f".join((finding.kind, finding.subject, finding.message)))


def set_cursor(session: Session, name: str, value: Mapping[str, Any], at: int | None = None) -> bool:
    """Store a cursor; returns False (and writes nothing) when it is unchanged."""
    text = canonical_json(value)
    row = session.get(CursorRow, name)
    if row is not None and row.value == text:
        return False
    if row is None:
        session.add(CursorRow(name=name, value=text, updated_at=now_ms() if at is None else at))
    else:
        row.value = text
        row.updated_at = now_ms() if at is None else at
    return True


def list_findings(session: Session, source: str | None = None) -> list[StoredFinding]:
    query = select(FindingRow).order_by(FindingRow.source, FindingRow.kind, FindingRow.subject)
    if source is not None:
        query = query.where(FindingRow.source == source)
    return [StoredFinding(r.source, r.kind, r.subject, r.message, r.first_seen) for r in session.scalars(query)]


def get_cursor(session: Session, name: str) -> dict[str, Any] | None:
    row = session.get(CursorRow, name)
    return None if row is None else json.loads(row.value)
