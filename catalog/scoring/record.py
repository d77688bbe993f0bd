"""A scoring run as lineage: one ``ml_scoring_process`` written through the catalog's one write path.

Inputs are the deployment's input data set and the deployment itself (so the run sits
downstream of the pinned model version); outputs are the predictions and quarantine tables
(``fs_path`` entities at the paths lineage.yml names). The store propagates
classifications along those edges, so PII in the input, or reaching the deployment from
its training data, lands on the predictions. Attributes carry the counts per batch and in
total, timings, the rule-set fingerprint, the gate's verdict, the drift report (which the
compliance rule ``no-drift`` reads), the Spark application id and the query id.

The entity is upserted after every batch and at the end of the run, with the same
qualifiedName, through ``plan_upsert``/``apply_plan`` (audited; an unchanged write is
skipped).

Public API: ``write_run``, ``scoring_qn``, ``SOURCE``.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from catalog import naming, store
from catalog.model import DEPLOYMENT, FS_PATH, Entity, EntityRef, SourceBatch

if TYPE_CHECKING:
    from catalog.scoring.job import RunSummary
    from catalog.service import Catalog

__all__ = ["SCORING_TYPE", "SOURCE", "scoring_qn", "write_run"]

SOURCE = "catalog-score"
SCORING_TYPE = "ml_scoring_process"


def scoring_qn(deployment_qn: str, run_id: str) -> str:
    """``score:<deployment>:<target>:<run id>@<cluster>``."""
    name, _, cluster = deployment_qn.rpartition("@")
    return f"score:{name}:{run_id}@{cluster}"


def _table(location: Any, cluster: str, role: str, deployment: str) -> Entity:
    return Entity(FS_PATH, naming.path_qn(location.declared, cluster),
                  {"name": f"{deployment} {role}", "path": location.declared,
                   "description": f"{role} of deployment {deployment}, {location.format}"})


#: Batches whose detail the run's entity keeps (the latest); totals and counts per rule cover all.
KEPT_BATCHES = 100


def _attributes(run: RunSummary) -> dict[str, Any]:
    totals = run.totals()
    return {
        "name": f"score {run.setup.name if run.setup else run.deployment} ({run.run_id[:8]})",
        "deployment": run.deployment,
        "modelVersion": run.version_qn,
        "runId": run.run_id,
        "queryId": run.app_id,
        "sparkAppId": run.spark_app_id,
        "ruleFingerprint": run.fingerprint,
        "status": run.status.upper(),
        "rowsIn": totals["rows_in"],
        "rowsScored": totals["rows_scored"],
        "rowsQuarantined": totals["rows_quarantined"],
        "rowsWarned": totals["rows_warned"],
        "batchCount": len(run.batches),
        "startTime": run.started,
        "endTime": run.ended or None,
        "checkResults": json.dumps({"gate": run.gate, "batches": [b.to_json() for b in run.batches[-KEPT_BATCHES:]],
                                    "batchesOmitted": max(0, len(run.batches) - KEPT_BATCHES),
                                    "byRule": run.by_rule(), "error": run.error or None},
                                   sort_keys=True, allow_nan=False, default=str),
        "drift": json.dumps(run.drift, sort_keys=True, allow_nan=False) if run.drift is not None else None,
        "userName": "",
    }


def write_run(catalog: Catalog, run: RunSummary) -> str:
    """Upsert the run's entity (and its output tables); returns its qualifiedName."""
    setup = run.setup
    assert setup is not None
    run.scoring_qn = scoring_qn(setup.qualified_name, run.run_id)
    outputs = [_table(setup.output, setup.cluster, "predictions", setup.name),
               _table(setup.quarantine, setup.cluster, "quarantine", setup.name)]
    attributes = _attributes(run)
    attributes["userName"] = catalog.settings.user or "catalog"
    attributes = {k: v for k, v in attributes.items() if v is not None}
    attributes["inputs"] = [EntityRef(setup.input.type, setup.input_qn), EntityRef(DEPLOYMENT, setup.qualified_name)]
    attributes["outputs"] = [e.ref for e in outputs]
    process = Entity(SCORING_TYPE, run.scoring_qn, attributes)
    user = attributes["userName"]
    with catalog.write_session() as session, session.begin():
        plan = store.plan_upsert(session, SourceBatch(SOURCE, [*outputs, process]), catalog.registry, user=user)
        store.apply_plan(session, plan)
    return run.scoring_qn
