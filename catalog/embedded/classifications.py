"""Classifications through the v2 API: add, update, delete on entities, with Atlas's rules.

Each request becomes one ``store.WritePlan`` (the entity's new content hash and version,
the direct tag rows, one audit event per entity) applied by ``store.apply_plan``, which
recomputes propagation: a ``propagate: true`` classification reaches everything
downstream, as the store propagates lineage.yml's tags. The API's tags are recorded
with origin ``atlas-api``; deleting a tag through the API removes it whatever source set
it (Atlas has one set of tags per entity).
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from catalog import store
from catalog.atlas.json import classification_texts, content_digest, stored_to_entity, tags_json
from catalog.embedded.entities import SOURCE
from catalog.embedded.errors import (
    CLASSIFICATION_ALREADY_ASSOCIATED,
    CLASSIFICATION_DELETE_FROM_PROPAGATED,
    CLASSIFICATION_NOT_ASSOCIATED,
    INSTANCE_CRUD_INVALID_PARAMS,
    UNKNOWN_CLASSIFICATION,
    AtlasApiError,
    guid_not_found,
)
from catalog.errors import EntityValidationError
from catalog.model import Classification, Entity
from catalog.store.plan import EntityChange, WritePlan
from catalog.store.schema import ClassificationRow, EntityRow, now_ms

if TYPE_CHECKING:
    from catalog.service import Catalog
    from catalog.types.registry import TypeRegistry

__all__ = ["parse_classifications", "add", "update", "remove", "add_to_many", "classifications_json"]


def parse_classifications(body: Any, where: str = "request body") -> list[Classification]:
    """A list of ``AtlasClassification`` JSON to values; Atlas's 400 naming the item otherwise."""
    if not isinstance(body, list):
        raise _bad(f"{where}: expected a list of AtlasClassification objects")
    found = []
    for i, item in enumerate(body):
        if not isinstance(item, Mapping) or not isinstance(item.get("typeName"), str) or not item["typeName"]:
            raise _bad(f"{where}[{i}]: expected an AtlasClassification with a 'typeName'")
        attributes = item.get("attributes") or {}
        propagate = item.get("propagate")
        propagate = True if propagate is None else propagate  # Atlas's clients send null for "not set"
        if not isinstance(attributes, Mapping):
            raise _bad(f"{where}[{i}].attributes: expected an object")
        if not isinstance(propagate, bool):
            raise _bad(f"{where}[{i}].propagate: expected true or false, got {propagate!r}")
        found.append(Classification(item["typeName"], dict(attributes), propagate))
    return found


def _bad(message: str) -> AtlasApiError:
    return AtlasApiError(400, "ATLAS-400-00-06F", f"Invalid classification parameters passed: {message}")


def _direct(session: Session, guid: str) -> dict[str, ClassificationRow]:
    tag = ClassificationRow
    query = select(tag).where(tag.entity_guid == guid, tag.source_guid == guid)
    return {row.type_name: row for row in session.scalars(query)}


def _propagated_names(session: Session, guid: str) -> set[str]:
    tag = ClassificationRow
    query = select(tag.type_name).where(tag.entity_guid == guid, tag.source_guid != guid)
    return set(session.scalars(query))


def _check(session: Session, registry: TypeRegistry, row: EntityRow, tags: Mapping[str, Classification]) -> None:
    """The entity with these direct tags must validate (known names, entityTypes, attributes)."""
    known = set(registry.classification_names())
    for name in tags:
        if name not in known:
            raise AtlasApiError(400, UNKNOWN_CLASSIFICATION, f"{name}: Unknown/invalid classification")
    stored = store.get_entity(session, row.guid)
    assert stored is not None
    entity = stored_to_entity(stored)
    entity.classifications = list(tags.values())
    try:
        registry.validate(entity)
    except EntityValidationError as exc:
        raise AtlasApiError(404, INSTANCE_CRUD_INVALID_PARAMS,
                            f"Invalid instance creation/updation parameters passed : {exc}") from None


def _plan(row: EntityRow, before: Mapping[str, ClassificationRow], after: Mapping[str, Classification],
          action: str, names: Sequence[str], *, user: str, at: int) -> WritePlan:
    """The plan that gives ``row`` the direct tags ``after`` (was ``before``)."""
    plan = WritePlan(source=SOURCE, user=user, at=at)
    texts = classification_texts(Entity(row.type_name, row.qualified_name, classifications=list(after.values())))
    content = content_digest(row.type_name, row.qualified_name, row.attributes, row.relationship_attributes,
                             tags_json(texts), row.status)
    plan.updates.append({
        "b_guid": row.guid, "name": row.name, "status": row.status, "attributes": row.attributes,
        "relationship_attributes": row.relationship_attributes, "content_hash": content,
        # the entity's own source still sent what it sent: its next unchanged ingest stays a skip
        "incoming_hash": row.incoming_hash, "version": row.version + 1, "updated_at": at, "updated_by": user,
        "source": row.source,
    })
    for name in after:
        propagate, attributes = texts[name]
        tag_row = {"entity_guid": row.guid, "type_name": name, "source_guid": row.guid, "propagate": propagate,
                   "attributes": attributes, "origin": SOURCE}
        if name not in before:
            plan.tag_inserts.append(tag_row)
        elif (before[name].propagate, before[name].attributes) != (propagate, attributes):
            plan.tag_updates.append(tag_row)
    plan.tag_removals.extend((row.guid, name) for name in before if name not in after)
    detail = {"classifications": sorted(names), "hash": content}
    plan.changes.append(EntityChange(action, row.guid, row.type_name, row.qualified_name, detail))
    plan.lineage_changed = True
    return plan


