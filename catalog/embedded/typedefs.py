"""Atlas's typedef API (``TypesREST``) over the catalog, every typedef kept in the store's ``typedef`` table.

Rows: the catalog's own typedefs (``builtin``: the packaged files, or the registry a
``Catalog`` was given) are written when a store is first opened, with stable guids
(``guid_for("typedef", name)``); a later release whose files differ updates them
(version + 1). Typedefs created through the API keep what was posted, with a guid, the
user and the times. The registry a catalog validates with is the built-in typedefs plus
the API's, so an entity of a new type validates in the process that created the type,
after a restart, and in every other process over the same store.

Staying in step: each read of ``Catalog.registry`` on an open store runs one aggregate,
``count(*)`` and ``max(updated_at)`` of the table, and reloads when either differs from
what was loaded (``TypeDefs.current(session)`` runs it in the caller's session: the hot
read endpoints check in the request's own transaction, on the DBAPI cursor). Every write sets ``updated_at`` above the table's maximum (under the
store's write lock), so a create or update raises the maximum and a delete lowers the
count: equal numbers mean an unchanged table. A reload resolves the whole registry anew
(a few milliseconds) and swaps it in at once.

Writes are all or nothing and are checked against the typedefs read under the write
lock, with Atlas's error codes (``AtlasErrorCode``) and messages that name the typedef
and the attribute. Built-in typedefs are read-only; a type is deleted only when nothing
uses it (entities of the type, classification instances, subtypes, attributes,
relationshipDefs, relationship instances).
"""

from __future__ import annotations

import copy
import json
import logging
import threading
import uuid
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from sqlalchemy import Connection, Engine, func, or_, select
from sqlalchemy.orm import Session, sessionmaker

from catalog.embedded.errors import AtlasApiError
from catalog.embedded.typedef_rules import (
    INVALID_GUID,
    INVALID_TYPE_DEFINITION,
    MISSING_MANDATORY_ATTRIBUTE,
    SECTION_OF,
    TYPE_ALREADY_EXISTS,
    TYPE_HAS_REFERENCES,
    TYPE_HAS_RELATIONSHIPS,
    TYPE_MATCH_FAILED,
    body_of,
    builtin_refused,
    check_names,
    check_request,
    check_update,
    clean,
    guid_not_found,
    invalid,
    name_not_found,
    posted,
    search_filter,
)
from catalog.errors import TypeDefError
from catalog.model import guid_for
from catalog.store.queries import CursorStatement
from catalog.store.schema import ClassificationRow, EntityRow, TypeDefRow, now_ms
from catalog.types.registry import TypeRegistry
from catalog.types.resolved import CATEGORY, KIND, SECTIONS

__all__ = ["TypeDefs"]

log = logging.getLogger(__name__)
#: The sources the registry names in its messages: what a request posted, what the store holds.
_REQUEST, _STORED = "request", "stored typedefs"

# -- the store --------------------------------------------------------------------------------

_FINGERPRINT = CursorStatement(lambda _dialect: select(
    func.count(), func.coalesce(func.max(TypeDefRow.updated_at), 0)).select_from(TypeDefRow))


def _fingerprint(session: Session | Connection) -> tuple[int, int]:
    """(count, latest ``updated_at``) of the typedef rows; on the cursor, so pending ORM changes are not flushed."""
    ((count, latest),) = _FINGERPRINT.rows(session, {})
    return int(count), int(latest)


def _next_at(session: Session) -> int:
    """Now, or later: above every ``updated_at`` of the table, so the fingerprint always moves."""
    return max(now_ms(), _fingerprint(session)[1] + 1)


def _bookkeeping(row: TypeDefRow) -> dict[str, Any]:
    return {"guid": row.guid, "createdBy": row.created_by, "updatedBy": row.updated_by,
            "createTime": row.created_at, "updateTime": row.updated_at, "version": row.version}


def _rows(session: Session) -> dict[str, TypeDefRow]:
    return {row.name: row for row in session.scalars(select(TypeDefRow))}


