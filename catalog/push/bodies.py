"""What the push sends for an entity: its Atlas JSON, its references, and an order to send them in.

The body of an entity is its *current* stored state as ``AtlasEntity`` JSON without our
guid: attributes (references as ``AtlasObjectId`` by unique attribute), relationship
attributes and the entity's *direct* classifications with their ``propagate`` flag
(Atlas propagates them itself, as our store does). The digest of that body is what a
sink is remembered to hold, so an entity whose body did not change is not sent again.

Within one request, entities get temporary guids (``-1``, ``-2``, ...) and a reference to
another entity of the same request carries that guid beside its unique attributes (as
Atlas's own hooks send them), so Atlas resolves it inside the request; a reference to an
entity outside the request is by unique attribute only, and must already be in Atlas.
``send_order`` puts every entity after the entities it refers to (entities that refer to
each other, a cycle, stay together in one request).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from catalog.canonical import canonical_json, digest
from catalog.model import EntityRef, StoredEntity

__all__ = ["Outgoing", "outgoing", "request_body", "send_order", "chunked", "refs_in"]


@dataclass(slots=True)
class Outgoing:
    """An entity to send: its body (no guid), the entities it refers to, and the body's digest."""

    guid: str
    key: EntityRef
    body: dict[str, Any]
    refers_to: frozenset[EntityRef]
    digest: str
    #: characters of the body's JSON (requests stay under a size limit)
    size: int = 0


def refs_in(value: Any, found: set[EntityRef]) -> None:
    """Collect the ``AtlasObjectId``s (by unique attribute) anywhere in ``value``."""
    if isinstance(value, Mapping):
        unique = value.get("uniqueAttributes")
        if isinstance(unique, Mapping) and "typeName" in value and "qualifiedName" in unique:
            found.add(EntityRef(str(value["typeName"]), str(unique["qualifiedName"])))
            return
        for v in value.values():
            refs_in(v, found)
    elif isinstance(value, list):
        for v in value:
            refs_in(v, found)


def outgoing(entity: StoredEntity) -> Outgoing:
    attributes = dict(entity.attributes)
    attributes["qualifiedName"] = entity.qualified_name
    body: dict[str, Any] = {"typeName": entity.type_name, "attributes": attributes}
    if entity.relationship_attributes:
        body["relationshipAttributes"] = dict(entity.relationship_attributes)
    direct = [c for c in entity.classifications if c.source_guid == entity.guid]
    body["classifications"] = [
        {"typeName": c.type_name, "attributes": dict(c.attributes), "propagate": c.propagate,
         "removePropagationsOnEntityDelete": True}
        for c in direct
    ]
    found: set[EntityRef] = set()
    refs_in(attributes, found)
    refs_in(entity.relationship_attributes, found)
    key = EntityRef(entity.type_name, entity.qualified_name)
    found.discard(key)
    text = canonical_json(body)
    return Outgoing(entity.guid, key, body, frozenset(found), digest(text), len(text))



def _with_local_guids(value: Any, local: Mapping[EntityRef, str]) -> Any:
    if isinstance(value, Mapping):
        unique = value.get("uniqueAttributes")
        if isinstance(unique, Mapping) and "typeName" in value and "qualifiedName" in unique:
            temp = local.get(EntityRef(str(value["typeName"]), str(unique["qualifiedName"])))
            if temp is None:
                return {"typeName": value["typeName"], "uniqueAttributes": dict(unique)}
            return {"guid": temp, "typeName": value["typeName"], "uniqueAttributes": dict(unique)}
        return {k: _with_local_guids(v, local) for k, v in value.items()}
    if isinstance(value, list):
        return [_with_local_guids(v, local) for v in value]
    return value


def request_body(items: Sequence[Outgoing]) -> tuple[dict[str, Any], dict[str, str]]:
    """``AtlasEntitiesWithExtInfo`` for ``items``, and temporary guid -> our guid."""
    local = {item.key: f"-{i + 1}" for i, item in enumerate(items)}
    entities = []
    for item in items:
        body = {**item.body, "guid": local[item.key]}
        body["attributes"] = _with_local_guids(item.body["attributes"], local)
        if "relationshipAttributes" in item.body:
            body["relationshipAttributes"] = _with_local_guids(item.body["relationshipAttributes"], local)
        entities.append(body)
    return {"entities": entities, "referredEntities": {}}, {local[i.key]: i.guid for i in items}


def send_order(items: Iterable[Outgoing]) -> list[list[Outgoing]]:
    """Groups of entities that refer to each other (cycles), each after every group it refers to.

    Tarjan's strongly connected components, iterative; its output order is already
    "dependencies first" when edges point from an entity to what it refers to.
    """
    by_key = {item.key: item for item in items}
    index: dict[EntityRef, int] = {}
    low: dict[EntityRef, int] = {}
    on_stack: set[EntityRef] = set()
    stack: list[EntityRef] = []
    groups: list[list[Outgoing]] = []
    counter = 0
    for root in by_key:
        if root in index:
            continue
        work: list[tuple[EntityRef, list[EntityRef]]] = []
        index[root] = low[root] = counter
        counter += 1
        stack.append(root)
        on_stack.add(root)
        work.append((root, sorted(r for r in by_key[root].refers_to if r in by_key)))
        while work:
            node, pending = work[-1]
            if pending:
                nxt = pending.pop()
                if nxt not in index:
                    index[nxt] = low[nxt] = counter
                    counter += 1
                    stack.append(nxt)
                    on_stack.add(nxt)
                    work.append((nxt, sorted(r for r in by_key[nxt].refers_to if r in by_key)))
                elif nxt in on_stack:
                    low[node] = min(low[node], index[nxt])
                continue
            work.pop()
            if work:
                parent = work[-1][0]
                low[parent] = min(low[parent], low[node])
            if low[node] == index[node]:
                group = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    group.append(by_key[member])
                    if member == node:
                        break
                groups.append(group)
    return groups


#: The most characters of entity JSON per request: under the 1 MiB bodies Atlas-compatible servers take.
MAX_REQUEST_CHARS = 800_000


def chunked(groups: Sequence[list[Outgoing]], size: int, max_chars: int = MAX_REQUEST_CHARS) -> list[list[Outgoing]]:
    """Requests of at most ``size`` entities and ``max_chars`` of JSON, in order; a group stays whole."""
    requests: list[list[Outgoing]] = []
    current: list[Outgoing] = []
    chars = 0
    for group in groups:
        weight = sum(o.size for o in group)
        if current and (len(current) + len(group) > size or chars + weight > max_chars):
            requests.append(current)
            current, chars = [], 0
        current.extend(group)
        chars += weight
    if current:
        requests.append(current)
    return requests
