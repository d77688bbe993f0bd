"""Entity writes with Atlas's v2 semantics, through the store's diff-then-apply path.

An upsert takes ``AtlasEntityWithExtInfo`` / ``AtlasEntitiesWithExtInfo`` JSON:

- entities are matched on guid or on (typeName, qualifiedName); the catalog's guids are
  derived from the latter, so a temporary (negative) guid is assigned the entity's
  stable guid (``guidAssignments``) and a guid that names another entity is refused;
- references are ``AtlasObjectId`` by unique attributes, by a guid of this request
  (temporary or not) or by the guid of a stored entity; anything else is Atlas's
  ``ATLAS-404-00-00A``;
- an update keeps what the body does not mention (attributes, relationship attributes,
  and the writer's classifications when the body has no ``classifications`` key), as
  Atlas does; the merged entity is validated against the registry;
- a process's ``inputs``/``outputs`` sent as relationship attributes are its lineage,
  as Atlas's ``dataset_process_inputs`` / ``process_dataset_outputs`` relationships.

Nothing is written unless the whole request is valid: ``store.plan_upsert`` decides,
``store.apply_plan`` writes the plan, in one transaction.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from catalog import refs, store
from catalog.atlas import attributes_from_atlas, entity_from_atlas, entity_header, header_json, stored_to_entity
from catalog.canonical import canonical_json
from catalog.embedded.errors import (
    INSTANCE_CRUD_INVALID_PARAMS,
    INVALID_PARAMETERS,
    INVALID_PARTIAL_UPDATE_ATTR,
    REFERENCED_ENTITY_NOT_FOUND,
    TYPE_NAME_NOT_FOUND,
    AtlasApiError,
    guid_not_found,
    unique_not_found,
)
from catalog.errors import EntityValidationError, ReferenceNotFound, UnknownTypeError
from catalog.model import (
    DELETED,
    HEADER_ATTRIBUTES,
    Classification,
    Entity,
    EntityRef,
    SourceBatch,
    StoredEntity,
    guid_for,
)
from catalog.store.plan import StoredState, read_stored
from catalog.store.schema import ClassificationRow, EntityRow

if TYPE_CHECKING:
    from catalog.service import Catalog
    from catalog.types.registry import TypeRegistry

__all__ = ["SOURCE", "Mutation", "upsert", "upsert_in", "set_attribute", "delete", "purge", "mutation_response", "entity_by_unique"]

#: The source the v2 API's writes are recorded under (audit, entity ``source``, tag origin).
SOURCE = "atlas-api"


@dataclass
class Mutation:
    """What a request changed: Atlas's ``EntityMutationResponse`` before its headers are read."""

    created: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    partial: list[str] = field(default_factory=list)
    deleted: list[str] = field(default_factory=list)
    purged: list[str] = field(default_factory=list)
    guid_assignments: dict[str, str] = field(default_factory=dict)
    #: ``AtlasEntityHeader`` JSON of entities this request wrote, built from what it wrote (no read back)
    headers: dict[str, dict[str, Any]] = field(default_factory=dict)

    def guids(self) -> list[str]:
        return list(dict.fromkeys([*self.created, *self.updated, *self.partial, *self.deleted, *self.purged]))