def _builtin_changes(base: TypeRegistry, rows: Mapping[str, TypeDefRow]) -> list[tuple[str, dict[str, Any]]]:
    """Built-in typedefs whose row is missing or says something else (an older release, an API row)."""
    pending = []
    for section, d in base.iter_defs():
        row = rows.get(d["name"])
        if row is None or not row.builtin or row.body != body_of(d) or row.category != CATEGORY[section]:
            pending.append((section, d))
    return pending


def _write_builtins(session: Session, base: TypeRegistry, user: str) -> None:
    """Insert the missing built-in rows, update the changed ones (version + 1); under the write lock."""
    rows = _rows(session)
    pending = _builtin_changes(base, rows)
    at = _next_at(session) if pending else 0
    for section, d in pending:
        row = rows.get(d["name"])
        if row is None:
            row = TypeDefRow(name=d["name"], guid=guid_for("typedef", d["name"]), version=0, created_at=at,
                             created_by=user)
            session.add(row)
        row.category, row.service_type, row.body = CATEGORY[section], d.get("serviceType") or "", body_of(d)
        row.builtin, row.version, row.updated_at, row.updated_by = True, row.version + 1, at, user


def _compose(base: TypeRegistry, rows: Mapping[str, TypeDefRow]) -> TypeRegistry:
    """The built-in typedefs with their rows' bookkeeping, plus every typedef the API created."""
    own: dict[str, list[dict[str, Any]]] = {s: [] for s in SECTIONS}
    for section, d in base.iter_defs():
        row = rows.get(d["name"])
        own[section].append({**d, **_bookkeeping(row)} if row is not None else dict(d))
    registry = TypeRegistry()
    registry.load(own, _STORED)
    added: dict[str, list[dict[str, Any]]] = {s: [] for s in SECTIONS}
    for row in rows.values():
        section = SECTION_OF.get(row.category)
        if row.builtin or section is None or registry.section_of(row.name) is not None:
            continue
        try:
            added[section].append({**json.loads(row.body), **_bookkeeping(row)})
        except ValueError:
            log.warning("typedef %s of the store is not valid JSON: left out", row.name)
    if any(added.values()):
        candidate = registry.copy()
        try:
            candidate.load(added, _STORED)
            registry = candidate
        except TypeDefError as exc:
            log.warning("typedefs of the store left out, they do not resolve on this catalog's types: %s", exc)
    return registry


def _loaded(current: TypeRegistry, defs: Mapping[str, list[dict[str, Any]]], *, replace: bool) -> TypeRegistry:
    candidate = current.copy()
    try:
        candidate.load(defs, _REQUEST, replace=replace)
    except TypeDefError as exc:
        message = str(exc).removeprefix(f"{_REQUEST}: ").removeprefix(f"{_STORED}: ")
        raise invalid(INVALID_TYPE_DEFINITION, f"Invalid type definition {message}") from None
    return candidate


def _plural(count: int, one: str, many: str) -> str:
    return f"{count} {one if count == 1 else many}"


def _stored_users(session: Session, registry: TypeRegistry, section: str, name: str) -> str | None:
    """What of the store uses type ``name``: entities, classification instances, relationship ends."""
    if section == "entityDefs":
        count = session.scalar(select(func.count()).select_from(EntityRow).where(EntityRow.type_name == name))
        example = session.scalar(select(EntityRow.qualified_name).where(EntityRow.type_name == name).limit(1))
        return f"{_plural(count, 'entity', 'entities')} of type {name} (e.g. '{example}')" if count else None
    if section == "classificationDefs":
        count = session.scalar(select(func.count(func.distinct(ClassificationRow.entity_guid)))
                               .where(ClassificationRow.type_name == name))
        return f"{_plural(count, 'entity', 'entities')} classified {name}" if count else None
    if section == "relationshipDefs":
        d = registry.relationship_def(name)
        for end in (d["endDef1"], d["endDef2"]):
            pattern = f'%"{end["name"]}":%'
            found = session.execute(select(EntityRow.qualified_name, EntityRow.relationship_attributes,
                                           EntityRow.attributes).where(
                EntityRow.type_name.in_(sorted(registry.subtypes(end["type"]))),
                or_(EntityRow.relationship_attributes.like(pattern), EntityRow.attributes.like(pattern))))
            for qn, *texts in found:
                if any(json.loads(t or "{}").get(end["name"]) not in (None, [], {}) for t in texts):
                    return f"entity '{qn}' ({end['type']}.{end['name']} is set)"
    return None


