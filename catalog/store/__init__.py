"""The catalog store: Atlas entities, lineage edges, classifications and audit in SQL.

- ``schema``: the table rows (Alembic revisions in ``catalog/migrations`` create them);
- ``plan``: the diff: what a batch would change (rows, edges, tags, audit), written nowhere;
- ``writes``: apply a plan; ``upsert_batch`` = plan + apply; soft delete;
- ``purge``: remove soft-deleted entities for good;
- ``queries``: reads that return frozen values;
- ``graph``: lineage and tag propagation as recursive CTEs;
- ``bookkeeping``: findings and incremental cursors.

Callers use this package's names (``from catalog import store``; ``store.upsert_batch``).
"""

from __future__ import annotations

from catalog.store.bookkeeping import (
    StoredFinding,
    get_cursor,
    list_findings,
    replace_findings,
    set_cursor,
)
from catalog.store.graph import lineage, recompute_propagation, walk
from catalog.store.queries import (
    AuditEvent,
    audit_events,
    classifications_of,
    facet_counts,
    find_by_qualified_name,
    get_entities,
    get_entity,
    get_headers,
    producers_of,
    search,
)
from catalog.store.schema import (
    AuditRow,
    Base,
    ClassificationRow,
    CursorRow,
    EdgeRow,
    EntityRow,
    FindingRow,
)
from catalog.store.plan import EntityChange, WritePlan, plan_upsert
from catalog.store.purge import purge_entities
from catalog.store.writes import IngestResult, apply_plan, delete_entity, upsert_batch

__all__ = [
    "Base",
    "EntityRow",
    "EdgeRow",
    "ClassificationRow",
    "AuditRow",
    "CursorRow",
    "FindingRow",
    "IngestResult",
    "AuditEvent",
    "StoredFinding",
    "EntityChange",
    "WritePlan",
    "plan_upsert",
    "apply_plan",
    "upsert_batch",
    "delete_entity",
    "purge_entities",
    "recompute_propagation",
    "replace_findings",
    "list_findings",
    "get_cursor",
    "set_cursor",
    "get_entity",
    "get_entities",
    "get_headers",
    "classifications_of",
    "facet_counts",
    "find_by_qualified_name",
    "producers_of",
    "search",
    "lineage",
    "walk",
    "audit_events",
]
