"""The one ingestion funnel every source passes through, and its transaction.

- ``join``: lineage.yml + MLflow -> batches (training data merged, deployments linked);
- ``funnel``: read the sources, then plan and apply every batch in one write transaction.
"""

from __future__ import annotations

from catalog.ingest.funnel import IngestReport, StoreHandle, StoreLookup, run_ingest
from catalog.ingest.join import IngestPlan, ModelVersionLookup, plan_ingest

__all__ = [
    "IngestPlan",
    "IngestReport",
    "ModelVersionLookup",
    "StoreHandle",
    "StoreLookup",
    "plan_ingest",
    "run_ingest",
]