def _check_unused(session: Session, registry: TypeRegistry, name: str, deleting: Sequence[str]) -> None:
    section = registry.section_of(name) or ""
    stored = _stored_users(session, registry, section, name)
    if stored is not None:
        raise AtlasApiError(409, TYPE_HAS_REFERENCES, f"Given type {name} has references: {stored}")
    refs = registry.references_to(name, deleting)
    ends = [what for kind, what in refs if kind == "relationship"]
    if ends:
        raise AtlasApiError(409, TYPE_HAS_RELATIONSHIPS, f"Given type {name} has associated relationshipDefs: "
                                                         + ", ".join(ends))
    if refs:
        raise AtlasApiError(409, TYPE_HAS_REFERENCES, f"Given type {name} has references: "
                                                      + ", ".join(what for _kind, what in refs))


# -- reads ------------------------------------------------------------------------------------

def _subtype_map(registry: TypeRegistry) -> dict[str, list[str]]:
    found: dict[str, list[str]] = {}
    for _section, d in registry.iter_defs():
        for sup in d.get("superTypes") or ():
            found.setdefault(sup, []).append(d["name"])
    return found


def _out(section: str, d: Mapping[str, Any], subtypes: Mapping[str, list[str]]) -> dict[str, Any]:
    """A typedef as Atlas answers it: category first, direct subTypes of entity and classification types."""
    out = {"category": CATEGORY[section], **copy.deepcopy(dict(d))}
    if section in ("entityDefs", "classificationDefs"):
        out["subTypes"] = sorted(subtypes.get(d["name"], ()))
    return out


# -- one catalog's typedefs -------------------------------------------------------------------

Change = Callable[[Session, TypeRegistry, dict[str, TypeDefRow]], tuple[Any, TypeRegistry]]