def mutation_response(session: Session, mutation: Mutation, purged: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """Atlas's ``EntityMutationResponse`` JSON: headers by operation, and ``guidAssignments``."""
    headers = dict(mutation.headers)
    unread = [g for g in mutation.guids() if g not in headers]
    if unread:
        headers.update((g, entity_header(h)) for g, h in store.get_headers(session, unread).items())
    mutated: dict[str, list[dict[str, Any]]] = {}
    for op, guids in (("CREATE", mutation.created), ("UPDATE", mutation.updated),
                      ("PARTIAL_UPDATE", mutation.partial), ("DELETE", mutation.deleted)):
        if guids:
            mutated[op] = [headers[g] for g in guids if g in headers]
    if mutation.purged and purged:
        mutated["PURGE"] = [purged[g] for g in mutation.purged if g in purged]
    return {"mutatedEntities": mutated, "guidAssignments": dict(mutation.guid_assignments)}


# -- reading the request --------------------------------------------------------------------


def _raw_entities(body: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    """The entity objects of a request body: referred entities first, then the main ones."""
    if not isinstance(body, Mapping):
        raise _invalid("request body must be an AtlasEntityWithExtInfo or AtlasEntitiesWithExtInfo object")
    if "entity" in body:
        main = [body["entity"]]
    elif isinstance(body.get("entities"), list):
        main = body["entities"]
    else:
        raise _invalid("request body: expected 'entity' (an object) or 'entities' (a list)")
    referred = body.get("referredEntities") or {}
    if not isinstance(referred, Mapping):
        raise _invalid("referredEntities: expected an object keyed by guid")
    found: list[Mapping[str, Any]] = []
    for key, raw in referred.items():
        if isinstance(raw, Mapping) and "guid" not in raw:
            raw = {**raw, "guid": key}
        found.append(raw)
    found.extend(main)
    for i, raw in enumerate(found):
        if not isinstance(raw, Mapping):
            raise _invalid(f"entities[{i}]: expected an AtlasEntity object, got {type(raw).__name__}")
    return found


def _key_of(raw: Mapping[str, Any]) -> EntityRef | None:
    attributes = raw.get("attributes")
    type_name = raw.get("typeName")
    qualified_name = attributes.get("qualifiedName") if isinstance(attributes, Mapping) else None
    if isinstance(type_name, str) and isinstance(qualified_name, str) and type_name and qualified_name:
        return EntityRef(type_name, qualified_name)
    return None


def _request_guids(raws: Sequence[Mapping[str, Any]]) -> tuple[dict[str, EntityRef], dict[str, str]]:
    """guid -> entity of the request, and the temporary (negative) guids' assignments.

    A guid given twice must carry the same body (Atlas resolves each temporary guid once).
    """
    local: dict[str, EntityRef] = {}
    bodies: dict[str, Mapping[str, Any]] = {}
    assignments: dict[str, str] = {}
    for raw in raws:
        guid = raw.get("guid")
        key = _key_of(raw)
        if not isinstance(guid, str) or not guid or key is None:
            continue
        seen = bodies.get(guid)
        if seen is not None and seen is not raw and canonical_json(seen) != canonical_json(raw):
            raise _invalid(f"guid {guid} is used by two different entities in this request "
                           f"({local[guid]} and {key}): each temporary guid must name one entity")
        bodies[guid] = raw
        local[guid] = key
        if guid.startswith("-"):
            assignments[guid] = key.guid
    return local, assignments


class _Resolver:
    """Resolves ``AtlasObjectId``s given by guid: this request's entities, then the store."""

    def __init__(self, session: Session, local: Mapping[str, EntityRef]) -> None:
        self.session = session
        self.local = local
        self.cache: dict[str, EntityRef] = {}

    def __call__(self, guid: str) -> EntityRef:
        found = self.local.get(guid) or self.cache.get(guid)
        if found is None and refs.is_guid(guid):
            row = self.session.execute(
                select(EntityRow.type_name, EntityRow.qualified_name).where(EntityRow.guid == guid)
            ).first()
            if row is not None:
                found = self.cache[guid] = EntityRef(row.type_name, row.qualified_name)
        if found is None:
            raise AtlasApiError(404, REFERENCED_ENTITY_NOT_FOUND,
                                f"Referenced entity AtlasObjectId{{guid='{guid}'}} is not found")
        return found


def _to_entity(raw: Mapping[str, Any], resolver: _Resolver, registry: TypeRegistry) -> Entity:
    type_name = raw.get("typeName")
    if isinstance(type_name, str) and type_name and not registry.has_entity_type(type_name):
        raise AtlasApiError(400, TYPE_NAME_NOT_FOUND, f"Type ENTITY with name {type_name} does not exist")
    try:
        entity = entity_from_atlas(raw, resolver)
    except EntityValidationError as exc:
        raise _invalid(str(exc)) from None
    if registry.is_process(entity.type_name):  # lineage sent as relationship ends is lineage
        for end in ("inputs", "outputs"):
            if end in entity.relationship_attributes:
                entity.attributes[end] = entity.relationship_attributes.pop(end)
    return entity


def _own_tags_in(stored: StoredState, source: str) -> dict[str, list[Classification]]:
    """``_own_tags`` from the direct tags ``store.read_stored`` read already."""
    found: dict[str, list[Classification]] = {}
    for guid, rows in stored.tags.items():
        for row in rows:
            if row.origin == source:
                found.setdefault(guid, []).append(Classification(row.type_name, json.loads(row.attributes),
                                                                 row.propagate))
    return found


def _own_tags(session: Session, guids: Iterable[str], source: str) -> dict[str, list[Classification]]:
    """The direct classifications ``source`` holds on ``guids``."""
    tag = ClassificationRow
    found: dict[str, list[Classification]] = {}
    wanted = sorted(set(guids))
    if not wanted:
        return found
    query = select(tag).where(tag.entity_guid.in_(wanted), tag.source_guid == tag.entity_guid, tag.origin == source)
    for row in session.scalars(query):
        found.setdefault(row.entity_guid, []).append(
            Classification(row.type_name, json.loads(row.attributes), row.propagate))
    return found


def _merge_stored(entities: list[Entity], raws: Sequence[Mapping[str, Any]], stored: StoredState,
                  source: str) -> None:
    """Updates keep what the body leaves out (Atlas's update semantics), before validation.

    ``stored`` is what the plan then diffs against (``store.read_stored``, read once).
    """
    if not stored.rows:  # all new: nothing to merge
        return
    own_tags = _own_tags_in(stored, source)
    for entity, raw in zip(entities, raws, strict=True):
        old = stored.rows.get(entity.guid)
        if old is None:
            continue
        entity.attributes = {**attributes_from_atlas(json.loads(old.attributes)), **entity.attributes}
        entity.relationship_attributes = {**attributes_from_atlas(json.loads(old.relationship_attributes)),
                                          **entity.relationship_attributes}
        if "classifications" not in raw:
            entity.classifications = list(own_tags.get(entity.guid, ()))


def _invalid(message: str) -> AtlasApiError:
    return AtlasApiError(404, INSTANCE_CRUD_INVALID_PARAMS,
                         f"Invalid instance creation/updation parameters passed : {message}")


# -- writes ----------------------------------------------------------------------------------


def _write(session: Session, registry: TypeRegistry, entities: list[Entity], *, user: str, source: str,
           stored: StoredState | None = None) -> store.WritePlan:
    try:
        plan = store.plan_upsert(session, SourceBatch(source, entities), registry, user=user, stored=stored)
    except ReferenceNotFound as exc:
        raise AtlasApiError(404, REFERENCED_ENTITY_NOT_FOUND, str(exc)) from None
    except UnknownTypeError as exc:
        raise AtlasApiError(400, TYPE_NAME_NOT_FOUND, str(exc)) from None
    except EntityValidationError as exc:
        raise _invalid(str(exc)) from None
    store.apply_plan(session, plan)
    return plan


def _check_identity(raws: Sequence[Mapping[str, Any]], entities: Sequence[Entity], session: Session) -> None:
    """A real guid in the body must be the guid of the entity the body names."""
    for raw, entity in zip(raws, entities, strict=True):
        guid = raw.get("guid")
        if not isinstance(guid, str) or not refs.is_guid(guid) or guid == entity.guid:
            continue
        row = session.get(EntityRow, guid)
        if row is not None:
            raise AtlasApiError(400, INVALID_PARAMETERS, (
                f"invalid parameters: guid {guid} is {row.type_name} '{row.qualified_name}', but the body names "
                f"{entity.type_name} '{entity.qualified_name}' (the catalog's guids follow typeName and "
                "qualifiedName, which cannot change)"))


def upsert(
    catalog: Catalog, body: Mapping[str, Any], *, user: str, source: str = SOURCE, partial: bool = False,
    must_exist: EntityRef | None = None,
) -> Mutation:
    """``POST entity`` / ``POST entity/bulk`` (``partial``: ``PUT entity/uniqueAttribute``)."""
    _raw_entities(body)  # a malformed body is refused before the store is opened
    with catalog.write_session() as session, session.begin():
        return upsert_in(session, catalog.registry, body, user=user, source=source, partial=partial,
                         must_exist=must_exist)


def upsert_in(
    session: Session, registry: TypeRegistry, body: Mapping[str, Any], *, user: str, source: str = SOURCE,
    partial: bool = False, must_exist: EntityRef | None = None,
) -> Mutation:
    """``upsert`` inside the caller's transaction, so several requests are written all or nothing.

    Raises ``AtlasApiError`` before this call writes anything; what earlier calls wrote in
    the same transaction stays, so a caller that catches the error must roll back.
    """
    raws = _raw_entities(body)
    local, assignments = _request_guids(raws)
    resolver = _Resolver(session, local)
    entities = [_to_entity(raw, resolver, registry) for raw in raws]
    stored = read_stored(session, list(dict.fromkeys(e.guid for e in entities)))
    if must_exist is not None and must_exist.guid not in stored.rows:
        raise unique_not_found(must_exist.type_name, must_exist.qualified_name)
    _check_identity(raws, entities, session)
    _merge_stored(entities, raws, stored, source)
    plan = _write(session, registry, entities, user=user, source=source, stored=stored)
    mutation = Mutation(guid_assignments=assignments, headers=_headers(session, entities, plan))
    if partial:
        mutation.partial = plan.created + plan.updated
    else:
        mutation.created, mutation.updated = plan.created, plan.updated
    return mutation


def _headers(session: Session, entities: Sequence[Entity], plan: store.WritePlan) -> dict[str, dict[str, Any]]:
    """``AtlasEntityHeader`` JSON of the entities ``plan`` created or updated, from the entities as written.

    The mutation response of a 1,000-entity request would otherwise read all of them back;
    only their classifications (direct and propagated, after the recompute) are read.
    """
    written = {c.guid for c in plan.changes}
    tags = store.classifications_of(session, sorted(written))
    headers = {}
    for e in entities:
        guid = e.guid
        if guid in written:
            attributes = e.attributes
            headers[guid] = header_json(guid, e.type_name, e.qualified_name, e.status,
                                        {k: attributes[k] for k in HEADER_ATTRIBUTES if k in attributes},
                                        {t.type_name for t in tags.get(guid, ())})
    return headers


def set_attribute(catalog: Catalog, guid: str, name: str, value: Any, *, user: str, source: str = SOURCE) -> Mutation:
    """``PUT entity/guid/{guid}?name=attr``: one attribute of a stored entity."""
    registry = catalog.registry
    with catalog.write_session() as session, session.begin():
        old = store.get_entity(session, guid)
        if old is None:
            raise guid_not_found(guid)
        known = registry.all_attributes(old.type_name)
        if name not in known and name not in registry.relationship_ends(old.type_name):
            raise AtlasApiError(400, INVALID_PARTIAL_UPDATE_ATTR,
                                f"Invalid attribute {name} for partial update of {old.type_name}")
        entity = stored_to_entity(old)
        entity.status = old.status
        entity.attributes[name] = attributes_from_atlas({name: value}, _Resolver(session, {}))[name]
        entity.classifications = _own_tags(session, [guid], source).get(guid, [])
        plan = _write(session, registry, [entity], user=user, source=source)
    return Mutation(partial=plan.updated)


def delete(catalog: Catalog, guids: Sequence[str], *, user: str, source: str = SOURCE) -> Mutation:
    """Soft delete (``status: DELETED``); an unknown guid is Atlas's 404, nothing deleted."""
    mutation = Mutation()
    with catalog.write_session() as session, session.begin():
        found = store.get_entities(session, list(guids))
        for guid in guids:
            if guid not in found:
                raise guid_not_found(guid)
        for guid in dict.fromkeys(guids):
            if found[guid].status != DELETED and store.delete_entity(session, guid, user=user, source=source):
                mutation.deleted.append(guid)
    return mutation


def purge(catalog: Catalog, guids: Sequence[str], *, user: str, source: str = SOURCE) -> dict[str, Any]:
    """``PUT admin/purge``: soft-deleted entities removed for good; the response lists their headers.

    Entities that are not ``DELETED`` are left alone (Atlas's rule); an unknown guid is a 404.
    """
    with catalog.write_session() as session, session.begin():
        headers = store.get_headers(session, list(guids))
        for guid in guids:
            if guid not in headers:
                raise guid_not_found(guid)
        before = {g: entity_header(h) for g, h in headers.items()}
        purged = store.purge_entities(session, list(guids), user=user, source=source)
    mutated = {"PURGE": [before[g] for g in purged]} if purged else {}
    return {"mutatedEntities": mutated, "guidAssignments": {}}


def entity_by_unique(catalog: Catalog, type_name: str, qualified_name: str) -> StoredEntity:
    """The entity of ``type_name`` (or a subtype: Atlas looks up by the type given) with that qualifiedName."""
    registry = catalog.registry
    if not registry.has_entity_type(type_name):
        raise AtlasApiError(400, TYPE_NAME_NOT_FOUND, f"Type ENTITY with name {type_name} does not exist")
    with catalog.session() as session:
        found = store.get_entity(session, guid_for(type_name, qualified_name))
        if found is None:
            candidates = store.find_by_qualified_name(session, qualified_name, registry.subtypes(type_name))
            found = candidates[0] if len(candidates) == 1 else None
    if found is None:
        raise unique_not_found(type_name, qualified_name)
    return found