def _apply(catalog: Catalog, guid: str, change: str, tags: Sequence[Classification] = (), name: str = "",
           *, user: str) -> None:
    with catalog.write_session() as session, session.begin():
        _apply_in(session, catalog.registry, guid, change, tags, name, user=user, at=now_ms())


def _apply_in(session: Session, registry: TypeRegistry, guid: str, change: str, tags: Sequence[Classification],
              name: str, *, user: str, at: int) -> None:
    row = session.get(EntityRow, guid)
    if row is None:
        raise guid_not_found(guid)
    before = _direct(session, guid)
    after = {n: Classification(n, json.loads(r.attributes), r.propagate) for n, r in before.items()}
    if change == "CLASSIFICATION_ADD":
        _add(after, tags, guid)
    elif change == "CLASSIFICATION_UPDATE":
        for tag in tags:
            if tag.type_name not in after:
                raise AtlasApiError(400, CLASSIFICATION_NOT_ASSOCIATED,
                                    f"Classification {tag.type_name} is not associated with entity {guid}")
            after[tag.type_name] = tag
    else:  # CLASSIFICATION_DELETE
        if name not in after:
            if name in _propagated_names(session, guid):
                raise AtlasApiError(400, CLASSIFICATION_DELETE_FROM_PROPAGATED,
                                    f"Delete of classification {name} is not allowed from propagated entity {guid}")
            raise AtlasApiError(400, CLASSIFICATION_NOT_ASSOCIATED,
                                f"Classification {name} is not associated with entity {guid}")
        del after[name]
    _check(session, registry, row, after)
    names = [t.type_name for t in tags] or [name]
    store.apply_plan(session, _plan(row, before, after, change, names, user=user, at=at))


def _add(after: dict[str, Classification], tags: Sequence[Classification], guid: str) -> None:
    for tag in tags:
        if tag.type_name in after:
            raise AtlasApiError(400, CLASSIFICATION_ALREADY_ASSOCIATED,
                                f"invalid parameters: entity: {guid}, already associated with classification: "
                                f"{tag.type_name}")
        after[tag.type_name] = tag


def add(catalog: Catalog, guid: str, tags: Sequence[Classification], *, user: str) -> None:
    """``POST entity/guid/{guid}/classifications``: a name already on the entity is Atlas's 400."""
    _apply(catalog, guid, "CLASSIFICATION_ADD", tags, user=user)


def update(catalog: Catalog, guid: str, tags: Sequence[Classification], *, user: str) -> None:
    """``PUT entity/guid/{guid}/classifications``: attributes or ``propagate`` of tags it has."""
    _apply(catalog, guid, "CLASSIFICATION_UPDATE", tags, user=user)


def remove(catalog: Catalog, guid: str, name: str, *, user: str) -> None:
    """``DELETE entity/guid/{guid}/classification/{name}``: a direct tag only (Atlas's rule)."""
    _apply(catalog, guid, "CLASSIFICATION_DELETE", name=name, user=user)


def add_to_many(catalog: Catalog, tag: Classification, guids: Sequence[str], *, user: str) -> None:
    """``POST entity/bulk/classification``: one classification on several entities, all or nothing."""
    at = now_ms()
    with catalog.write_session() as session, session.begin():
        for guid in dict.fromkeys(guids):
            _apply_in(session, catalog.registry, guid, "CLASSIFICATION_ADD", [tag], "", user=user, at=at)


def classifications_json(session: Session, guid: str) -> dict[str, Any]:
    """``AtlasClassification.AtlasClassifications`` (a PList) of the entity: direct and propagated."""
    entity = store.get_entity(session, guid)
    if entity is None:
        raise guid_not_found(guid)
    items = [
        {"typeName": c.type_name, "attributes": dict(c.attributes), "entityGuid": c.source_guid,
         "entityStatus": entity.status, "propagate": c.propagate, "removePropagationsOnEntityDelete": True}
        for c in entity.classifications
    ]
    return {"list": items, "startIndex": 0, "pageSize": len(items), "totalCount": len(items), "sortType": "NONE"}
