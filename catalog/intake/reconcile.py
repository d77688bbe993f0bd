"""The reconciler: compare MLflow's registry with the catalog and queue what the hook missed.

A delivery can be lost (``catalog serve`` down, a network fault, MLflow's retries spent).
``missed`` lists what MLflow's registry holds and the catalog does not: a registered model
or version it lacks, an alias MLflow puts on another version than the catalog does, an
alias the catalog still shows and MLflow deleted, tags that differ. ``reconcile`` queues a
job for each (origin ``reconcile``) in one transaction, so the worker ingests them, and
runs the alias gate for a missed alias move, exactly as for a delivered event; a queued
job doing the same work already takes it instead. Versions the catalog has and MLflow
no longer lists are left to the ingest, which records them as ``deleted-in-mlflow``
findings. Nothing is written when nothing was missed.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING

from catalog import naming, store
from catalog.intake import queue, registry
from catalog.intake.events import HookEvent
from catalog.model import ACTIVE, MODEL_VERSION, REGISTERED_MODEL
from catalog.store.schema import now_ms

if TYPE_CHECKING:
    from catalog.service import Catalog

__all__ = ["Missed", "Reconciled", "missed", "reconcile"]

log = logging.getLogger("catalog.intake")


@dataclass(frozen=True, slots=True)
class Missed:
    """One difference: the event that would have told the catalog, and what differs."""

    event: HookEvent
    why: str


@dataclass(frozen=True, slots=True)
class Reconciled:
    missed: tuple[Missed, ...]
    job_ids: tuple[int, ...]  # the jobs carrying them (new or already queued)
    queued: int  # how many of those are new


def reconcile(catalog: Catalog, *, mlflow_uri: str | None = None) -> Reconciled:
    """Queue a job for every difference between MLflow's registry and the catalog."""
    uri = mlflow_uri or catalog.settings.mlflow_uri
    found = missed(catalog, registry.registry_state(uri))
    if not found:
        return Reconciled((), (), 0)
    now = now_ms()
    with catalog.write_session() as session, session.begin():
        receipts = [queue.enqueue(session, m.event, origin="reconcile", now=now) for m in found]
    for m in found:
        log.info("reconcile: %s", m.why)
    return Reconciled(tuple(found), tuple(r.job_id for r in receipts), sum(r.new for r in receipts))


def missed(catalog: Catalog, state: registry.RegistryState) -> list[Missed]:
    """What ``state`` (MLflow's registry now) holds that the catalog does not, models first."""
    instance = catalog.settings.mlflow_instance
    held_models, held_versions = _held(catalog, instance)
    found = [Missed(HookEvent("registered_model.created", name), f"registered model {name} is not in the catalog")
             for name in sorted(state.models - held_models)]
    carriers: dict[tuple[str, str], str] = {}  # (model, alias) -> the version MLflow gives it
    for (name, version), now in sorted(state.versions.items(), key=lambda kv: (kv[0][0], int(kv[0][1]))):
        for alias in now.aliases:
            carriers[(name, alias)] = version
        held = held_versions.get((name, version))
        if held is None:
            found.append(Missed(HookEvent("model_version.created", name, version),
                                f"model version {name}/{version} is not in the catalog"))
            continue
        tags = held[1]
        if tags != now.tags:
            keys = sorted(set(tags) ^ set(now.tags) | {k for k in tags if k in now.tags and tags[k] != now.tags[k]})
            found.append(Missed(HookEvent("model_version_tag.set", name, version, data={"keys": keys}),
                                f"model version {name}/{version}: tags {', '.join(keys)} differ from MLflow's"))
    for (name, version), (aliases, _tags) in sorted(held_versions.items()):
        for alias in aliases:
            if (name, alias) not in carriers:
                found.append(Missed(HookEvent("model_version_alias.deleted", name, alias=alias),
                                    f"alias {name}@{alias} is on version {version} in the catalog, on none in MLflow"))
    for (name, alias), version in sorted(carriers.items()):
        held = held_versions.get((name, version))
        if held is not None and alias not in held[0]:
            on = sorted(v for (n, v), (a, _t) in held_versions.items() if n == name and alias in a)
            where = f"version {', '.join(on)}" if on else "no version"
            found.append(Missed(HookEvent("model_version_alias.created", name, version, alias),
                                f"alias {name}@{alias} is on version {version} in MLflow, on {where} in the catalog"))
        elif held is None:  # the new version's job ingests it; the gate must still see the move
            found.append(Missed(HookEvent("model_version_alias.created", name, version, alias),
                                f"alias {name}@{alias} is on version {version} in MLflow, a version the catalog "
                                "does not have yet"))
    return found


def _held(catalog: Catalog, instance: str) -> tuple[set[str], dict[tuple[str, str], tuple[set[str], dict]]]:
    """The catalog's registered model names, and per (model, version) its aliases and tags."""
    if not catalog.store_exists():
        return set(), {}
    suffix = "@" + instance
    models: set[str] = set()
    versions: dict[tuple[str, str], tuple[set[str], dict]] = {}
    with catalog.session() as session:
        for e in store.search(session, suffix, type_names={REGISTERED_MODEL, MODEL_VERSION}, limit=10_000_000):
            if e.status != ACTIVE or not e.qualified_name.endswith(suffix):
                continue
            if e.type_name == REGISTERED_MODEL:
                models.add(e.qualified_name[: -len(suffix)])
                continue
            name, number = e.attributes.get("modelName"), e.attributes.get("version")
            if not isinstance(name, str) or number is None:
                continue
            if naming.model_version_qn(name, number, instance) != e.qualified_name:
                continue
            aliases, tags = set(e.attributes.get("aliases") or ()), dict(e.attributes.get("tags") or {})
            versions[(name, str(number))] = (aliases, tags)
    return models, versions
