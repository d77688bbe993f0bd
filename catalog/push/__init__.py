"""The push to a real Apache Atlas (``CATALOG_ATLAS_URL``): typedef bootstrap, outbox drain, status.

- ``bootstrap`` (``typedefs``): Atlas learns the catalog's types; Atlas's own are never changed.
- the outbox (``catalog.store.outbox``): every committed change of an entity, one row per
  sink, written in the change's transaction once a sink is registered (``open_sinks``:
  the first ``catalog sync`` or ``catalog serve`` with ``CATALOG_ATLAS_URL``; a new sink
  gets every entity enqueued).
- ``Pusher`` (``pusher``): drains a sink; ``sync`` = bootstrap + drain of every sink;
  ``PushLoop`` runs that inside ``catalog serve``; ``status`` answers ``catalog atlas status``.

Sinks: ``atlas`` takes entities through ``entity/bulk`` (``CATALOG_ATLAS_PUSH=entities``, the
default), ``atlas-messages`` HookNotification V2 messages through Atlas 2.4+'s REST
notification endpoint (``messages``); ``both`` registers both. docs/atlas.md is the guide.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote, urlsplit

from catalog.atlas.client import AtlasClient, AtlasError, Retry, api_root, make_auth
from catalog.config import Settings, redact_uri
from catalog.errors import ConfigError
from catalog.push.pusher import ENTITIES, MESSAGES, PushSummary, Pusher, Sessions
from catalog.push.typedefs import BootstrapPlan, TypedefConflict, bootstrap, plan_bootstrap
from catalog.store import outbox
from catalog.store.schema import now_ms

if TYPE_CHECKING:
    from catalog.types.registry import TypeRegistry

__all__ = ["SINKS", "SyncReport", "client_for", "open_sinks", "sync", "status", "PushLoop", "TypedefConflict",
           "Pusher", "PushSummary"]

log = logging.getLogger("catalog.push")

#: sink name -> kind, per ``CATALOG_ATLAS_PUSH``
SINKS = {"entities": {"atlas": ENTITIES}, "messages": {"atlas-messages": MESSAGES},
         "both": {"atlas": ENTITIES, "atlas-messages": MESSAGES}}
#: Service types whose entities Atlas's own hooks create: linked by unique attribute, never written.
HOOK_OWNED_SERVICE_TYPES = frozenset({"hive"})
#: Seconds between two typedef bootstraps of ``catalog serve``'s push loop.
BOOTSTRAP_EVERY_S = 60.0


class _Catalog(Sessions):  # what the push needs of ``catalog.service.Catalog``
    settings: Settings
    typedefs: Any


def client_for(settings: Settings, *, session: Any = None, retry: Retry | None = None,
               sleep: Callable[[float], None] | None = None) -> AtlasClient:
    """The client of the Atlas ``settings.atlas_url`` names (``ConfigError`` when none is set).

    ``session``: a ``requests.Session`` to send through (tests hand in their own; default a new one).
    """
    if not settings.atlas_url:
        raise ConfigError("no Atlas to push to: set CATALOG_ATLAS_URL (docs/atlas.md)")
    verify: bool | str = settings.atlas_tls_verify == "true"
    if verify and settings.atlas_ca_bundle:
        verify = settings.atlas_ca_bundle
    user, password = settings.atlas_user, settings.atlas_password
    if not user:  # the form CATALOG_ATLAS_URL has always documented: http(s)://user:password@host:21000
        parts = urlsplit(settings.atlas_url)
        user, password = unquote(parts.username or ""), unquote(parts.password or "")
    kwargs: dict[str, Any] = {}
    if sleep is not None:
        kwargs["sleep"] = sleep
    return AtlasClient(
        api_root(settings.atlas_url), session=session,
        auth=make_auth(settings.atlas_auth, user, password),
        verify=verify, connect_timeout=settings.atlas_connect_timeout_seconds,
        read_timeout=settings.atlas_read_timeout_seconds, retry=retry or Retry(),
        on_retry=lambda message: log.warning("Atlas: %s", message), **kwargs)


def _registry(catalog: _Catalog) -> TypeRegistry:
    with catalog.session() as session:
        return catalog.typedefs.current(session)


def external_types(registry: TypeRegistry) -> set[str]:
    typesdef = registry.to_typesdef()
    return {d["name"] for d in typesdef.get("entityDefs", ()) if d.get("serviceType") in HOOK_OWNED_SERVICE_TYPES}


def open_sinks(catalog: _Catalog, client: AtlasClient) -> list[Pusher]:
    """Register the sinks ``CATALOG_ATLAS_PUSH`` names (a new one gets every entity enqueued); their pushers."""
    settings = catalog.settings
    target = redact_uri(settings.atlas_url)
    wanted = SINKS[settings.atlas_push]
    with catalog.write_session() as session, session.begin():
        for name in outbox.sinks(session):
            if name not in wanted and outbox.drop_sink(session, name):  # CATALOG_ATLAS_PUSH no longer names it
                log.info("push: sink %s dropped (CATALOG_ATLAS_PUSH=%s)", name, settings.atlas_push)
        for name, kind in wanted.items():
            if outbox.register_sink(session, name, kind, target):
                log.info("push: sink %s (%s) at %s: every entity is enqueued", name, kind, target)
    tables = external_types(_registry(catalog))
    return [Pusher(catalog, client, name=name, kind=kind, external_types=tables,
                   create_tables=settings.atlas_create_tables == "true", batch_size=settings.atlas_batch_size,
                   user=settings.user or "catalog")
            for name, kind in SINKS[settings.atlas_push].items()]


@dataclass
class SyncReport:
    typedefs: BootstrapPlan
    summaries: list[PushSummary] = field(default_factory=list)

    @property
    def complete(self) -> bool:
        """Everything due was taken: nothing parked, waiting or missing, and no error."""
        return all(not (s.error or s.parked or s.waiting or s.missing) for s in self.summaries)


def sync(catalog: _Catalog, client: AtlasClient, *, full: bool = False, dry_run: bool = False,
         progress: Callable[[str, int, int], None] | None = None) -> SyncReport:
    """Bootstrap the typedefs, then drain every sink (``full``: re-send every entity; ``dry_run``: send nothing)."""
    plan = bootstrap(client, _registry(catalog).to_typesdef(), dry_run=dry_run)
    pushers = open_sinks(catalog, client) if not dry_run else _dry_pushers(catalog, client)
    report = SyncReport(plan)
    if dry_run:
        report.summaries.extend(_first_push(catalog))
    for pusher in pushers:
        if full and not dry_run:
            with catalog.write_session() as session, session.begin():
                outbox.unpark(session, pusher.name)
                outbox.enqueue_all(session, pusher.name)
        total = _depth(catalog, pusher.name)
        tick = (lambda n, p=pusher.name, t=total: progress(p, n, t)) if progress is not None else None
        report.summaries.append(pusher.drain(full=full, dry_run=dry_run, now=True, progress=tick))
    return report


def _dry_pushers(catalog: _Catalog, client: AtlasClient) -> list[Pusher]:
    """A dry run registers nothing: the pushers of the sinks that exist."""
    settings = catalog.settings
    with catalog.session() as session:
        existing = set(outbox.sinks(session))
    tables = external_types(_registry(catalog))
    return [Pusher(catalog, client, name=name, kind=kind, external_types=tables,
                   create_tables=settings.atlas_create_tables == "true", batch_size=settings.atlas_batch_size)
            for name, kind in SINKS[settings.atlas_push].items() if name in existing]


def _first_push(catalog: _Catalog) -> list[PushSummary]:
    """What a first sync would send to sinks not registered yet: every active entity (a dry run's answer)."""
    from sqlalchemy import func, select

    from catalog.model import ACTIVE
    from catalog.store.schema import EntityRow

    settings = catalog.settings
    tables = external_types(_registry(catalog))
    with catalog.session() as session:
        existing = set(outbox.sinks(session))
        counts = dict(session.execute(select(EntityRow.type_name, func.count()).where(EntityRow.status == ACTIVE)
                                      .group_by(EntityRow.type_name)).all())
    hooks = 0 if settings.atlas_create_tables == "true" else sum(n for t, n in counts.items() if t in tables)
    return [PushSummary(name, kind, sent=sum(counts.values()) - hooks, linked=hooks, dry_run=True)
            for name, kind in SINKS[settings.atlas_push].items() if name not in existing]


def _depth(catalog: _Catalog, sink: str) -> int:
    with catalog.session() as session:
        state = outbox.sink_state(session, sink)
    return state.pending if state is not None else 0


def status(catalog: _Catalog, client: AtlasClient) -> dict[str, Any]:
    """``catalog atlas status``: reachable, version, typedefs in sync, per sink its depth, oldest pending, errors."""
    answer: dict[str, Any] = {"atlas": redact_uri(catalog.settings.atlas_url), "reachable": False}
    try:
        version = client.version()
        answer.update(reachable=True, version=str(version.get("Version") or version.get("version") or "unknown"))
        plan = plan_bootstrap(_registry(catalog).to_typesdef(), client.typedefs())
        answer["typedefs"] = {"in_sync": plan.in_sync, "to_create": plan.created, "to_update": plan.updated,
                              "conflicts": plan.conflicts}
    except AtlasError as exc:
        answer["error"] = str(exc)
    now = now_ms()
    sinks = []
    with catalog.session() as session:
        for name in outbox.sinks(session):
            state = outbox.sink_state(session, name)
            if state is None:
                continue
            sinks.append({
                "sink": name, "kind": state.kind, "target": state.target, "pending": state.pending,
                "parked": state.parked,
                "oldest_pending_seconds": None if state.oldest_pending_at is None
                else round((now - state.oldest_pending_at) / 1000, 1),
                "last_push_at": state.last_push_at or None, "last_error": state.last_error or None,
                "last_error_at": state.last_error_at or None,
                "parked_examples": [{"entity": f"{t}:{q}", "error": m} for t, q, m in state.parked_messages],
            })
    answer["sinks"] = sinks
    return answer


class PushLoop:
    """``catalog serve``'s pusher: bootstrap once, then drain every ``atlas_push_interval_seconds``."""

    def __init__(self, catalog: _Catalog, client: AtlasClient | None = None) -> None:
        self.catalog = catalog
        self.client = client or client_for(catalog.settings)
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None
        self.last_error = ""
        self.passes = 0

    def start(self) -> PushLoop:
        self._thread = threading.Thread(target=self._run, name="catalog-atlas-push", daemon=True)
        self._thread.start()
        return self

    def stop(self, timeout: float = 30.0) -> None:
        self._stopping.set()
        if self._thread is not None:
            self._thread.join(timeout)

    def _run(self) -> None:
        pushers: list[Pusher] | None = None
        interval = self.catalog.settings.atlas_push_interval_seconds
        next_bootstrap = 0.0
        while not self._stopping.is_set():
            try:
                if time.monotonic() >= next_bootstrap:  # typedefs added through the API reach Atlas too
                    bootstrap(self.client, _registry(self.catalog).to_typesdef())
                    next_bootstrap = time.monotonic() + BOOTSTRAP_EVERY_S
                if pushers is None:
                    pushers = open_sinks(self.catalog, self.client)
                errors = []
                for pusher in pushers:
                    summary = pusher.drain()
                    if summary.requests:
                        log.info("push: %s", summary.line())
                    if summary.error:
                        errors.append(summary.error)
                self._note("; ".join(errors))
                self.passes += 1
            except Exception as exc:  # the loop must outlive an Atlas or a store that is away
                self._note(str(exc))
            self._stopping.wait(interval)

    def _note(self, error: str) -> None:
        """Log an error once, not at every pass while it lasts; and when it is over."""
        if error and error != self.last_error:
            log.warning("push: %s", error)
        elif self.last_error and not error:
            log.info("push: Atlas answers again")
        self.last_error = error