class TypeDefs:
    """A catalog's typedefs: its registry, kept in step with the store's typedef table, and Atlas's typedef API.

    ``registry`` is one object for the catalog's life (an ingest holding it sees types
    created meanwhile); ``open_store`` opens the catalog's store, which calls ``attach``.
    """

    def __init__(self, base: TypeRegistry, open_store: Callable[[], object]) -> None:
        self._base = base
        self.registry = base.copy()
        self._open_store = open_store
        self._engine: Engine | None = None
        self._read: sessionmaker[Session] | None = None
        self._write: sessionmaker[Session] | None = None
        self._seen: tuple[int, int] | None = None
        self._lock = threading.Lock()

    # -- staying in step with the store ------------------------------------------------------

    def attach(self, engine: Engine, read: sessionmaker[Session], write: sessionmaker[Session], *,
               user: str) -> None:
        """The catalog opened its store: write the built-in rows it lacks, then load the table."""
        self._engine, self._read, self._write, self._seen = engine, read, write, None
        with read() as session:
            pending = _builtin_changes(self._base, _rows(session))
        if pending:
            with write() as session, session.begin():
                _write_builtins(session, self._base, user)
        self.refresh()

    def refresh(self, session: Session | None = None) -> None:
        """Reload the registry when the typedef table changed since the last load (one aggregate when not).

        ``session``: look in the caller's (read) session, the request's own, instead of a
        connection of its own: no second connection per request, and the typedefs are those
        of the snapshot the request reads its entities in.
        """
        if self._engine is None or self._read is None:
            return
        if session is not None:
            if _fingerprint(session) == self._seen:
                return
        else:
            with self._engine.connect() as connection:  # a connection, not a session: a third of the cost
                if _fingerprint(connection) == self._seen:
                    return
        with self._lock, self._read() as session:
            seen = _fingerprint(session)
            if seen != self._seen:
                self.registry.adopt(_compose(self._base, _rows(session)))
                self._seen = seen

    def current(self, session: Session | None = None) -> TypeRegistry:
        """The registry, the store opened and the table's changes loaded (checked in ``session`` if given)."""
        self._open_store()
        self.refresh(session)
        return self.registry

    def _change(self, change: Change) -> Any:
        """Run ``change`` under the store's write lock on the typedefs as stored; adopt its registry after commit."""
        self._open_store()
        assert self._write is not None
        with self._write() as session, session.begin():
            rows = _rows(session)
            result, after = change(session, _compose(self._base, rows), rows)
            session.flush()
            seen = _fingerprint(session)
        with self._lock:
            self.registry.adopt(after)
            self._seen = seen
        return result

    # -- reads -------------------------------------------------------------------------------

    def search(self, params: Mapping[str, Sequence[str]]) -> dict[str, list[dict[str, Any]]]:
        """``GET types/typedefs``: an AtlasTypesDef of the typedefs the SearchFilter ``params`` keep."""
        keep = search_filter(params)
        registry = self.current()
        subtypes = _subtype_map(registry)
        found: dict[str, list[dict[str, Any]]] = {s: [] for s in SECTIONS}
        for section, d in registry.iter_defs():
            if keep(registry, section, d):
                found[section].append(_out(section, d, subtypes))
        return found

    def headers(self, params: Mapping[str, Sequence[str]]) -> list[dict[str, Any]]:
        """``GET types/typedefs/headers``: AtlasTypeDefHeader (guid, name, category, serviceType) of each kept."""
        keep = search_filter(params)
        registry = self.current()
        return [header for (section, d), header in zip(registry.iter_defs(), registry.headers(), strict=True)
                if keep(registry, section, d)]

    def get(self, *, name: str | None = None, guid: str | None = None, category: str | None = None) -> dict[str, Any]:
        """One typedef by name or guid; ``category``: only one of it (Atlas's ``types/entitydef/...``)."""
        registry = self.current()
        found = registry.name_of_guid(guid) if guid is not None else name
        section = registry.section_of(found) if found is not None else None
        if section is None or (category is not None and CATEGORY[section] != category):
            raise guid_not_found(str(guid)) if guid is not None else name_not_found(str(name))
        return _out(section, registry.typedef(found), _subtype_map(registry))

    # -- writes ------------------------------------------------------------------------------

    def create(self, body: Any, *, user: str) -> dict[str, list[dict[str, Any]]]:
        """``POST types/typedefs``: create every def of the AtlasTypesDef, or none."""
        request = posted(body)
        check_request(request)

        def change(session: Session, current: TypeRegistry, rows: dict[str, TypeDefRow]) -> tuple[Any, TypeRegistry]:
            for _section, d in request:
                if d["name"] in rows or current.section_of(d["name"]) is not None:
                    raise AtlasApiError(409, TYPE_ALREADY_EXISTS, f"Given type {d['name']} already exists")
            known = {**{d["name"]: s for s, d in current.iter_defs()}, **{d["name"]: s for s, d in request}}
            for section, d in request:
                check_names(section, d, known)
            at, guids = _next_at(session), _new_guids(request, rows)
            defs: dict[str, list[dict[str, Any]]] = {s: [] for s in SECTIONS}
            for section, d in request:
                row = TypeDefRow(name=d["name"], category=CATEGORY[section], guid=guids[d["name"]],
                                 service_type=d.get("serviceType") or "", body=body_of(d), builtin=False, version=1,
                                 created_at=at, updated_at=at, created_by=user, updated_by=user)
                session.add(row)
                defs[section].append({**clean(d), **_bookkeeping(row)})
            after = _loaded(current, defs, replace=False)
            return _response(after, request), after

        return self._change(change)

    def update(self, body: Any, *, user: str) -> dict[str, list[dict[str, Any]]]:
        """``PUT types/typedefs``: replace typedefs the API created (version + 1), all or none."""
        request = posted(body)
        check_request(request)

        def change(session: Session, current: TypeRegistry, rows: dict[str, TypeDefRow]) -> tuple[Any, TypeRegistry]:
            for section, d in request:
                found = current.section_of(d["name"])
                if found is None:
                    raise name_not_found(d["name"])
                if found != section:
                    raise invalid(TYPE_MATCH_FAILED, f"Given type {d['name']} doesn't match {CATEGORY[section]}: "
                                                      f"it is a {KIND[found]}")
                self._writable(rows, d["name"], user, "update")
                check_update(section, current.typedef(d["name"]), d)
            known = {**{d["name"]: s for s, d in current.iter_defs()}, **{d["name"]: s for s, d in request}}
            at = _next_at(session)
            defs: dict[str, list[dict[str, Any]]] = {s: [] for s in SECTIONS}
            for section, d in request:
                check_names(section, d, known)
                row = rows[d["name"]]
                row.body, row.service_type, row.version = body_of(d), d.get("serviceType") or "", row.version + 1
                row.updated_at, row.updated_by = at, user
                defs[section].append({**clean(d), **_bookkeeping(row)})
            after = _loaded(current, defs, replace=True)
            return _response(after, request), after

        return self._change(change)

    def delete(self, body: Any, *, user: str) -> None:
        """``DELETE types/typedefs``: delete the defs named (or with the guids given), all or none."""
        targets = [(section, d.get("name"), d.get("guid")) for section, d in posted(body)]
        for section, name, guid in targets:
            if not (isinstance(name, str) and name) and not (isinstance(guid, str) and guid):
                raise invalid(MISSING_MANDATORY_ATTRIBUTE, f"Mandatory field {KIND[section]}.name has empty/null "
                                                            "value (a typedef to delete needs its name or guid)")
        self._delete(targets, user)

    def delete_name(self, name: str, *, user: str) -> None:
        """``DELETE types/typedef/name/{name}``."""
        self._delete([(None, name, None)], user)

    def _delete(self, targets: Sequence[tuple[str | None, str | None, str | None]], user: str) -> None:
        def change(session: Session, current: TypeRegistry, rows: dict[str, TypeDefRow]) -> tuple[Any, TypeRegistry]:
            names: list[str] = []
            for section, name, guid in targets:
                found = current.name_of_guid(guid) if guid else name
                where = current.section_of(found) if found else None
                if where is None or (section is not None and where != section):
                    raise guid_not_found(guid) if guid else name_not_found(str(name))
                if found not in names:
                    names.append(found)
            for name in names:
                self._writable(rows, name, user, "delete")
            for name in names:
                _check_unused(session, current, name, names)
            try:
                after = current.without(names)
            except TypeDefError as exc:
                raise AtlasApiError(409, TYPE_HAS_REFERENCES, f"Given type {names[0]} has references: {exc}") from None
            for name in names:
                session.delete(rows[name])
            return None, after

        self._change(change)

    def _writable(self, rows: Mapping[str, TypeDefRow], name: str, user: str, action: str) -> None:
        row = rows.get(name)
        if row is None or row.builtin or self._base.section_of(name) is not None:
            raise builtin_refused(user, action, name)


