"""Atlas hook notifications (what hooks send to the ``ATLAS_HOOK`` topic), applied to the catalog.

A request holds one message or a list, each bare (``HookNotification``) or enveloped
(``AtlasNotificationMessage``), or a JSON string of one (Atlas's REST notification client).
As Atlas's hook consumer applies them: ``ENTITY_CREATE_V2`` / ``ENTITY_FULL_UPDATE_V2``
upsert ``entities`` (AtlasEntitiesWithExtInfo); ``ENTITY_PARTIAL_UPDATE_V2`` merges
``entity`` into the stored ``entityId``; ``ENTITY_DELETE_V2`` soft-deletes ``entities``
(AtlasObjectIds; one not in the catalog is skipped). The V1 forms (``ENTITY_CREATE``,
``ENTITY_FULL_UPDATE``: v1 Referenceables; ``ENTITY_PARTIAL_UPDATE``, ``ENTITY_DELETE``:
``typeName`` + ``attribute`` + ``attributeValue``) become V2 first, as Atlas's
``AtlasInstanceConverter`` does: an ``Id`` an AtlasObjectId by guid, a nested Referenceable
with values a referred entity, a ``Struct`` an AtlasStruct, ``traits`` classifications.

All messages of a request are applied in one transaction (one fails: nothing is written,
the error names ``messages[i]`` and the field), under the source ``atlas-hook``, by
``audit_user``. As in Atlas, attributes a type does not define are ignored (listed in
``HookOutcome.ignored``) and enum values match in any case.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from sqlalchemy.orm import Session

from catalog import refs, store
from catalog.embedded.entities import Mutation, upsert_in
from catalog.embedded.errors import TYPE_NAME_NOT_FOUND, AtlasApiError, guid_not_found, unique_not_found
from catalog.model import DELETED, EntityRef, StoredEntity, guid_for

if TYPE_CHECKING:
    from catalog.service import Catalog
    from catalog.types.registry import TypeRegistry

__all__ = ["HOOK_SOURCE", "BAD_REQUEST", "HookMessage", "HookOutcome", "read_messages", "apply_messages",
           "audit_user", "merged_mutation", "v1_entities", "v1_partial_update", "v1_unique_id"]

HOOK_SOURCE = "atlas-hook"
#: Atlas's ``BAD_REQUEST`` ("{0}"): what a malformed message is answered with.
BAD_REQUEST = "ATLAS-400-00-029"
#: The newest envelope version understood (Atlas's ``MessageVersion.CURRENT_VERSION``, 1.0.0).
CURRENT_VERSION = (1,)
MAX_MESSAGES = 1000
#: Deeper JSON is refused before any conversion (the converters recurse); longer names than the store holds too.
MAX_DEPTH, MAX_NAME_CHARS, MAX_USER_CHARS = 64, 2048, 128

V2_TYPES = ("ENTITY_CREATE_V2", "ENTITY_FULL_UPDATE_V2", "ENTITY_PARTIAL_UPDATE_V2", "ENTITY_DELETE_V2")
V1_TYPES = ("ENTITY_CREATE", "ENTITY_FULL_UPDATE", "ENTITY_PARTIAL_UPDATE", "ENTITY_DELETE")
#: Atlas message types that are not entity changes: refused with what to do instead.
_REFUSED = {**dict.fromkeys(("TYPE_CREATE", "TYPE_UPDATE"), "type definitions are not read from hook messages"),
            **dict.fromkeys(("IMPORT_TYPES_DEF", "IMPORT_ENTITY"), "imports are not read from hook messages")}
_V1_CLASS = "org.apache.atlas.typesystem.json.InstanceSerialization$_"
V1_REFERENCE, V1_ID, V1_STRUCT = _V1_CLASS + "Reference", _V1_CLASS + "Id", _V1_CLASS + "Struct"


def bad(where: str, message: str) -> AtlasApiError:
    return AtlasApiError(400, BAD_REQUEST, f"{where}: {message}")


def _mapping(value: Any, where: str, expected: str) -> Mapping[str, Any]:
    """``value`` as an object (None as an empty one); else 400 naming the field."""
    if value is not None and not isinstance(value, Mapping):
        raise bad(where, f"expected {expected}")
    return value or {}


@dataclass(frozen=True)
class HookMessage:
    """One hook message of a request: where it was, its type, its user, its body."""

    index: int
    type: str
    user: str | None
    body: Mapping[str, Any]

    @property
    def where(self) -> str:
        return f"messages[{self.index}]"


@dataclass
class HookOutcome:
    """What each message changed, in order (``merged_mutation`` folds them into one)."""

    mutations: list[tuple[HookMessage, Mutation]] = field(default_factory=list)
    #: Per message: the attributes ignored because their type does not define them (``type.attribute``).
    ignored: list[list[str]] = field(default_factory=list)


def audit_user(message_user: str | None, caller: str) -> str:
    """The user audits record: the caller, and the hook's user when the message names another.

    A message's ``user`` is what the hook says (Atlas takes it as the request's user: its
    Kafka topic is trusted); here the caller is authenticated and vouches for the message,
    so both are kept: ``hive via steward``.
    """
    if not message_user or message_user == caller:
        return caller
    return f"{message_user} via {caller}"


# -- reading the request ---------------------------------------------------------------------


def _check_depth(value: Any, where: str) -> None:
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if depth > MAX_DEPTH:
            raise bad(where, f"JSON nested deeper than {MAX_DEPTH} levels")
        if isinstance(item, Mapping):
            stack.extend((v, depth + 1) for v in item.values())
        elif isinstance(item, list):
            stack.extend((v, depth + 1) for v in item)


def _version(value: Any, where: str) -> None:
    text = value.get("version") if isinstance(value, Mapping) else value
    if not isinstance(text, str):
        raise bad(f"{where}.version", "expected {\"version\": \"1.0.0\", ...} (Atlas's MessageVersion)")
    try:
        parts = [int(p) for p in text.split(".")]
    except ValueError:
        raise bad(f"{where}.version", f"invalid version string {text[:40]!r}") from None
    while parts and parts[-1] == 0:
        parts.pop()
    if tuple(parts) > CURRENT_VERSION:
        raise bad(f"{where}.version", f"message version {text[:40]} is newer than the supported 1.0.0")


def _unwrap(item: Mapping[str, Any], where: str) -> Mapping[str, Any]:
    """The message of an envelope; a bare message as it is (Atlas: no ``version``, no envelope)."""
    if item.get("version") is None:
        return item
    _version(item["version"], where)
    kind = item.get("msgCompressionKind", "NONE")
    if kind not in (None, "NONE"):
        raise bad(f"{where}.msgCompressionKind", f"compressed messages ({str(kind)[:20]}) are not accepted: "
                  "send them uncompressed (atlas.notification.message.compression.enabled=false on the hook)")
    count = item.get("msgSplitCount", 1)
    if count is not None and (not isinstance(count, int) or isinstance(count, bool)):
        raise bad(f"{where}.msgSplitCount", f"expected an integer, got {type(count).__name__}")
    if count is not None and count > 1:
        raise bad(f"{where}.msgSplitCount", f"split messages ({count} parts) are not accepted: "
                  "post the whole message in one request")
    created = item.get("msgCreationTime")
    if created is not None and (not isinstance(created, int) or isinstance(created, bool)):
        raise bad(f"{where}.msgCreationTime", f"expected epoch milliseconds, got {type(created).__name__}")
    message = item.get("message")
    if not isinstance(message, Mapping):
        raise bad(f"{where}.message", "expected the hook message object in the envelope")
    return message


def _message(item: Any, index: int) -> HookMessage:
    where = f"messages[{index}]"
    if isinstance(item, str):  # Atlas's REST notification client sends each message as a JSON string
        try:
            item = json.loads(item)
        except (ValueError, RecursionError):
            raise bad(where, "a string message must hold a JSON message object") from None
    if not isinstance(item, Mapping):
        raise bad(where, f"expected a hook message object, got {type(item).__name__}")
    _check_depth(item, where)
    message = _unwrap(item, where)
    kind = message.get("type")
    if not isinstance(kind, str) or not kind:
        raise bad(f"{where}.type", f"required: the message type ({', '.join(V2_TYPES + V1_TYPES)})")
    if kind in _REFUSED:
        raise bad(f"{where}.type", f"{kind} is not accepted: {_REFUSED[kind]}")
    if kind not in V2_TYPES + V1_TYPES:
        raise bad(f"{where}.type", f"unknown message type {kind[:60]!r} (expected one of "
                  f"{', '.join(V2_TYPES + V1_TYPES)})")
    user = message.get("user")
    if user is not None and not isinstance(user, str):
        raise bad(f"{where}.user", f"expected a user name (string), got {type(user).__name__}")
    if user is not None and len(user) > MAX_USER_CHARS:
        raise bad(f"{where}.user", f"longer than {MAX_USER_CHARS} characters")
    return HookMessage(index, kind, user or None, message)


def read_messages(body: Any) -> list[HookMessage]:
    """The messages of a request body (one message or a list); ``AtlasApiError`` 400 naming the field."""
    items = body if isinstance(body, list) else [body]
    if not items:
        raise bad("request body", "an empty list: expected one or more hook messages")
    if len(items) > MAX_MESSAGES:
        raise bad("request body", f"{len(items)} messages: at most {MAX_MESSAGES} per request")
    return [_message(item, i) for i, item in enumerate(items)]


# -- applying them ----------------------------------------------------------------------------


def apply_messages(catalog: Catalog, messages: Sequence[HookMessage], *, caller: str) -> HookOutcome:
    """Apply every message in one transaction, all or nothing; errors name the message."""
    outcome = HookOutcome()
    registry = catalog.registry
    with catalog.write_session() as session, session.begin():
        for message in messages:
            user = audit_user(message.user, caller)
            ignored: list[str] = []
            try:
                mutation = _apply(session, registry, message, user, ignored)
            except AtlasApiError as exc:  # name the message (the field, when the error does not yet)
                text = exc.message if exc.message.startswith(message.where) else (
                    f"{message.where} ({message.type}): {exc.message}")
                raise AtlasApiError(exc.status, exc.code, text) from None
            outcome.mutations.append((message, mutation))
            outcome.ignored.append(ignored)
    return outcome


def _apply(session: Session, registry: TypeRegistry, message: HookMessage, user: str, ignored: list[str]) -> Mutation:
    body, where, kind = message.body, message.where, message.type
    if kind in ("ENTITY_CREATE", "ENTITY_FULL_UPDATE"):
        kind, body = "ENTITY_CREATE_V2", {"entities": v1_entities(body.get("entities"), f"{where}.entities")}
    elif kind == "ENTITY_PARTIAL_UPDATE":
        kind, body = "ENTITY_PARTIAL_UPDATE_V2", v1_partial_update(body, where)
    elif kind == "ENTITY_DELETE":
        kind, body = "ENTITY_DELETE_V2", {"entities": [v1_unique_id(body, where)]}
    if kind in ("ENTITY_CREATE_V2", "ENTITY_FULL_UPDATE_V2"):
        entities = body.get("entities")
        if not isinstance(entities, Mapping):
            raise bad(f"{where}.entities", "expected an AtlasEntitiesWithExtInfo object ({\"entities\": [...]})")
        return upsert_in(session, registry, _prepared(entities, registry, f"{where}.entities", ignored), user=user,
                         source=HOOK_SOURCE)
    if kind == "ENTITY_PARTIAL_UPDATE_V2":
        return _partial_update(session, registry, body, where, user, ignored)
    return _delete(session, registry, body.get("entities"), f"{where}.entities", user)


def _prepared(body: Mapping[str, Any], registry: TypeRegistry, where: str, ignored: list[str]) -> dict[str, Any]:
    """The request without the attributes its entities' types do not define, names checked for size.

    Atlas ignores attributes its types lack (hooks of newer versions send more, e.g.
    ``managedLocation`` on a hive_db); so does this, listing each in ``ignored``.
    """
    out = dict(body)
    if isinstance(body.get("entities"), list):
        out["entities"] = [_prepared_entity(e, registry, f"{where}.entities[{i}]", ignored)
                           for i, e in enumerate(body["entities"])]
    if isinstance(body.get("entity"), Mapping):
        out["entity"] = _prepared_entity(body["entity"], registry, f"{where}.entity", ignored)
    if isinstance(body.get("referredEntities"), Mapping):
        out["referredEntities"] = {k: _prepared_entity(e, registry, f"{where}.referredEntities.{k}", ignored)
                                   for k, e in body["referredEntities"].items()}
    return out


def _prepared_entity(raw: Any, registry: TypeRegistry, where: str, ignored: list[str]) -> Any:
    if not isinstance(raw, Mapping):
        return raw
    type_name, attributes = raw.get("typeName"), raw.get("attributes")
    if isinstance(type_name, str) and len(type_name) > 255:
        raise bad(f"{where}.typeName", "longer than 255 characters")
    for key in ("qualifiedName", "name"):
        value = attributes.get(key) if isinstance(attributes, Mapping) else None
        if isinstance(value, str) and len(value) > MAX_NAME_CHARS:
            raise bad(f"{where}.attributes.{key}", f"longer than {MAX_NAME_CHARS} characters")
    if not isinstance(type_name, str) or not registry.has_entity_type(type_name):
        return raw
    defs, ends = registry.all_attributes(type_name), set(registry.relationship_ends(type_name))
    known = {"attributes": set(defs) | ends | {"qualifiedName"}, "relationshipAttributes": ends}
    out = dict(raw)
    for section, names in known.items():
        values = raw.get(section)
        if isinstance(values, Mapping) and not set(values) <= names:
            ignored.extend(f"{type_name}.{k}" for k in values if k not in names and f"{type_name}.{k}" not in ignored)
            out[section] = {k: v for k, v in values.items() if k in names}
    if isinstance(out.get("attributes"), Mapping):
        out["attributes"] = {k: _enum_value(registry, defs[k]["typeName"], v) if k in defs and isinstance(v, str)
                             else v for k, v in out["attributes"].items()}
    return out


def _enum_value(registry: TypeRegistry, type_name: str, value: str) -> str:
    """Atlas matches an enum value in any case and keeps the defined spelling (``Managed`` -> ``MANAGED``)."""
    if registry.section_of(type_name) != "enumDefs":
        return value
    spelled = {str(e.get("value")).lower(): e.get("value") for e in registry.typedef(type_name).get("elementDefs", ())}
    return spelled.get(value.lower(), value)


def _find(session: Session, registry: TypeRegistry, object_id: Any, where: str) -> tuple[StoredEntity | None, str]:
    """The stored entity an ``AtlasObjectId`` names (by unique attributes or guid), and how it was named."""
    if not isinstance(object_id, Mapping):
        raise bad(where, "expected an AtlasObjectId (typeName and uniqueAttributes.qualifiedName, or a guid)")
    type_name, unique, guid = object_id.get("typeName"), object_id.get("uniqueAttributes"), object_id.get("guid")
    if isinstance(unique, Mapping) and unique:
        qualified_name = unique.get("qualifiedName")
        if not isinstance(qualified_name, str) or not qualified_name:
            raise bad(f"{where}.uniqueAttributes", "only qualifiedName identifies entities here: expected "
                      "{\"qualifiedName\": \"...\"}")
        if not isinstance(type_name, str) or not type_name:
            raise bad(f"{where}.typeName", "required with uniqueAttributes")
        if not registry.has_entity_type(type_name):
            raise AtlasApiError(400, TYPE_NAME_NOT_FOUND, f"Type ENTITY with name {type_name} does not exist")
        found = store.get_entity(session, guid_for(type_name, qualified_name))
        if found is None:
            candidates = store.find_by_qualified_name(session, qualified_name, registry.subtypes(type_name))
            found = candidates[0] if len(candidates) == 1 else None
        return found, f"{type_name} '{qualified_name}'"
    if isinstance(guid, str) and guid:
        found = store.get_entity(session, guid.lower()) if refs.is_guid(guid.lower()) else None
        return found, f"guid {guid}"
    raise bad(where, "expected typeName and uniqueAttributes.qualifiedName, or a guid")


def _partial_update(session: Session, registry: TypeRegistry, body: Mapping[str, Any], where: str, user: str,
                    ignored: list[str]) -> Mutation:
    target, named = _find(session, registry, body.get("entityId"), f"{where}.entityId")
    if target is None:
        object_id = body["entityId"]
        unique = object_id.get("uniqueAttributes") or {}
        if unique:
            raise unique_not_found(str(object_id.get("typeName")), str(unique.get("qualifiedName")))
        raise guid_not_found(str(object_id.get("guid")))
    wrapper = body.get("entity")
    if not isinstance(wrapper, Mapping) or not isinstance(wrapper.get("entity"), Mapping):
        raise bad(f"{where}.entity", "expected an AtlasEntityWithExtInfo object ({\"entity\": {...}})")
    entity = dict(wrapper["entity"])
    attributes = _mapping(entity.get("attributes"), f"{where}.entity.entity.attributes", "an object")
    type_name = entity.get("typeName") or target.type_name
    qualified_name = attributes.get("qualifiedName") or target.qualified_name
    if (type_name, qualified_name) != (target.type_name, target.qualified_name):
        raise bad(f"{where}.entity.entity", f"names {type_name} '{qualified_name}' but entityId is {named} "
                  f"({target.type_name} '{target.qualified_name}'): renaming is not supported, the catalog's guids "
                  "follow typeName and qualifiedName")
    if not entity.get("guid"):  # a temporary guid stays: referred entities may refer to it
        entity["guid"] = target.guid
    entity.update(typeName=type_name, attributes={**attributes, "qualifiedName": qualified_name})
    request = _prepared({**wrapper, "entity": entity}, registry, f"{where}.entity", ignored)
    return upsert_in(session, registry, request, user=user, source=HOOK_SOURCE, partial=True,
                     must_exist=EntityRef(target.type_name, target.qualified_name))


def _delete(session: Session, registry: TypeRegistry, object_ids: Any, where: str, user: str) -> Mutation:
    if not isinstance(object_ids, list):
        raise bad(where, "expected a list of AtlasObjectIds")
    mutation = Mutation()
    found = [_find(session, registry, oid, f"{where}[{i}]")[0] for i, oid in enumerate(object_ids)]
    for entity in found:  # one not in the catalog is skipped, as Atlas's consumer skips it
        if entity is not None and entity.status != DELETED and entity.guid not in mutation.deleted:
            if store.delete_entity(session, entity.guid, user=user, source=HOOK_SOURCE):
                mutation.deleted.append(entity.guid)
    return mutation


def merged_mutation(outcome: HookOutcome) -> Mutation:
    """One ``Mutation`` for the request: an entity listed once (created > updated > partial; deleted wins)."""
    merged = Mutation()
    seen: set[str] = set()
    for _message, mutation in outcome.mutations:
        merged.deleted.extend(g for g in mutation.deleted if g not in merged.deleted)
        merged.guid_assignments.update(mutation.guid_assignments)
    for name in ("created", "updated", "partial"):
        for _message, mutation in outcome.mutations:
            for guid in getattr(mutation, name):
                if guid not in seen and guid not in merged.deleted:
                    seen.add(guid)
                    getattr(merged, name).append(guid)
    return merged


# -- V1 messages: Referenceables to AtlasEntities -------------------------------------------


class _V1:
    """Converts v1 ``Referenceable`` JSON to ``AtlasEntity`` JSON (Atlas's ``AtlasEntityFormatConverter``)."""

    def __init__(self, top_guids: set[str]) -> None:
        self.top = top_guids
        self.referred: dict[str, dict[str, Any]] = {}
        self.fresh = 0

    @staticmethod
    def guid_of(id_: Mapping[str, Any]) -> str | None:
        value = id_.get("id")
        return str(value) if isinstance(value, (str, int)) and not isinstance(value, bool) and value != "" else None

    def entity(self, ref: Any, where: str) -> dict[str, Any]:
        if not isinstance(ref, Mapping):
            raise bad(where, "expected a v1 Referenceable object ({jsonClass, id, typeName, values, traitNames, "
                      f"traits}}), got {type(ref).__name__}")
        id_ = _mapping(ref.get("id"), f"{where}.id", "an Id object ({id, typeName, version, state})")
        type_name = ref.get("typeName") or id_.get("typeName")
        if not isinstance(type_name, str) or not type_name:
            raise bad(f"{where}.typeName", "required: the entity's type name")
        values = _mapping(ref.get("values"), f"{where}.values", "an object of attribute values")
        entity: dict[str, Any] = {"typeName": type_name,
                                  "attributes": {k: self.value(v, f"{where}.values.{k}") for k, v in values.items()}}
        guid = self.guid_of(id_)
        if guid is not None:
            entity["guid"] = guid
        state = id_.get("state")
        if state is not None:
            if state not in ("ACTIVE", "DELETED"):
                raise bad(f"{where}.id.state", f"expected ACTIVE or DELETED, got {str(state)[:40]!r}")
            entity["status"] = state
        tags = self.traits(ref, where)
        if tags:  # Atlas leaves the classifications alone when traitNames is empty
            entity["classifications"] = tags
        return entity

    def traits(self, ref: Mapping[str, Any], where: str) -> list[dict[str, Any]]:
        traits = _mapping(ref.get("traits"), f"{where}.traits", "an object of trait name -> Struct")
        names = ref.get("traitNames")
        names = list(traits) if names is None else names
        if not isinstance(names, list) or not all(isinstance(n, str) and n for n in names):
            raise bad(f"{where}.traitNames", "expected a list of classification names")
        tags = []
        for name in names:
            trait = _mapping(traits.get(name), f"{where}.traits.{name}", "a Struct ({typeName, values})")
            values = _mapping(trait.get("values"), f"{where}.traits.{name}.values", "an object of attribute values")
            tags.append({"typeName": name,
                         "attributes": {k: self.value(v, f"{where}.traits.{name}.{k}") for k, v in values.items()}})
        return tags

    def value(self, value: Any, where: str) -> Any:
        if isinstance(value, list):
            return [self.value(v, f"{where}[{i}]") for i, v in enumerate(value)]
        if not isinstance(value, Mapping):
            return value
        kind = value.get("jsonClass")
        if kind == V1_ID:
            guid = self.guid_of(value)
            if guid is None:
                raise bad(f"{where}.id", "an Id needs its id (the guid it refers to)")
            return {"guid": guid, **({"typeName": value["typeName"]} if isinstance(value.get("typeName"), str) else {})}
        if kind == V1_REFERENCE:
            return self.reference(value, where)
        if kind == V1_STRUCT:
            values = _mapping(value.get("values"), f"{where}.values", "an object of attribute values")
            if not isinstance(value.get("typeName"), str):
                raise bad(f"{where}.typeName", "required: the struct's type name")
            return {"typeName": value["typeName"],
                    "attributes": {k: self.value(v, f"{where}.values.{k}") for k, v in values.items()}}
        return {k: self.value(v, f"{where}.{k}") for k, v in value.items()}

    def reference(self, value: Mapping[str, Any], where: str) -> dict[str, Any]:
        """A nested Referenceable: an AtlasObjectId, and a referred entity when it carries values."""
        nested = self.entity(value, where)
        guid = nested.get("guid")
        if guid is None:
            guid = nested["guid"] = f"-v1-{self.fresh}"
            self.fresh += 1
        if guid not in self.top and guid not in self.referred and any(
                v is not None for v in nested["attributes"].values()):
            self.referred[guid] = nested
        return {"guid": guid, "typeName": nested["typeName"]}


def v1_entities(items: Any, where: str) -> dict[str, Any]:
    """``ENTITY_CREATE`` / ``ENTITY_FULL_UPDATE``'s Referenceables as an AtlasEntitiesWithExtInfo."""
    if not isinstance(items, list):
        raise bad(where, "expected a list of v1 Referenceables")
    top = {g for item in items if isinstance(item, Mapping) and isinstance(item.get("id"), Mapping)
           and (g := _V1.guid_of(item["id"])) is not None}
    converter = _V1(top)
    main = [converter.entity(item, f"{where}[{i}]") for i, item in enumerate(items)]
    return {"entities": main, "referredEntities": converter.referred}


def v1_unique_id(body: Mapping[str, Any], where: str) -> dict[str, Any]:
    """``typeName`` + ``attribute`` + ``attributeValue`` of a V1 message as an AtlasObjectId."""
    type_name, attribute, value = body.get("typeName"), body.get("attribute"), body.get("attributeValue")
    if not isinstance(type_name, str) or not type_name:
        raise bad(f"{where}.typeName", "required: the type of the entity")
    if attribute is None:
        raise bad(f"{where}.attribute", "required: the unique attribute (qualifiedName)")
    if attribute != "qualifiedName":
        raise bad(f"{where}.attribute", f"only qualifiedName identifies entities here, got {str(attribute)[:60]!r}")
    if not isinstance(value, str) or not value:
        raise bad(f"{where}.attributeValue", "required: the entity's qualifiedName (a string)")
    return {"typeName": type_name, "uniqueAttributes": {"qualifiedName": value}}


def v1_partial_update(body: Mapping[str, Any], where: str) -> dict[str, Any]:
    """``ENTITY_PARTIAL_UPDATE`` as ``ENTITY_PARTIAL_UPDATE_V2``'s ``entityId`` and ``entity``."""
    entity_id = v1_unique_id(body, where)
    converter = _V1(set())
    entity = converter.entity(body.get("entity"), f"{where}.entity")
    return {"entityId": entity_id, "entity": {"entity": entity, "referredEntities": converter.referred}}
