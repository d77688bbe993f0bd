"""Typedef bootstrap: make a real Atlas know every type the catalog writes, without touching Atlas's own.

Compared by name with what Atlas has (``GET types/typedefs``):

- a type Atlas lacks is created (all of them in one ``POST types/typedefs``);
- one of *ours* (service type ``ml_catalog`` or ``openlineage``) that differs from Atlas's copy is updated (one ``PUT``), when Atlas's copy
  is ours too;
- a type Atlas ships (``atlas_core``, ``hive``, ``file_system``, ``ml``, ...) is never
  modified. Where Atlas's copy lacks an attribute we write, types it differently, has
  other super types, or where a type of ours has another owner in Atlas, the bootstrap
  refuses with every conflict named, and writes nothing.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from catalog.atlas.client import AtlasClient
from catalog.errors import CatalogError

__all__ = ["OWN_SERVICE_TYPES", "TypedefConflict", "BootstrapPlan", "plan_bootstrap", "bootstrap"]

OWN_SERVICE_TYPES = frozenset({"ml_catalog", "openlineage"})
_SECTIONS = ("enumDefs", "structDefs", "classificationDefs", "entityDefs", "relationshipDefs", "businessMetadataDefs")


class TypedefConflict(CatalogError):
    """Atlas's version of a type the catalog writes cannot take the catalog's entities."""


@dataclass
class BootstrapPlan:
    create: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    update: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    unchanged: int = 0
    conflicts: list[str] = field(default_factory=list)

    @property
    def created(self) -> list[str]:
        return sorted(d["name"] for defs in self.create.values() for d in defs)

    @property
    def updated(self) -> list[str]:
        return sorted(d["name"] for defs in self.update.values() for d in defs)

    @property
    def in_sync(self) -> bool:
        return not (self.create or self.update or self.conflicts)


def _ours(definition: Mapping[str, Any]) -> bool:
    return (definition.get("serviceType") or "") in OWN_SERVICE_TYPES


def _shape(definition: Mapping[str, Any]) -> dict[str, Any]:
    """What matters of a typedef for the entities written with it (Atlas's bookkeeping left out)."""
    shape: dict[str, Any] = {
        "superTypes": sorted(definition.get("superTypes") or ()),
        "attributes": {a["name"]: (a.get("typeName"), a.get("cardinality", "SINGLE"))
                       for a in definition.get("attributeDefs") or ()},
    }
    if "elementDefs" in definition:
        shape["elements"] = sorted(str(e.get("value")) for e in definition.get("elementDefs") or ())
    for end in ("endDef1", "endDef2"):
        if end in definition:
            shape[end] = {k: definition[end].get(k) for k in ("type", "name", "cardinality")}
    for key in ("relationshipCategory", "propagateTags"):  # how Atlas links and propagates along it
        if key in definition:
            shape[key] = definition[key]
    return shape


def _clean(definition: Mapping[str, Any]) -> dict[str, Any]:
    """Our typedef as Atlas takes it on create or update: our guid and bookkeeping are Atlas's to assign."""
    return {k: v for k, v in definition.items()
            if k not in ("guid", "createTime", "updateTime", "createdBy", "updatedBy", "version")}


def _incompatible(name: str, ours: Mapping[str, Any], theirs: Mapping[str, Any]) -> list[str]:
    mine, atlas = _shape(ours), _shape(theirs)
    problems = []
    missing_supers = sorted(set(mine["superTypes"]) - set(atlas["superTypes"]))
    if missing_supers:
        problems.append(f"{name}: Atlas's type lacks super type(s) {', '.join(missing_supers)}")
    for attr, (type_name, cardinality) in mine["attributes"].items():
        found = atlas["attributes"].get(attr)
        if found is None:
            problems.append(f"{name}.{attr}: Atlas's type has no such attribute (the catalog writes it)")
        elif found[0] != type_name:
            problems.append(f"{name}.{attr}: Atlas types it {found[0]}, the catalog writes {type_name}")
    for key in ("relationshipCategory", "propagateTags"):
        if key in mine and atlas.get(key, mine[key]) != mine[key]:
            problems.append(f"{name}: Atlas's {key} is {atlas[key]}, the catalog's {mine[key]}")
    missing_values = sorted(set(mine.get("elements", ())) - set(atlas.get("elements", ())))
    if missing_values:
        problems.append(f"{name}: Atlas's enum lacks value(s) {', '.join(missing_values)}")
    return problems


def plan_bootstrap(ours: Mapping[str, Iterable[Mapping[str, Any]]], theirs: Mapping[str, Any]) -> BootstrapPlan:
    """What to create and update in Atlas (``theirs``: its ``AtlasTypesDef``) for ``ours``."""
    remote = {d["name"]: d for section in _SECTIONS for d in theirs.get(section) or () if isinstance(d, Mapping)}
    plan = BootstrapPlan()
    for section in _SECTIONS:
        for definition in ours.get(section) or ():
            name = definition["name"]
            found = remote.get(name)
            if found is None:
                plan.create.setdefault(section, []).append(_clean(definition))
            elif _shape(found) == _shape(definition):
                plan.unchanged += 1
            elif _ours(definition) and _ours(found):
                plan.update.setdefault(section, []).append(_clean(definition))
            elif _ours(definition):
                plan.conflicts.append(f"{name}: Atlas has a type of this name owned by service type "
                                      f"{found.get('serviceType')!r}; the catalog's is {definition.get('serviceType')!r}")
            else:
                plan.conflicts.extend(_incompatible(name, definition, found))
                if not _incompatible(name, definition, found):
                    plan.unchanged += 1  # Atlas's copy differs but takes everything the catalog writes
    return plan


def bootstrap(client: AtlasClient, ours: Mapping[str, Iterable[Mapping[str, Any]]], *,
              dry_run: bool = False) -> BootstrapPlan:
    """Create and update what ``plan_bootstrap`` says; a conflict raises ``TypedefConflict`` before any write."""
    plan = plan_bootstrap(ours, client.typedefs())
    if plan.conflicts:
        raise TypedefConflict("Atlas's typedefs cannot take the catalog's entities (nothing was changed):\n  "
                              + "\n  ".join(plan.conflicts))
    if not dry_run:
        if plan.create:
            client.create_typedefs(plan.create)
        if plan.update:
            client.update_typedefs(plan.update)
    return plan
