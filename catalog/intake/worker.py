"""Work off the queue: check each change is still in MLflow, run the alias gate, ingest the rest.

One pass (``work_once``) claims the due jobs and:

1. asks MLflow whether each job's version (or registered model) is still there; a job for
   one MLflow no longer has is ``failed`` with a message saying so, and nothing is written
   for it. An MLflow that cannot be reached puts every claimed job back in the queue;
2. runs ``compliance.gate.alias_gate`` for each ``model_version_alias.created``, oldest first,
   before any other ingest of the pass: the gate reads which version carried the alias
   before it ingests, so the catalog must not have seen the move yet;
3. ingests lineage.yml and, from MLflow, the registered models the other jobs name
   (``Catalog.ingest(mlflow_models=...)``: a targeted read of those models, their changed
   versions and the runs of new ones, compared with the stored cursor; the whole
   incremental read when there is no cursor yet) once for all of them, through the same
   funnel as ``catalog ingest``; when a gate ran, its own (incremental) ingest, after the
   claim, already brought them in.

A pass without a gate job ingests first and asks step 1's question after the ingest has
committed (the version is readable one MLflow request sooner, 20-100 ms): the ingest
reads only what MLflow has, so a version MLflow no longer has is not brought in by
it either, and its job is ``failed`` all the same. When that ingest fails, the question is
asked before the jobs are retried, so a vanished version still fails for good and an
unreachable MLflow is named as before.

Anything that fails (MLflow down, a malformed lineage.yml, the store busy) leaves the job
queued with the reason and a growing back-off, so no change is lost.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from catalog.config import redact_uri
from catalog.errors import CatalogError
from catalog.intake import queue, registry
from catalog.intake.events import GATE
from catalog.intake.queue import DONE, FAILED, Job

if TYPE_CHECKING:
    from catalog.service import Catalog

__all__ = ["HOOK_USER", "Worked", "drain", "work_once"]

log = logging.getLogger("catalog.intake")

#: Who audits, evidence and entity versions name for the hook's writes.
HOOK_USER = "mlflow-hook"


@dataclass(frozen=True, slots=True)
class Worked:
    """What one pass did with one job: ``done``, ``failed`` (never to succeed) or ``queued`` (retried later)."""

    job_id: int
    status: str
    message: str


def work_once(catalog: Catalog, *, mlflow_uri: str | None = None, now: int | None = None,
              limit: int = 100) -> list[Worked]:
    """Claim the due jobs and work them off; what became of each."""
    claimed = queue.claim(catalog, now=now, limit=limit)
    if not claimed:
        return []
    return _work(catalog, claimed, mlflow_uri or catalog.settings.mlflow_uri)


def drain(catalog: Catalog, *, mlflow_uri: str | None = None, passes: int = 100) -> list[Worked]:
    """``work_once`` until no job is due (at most ``passes`` times): ``catalog hook reconcile``."""
    worked: list[Worked] = []
    for _ in range(passes):
        done = work_once(catalog, mlflow_uri=mlflow_uri)
        if not done:
            break
        worked.extend(done)
        if all(w.status == queue.QUEUED for w in done):  # all retried later: nothing more now
            break
    return worked


def _work(catalog: Catalog, claimed: list[Job], uri: str) -> list[Worked]:
    if not any(j.event.work == GATE for j in claimed):
        return _ingest_then_check(catalog, claimed, uri)
    try:
        live = _still_there(uri, claimed)
    except Exception as exc:  # noqa: BLE001 - whatever it is, the jobs stay queued
        return _retry(catalog, claimed, exc)
    worked = _fail_gone(catalog, claimed, live, uri)
    todo = [j for j in claimed if live[j.id]]
    gated = False
    for job in [j for j in todo if j.event.work == GATE]:
        try:
            from catalog.compliance.gate import alias_gate

            outcome = alias_gate(catalog, job.event.model, job.event.alias, job.event.version,
                                 mlflow_uri=uri, user=HOOK_USER)
        except Exception as exc:  # noqa: BLE001 - kept queued, with the reason
            return worked + _retry(catalog, todo, exc)
        worked.append(_finish(catalog, job, outcome.message, outcome.to_json()))
        todo.remove(job)
        gated = True
    if not todo:
        return worked
    if gated:
        message = "ingested by the alias gate's ingest of this pass"
        queue.finish(catalog, [(j.id, DONE, message, None) for j in todo])
        return worked + [Worked(j.id, DONE, message) for j in todo]
    try:
        report = _ingest(catalog, uri, todo)
    except Exception as exc:  # noqa: BLE001 - kept queued, with the reason
        return worked + _retry(catalog, todo, exc)
    message = f"ingested {report.describe_sources()}: {report.summary()}"
    result = report.to_json()
    queue.finish(catalog, [(j.id, DONE, message, result) for j in todo])
    log.info("hook jobs %s (%s): %s", ", ".join(str(j.id) for j in todo),
             "; ".join(j.event.describe() for j in todo), message)
    return worked + [Worked(j.id, DONE, message) for j in todo]


def _ingest_then_check(catalog: Catalog, claimed: list[Job], uri: str) -> list[Worked]:
    """No gate job: one ingest, committed before MLflow is asked whether each job's change is still there."""
    try:
        report = _ingest(catalog, uri, claimed)
    except Exception as failure:  # noqa: BLE001 - kept queued, with the reason (unless the change is gone)
        try:
            live = _still_there(uri, claimed)
        except Exception as exc:  # noqa: BLE001 - MLflow unreachable: its reason, as a check first would give
            return _retry(catalog, claimed, exc)
        worked = _fail_gone(catalog, claimed, live, uri)
        todo = [j for j in claimed if live[j.id]]
        return worked + (_retry(catalog, todo, failure) if todo else [])
    try:
        live = _still_there(uri, claimed)
    except Exception as exc:  # noqa: BLE001 - ingested, but whether the change is still there is unknown
        return _retry(catalog, claimed, exc)
    worked = _fail_gone(catalog, claimed, live, uri)
    todo = [j for j in claimed if live[j.id]]
    if not todo:
        return worked
    message = f"ingested {report.describe_sources()}: {report.summary()}"
    queue.finish(catalog, [(j.id, DONE, message, report.to_json()) for j in todo])
    log.info("hook jobs %s (%s): %s", ", ".join(str(j.id) for j in todo),
             "; ".join(j.event.describe() for j in todo), message)
    return worked + [Worked(j.id, DONE, message) for j in todo]


