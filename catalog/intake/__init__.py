"""Changes that sources push to the catalog: the MLflow webhook, its durable queue, worker and reconciler.

- ``signature``: ``X-MLflow-Signature`` / ``-Timestamp`` / ``-Delivery-Id`` checked (HMAC-SHA256, constant time);
- ``events``: a webhook body -> the registry change (``HookEvent``), or why it is malformed;
- ``receive``: verify, parse and queue one delivery (what ``POST /hooks/mlflow`` calls);
- ``queue``: the queue in the store (accept, claim, finish, retry), frozen ``Job`` values;
- ``worker``: work off due jobs: still in MLflow? the alias gate; one incremental ingest;
- ``reconcile``: MLflow's registry against the catalog; queues what the hook missed;
- ``background``: the worker thread ``catalog serve`` runs (poll, wake, reconcile, stop);
- ``registry``, ``install``: what the hook asks MLflow; ``catalog hook install`` / ``test``.

Above ``compliance`` (the worker calls the alias gate) and below ``service``.
"""

from __future__ import annotations

from catalog.intake.background import Background
from catalog.intake.events import EVENTS, HookEvent, parse_event
from catalog.intake.queue import Job, jobs
from catalog.intake.receive import Received, receive
from catalog.intake.reconcile import Reconciled, reconcile
from catalog.intake.signature import sign, verify
from catalog.intake.worker import HOOK_USER, Worked, drain, work_once

__all__ = [
    "EVENTS",
    "HOOK_USER",
    "Background",
    "HookEvent",
    "Job",
    "Received",
    "Reconciled",
    "Worked",
    "drain",
    "jobs",
    "parse_event",
    "receive",
    "reconcile",
    "sign",
    "verify",
    "work_once",
]
