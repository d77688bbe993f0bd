"""The one Atlas JSON serialiser, both directions: entities, references, lineage, typedefs.

Every Atlas-shaped JSON the catalog emits (REST API, CLI ``--json``, the push to a
real Atlas) comes from these functions, and every Atlas JSON it reads (the v2 API's
writes, Atlas hook messages) goes back through them, so the shapes cannot drift
apart. Bottom layer: imports only ``catalog.model``, ``catalog.canonical``,
``catalog.errors`` (and the type registry, for typedefs).

Shapes (Atlas's own names): ``AtlasObjectId``, ``AtlasEntity``, ``AtlasEntityHeader``,
``AtlasEntityWithExtInfo``, ``AtlasEntitiesWithExtInfo``, ``AtlasLineageInfo``,
``AtlasTypesDef``.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Iterable, Mapping
from typing import TYPE_CHECKING, Any

import orjson

from catalog.canonical import canonical_encoder, canonical_json, digest
from catalog.errors import EntityValidationError
from catalog.model import (
    ACTIVE,
    HEADER_ATTRIBUTES,
    Classification,
    Entity,
    EntityHeader,
    EntityRef,
    LineageGraph,
    StoredEntity,
)

if TYPE_CHECKING:
    from catalog.types.registry import TypeRegistry

__all__ = [
    "object_id",
    "attributes_to_atlas",
    "ref_from_atlas",
    "attributes_from_atlas",
    "entity_to_atlas",
    "entity_from_atlas",
    "entities_from_atlas",
    "attributes_json",
    "attributes_encoder",
    "tags_json",
    "classification_texts",
    "content_digest",
    "incoming_digest",
    "incoming_digests",
    "stored_entity_to_atlas",
    "entity_with_ext_info",
    "entities_with_ext_info",
    "stored_to_entity",
    "entity_header",
    "header_json",
    "lineage_to_atlas",
    "typesdef_to_atlas",
]

#: Resolves an ``AtlasObjectId`` given by guid only (the store knows guids; JSON does not).
GuidResolver = Callable[[str], "EntityRef | None"]

# HEADER_ATTRIBUTES (what an AtlasEntityHeader carries) lives in catalog.model: the store's
# header reader (catalog.store.queries.get_headers) reads exactly those.


def object_id(ref: EntityRef) -> dict[str, Any]:
    """Atlas ``AtlasObjectId`` by unique attribute (how Atlas refers to entities it may not have)."""
    return {"typeName": ref.type_name, "uniqueAttributes": {"qualifiedName": ref.qualified_name}}


def _to_atlas(value: Any) -> Any:
    if isinstance(value, EntityRef):
        return object_id(value)
    if isinstance(value, Mapping):
        return {str(k): _to_atlas(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_to_atlas(v) for v in value]
    if isinstance(value, (set, frozenset)):
        return [_to_atlas(v) for v in sorted(value, key=str)]
    return value


def attributes_to_atlas(attributes: Mapping[str, Any]) -> dict[str, Any]:
    return {k: _to_atlas(v) for k, v in attributes.items()}


#: The keys of an ``AtlasObjectId``, and what Atlas's related objects (``AtlasRelatedObjectId``,
#: as GET answers them) add: a client may send either back.
_OBJECT_ID_KEYS = frozenset({"guid", "typeName", "uniqueAttributes"})
_RELATED_KEYS = _OBJECT_ID_KEYS | {"entityStatus", "displayText", "relationshipType", "relationshipGuid",
                                   "relationshipStatus", "relationshipAttributes", "qualifiedName"}


def ref_from_atlas(value: Any, by_guid: GuidResolver | None = None) -> EntityRef | None:
    """An ``AtlasObjectId`` (or a related object as GET answers it) back to an ``EntityRef``; else None.

    By unique attributes (``typeName`` + ``uniqueAttributes.qualifiedName``), or by
    ``guid`` when ``by_guid`` can resolve it (Atlas clients send either form). A struct
    value (``typeName`` + ``attributes``) is not a reference.
    """
    if type(value) is not dict and not isinstance(value, Mapping):  # the dict check first: it is the usual case
        return None
    unique = value.get("uniqueAttributes")
    if unique is not None and "typeName" in value and isinstance(unique, Mapping) and "qualifiedName" in unique:
        return EntityRef(str(value["typeName"]), str(unique["qualifiedName"]))
    guid = value.get("guid")
    if by_guid is not None and isinstance(guid, str) and _RELATED_KEYS.issuperset(value):
        return by_guid(guid)
    return None


#: The types of the values ``_from_atlas`` returns as they are (most attribute values): tested
#: inline, a call per value costs more than the test.
_PLAIN = frozenset({str, int, float, bool, type(None)})


def _from_atlas(value: Any, by_guid: GuidResolver | None) -> Any:
    kind = type(value)
    if kind in _PLAIN:
        return value
    if kind is list:
        return [v if type(v) in _PLAIN else _from_atlas(v, by_guid) for v in value]
    ref = ref_from_atlas(value, by_guid)
    return value if ref is None else ref


def attributes_from_atlas(attributes: Mapping[str, Any], by_guid: GuidResolver | None = None) -> dict[str, Any]:
    """Atlas attribute JSON to ingest values: object ids (alone or in lists) become ``EntityRef``."""
    plain = _PLAIN
    return {k: v if type(v) in plain else _from_atlas(v, by_guid) for k, v in attributes.items()}


def _classification_json(type_name: str, entity_guid: str, attributes: Mapping[str, Any], propagate: bool) -> dict:
    return {
        "typeName": type_name,
        "attributes": dict(attributes),
        "entityGuid": entity_guid,
        "entityStatus": "ACTIVE",
        "propagate": propagate,
        "removePropagationsOnEntityDelete": True,
    }


def entity_to_atlas(entity: Entity) -> dict[str, Any]:
    """An ingest ``Entity`` as Atlas ``AtlasEntity`` JSON (the body a real Atlas accepts)."""
    attributes = attributes_to_atlas(entity.attributes)
    attributes["qualifiedName"] = entity.qualified_name
    body: dict[str, Any] = {
        "typeName": entity.type_name,
        "guid": entity.guid,
        "attributes": attributes,
        "status": entity.status,
    }
    if entity.relationship_attributes:
        body["relationshipAttributes"] = attributes_to_atlas(entity.relationship_attributes)
    if entity.classifications:
        body["classifications"] = [
            _classification_json(c.type_name, entity.guid, c.attributes, c.propagate) for c in entity.classifications
        ]
    return body


def _mapping(value: Any, what: str) -> Mapping[str, Any]:
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise EntityValidationError(f"{what}: expected a JSON object, got {type(value).__name__}")
    return value


def _classification_from_atlas(body: Any, where: str) -> Classification:
    if not isinstance(body, Mapping) or not isinstance(body.get("typeName"), str):
        raise EntityValidationError(f"{where}: expected an AtlasClassification with a string 'typeName'")
    propagate = body.get("propagate")
    propagate = True if propagate is None else propagate  # Atlas's clients send null for "not set"
    if not isinstance(propagate, bool):
        raise EntityValidationError(f"{where}.propagate: expected true or false, got {propagate!r}")
    return Classification(body["typeName"], dict(_mapping(body.get("attributes"), f"{where}.attributes")), propagate)


def entity_from_atlas(body: Mapping[str, Any], by_guid: GuidResolver | None = None) -> Entity:
    """Atlas ``AtlasEntity`` JSON to an ingest ``Entity``; raises ``EntityValidationError`` naming the field."""
    body = _mapping(body, "entity")
    type_name = body.get("typeName")
    if not isinstance(type_name, str) or not type_name:
        raise EntityValidationError("entity.typeName: expected a type name (string)")
    attributes = _mapping(body.get("attributes"), f"{type_name} entity.attributes")
    qualified_name = attributes.get("qualifiedName")
    if not isinstance(qualified_name, str) or not qualified_name:
        raise EntityValidationError(f"{type_name} entity.attributes.qualifiedName: expected a non-empty string")
    status = body.get("status") or ACTIVE
    if status not in ("ACTIVE", "DELETED"):
        raise EntityValidationError(f"{type_name} entity.status: expected ACTIVE or DELETED, got {status!r}")
    tags = body.get("classifications") or []
    if not isinstance(tags, list):
        raise EntityValidationError(f"{type_name} entity.classifications: expected a list")
    plain = _PLAIN
    return Entity(
        type_name=type_name,
        qualified_name=qualified_name,
        # (one pass: the body's attributes but qualifiedName, converted; the body is not changed)
        attributes={k: v if type(v) in plain else _from_atlas(v, by_guid)
                    for k, v in attributes.items() if k != "qualifiedName"},
        relationship_attributes=attributes_from_atlas(
            _mapping(body.get("relationshipAttributes"), f"{type_name} entity.relationshipAttributes"), by_guid
        ),
        classifications=[
            _classification_from_atlas(c, f"{type_name} entity.classifications[{i}]") for i, c in enumerate(tags)
        ],
        status=status,
    )


def entities_from_atlas(body: Mapping[str, Any], by_guid: GuidResolver | None = None) -> list[Entity]:
    """``AtlasEntityWithExtInfo`` or ``AtlasEntitiesWithExtInfo`` to entities (referred ones included)."""
    body = _mapping(body, "request body")
    if "entity" in body:
        main = [body["entity"]]
    else:
        main = body.get("entities")
        if not isinstance(main, list):
            raise EntityValidationError("request body: expected 'entity' (an object) or 'entities' (a list)")
    referred = list(_mapping(body.get("referredEntities"), "referredEntities").values())
    return [entity_from_atlas(e, by_guid) for e in [*referred, *main]]


def _atlas_default(value: Any) -> Any:
    if isinstance(value, EntityRef):
        return object_id(value)
    if isinstance(value, (set, frozenset)):
        return sorted(value, key=str)
    if isinstance(value, Mapping):
        return dict(value)
    return str(value)


def attributes_encoder(refs: list[EntityRef]) -> Callable[[Mapping[str, Any]], str]:
    """``attributes_json`` with ``refs`` bound, set up once for the many entities of one ingest.

    ``json.dumps`` with a ``default`` builds a new encoder per call: 0.3-0.4 of the 1.2-1.5 s
    (CPU) a first ingest of 100k entities spent on their attribute and relationship texts.
    One task at a time (see ``canonical.canonical_encoder``).
    """
    def default(value: Any) -> Any:
        if isinstance(value, EntityRef):
            refs.append(value)
        return _atlas_default(value)

    encode = canonical_encoder(default)

    def attributes_text(attributes: Mapping[str, Any]) -> str:
        return encode(attributes) if attributes else "{}"
    return attributes_text


def attributes_json(attributes: Mapping[str, Any], refs: list[EntityRef] | None = None) -> str:
    """Canonical Atlas JSON text of attributes (references as ``AtlasObjectId``), in one encoder pass.

    The same text as ``canonical_json(attributes_to_atlas(attributes))``, without building
    the converted copy: the store keeps exactly this text. ``refs`` collects every
    reference met on the way (the store checks they exist).
    """
    return attributes_encoder([] if refs is None else refs)(attributes)


def tags_json(tags: Mapping[str, tuple[bool, str]]) -> str:
    """Canonical text of direct classifications: ``[[typeName, propagate, attributesJson], ...]``."""
    if not tags:
        return "[]"
    return canonical_json(sorted([name, propagate, attrs] for name, (propagate, attrs) in tags.items()))


def content_digest(type_name: str, qualified_name: str, attrs: str, rels: str, tags: str, status: str) -> str:
    """Digest of everything an entity holds; equal digests mean equal entities."""
    return digest("\x1f".join((type_name, qualified_name, attrs, rels, tags, status)))


def classification_texts(entity: Entity) -> dict[str, tuple[bool, str]]:
    """Direct classifications by name: (propagate, canonical attributes text)."""
    return {c.type_name: (c.propagate, canonical_json(dict(c.attributes))) for c in entity.classifications}


#: Bumped when what ``incoming_digest`` covers changes (an old digest then never matches).
_INCOMING_FORM = "v2"

#: What orjson hands to ``_incoming_default`` instead of writing it its own way: dataclasses
#: (an ``EntityRef`` is one; so is any other a Python source might put in), datetimes and
#: subclasses of str, int, dict and list.
_INCOMING_OPTIONS = orjson.OPT_PASSTHROUGH_DATACLASS | orjson.OPT_PASSTHROUGH_DATETIME | orjson.OPT_PASSTHROUGH_SUBCLASS


def _incoming_default(value: Any) -> orjson.Fragment:
    """An ``EntityRef`` as ``@["type","qualifiedName"]``: text no plain value writes; anything else raises."""
    if type(value) is EntityRef:
        return orjson.Fragment(b"@" + orjson.dumps((value.type_name, value.qualified_name)))
    raise TypeError(type(value).__name__)


def incoming_digest(entity: Entity) -> str:
    """Digest of an entity exactly as its source emitted it (before merge, validation, conversion).

    Stored with the entity for the source that wrote it: an entity whose source sends
    the same digest again is skipped with no further work. The same values in the same
    order give the same digest; anything else (another order, a set) gives another
    digest, which costs a full comparison, never a wrong skip (but see the limit below).

    The text digested is orjson's (C speed, 1.7x faster than ``repr`` on the bench's
    entities; docs/performance.md): JSON in which a reference is written as
    ``@[type, qualifiedName]``, which no plain value can write. Where JSON would write two
    different values alike, the entity is digested by its ``repr`` instead (a tuple's, which
    starts with ``(`` where the JSON starts with ``[``: the two forms never meet): when the
    text holds ``null`` (None and NaN both write it; so does a string with "null" in it,
    which only costs the slower form), or a value orjson does not
    write (a datetime, a subclass of a plain type, a big int, a string with surrogates,
    any other object). Values orjson writes as a plain value digest like that value: a
    tuple like a list (validation and the store treat them alike), and, a known limit, an
    ``Enum`` member like its value, a ``uuid.UUID`` like its string, an ``orjson.Fragment``
    like its text. None of the catalog's sources (YAML, JSON bodies, MLflow) can produce
    those; a Python caller that sends one where it sent the plain value before gets a skip
    (the stored row, from the plain value, stays as it was) instead of validation's
    refusal. Finding them would take a Python step per value, what this form avoids.
    """
    return incoming_digests({"": entity})[""]


def incoming_digests(entities: Mapping[str, Entity]) -> dict[str, str]:
    """``incoming_digest`` of each entity, by the same keys (one loop: a re-ingest digests 100k)."""
    dumps, sha256, default, options, form = orjson.dumps, hashlib.sha256, _incoming_default, _INCOMING_OPTIONS, _INCOMING_FORM
    digests = {}
    for key, entity in entities.items():
        head = (form, entity.type_name, entity.qualified_name, entity.status, entity.attributes,
                entity.relationship_attributes)
        classifications = entity.classifications
        tags = [(c.type_name, c.attributes, c.propagate) for c in classifications] if classifications else ()
        try:
            text = dumps((*head, tags), default=default, option=options)
        except TypeError:  # orjson.JSONEncodeError is one
            text = b"null"
        if b"null" in text:
            text = repr((*head, classifications)).encode("utf-8", "surrogatepass")
        digests[key] = sha256(text).hexdigest()
    return digests


def stored_to_entity(entity: StoredEntity) -> Entity:
    """A stored entity back to an ingest ``Entity`` (attributes and relationships, no tags).

    Classifications are left out: an upsert replaces only the direct tags of its own
    source, so re-emitting an entity this way never removes another source's tags.
    """
    return Entity(
        type_name=entity.type_name,
        qualified_name=entity.qualified_name,
        attributes=attributes_from_atlas(entity.attributes),
        relationship_attributes=attributes_from_atlas(entity.relationship_attributes),
        status=entity.status,
    )


def stored_entity_to_atlas(entity: StoredEntity) -> dict[str, Any]:
    """A stored entity as Atlas ``AtlasEntity`` JSON, with audit fields and classifications."""
    attributes = dict(entity.attributes)
    attributes["qualifiedName"] = entity.qualified_name
    return {
        "typeName": entity.type_name,
        "guid": entity.guid,
        "status": entity.status,
        "version": entity.version,
        "createdBy": entity.created_by,
        "updatedBy": entity.updated_by,
        "createTime": entity.created_at,
        "updateTime": entity.updated_at,
        "attributes": attributes,
        "relationshipAttributes": dict(entity.relationship_attributes),
        "classifications": [
            {
                **_classification_json(c.type_name, c.source_guid, c.attributes, c.propagate),
                "entityGuid": c.source_guid,
            }
            for c in entity.classifications
        ],
        "labels": [],
    }


def entity_with_ext_info(entity: StoredEntity, referred: Iterable[StoredEntity] = ()) -> dict[str, Any]:
    """``AtlasEntityWithExtInfo``: the entity and the entities it refers to, by guid."""
    return {"entity": stored_entity_to_atlas(entity), "referredEntities": _referred(referred)}


def entities_with_ext_info(entities: Iterable[StoredEntity], referred: Iterable[StoredEntity] = ()) -> dict[str, Any]:
    """``AtlasEntitiesWithExtInfo``: several entities and those they refer to."""
    return {"entities": [stored_entity_to_atlas(e) for e in entities], "referredEntities": _referred(referred)}


def _referred(entities: Iterable[StoredEntity]) -> dict[str, Any]:
    return {e.guid: stored_entity_to_atlas(e) for e in entities}


def typesdef_to_atlas(registry: TypeRegistry) -> dict[str, list[dict[str, Any]]]:
    """Every typedef the registry holds, as one ``AtlasTypesDef``."""
    return registry.to_typesdef()


def entity_header(entity: StoredEntity | EntityHeader) -> dict[str, Any]:
    """Atlas ``AtlasEntityHeader``: what lineage and search answers carry per entity.

    The same JSON for an ``EntityHeader`` (what ``store.lineage`` reads) as for the
    ``StoredEntity`` of the same entity.
    """
    attributes = entity.attributes
    return header_json(entity.guid, entity.type_name, entity.qualified_name, entity.status,
                       {k: attributes[k] for k in HEADER_ATTRIBUTES if k in attributes},
                       {c.type_name for c in entity.classifications})


def header_json(guid: str, type_name: str, qualified_name: str, status: str, attributes: dict[str, Any],
                classification_names: Iterable[str]) -> dict[str, Any]:
    """``AtlasEntityHeader`` from its parts: ``attributes`` are the ``HEADER_ATTRIBUTES`` the entity
    has (``qualifiedName`` is set here; the dict is used as it is).

    ``entity_header``'s body, for writers that hold the parts but no ``StoredEntity`` or
    ``EntityHeader`` (the answer to a 1,000-entity ``entity/bulk``).
    """
    attributes["qualifiedName"] = qualified_name
    return {
        "typeName": type_name,
        "attributes": attributes,
        "guid": guid,
        "status": status,
        "displayText": str(attributes.get("name") or qualified_name),
        "classificationNames": sorted(set(classification_names)),
        "meaningNames": [],
        "meanings": [],
        "isIncomplete": False,
        "labels": [],
    }


def lineage_to_atlas(graph: LineageGraph) -> dict[str, Any]:
    """``AtlasLineageInfo`` JSON, as ``GET /api/atlas/v2/lineage/{guid}`` returns it."""
    return {
        "baseEntityGuid": graph.base_guid,
        "lineageDirection": graph.direction,
        "lineageDepth": graph.depth,
        "guidEntityMap": {guid: entity_header(e) for guid, e in graph.entities.items()},
        "relations": [
            {"fromEntityId": r.from_guid, "toEntityId": r.to_guid, "relationshipId": r.relationship_guid}
            for r in graph.relations
        ],
        "relationsOnDemand": {},
    }
