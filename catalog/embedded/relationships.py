"""Relationships through the v2 API (``relationship``): create, read, update and delete.

The catalog keeps no relationship rows: a relationship is a reference one of its ends
holds. Lineage (``dataset_process_inputs``, ``process_dataset_outputs``) is a data set
in a process's ``inputs`` / ``outputs``, which the store turns into a ``lineage_edge``
row carrying the relationship's guid; any other relationshipDef is an ``AtlasObjectId``
in the end attribute of the entity at one end (either may hold it), with the guid
``relations.relationship_guid(type, end1, end2)`` (end 1 of the def first).

So creating or deleting one is an entity write of the end that holds it, planned and
applied by the store in one transaction (audit, content hash, edges, propagation). A
new reference goes to the end that already keeps such references (a SET end with
values), else to the single-valued end (the child's reference to its parent, as the
catalog's sources write it), else to end 1. Ends are answered in the def's order.
What the catalog cannot keep is refused, not dropped: relationship attribute values,
another ``propagateTags`` than the def's, a status change by update (docs/atlas.md).
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any, NamedTuple

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from catalog import refs, store
from catalog.atlas import entity_header, stored_to_entity
from catalog.atlas.relations import relationship_guid
from catalog.embedded import errors as codes
from catalog.embedded.entities import SOURCE
from catalog.embedded.errors import AtlasApiError
from catalog.errors import EntityValidationError, ReferenceNotFound, UnknownTypeError
from catalog.model import ACTIVE, DELETED, Classification, Entity, EntityRef, SourceBatch, StoredEntity, guid_for
from catalog.store.schema import INPUT_EDGE, OUTPUT_EDGE, ClassificationRow, EdgeRow, EntityRow

if TYPE_CHECKING:
    from catalog.service import Catalog
    from catalog.types.registry import TypeRegistry

__all__ = ["LINEAGE", "PROPAGATE_TAGS", "parse", "create", "update", "get", "delete"]

#: Lineage relationshipDefs -> the direction of their ``lineage_edge`` rows.
LINEAGE = {"dataset_process_inputs": INPUT_EDGE, "process_dataset_outputs": OUTPUT_EDGE}
#: Atlas's ``PropagateTags`` values.
PROPAGATE_TAGS = ("NONE", "ONE_TO_TWO", "TWO_TO_ONE", "BOTH")
_SHAPES = {"typeName": (str, "a relationship type name"), "guid": (str, "a guid"),
           "end1": (Mapping, "an AtlasObjectId object"), "end2": (Mapping, "an AtlasObjectId object"),
           "status": (str, "ACTIVE or DELETED"), "propagateTags": (str, "a PropagateTags value"),
           "attributes": (Mapping, "an object")}


class _Request(NamedTuple):
    """An ``AtlasRelationship`` request body, its fields checked for shape only."""
    type_name: str | None
    guid: str | None
    end1: Mapping[str, Any] | None
    end2: Mapping[str, Any] | None
    status: str | None
    propagate_tags: str | None
    attributes: Mapping[str, Any]


class _Held(NamedTuple):
    """A relationship the store holds: its ends in relationshipDef order, and who holds it."""
    type_name: str
    guid: str
    end1: str
    end2: str
    #: (entity guid, end name) of each end whose attributes hold the reference
    holders: tuple[tuple[str, str], ...]


class _End(NamedTuple):
    """One end of a declared relationship: the entity, its end attribute, and the other end."""
    entity: StoredEntity
    name: str
    cardinality: str
    other: StoredEntity


def _invalid(message: str) -> AtlasApiError:
    return AtlasApiError(400, codes.INVALID_PARAMETERS, f"invalid parameters: {message}")


def _not_found(guid: str) -> AtlasApiError:
    return AtlasApiError(404, codes.RELATIONSHIP_GUID_NOT_FOUND, f"Given relationship guid {guid} is invalid/not found")


def _crud(message: str) -> AtlasApiError:
    return AtlasApiError(404, codes.RELATIONSHIP_CRUD_INVALID_PARAMS,
                         f"Invalid relationship creation/updation parameters passed : {message}")


def parse(body: Any) -> _Request:
    """An ``AtlasRelationship`` JSON object (nulls allowed, as Atlas's clients send them)."""
    if not isinstance(body, Mapping):
        raise _invalid("request body: expected an AtlasRelationship object")
    for key, (kind, what) in _SHAPES.items():
        if body.get(key) is not None and not isinstance(body[key], kind):
            raise _invalid(f"{key}: expected {what}, got {type(body[key]).__name__}")
    for key, allowed in (("status", (ACTIVE, DELETED)), ("propagateTags", PROPAGATE_TAGS)):
        if body.get(key) is not None and body[key] not in allowed:
            raise _invalid(f"{key}: expected one of {', '.join(allowed)}, got {body[key][:40]!r}")
    return _Request(body.get("typeName"), (body.get("guid") or "").lower() or None, body.get("end1"),
                    body.get("end2"), body.get("status"), body.get("propagateTags"), body.get("attributes") or {})


def _relationship_def(registry: TypeRegistry, type_name: str | None) -> dict[str, Any]:
    """The relationshipDef; Atlas's 400 (its message's missing space included) for any other name."""
    try:
        return registry.relationship_def(type_name or "")
    except UnknownTypeError:
        name = "null" if type_name is None else type_name  # Atlas formats a missing name as null
        raise AtlasApiError(400, codes.INVALID_VALUE, f"invalid value: unknown relationship type'{name}'") from None


def _label(rdef: Mapping[str, Any]) -> str:
    """The label Atlas gives the relationship's edge: a legacy attribute end's, else ``r:<type>``."""
    end1, end2 = rdef["endDef1"], rdef["endDef2"]
    end = end1 if end1.get("isLegacyAttribute") else end2 if end2.get("isLegacyAttribute") else None
    return rdef.get("relationshipLabel") or (f"__{end['type']}.{end['name']}" if end else f"r:{rdef['name']}")


def _guid_of(type_name: str, end1: str, end2: str) -> str:
    """A relationship's guid: the store's edge guid (data flow order) for lineage, else end 1 > end 2."""
    inputs = type_name == "dataset_process_inputs"  # end 1 is the process, the edge runs data set > process
    return relationship_guid(type_name, *((end2, end1) if inputs else (end1, end2)))


def _check_propagation(rdef: Mapping[str, Any], given: str | None) -> None:
    """Atlas's rule: NONE always; otherwise the relationshipDef's value, or any when it is BOTH."""
    default = rdef.get("propagateTags") or "NONE"
    if given is not None and given != "NONE" and default != "BOTH" and given != default:
        raise AtlasApiError(400, codes.INVALID_PROPAGATION_TYPE, f"Invalid propagation {given} for "
                            f"relationship-type={rdef['name']}. Default value is {default}")


def _check_attributes(rdef: Mapping[str, Any], given: Mapping[str, Any]) -> None:
    declared = {a["name"]: a for a in rdef.get("attributeDefs") or ()}
    for name, value in given.items():
        if name not in declared:
            raise AtlasApiError(400, codes.UNKNOWN_ATTRIBUTE, f"Attribute {name} not found for type {rdef['name']}")
        if value is not None:
            raise _invalid(f"attribute {name} of relationship type {rdef['name']}: the catalog does not store "
                           "relationship attribute values (a relationship is a reference held by one of its ends)")
    for name, attribute in declared.items():
        if not attribute.get("isOptional", False):
            raise _crud(f"[{rdef['name']}.{name}: mandatory attribute value missing in type {rdef['name']}]")


def _by_object_id(session: Session, registry: TypeRegistry, end: Mapping[str, Any]) -> StoredEntity | None:
    """The stored entity an ``AtlasObjectId`` names: by guid, else by typeName and qualifiedName."""
    guid = end.get("guid")
    if isinstance(guid, str) and guid:
        return store.get_entity(session, guid.lower()) if refs.is_guid(guid.lower()) else None
    type_name, unique = end.get("typeName"), end.get("uniqueAttributes")
    qualified_name = unique.get("qualifiedName") if isinstance(unique, Mapping) else None
    if not isinstance(type_name, str) or not isinstance(qualified_name, str) or not registry.has_entity_type(type_name):
        return None
    found = store.get_entity(session, guid_for(type_name, qualified_name))
    if found is None:
        candidates = store.find_by_qualified_name(session, qualified_name, registry.subtypes(type_name))
        found = candidates[0] if len(candidates) == 1 else None
    return found


def _resolve_ends(session: Session, registry: TypeRegistry, rdef: Mapping[str, Any],
                  ends: Sequence[Mapping[str, Any]]) -> tuple[StoredEntity, StoredEntity]:
    """The two ends in relationshipDef order; Atlas's errors for a missing end or a wrong type."""
    found = []
    for which, end in enumerate(ends, 1):
        entity = _by_object_id(session, registry, end)
        if entity is None:
            what = (f"with guid {str(end['guid'])[:80]}" if end.get("guid") else f"{str(end.get('typeName'))[:80]} "
                    f"with unique attributes {json.dumps(end.get('uniqueAttributes'))[:200]}")
            raise AtlasApiError(400, codes.RELATIONSHIP_END_IS_NULL, f"Relationship end is invalid. Expected "
                                f"{rdef[f'endDef{which}']['type']} but is NULL (end{which}: no entity {what})")
        found.append(entity)
    end1, end2 = _in_order(registry, rdef, found[0], found[1])
    for which, (end, entity) in enumerate(zip(ends, found, strict=True), 1):
        given = end.get("typeName")
        if isinstance(given, str) and given and not registry.is_a(entity.type_name, given):
            raise AtlasApiError(400, codes.RELATIONSHIP_INVALID_ENDTYPE, (
                f"Invalid entity-type for relationship attribute ‘{rdef[f'endDef{which}']['name']}’: entity "
                f"specified (guid={entity.guid}) is of type ‘{entity.type_name}’, but expected type is "
                f"‘{given}’"))
    return end1, end2


def _in_order(registry: TypeRegistry, rdef: Mapping[str, Any], first: StoredEntity,
              second: StoredEntity) -> tuple[StoredEntity, StoredEntity]:
    """Atlas accepts the ends either way round (its test, in its order); answered in the def's order."""
    type1, type2 = rdef["endDef1"]["type"], rdef["endDef2"]["type"]
    swapped = not registry.is_a(first.type_name, type1) and registry.is_a(first.type_name, type2)
    valid = registry.is_a(first.type_name, type2 if swapped else type1) and registry.is_a(
        second.type_name, type1 if swapped else type2)
    if not valid:
        raise AtlasApiError(400, codes.INVALID_RELATIONSHIP_END_TYPE, (
            f"invalid relationshipDef: {rdef['name']}: actual: [end type 1: {first.type_name}, end type 2: "
            f"{second.type_name}]. expected: [end type 1: {type1}, end type 2: {type2}]"))
    return (second, first) if swapped else (first, second)


def _ref_guids(value: Any) -> list[str]:
    """Guids of the ``AtlasObjectId``s (by unique attributes, as stored) in an end's value."""
    found = []
    for item in value if isinstance(value, list) else [value]:
        unique = item.get("uniqueAttributes") if isinstance(item, Mapping) else None
        if isinstance(unique, Mapping) and isinstance(item.get("typeName"), str) and isinstance(
                unique.get("qualifiedName"), str):
            found.append(guid_for(item["typeName"], unique["qualifiedName"]))
    return found


def _holds(entity: StoredEntity, name: str) -> list[str]:
    """Guids an entity's end refers to (as ``reads`` reads it: relationship attributes first)."""
    return _ref_guids(entity.relationship_attributes.get(name, entity.attributes.get(name)))


def _declared_ends(registry: TypeRegistry, rdef: Mapping[str, Any], end1: StoredEntity,
                   end2: StoredEntity) -> list[_End]:
    """The ends of a declared relationship whose entity types hold it under this relationshipDef."""
    return [_End(me, end["name"], end.get("cardinality", "SINGLE"), other)
            for me, end, other in ((end1, rdef["endDef1"], end2), (end2, rdef["endDef2"], end1))
            if (registry.relationship_ends(me.type_name).get(end["name"]) or ("",))[0] == rdef["name"]]


def _held(session: Session, registry: TypeRegistry, rdef: Mapping[str, Any], end1: StoredEntity,
          end2: StoredEntity) -> _Held:
    """The relationship between two ends (``holders`` empty when the store does not hold it)."""
    type_name = rdef["name"]
    guid = _guid_of(type_name, end1.guid, end2.guid)
    if type_name in LINEAGE:
        edge = (end2.guid, end1.guid) if LINEAGE[type_name] == INPUT_EDGE else (end1.guid, end2.guid)
        holders = ((end1.guid, rdef["endDef1"]["name"]),) if session.get(EdgeRow, edge) is not None else ()
        return _Held(type_name, guid, end1.guid, end2.guid, holders)
    holders = tuple((e.entity.guid, e.name) for e in _declared_ends(registry, rdef, end1, end2)
                    if e.other.guid in _holds(e.entity, e.name))
    return _Held(type_name, guid, end1.guid, end2.guid, holders)


def _find(session: Session, registry: TypeRegistry, guid: str) -> _Held:
    """The relationship with ``guid``: a lineage edge, else a reference an entity holds; else Atlas's 404.

    Neither is indexed by relationship guid (first-ingest speed matters more than this rare
    read): the edges are scanned, then the entities that may hold other ends (guids computed here).
    """
    guid = guid.lower()
    if refs.is_guid(guid):
        edge = EdgeRow
        row = session.execute(select(edge.from_guid, edge.to_guid, edge.direction)
                              .where(edge.relationship_guid == guid).limit(1)).first()
        if row is not None:
            inputs = row.direction == INPUT_EDGE
            type_name = "dataset_process_inputs" if inputs else "process_dataset_outputs"
            process, dataset = (row.to_guid, row.from_guid) if inputs else (row.from_guid, row.to_guid)
            name = registry.relationship_def(type_name)["endDef1"]["name"]
            return _Held(type_name, guid, process, dataset, ((process, name),))
        found = _find_declared(session, registry, guid)
        if found is not None:
            return found
    raise _not_found(guid)


def _holding_types(registry: TypeRegistry) -> dict[str, dict[str, tuple[str, bool]]]:
    """Entity type -> {end name: (relationship type, the type is end 1)} of its non-lineage ends.

    End 1 is told by type, as ``reads`` tells it, so the guids match those GET entity shows.
    """
    found: dict[str, dict[str, tuple[str, bool]]] = {}
    end1_types: dict[str, str] = {}
    for type_name in registry.entity_type_names():
        for name, (rel_type, _other, _cardinality) in registry.relationship_ends(type_name).items():
            if rel_type not in LINEAGE:
                if rel_type not in end1_types:
                    end1_types[rel_type] = registry.relationship_def(rel_type)["endDef1"]["type"]
                found.setdefault(type_name, {})[name] = (rel_type, registry.is_a(type_name, end1_types[rel_type]))
    return found


def _find_declared(session: Session, registry: TypeRegistry, guid: str) -> _Held | None:
    types = _holding_types(registry)
    row_ = EntityRow
    # the database skips the rows that hold no reference at all (stored references are by unique attributes)
    holding = or_(row_.relationship_attributes != "{}", row_.attributes.like('%"uniqueAttributes"%'))
    query = select(row_.guid, row_.type_name, row_.attributes, row_.relationship_attributes).where(
        row_.type_name.in_(sorted(types)), holding)
    for row in session.execute(query) if types else ():
        held = json.loads(row.relationship_attributes) if row.relationship_attributes != "{}" else {}
        attributes = None
        for name, (type_name, first) in types[row.type_name].items():
            if name in held:
                value = held[name]
            elif f'"{name}"' in row.attributes:  # a cheap test before parsing a large attribute text
                attributes = json.loads(row.attributes) if attributes is None else attributes
                value = attributes.get(name)
            else:
                continue
            for other in _ref_guids(value):
                pair = (row.guid, other) if first else (other, row.guid)
                if relationship_guid(type_name, *pair) == guid:
                    ends = store.get_entities(session, list(pair))
                    if len(ends) < 2:
                        return None  # a reference to an entity that is gone: GET entity does not list it either
                    return _held(session, registry, registry.relationship_def(type_name), ends[pair[0]], ends[pair[1]])
    return None


def _propagated(held: _Held, ends: Mapping[str, StoredEntity]) -> list[dict[str, Any]]:
    """The classifications that flow across a lineage relationship (upstream end to downstream end)."""
    if held.type_name not in LINEAGE:
        return []  # the catalog propagates tags along lineage only
    process, dataset = ends[held.end1], ends[held.end2]
    upstream, downstream = (dataset, process) if LINEAGE[held.type_name] == INPUT_EDGE else (process, dataset)
    arrived = {(c.type_name, c.source_guid) for c in downstream.classifications if c.propagated}
    return [
        {"typeName": c.type_name, "attributes": dict(c.attributes), "entityGuid": c.source_guid,
         "entityStatus": ACTIVE, "propagate": True, "removePropagationsOnEntityDelete": True}
        for c in upstream.classifications if c.propagate and (c.type_name, c.source_guid) in arrived
    ]


def _read(session: Session, registry: TypeRegistry, held: _Held) -> tuple[dict[str, Any], dict[str, StoredEntity]]:
    """``AtlasRelationship`` JSON (Atlas leaves out null fields, as here ``homeId``) and the two ends."""
    ends = store.get_entities(session, [held.end1, held.end2])
    if held.end1 not in ends or held.end2 not in ends:
        raise _not_found(held.guid)
    rdef = registry.relationship_def(held.type_name)
    end1, end2 = ends[held.end1], ends[held.end2]
    holder = max((ends[g] for g, _name in held.holders if g in ends), key=lambda e: e.updated_at, default=end1)
    body = {
        "typeName": held.type_name, "attributes": {a["name"]: None for a in rdef.get("attributeDefs") or ()},
        "guid": held.guid, "provenanceType": 0,
        **{key: {"guid": e.guid, "typeName": e.type_name, "uniqueAttributes": {"qualifiedName": e.qualified_name}}
           for key, e in (("end1", end1), ("end2", end2))},
        "label": _label(rdef), "propagateTags": rdef.get("propagateTags") or "NONE",
        "status": DELETED if DELETED in (end1.status, end2.status) else ACTIVE,
        "createdBy": holder.updated_by, "updatedBy": holder.updated_by,
        "createTime": holder.updated_at, "updateTime": holder.updated_at, "version": 0,
        "propagatedClassifications": _propagated(held, ends), "blockedPropagatedClassifications": [],
    }
    return body, ends


def get(catalog: Catalog, guid: str, *, extended_info: bool = False) -> dict[str, Any]:
    """``GET relationship/guid/{guid}``: ``AtlasRelationshipWithExtInfo`` (ends' headers with ``extended_info``)."""
    registry = catalog.registry
    with catalog.session() as session:
        body, ends = _read(session, registry, _find(session, registry, guid))
        if not extended_info:
            return {"relationship": body}
        referred = {g: entity_header(e) for g, e in ends.items()}
        sources = [c["entityGuid"] for c in body["propagatedClassifications"] if c["entityGuid"] not in referred]
        referred.update((g, entity_header(h)) for g, h in store.get_headers(session, sources).items())
    return {"relationship": body, "referredEntities": referred}


def _write(session: Session, registry: TypeRegistry, entities: Sequence[Entity], *, user: str) -> None:
    """The holders' new versions through the store's plan; the API source's own tags are kept."""
    tag = ClassificationRow
    for entity in entities:
        query = select(tag).where(tag.entity_guid == entity.guid, tag.source_guid == entity.guid, tag.origin == SOURCE)
        entity.classifications = [Classification(r.type_name, json.loads(r.attributes), r.propagate)
                                  for r in session.scalars(query)]
    try:
        plan = store.plan_upsert(session, SourceBatch(SOURCE, list(entities)), registry, user=user)
    except (EntityValidationError, ReferenceNotFound, UnknownTypeError) as exc:
        raise _crud(str(exc)) from None
    store.apply_plan(session, plan)


def _rewritten(stored: StoredEntity, name: str, other: StoredEntity | str, *, lineage: bool,
               single: bool = False) -> Entity:
    """The entity with ``other`` added to (an entity) or removed from (a guid) its end ``name``, where it keeps it."""
    entity = stored_to_entity(stored)
    held = name in entity.attributes and name not in entity.relationship_attributes
    slot = entity.attributes if lineage or held else entity.relationship_attributes
    value = slot.get(name)
    if isinstance(other, str):
        if isinstance(value, list):
            slot[name] = [v for v in value if not (isinstance(v, EntityRef) and v.guid == other)]
        elif isinstance(value, EntityRef) and value.guid == other:
            slot[name] = None
        return entity
    ref = EntityRef(other.type_name, other.qualified_name)
    slot[name] = ref if single else [*(value if isinstance(value, list) else [] if value is None else [value]), ref]
    return entity


def _holder_for_create(registry: TypeRegistry, rdef: Mapping[str, Any], end1: StoredEntity,
                       end2: StoredEntity) -> _End:
    """Which end gets the new reference; a single-valued end that refers elsewhere is refused."""
    if rdef["name"] in LINEAGE:
        return _End(end1, rdef["endDef1"]["name"], "SET", end2)
    ends = _declared_ends(registry, rdef, end1, end2)
    if not ends:
        raise _crud(f"neither {end1.type_name} nor {end2.type_name} declares an end of {rdef['name']}")
    for end in ends:
        held = _holds(end.entity, end.name)
        if end.cardinality == "SINGLE" and held and held != [end.other.guid]:
            pair = (end.entity.guid, held[0]) if end.entity is end1 else (held[0], end.entity.guid)
            raise _invalid(f"{end.name} of {end.entity.type_name} {end.entity.guid} is single-valued and already "
                           f"refers to {held[0]} (relationship {_guid_of(rdef['name'], *pair)}): delete that "
                           "relationship first")
    for end in ends:
        if end.cardinality != "SINGLE" and _holds(end.entity, end.name):
            return end
    singles = [e for e in ends if e.cardinality == "SINGLE"]
    return singles[0] if len(singles) == 1 else ends[0]


def create(catalog: Catalog, body: Any, *, user: str) -> dict[str, Any]:
    """``POST relationship``: the reference is written on the end that holds it; the new ``AtlasRelationship``."""
    request = parse(body)
    registry = catalog.registry
    with catalog.write_session() as session, session.begin():
        rdef = _relationship_def(registry, request.type_name)
        if request.end1 is None or request.end2 is None:
            raise _invalid("end1/end2 is null")
        end1, end2 = _resolve_ends(session, registry, rdef, (request.end1, request.end2))
        _check_propagation(rdef, request.propagate_tags)
        _check_attributes(rdef, request.attributes)
        held = _held(session, registry, rdef, end1, end2)
        if held.holders:
            raise AtlasApiError(409, codes.RELATIONSHIP_ALREADY_EXISTS, f"relationship {rdef['name']} already exists "
                                f"between entities {held.end1} and {held.end2} (relationship {held.guid})")
        if request.guid and refs.is_guid(request.guid) and request.guid != held.guid:
            raise _invalid(f"guid {request.guid}: the catalog's relationship guids follow the relationship type and "
                           f"its ends (this relationship's is {held.guid})")
        for end in (end1, end2):
            if end.status == DELETED:
                raise _invalid(f"{end.type_name} {end.guid} is DELETED: a relationship of a deleted entity "
                               "would read back DELETED; restore the entity first")
        holder = _holder_for_create(registry, rdef, end1, end2)
        entity = _rewritten(holder.entity, holder.name, holder.other, lineage=rdef["name"] in LINEAGE,
                            single=holder.cardinality == "SINGLE")
        _write(session, registry, [entity], user=user)
    with catalog.session() as session:
        return _read(session, registry, held._replace(holders=((holder.entity.guid, holder.name),)))[0]


def _check_same_ends(session: Session, registry: TypeRegistry, request: _Request, held: _Held) -> None:
    """Atlas's rule: an update names the relationship's own ends, or none."""
    for end, current in ((request.end1, held.end1), (request.end2, held.end2)):
        given = end.get("guid") if end is not None else None
        if end is not None and not (isinstance(given, str) and given):
            found = _by_object_id(session, registry, end)
            given = found.guid if found is not None else None
        if isinstance(given, str) and given.lower() != current:
            raise AtlasApiError(404, codes.RELATIONSHIP_UPDATE_END_CHANGE_NOT_ALLOWED, (
                f"change of relationship end is not permitted. relationship-type={held.type_name}, "
                f"relationship-guid={held.guid}, end-guid={current}, updated-end-guid={given}"))


def update(catalog: Catalog, body: Any, *, user: str) -> dict[str, Any]:
    """``PUT relationship``: Atlas's checks (guid, type, ends, propagation, attributes); the relationship.

    Nothing of a relationship can change in the catalog: asking for a change (another
    ``propagateTags``, an attribute value, another status) is refused; ``user`` is unused.
    """
    request = parse(body)
    registry = catalog.registry
    if not request.guid:
        raise _not_found("null")
    with catalog.session() as session:
        held = _find(session, registry, request.guid)
        if request.type_name and request.type_name.lower() != held.type_name.lower():
            raise AtlasApiError(404, codes.RELATIONSHIP_UPDATE_TYPE_CHANGE_NOT_ALLOWED, (
                f"change of relationship type is not permitted. relationship-guid={held.guid}, "
                f"current-type={held.type_name}, new-type={request.type_name}"))
        _check_same_ends(session, registry, request, held)
        rdef = registry.relationship_def(held.type_name)
        _check_propagation(rdef, request.propagate_tags)
        _check_attributes(rdef, request.attributes)
        current = _read(session, registry, held)[0]
    if request.propagate_tags is not None and request.propagate_tags != current["propagateTags"]:
        raise _invalid(f"propagateTags {request.propagate_tags}: the catalog propagates tags as relationship type "
                       f"{held.type_name} says ({current['propagateTags']}) and cannot change it per relationship")
    if request.status is not None and request.status != current["status"]:
        raise _invalid(f"status {request.status}: an update does not change a relationship's status (relationship "
                       f"{held.guid} is {current['status']}); DELETE relationship/guid/{held.guid} deletes it")
    return current


def delete(catalog: Catalog, guid: str, *, user: str) -> None:
    """``DELETE relationship/guid/{guid}``: the reference is removed from every end that holds it."""
    registry = catalog.registry
    with catalog.write_session() as session, session.begin():
        held = _find(session, registry, guid)
        ends = store.get_entities(session, [held.end1, held.end2])
        if any(e.status == DELETED for e in ends.values()):
            raise AtlasApiError(404, codes.RELATIONSHIP_ALREADY_DELETED,
                                f"Attempting to delete a relationship which is already deleted : {held.guid}")
        entities = [_rewritten(ends[g], name, held.end2 if g == held.end1 else held.end1,
                               lineage=held.type_name in LINEAGE) for g, name in held.holders]
        _write(session, registry, entities, user=user)