def _new_guids(request: Sequence[tuple[str, Mapping[str, Any]]], rows: Mapping[str, TypeDefRow]) -> dict[str, str]:
    """A new guid per def, or the one it brings (an export from another Atlas) when well formed and free."""
    taken = {row.guid: row.name for row in rows.values()}
    guids: dict[str, str] = {}
    for _section, d in request:
        given = d.get("guid")
        if given is None:
            guids[d["name"]] = str(uuid.uuid4())
            continue
        try:
            guid = str(uuid.UUID(str(given)))
        except ValueError:
            raise invalid(INVALID_GUID, f"guid {given} is not a valid UUID (typedef {d['name']})") from None
        if guid in taken:
            raise AtlasApiError(409, TYPE_ALREADY_EXISTS, f"Given type {d['name']} already exists: guid {guid} is "
                                                          f"the guid of typedef {taken[guid]}")
        taken[guid] = guids[d["name"]] = guid
    return guids


def _response(registry: TypeRegistry, request: Sequence[tuple[str, Mapping[str, Any]]]) -> dict[str, list[dict]]:
    """The AtlasTypesDef Atlas answers a write with: the defs written, as now stored."""
    subtypes = _subtype_map(registry)
    found: dict[str, list[dict[str, Any]]] = {s: [] for s in SECTIONS}
    for section, d in request:
        found[section].append(_out(section, registry.typedef(d["name"]), subtypes))
    return found