def _ingest(catalog: Catalog, uri: str, jobs: Sequence[Job]) -> Any:
    """The targeted ingest of the registered models ``jobs`` name (and lineage.yml), through the funnel."""
    return catalog.ingest(mlflow_uri=uri, lineage_path=_lineage(catalog), user=HOOK_USER,
                          mlflow_models=sorted({j.event.model for j in jobs}))


def _fail_gone(catalog: Catalog, claimed: Sequence[Job], live: dict[int, bool], uri: str) -> list[Worked]:
    """``failed`` for each job whose change MLflow no longer has; never tried again."""
    worked = [Worked(j.id, FAILED, _gone(j, uri)) for j in claimed if not live[j.id]]
    if worked:
        queue.finish(catalog, [(w.job_id, FAILED, w.message, None) for w in worked])
    for w in worked:
        log.warning("hook job %d: %s", w.job_id, w.message)
    return worked


def _still_there(uri: str, jobs: Sequence[Job]) -> dict[int, bool]:
    asked: dict[tuple[str, str], bool] = {}
    live: dict[int, bool] = {}
    for job in jobs:
        key = (job.event.model, job.event.version)
        if key not in asked:
            asked[key] = registry.exists(uri, *key)
        live[job.id] = asked[key]
    return live


def _gone(job: Job, uri: str) -> str:
    what = (f"model version {job.event.model}/{job.event.version}" if job.event.version
            else f"registered model {job.event.model}")
    return (f"{job.event.event}: {what} is not in MLflow at {redact_uri(uri)} (deleted, or never registered): "
            "nothing ingested")


def _finish(catalog: Catalog, job: Job, message: str, result: Any) -> Worked:
    queue.finish(catalog, [(job.id, DONE, message, result)])
    log.info("hook job %d (%s): %s", job.id, job.event.describe(), message)
    return Worked(job.id, DONE, message)


def _retry(catalog: Catalog, jobs: Sequence[Job], exc: BaseException) -> list[Worked]:
    message = str(exc) if isinstance(exc, CatalogError) else f"{type(exc).__name__}: {exc}"
    if not isinstance(exc, CatalogError):
        log.error("hook jobs %s failed, kept queued", ", ".join(str(j.id) for j in jobs), exc_info=exc)
    else:
        log.warning("hook jobs %s kept queued: %s", ", ".join(str(j.id) for j in jobs), message)
    queue.retry(catalog, jobs, message)
    return [Worked(j.id, queue.QUEUED, message) for j in jobs]


def _lineage(catalog: Catalog) -> Path | None:
    path = Path(catalog.settings.lineage_file)
    return path if path.exists() else None
