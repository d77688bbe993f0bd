"""The pusher: drains a sink's outbox into a real Atlas, in dependency order, acknowledged rows only.

One drain reads the due rows (oldest change first, a window at a time), and for each
entity its *current* state:

- gone or ``DELETED``: deleted in Atlas (``DELETE entity/bulk?guid=``, by the guid Atlas
  gave it); never pushed: nothing to do;
- a table of a type Atlas's own hooks create (service type ``hive``): looked up in Atlas by
  unique attribute and linked, never written (``CATALOG_ATLAS_CREATE_TABLES=true`` creates the
  ones Atlas lacks). One Atlas lacks is reported and waits, with the entities that refer to it;
- anything else: sent with ``entity/bulk`` (``replaceClassifications=true``), dependencies
  first (``bodies.send_order``), ``batch_size`` entities per request; Atlas's
  ``guidAssignments`` map its guids to ours. An entity whose body is what the sink last
  took is not sent again (``--full`` sends it anyway).

A request Atlas refuses with a 4xx is split in halves until the entity it refuses is alone;
that entity's rows are *parked* with Atlas's answer (``catalog atlas status``) and the others
go on. Connection errors, timeouts and 5xx are retried by the client (backoff with
jitter); if Atlas stays away, the drain stops, the rows stay pending (due again after a
backoff that grows per attempt) and nothing is lost. Rows are deleted only after Atlas
acknowledged them, in a transaction per request: a pusher killed mid-request re-sends that
request next time, which Atlas takes as the same upsert (entities are matched by unique
attribute), so nothing is duplicated either.
"""

from __future__ import annotations

import logging
import os
import socket
import uuid
from urllib.parse import quote
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from sqlalchemy.orm import Session

from catalog import store
from catalog.atlas.client import AtlasClient, AtlasRejected, AtlasUnavailable
from catalog.model import DELETED, EntityRef, StoredEntity
from catalog.push import messages
from catalog.push.bodies import Outgoing, chunked, outgoing, request_body, send_order
from catalog.store import outbox
from catalog.store.outbox import Due
from catalog.store.schema import now_ms

__all__ = ["ENTITIES", "MESSAGES", "Sessions", "PushSummary", "Pusher"]

log = logging.getLogger("catalog.push")

ENTITIES, MESSAGES = "entities", "messages"
#: How long a table Atlas lacks (and what waits for it) waits before it is looked up again.
MISSING_RETRY_MS = 60_000
_MAX_BACKOFF_MS = 300_000
_FOREVER = 2 ** 62
#: Seconds a drain's lease on its sink lasts unless renewed (after every window).
LEASE_S = 120
_LOOKUP_CHUNK = 100
#: The most characters of query string per lookup: request lines stay under the 4 kB that gunicorn (and many
#: proxies) accept, far below Jetty's 8 kB.
_LOOKUP_CHARS = 3000
_DELETE_CHUNK = 100
#: Statuses that say the request, not an entity in it, is wrong: no point splitting it.
_NOT_ENTITY_SPECIFIC = frozenset({401, 403, 405, 406, 415})


def _lookup_chunks(tables: Sequence[StoredEntity]) -> Iterable[list[StoredEntity]]:
    """Tables to look up per request: at most ``_LOOKUP_CHUNK`` and ``_LOOKUP_CHARS`` of query string."""
    chunk: list[StoredEntity] = []
    chars = 0
    for table in tables:
        cost = len(quote(table.qualified_name, safe="")) + 24  # &attr_NN:qualifiedName=
        if chunk and (len(chunk) >= _LOOKUP_CHUNK or chars + cost > _LOOKUP_CHARS):
            yield chunk
            chunk, chars = [], 0
        chunk.append(table)
        chars += cost
    if chunk:
        yield chunk


class Sessions(Protocol):
    def session(self) -> Session: ...

    def write_session(self) -> Session: ...


@dataclass
class PushSummary:
    sink: str
    kind: str
    sent: int = 0
    deleted: int = 0
    unchanged: int = 0
    linked: int = 0
    waiting: int = 0
    missing: list[str] = field(default_factory=list)
    parked: list[str] = field(default_factory=list)
    requests: int = 0
    error: str = ""
    dry_run: bool = False

    @property
    def handled(self) -> int:
        return self.sent + self.deleted + self.unchanged + self.linked + self.waiting + len(self.parked)

    def line(self) -> str:
        verb = "would send" if self.dry_run else "sent"
        text = (f"{self.sink}: {verb} {self.sent}, deleted {self.deleted}, unchanged {self.unchanged}, "
                f"linked {self.linked} tables, {len(self.missing)} tables not in Atlas, {self.waiting} waiting, "
                f"{len(self.parked)} parked, {self.requests} requests")
        return text + (f"; stopped: {self.error}" if self.error else "")


class _Stop(Exception):
    """Atlas is unavailable (or refuses every request): the drain ends, the rest stays pending."""


class Pusher:
    """Drains sink ``name`` (``kind``: entities or messages) through ``client``."""

    def __init__(self, sessions: Sessions, client: AtlasClient, *, name: str, kind: str = ENTITIES,
                 external_types: Iterable[str] = (), create_tables: bool = False, batch_size: int = 500,
                 user: str = "catalog", window: int = 5000) -> None:
        self.sessions = sessions
        self.client = client
        self.name = name
        self.kind = kind
        self.external = frozenset(external_types)
        self.create_tables = create_tables
        self.batch_size = batch_size
        self.user = user
        self.window = window
        self._group_of: dict[str, int] = {}
        self._handled: set[str] = set()
        #: who holds the sink's lease while draining: host, process and this pusher
        self.owner = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"

    # -- the loop ------------------------------------------------------------------------------

    def drain(self, *, full: bool = False, dry_run: bool = False, now: bool = False,
              progress: Callable[[int], None] | None = None) -> PushSummary:
        """One pass over the rows due; ``now``: also those waiting out a backoff (a sync by hand).

        Rows are read a window at a time in id order, each window after the last id read, so
        rows left pending (waiting for a table, backing off) never hold back those behind
        them. Entities that refer to entities of a later window are taken in a second round.
        One pusher per sink at a time: the drain holds the sink's lease (``outbox.lease``).
        """
        summary = PushSummary(self.name, self.kind, dry_run=dry_run)
        start_requests = self.client.requests_sent
        started = _FOREVER if now else now_ms()
        window = 10 ** 9 if dry_run else self.window  # a dry run changes no row: it reads them all at once
        if not dry_run and not self._lease():
            summary.error = f"another pusher is draining {self.name} (its lease runs out within {LEASE_S} s)"
            return summary
        try:
            handled: set[str] = set()
            self._handled = handled
            for _round in range(2):
                after, deferred_any = 0, False
                while True:
                    with self.sessions.session() as session:
                        rows = outbox.due(session, self.name, limit=window, at=started, after_id=after)
                        if not rows:
                            break
                        after = max(i for item in rows for i in item.ids)
                        items = [i for i in rows if i.guid not in handled]
                        if not items:
                            continue
                        current = store.get_entities(session, [i.guid for i in items])
                        known = outbox.pushed(session, self.name, [i.guid for i in items])
                    before = summary.handled
                    deferred = self._window(items, current, known, summary, full=full, dry_run=dry_run, at=started)
                    handled.update(i.guid for i in items if i.guid not in deferred)
                    deferred_any = deferred_any or bool(deferred)
                    if progress is not None:
                        progress(summary.handled - before)
                    if not dry_run:
                        self._lease()
                if not deferred_any or dry_run:
                    break
        except _Stop as stop:
            summary.error = str(stop)
        finally:
            summary.requests = self.client.requests_sent - start_requests
            if not dry_run:
                with self.sessions.write_session() as session, session.begin():
                    if summary.error:
                        outbox.note_error(session, self.name, summary.error)
                    elif summary.requests:
                        outbox.note_push(session, self.name)
                    outbox.release(session, self.name, self.owner)
        return summary

    def _lease(self) -> bool:
        with self.sessions.write_session() as session, session.begin():
            return outbox.lease(session, self.name, self.owner, seconds=LEASE_S)

    def _window(self, items: list[Due], current: Mapping[str, StoredEntity], known: Mapping[str, tuple[str, str]],
                summary: PushSummary, *, full: bool, dry_run: bool, at: int) -> set[str]:
        """Push one window; returns the guids left for a later window (they refer to pending entities outside it)."""
        by_guid = {i.guid: i for i in items}
        gone = [i for i in items if i.guid not in current or current[i.guid].status == DELETED]
        hooks_own = [i for i in gone if i.type_name in self.external and not self.create_tables]
        if hooks_own and not dry_run:  # a table of Atlas's Hive hook is the hook's to delete, never ours
            self._ack(hooks_own, [], forget=True)
        deletes = [i for i in gone if i not in hooks_own]
        live = [current[i.guid] for i in items if i.guid in current and current[i.guid].status != DELETED]
        tables = [e for e in live if e.type_name in self.external and not self.create_tables]
        rest = [outgoing(e) for e in live if not (e.type_name in self.external and not self.create_tables)]
        unchanged = [o for o in rest if not full and known.get(o.guid, ("", ""))[1] == o.digest]
        summary.unchanged += len(unchanged)
        if not dry_run:
            self._ack([by_guid[o.guid] for o in unchanged], [])
        changed = [o for o in rest if not (not full and known.get(o.guid, ("", ""))[1] == o.digest)]
        missing = self._link_tables(tables, by_guid, summary, dry_run=dry_run)
        refs = {r for o in changed for r in o.refers_to}
        unknown = self._unpushed_tables(refs, {t.guid for t in tables}, changed)
        later, delayed = self._pending_elsewhere(refs, by_guid, at)
        blocked = {*missing, *unknown, *delayed}
        send, waiting, deferred = [], {}, set()
        held: set[EntityRef] = set()
        groups = send_order(changed)
        self._group_of = {o.guid: n for n, group in enumerate(groups) for o in group}
        for group in groups:
            if any(r in later or r.guid in deferred for o in group for r in o.refers_to):
                deferred.update(o.guid for o in group)
                continue
            reasons = sorted(str(r) for o in group for r in o.refers_to if r in blocked or r in held)
            if reasons:
                held.update(o.key for o in group)
                waiting.update((o.guid, reasons[0]) for o in group)
            else:
                send.append(group)
        summary.waiting += len(waiting)
        if waiting and not dry_run:
            with self.sessions.write_session() as session, session.begin():
                for guid, reason in waiting.items():
                    outbox.retry_later(session, self.name, [by_guid[guid]], delay_ms=MISSING_RETRY_MS,
                                       message=f"waits for {reason}, which is not in Atlas yet")
        for request in chunked(send, self.batch_size):
            if dry_run:
                summary.sent += len(request)
                continue
            self._send(request, by_guid, known, summary)
        self._delete(deletes, known, summary, dry_run=dry_run)
        return deferred

    def _pending_elsewhere(self, refs: set[EntityRef], in_window: Mapping[str, Due],
                           at: int) -> tuple[set[EntityRef], set[EntityRef]]:
        """Referenced entities outside the window still to be pushed: (due in this drain, due later)."""
        outside = [r for r in refs if r.guid not in in_window]
        if not outside:
            return set(), set()
        with self.sessions.session() as session:
            pending = outbox.pending_among(session, self.name, [r.guid for r in outside], at=at)
        # pending and taken by this drain already: left pending (waiting, backing off), so due later
        return ({r for r in outside if pending.get(r.guid) is True and r.guid not in self._handled},
                {r for r in outside if pending.get(r.guid) is False or (r.guid in pending and r.guid in self._handled)})

    # -- tables Atlas's hooks own --------------------------------------------------------------

    def _link_tables(self, tables: Sequence[StoredEntity], by_guid: Mapping[str, Due], summary: PushSummary,
                     *, dry_run: bool) -> set[EntityRef]:
        """Look the tables up in Atlas; link those it has, report and hold the others. Returns the missing."""
        missing: set[EntityRef] = set()
        if not tables:
            return missing
        if self.kind == MESSAGES:  # fire-and-forget: nothing to look up; referenced by unique attribute
            summary.linked += len(tables)
            if not dry_run:
                self._ack([by_guid[t.guid] for t in tables], [(t.guid, "", "") for t in tables])
            return missing
        by_type: dict[str, list[StoredEntity]] = {}
        for table in tables:
            by_type.setdefault(table.type_name, []).append(table)
        found: list[tuple[StoredEntity, str]] = []
        for type_name, group in sorted(by_type.items()):
            for chunk in _lookup_chunks(group):
                try:
                    answer = self._call(lambda: self.client.entities_by_unique(type_name,
                                                                               [t.qualified_name for t in chunk]))
                except AtlasRejected as exc:  # Atlas cannot look these up (no such type there, say)
                    if not dry_run:
                        for table in chunk:
                            self._park(by_guid[table.guid], EntityRef(table.type_name, table.qualified_name), exc,
                                       summary)
                    continue
                have = {}
                for body in answer.get("entities") or ():
                    name = (body.get("attributes") or {}).get("qualifiedName")
                    have[name] = str(body.get("guid") or "")
                for table in chunk:
                    if table.qualified_name in have:
                        found.append((table, have[table.qualified_name]))
                    else:
                        missing.add(EntityRef(table.type_name, table.qualified_name))
        summary.linked += len(found)
        summary.missing.extend(sorted(str(m) for m in missing))
        if dry_run:
            return missing
        self._ack([by_guid[t.guid] for t, _g in found], [(t.guid, g, "") for t, g in found])
        if missing:
            log.warning("%s: %d table(s) not in Atlas (created by its Hive hook, or set CATALOG_ATLAS_CREATE_TABLES=true): %s",
                        self.name, len(missing), ", ".join(sorted(str(m) for m in missing)[:10]))
            with self.sessions.write_session() as session, session.begin():
                outbox.retry_later(session, self.name, [by_guid[m.guid] for m in missing], delay_ms=MISSING_RETRY_MS,
                                   message="not in Atlas: its Hive hook has not created it "
                                           "(CATALOG_ATLAS_CREATE_TABLES=true creates it)")
        return missing

    def _unpushed_tables(self, refs: set[EntityRef], in_window: set[str], changed: Sequence[Outgoing]) -> set[EntityRef]:
        """Referenced tables of Atlas's hook types that are neither in this window nor linked before."""
        if self.create_tables or self.kind == MESSAGES:
            return set()
        candidates = [r for r in refs if r.type_name in self.external and r.guid not in in_window]
        if not candidates:
            return set()
        with self.sessions.session() as session:
            linked = outbox.pushed(session, self.name, [r.guid for r in candidates])
        return {r for r in candidates if r.guid not in linked}

    # -- sending -------------------------------------------------------------------------------

    def _call(self, fn: Callable[[], Any]) -> Any:
        try:
            return fn()
        except AtlasUnavailable as exc:
            if exc.status == 500:  # a 500 that persists through the retries: Atlas failing on what was sent
                raise AtlasRejected(500, "", str(exc), "") from None
            raise _Stop(str(exc)) from None
        except AtlasRejected as exc:
            if exc.status in _NOT_ENTITY_SPECIFIC:
                raise _Stop(str(exc)) from None
            raise

    def _send(self, request: list[Outgoing], by_guid: Mapping[str, Due], known: Mapping[str, tuple[str, str]],
              summary: PushSummary) -> None:
        try:
            remote = self._post(request, known)
        except _Stop:
            self._later([by_guid[o.guid] for o in request])
            raise
        except AtlasRejected as exc:
            cut = self._split_point(request)
            if cut is None:  # one entity, or entities referring to each other: Atlas refuses them together
                for o in request:
                    self._park(by_guid[o.guid], o.key, exc, summary)
                return
            self._send(request[:cut], by_guid, known, summary)
            self._send(request[cut:], by_guid, known, summary)
            return
        self._ack([by_guid[o.guid] for o in request], [(o.guid, remote.get(o.guid, ""), o.digest) for o in request])
        summary.sent += len(request)

    def _split_point(self, request: list[Outgoing]) -> int | None:
        """Where to halve a refused request: the group boundary nearest its middle (None: one group)."""
        bounds = [i for i in range(1, len(request))
                  if self._group_of.get(request[i].guid) != self._group_of.get(request[i - 1].guid)]
        if not bounds:
            return None
        return min(bounds, key=lambda i: abs(i - len(request) / 2))

    def _post(self, request: list[Outgoing], known: Mapping[str, tuple[str, str]]) -> dict[str, str]:
        """Send one request; our guid -> Atlas's guid (what it told us)."""
        body, temporary = request_body(request)
        if self.kind == MESSAGES:
            at = now_ms()
            new = [e for e, o in zip(body["entities"], request, strict=True) if o.guid not in known]
            old = [e for e, o in zip(body["entities"], request, strict=True) if o.guid in known]
            texts = [messages.envelope(messages.upsert_message(kind, self.user, {"entities": part, "referredEntities": {}}),
                                       created_by=self.user, at=at)
                     for kind, part in ((messages.CREATE, new), (messages.FULL_UPDATE, old)) if part]
            self._call(lambda: self.client.post_messages(texts))
            return {}
        answer = self._call(lambda: self.client.upsert_entities(body))
        assigned = answer.get("guidAssignments") or {}
        remote = {ours: str(assigned[temp]) for temp, ours in temporary.items() if temp in assigned}
        if len(remote) < len(request):  # an Atlas that leaves some out: the headers it returned, by unique attribute
            keys = {o.key: o.guid for o in request}
            for headers in (answer.get("mutatedEntities") or {}).values():
                for header in headers or ():
                    key = EntityRef(str(header.get("typeName")), str((header.get("attributes") or {}).get("qualifiedName")))
                    if key in keys and header.get("guid"):
                        remote.setdefault(keys[key], str(header["guid"]))
        return remote

    def _delete(self, deletes: Sequence[Due], known: Mapping[str, tuple[str, str]], summary: PushSummary,
                *, dry_run: bool) -> None:
        if self.kind == MESSAGES:
            targets = list(deletes)
        else:  # never pushed: nothing to delete in Atlas
            targets = [d for d in deletes if d.guid in known]
            never = [d for d in deletes if d.guid not in known]
            if never and not dry_run:
                self._ack(never, [], forget=True)
        if dry_run:
            summary.deleted += len(targets)
            return
        for start in range(0, len(targets), _DELETE_CHUNK):
            self._delete_chunk(list(targets[start:start + _DELETE_CHUNK]), known, summary)

    def _delete_chunk(self, chunk: list[Due], known: Mapping[str, tuple[str, str]], summary: PushSummary) -> None:
        try:
            if self.kind == MESSAGES:
                keys = [EntityRef(d.type_name, d.qualified_name) for d in chunk]
                text = messages.envelope(messages.delete_message(self.user, keys), created_by=self.user, at=now_ms())
                self._call(lambda: self.client.post_messages([text]))
            else:
                by_guid = [d for d in chunk if known[d.guid][0]]
                if by_guid:
                    self._call(lambda: self.client.delete_entities([known[d.guid][0] for d in by_guid]))
                for d in chunk:  # pushed, but Atlas named no guid for it: by unique attribute
                    if not known[d.guid][0]:
                        self._call(lambda d=d: self.client.delete_by_unique(d.type_name, d.qualified_name))
        except _Stop:
            self._later(chunk)
            raise
        except AtlasRejected as exc:
            if len(chunk) > 1:
                half = len(chunk) // 2
                self._delete_chunk(chunk[:half], known, summary)
                self._delete_chunk(chunk[half:], known, summary)
                return
            if exc.status != 404:  # a 404: Atlas no longer has it, which is what a delete wants
                self._park(chunk[0], EntityRef(chunk[0].type_name, chunk[0].qualified_name), exc, summary)
                return
        self._ack(chunk, [], forget=True)
        summary.deleted += len(chunk)

    # -- bookkeeping ---------------------------------------------------------------------------

    def _ack(self, items: Sequence[Due], pushed: Sequence[tuple[str, str, str]], *, forget: bool = False) -> None:
        if not items and not pushed:
            return
        with self.sessions.write_session() as session, session.begin():
            outbox.acknowledge(session, self.name, items)
            if forget:
                outbox.forget_pushed(session, self.name, [i.guid for i in items])
            if pushed:
                outbox.record_pushed(session, self.name, pushed)

    def _park(self, item: Due, key: EntityRef, exc: AtlasRejected, summary: PushSummary) -> None:
        message = f"HTTP {exc.status}" + (f" {exc.code}" if exc.code else "") + f": {exc.atlas_message}"
        log.warning("%s: Atlas rejected %s: %s", self.name, key, message)
        summary.parked.append(f"{key}: {message}")
        with self.sessions.write_session() as session, session.begin():
            outbox.park(session, self.name, item, message)

    def _later(self, items: Sequence[Due]) -> None:
        with self.sessions.write_session() as session, session.begin():
            for item in items:
                delay = min(_MAX_BACKOFF_MS, 1000 * 2 ** min(item.attempts, 10))
                outbox.retry_later(session, self.name, [item], delay_ms=delay, message="Atlas unavailable")
