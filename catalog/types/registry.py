"""Atlas typedefs in a registry: load AtlasTypesDef JSON, answer type questions, validate entities.

The registry speaks Atlas's own typedef format (``enumDefs``, ``structDefs``,
``classificationDefs``, ``entityDefs``, ``relationshipDefs``,
``businessMetadataDefs``), so the packaged typedefs, an export from a real Atlas
and a body posted to ``/api/atlas/v2/types/typedefs`` all load the same way.

A registry holds one immutable ``State``; ``load`` builds and resolves a new
state and swaps it in only when every name resolves, so a failed load changes
nothing and readers never see a half-loaded registry. Validation tables are
compiled per type on first use and cached on the state.
"""

from __future__ import annotations

import copy
import json
import threading
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any

from catalog.errors import EntityValidationError, TypeDefError, UnknownTypeError, did_you_mean
from catalog.model import Entity
from catalog.types.checkers import check_string, describe
from catalog.types.resolved import (
    CATEGORY,
    EMPTY,
    KIND,
    PRIMITIVE_TYPES,
    SECTIONS,
    State,
    Table,
    split_type,
)

__all__ = ["TypeRegistry", "TYPEDEFS_DIR", "PRIMITIVE_TYPES"]

TYPEDEFS_DIR = Path(__file__).with_name("typedefs")


# -- the registry -----------------------------------------------------------------------------

_default_state: State | None = None
_default_lock = threading.Lock()


def _label(entity: Entity) -> str:
    return f"{entity.type_name} '{entity.qualified_name}'"


def names_in(type_name: str) -> set[str]:
    """Every type name an attribute type mentions: ``map<string,array<t>>`` -> {string, t}."""
    shape, parts = split_type(type_name)
    if shape == "name":
        return {parts[0]}
    return set().union(*(names_in(p) for p in parts))


def _applicable(attribute: Mapping[str, Any]) -> list[str]:
    """A business metadata attribute's applicableEntityTypes (a JSON list in a string, as Atlas keeps it)."""
    raw = (attribute.get("options") or {}).get("applicableEntityTypes")
    try:
        value = json.loads(raw) if isinstance(raw, str) else raw
    except ValueError:
        return []
    return [str(v) for v in value] if isinstance(value, list) else []


class TypeRegistry:
    """Atlas types by name: loads AtlasTypesDef JSON, answers is-a questions, validates entities."""

    def __init__(self) -> None:
        self._state = EMPTY

    @classmethod
    def default(cls) -> TypeRegistry:
        """A fresh registry holding the packaged typedefs (parsed and resolved once per process)."""
        global _default_state
        if _default_state is None:
            with _default_lock:
                if _default_state is None:
                    registry = cls()
                    for path in sorted(TYPEDEFS_DIR.glob("*.json")):
                        registry.load_file(path)
                    _default_state = registry._state
        registry = cls()
        registry._state = _default_state
        return registry

    # -- loading ----------------------------------------------------------------------------

    def load(self, typesdef: Mapping[str, Any], source: str = "<dict>", *, replace: bool = False) -> None:
        """Add every def of an AtlasTypesDef; all or nothing.

        A name already defined raises TypeDefError (Atlas answers 409) unless
        ``replace``; afterwards every referenced type must resolve.
        """
        if not isinstance(typesdef, Mapping):
            raise TypeDefError(f"{source}: expects an AtlasTypesDef object, got {describe(typesdef)}")
        for key in typesdef:
            if key not in SECTIONS and not str(key).startswith("_"):
                raise TypeDefError(f"{source}: unknown AtlasTypesDef key '{key}'{did_you_mean(str(key), SECTIONS)} "
                                   f"(expects {', '.join(SECTIONS)})")
        old = self._state
        defs = {s: dict(old.defs[s]) for s in SECTIONS}
        kind, where = dict(old.kind), dict(old.source)
        loaded: set[str] = set()
        for section in SECTIONS:
            items = typesdef.get(section) or []
            if not isinstance(items, list):
                raise TypeDefError(f"{source}: {section} expects a list of typedefs, got {describe(items)}")
            for d in items:
                name = d.get("name") if isinstance(d, Mapping) else None
                if not isinstance(name, str) or not name:
                    raise TypeDefError(f"{source}: every {KIND[section]} needs a non-empty string 'name', "
                                       f"got {describe(d)}")
                if name in PRIMITIVE_TYPES or name in ("array", "map"):
                    raise TypeDefError(f"{source}: {KIND[section]} '{name}': '{name}' is a built-in type name")
                if name in loaded:
                    raise TypeDefError(f"{source}: {KIND[section]} '{name}' is defined twice in this typesdef")
                if name in kind:
                    if not replace:
                        raise TypeDefError(f"{source}: {KIND[section]} '{name}' already exists (defined by "
                                           f"{where[name]}); load with replace=True to redefine it")
                    if kind[name] != section:
                        raise TypeDefError(f"{source}: {KIND[section]} '{name}' would replace a "
                                           f"{KIND[kind[name]]} of that name (defined by {where[name]})")
                defs[section][name] = copy.deepcopy(dict(d))
                kind[name], where[name] = section, source
                loaded.add(name)
        self._state = State(defs, kind, where)

    def load_file(self, path: str | Path, *, replace: bool = False) -> None:
        """Load an AtlasTypesDef JSON file (ours, or one exported from Atlas)."""
        path = Path(path)
        try:
            typesdef = json.loads(path.read_text(encoding="utf-8"))
        except json.JSONDecodeError as exc:
            raise TypeDefError(f"{path}: not valid JSON: {exc.msg} at line {exc.lineno} column {exc.colno}") from None
        except OSError as exc:
            raise TypeDefError(f"{path}: cannot read typedef file: {exc.strerror or exc}") from None
        self.load(typesdef, str(path), replace=replace)

    # -- queries ----------------------------------------------------------------------------

    def _require(self, name: str, section: str = "entityDefs") -> dict:
        state = self._state
        found = state.defs[section].get(name)
        if found is None:
            what = "entity type" if section == "entityDefs" else "classification"
            other = f" ('{name}' is a {KIND[state.kind[name]]})" if name in state.kind else ""
            raise UnknownTypeError(f"unknown {what} '{name}'{other}{did_you_mean(name, state.defs[section])}")
        return found

    def entity_def(self, name: str) -> dict[str, Any]:
        """The entityDef as loaded (a copy): Atlas's GET /types/entitydef/name/{name}."""
        return {"category": "ENTITY", **copy.deepcopy(self._require(name))}

    def classification_def(self, name: str) -> dict[str, Any]:
        """The classificationDef as loaded (a copy)."""
        return {"category": "CLASSIFICATION", **copy.deepcopy(self._require(name, "classificationDefs"))}

    def relationship_def(self, name: str) -> dict[str, Any]:
        """The relationshipDef as loaded (a copy), e.g. to read its propagateTags."""
        found = self._state.defs["relationshipDefs"].get(name)
        if found is None:
            raise UnknownTypeError(f"unknown relationship type '{name}'"
                                   + did_you_mean(name, self._state.defs["relationshipDefs"]))
        return {"category": "RELATIONSHIP", **copy.deepcopy(found)}

    def has_entity_type(self, name: str) -> bool:
        return name in self._state.defs["entityDefs"]

    def entity_type_names(self) -> list[str]:
        return sorted(self._state.defs["entityDefs"])

    def classification_names(self) -> list[str]:
        return sorted(self._state.defs["classificationDefs"])

    def is_a(self, type_name: str, super_type: str) -> bool:
        """True when type_name is super_type or inherits from it; False for unknown names."""
        ancestors = self._state.ancestors.get(type_name)
        return ancestors is not None and super_type in ancestors

    def is_process(self, type_name: str) -> bool:
        return self.is_a(type_name, "Process")

    def is_dataset(self, type_name: str) -> bool:
        return self.is_a(type_name, "DataSet")

    def subtypes(self, type_name: str) -> set[str]:
        """Every entity type that is_a type_name, itself included."""
        self._require(type_name)
        return set(self._state.subtypes[type_name])

    def all_attributes(self, type_name: str) -> dict[str, dict[str, Any]]:
        """attributeDefs by name, inherited ones included (copies)."""
        self._require(type_name)
        return copy.deepcopy(self._state.attributes[type_name])

    def relationship_ends(self, type_name: str) -> dict[str, tuple[str, str, str]]:
        """Relationship attribute name -> (relationshipDef name, other end's type, cardinality)."""
        self._require(type_name)
        return {name: ends[0] for name, ends in self._state.rel_ends[type_name].items()}

    def to_typesdef(self) -> dict[str, list[dict[str, Any]]]:
        """Everything loaded as one AtlasTypesDef (Atlas's GET /api/atlas/v2/types/typedefs)."""
        state = self._state
        return {
            section: [{"category": CATEGORY[section], **copy.deepcopy(d)} for d in state.defs[section].values()]
            for section in SECTIONS
        }

    # -- the typedef API: whole defs, guids, who uses a type -------------------------------

    def copy(self) -> TypeRegistry:
        """Another registry over the same state: a later load into either leaves the other alone."""
        other = TypeRegistry()
        other._state = self._state
        return other

    def adopt(self, other: TypeRegistry) -> None:
        """Take every typedef of ``other`` in one swap: readers see the old state or the new, never a mix."""
        self._state = other._state

    def section_of(self, name: str) -> str | None:
        """The AtlasTypesDef section (``entityDefs``, ...) defining ``name``, or None."""
        return self._state.kind.get(name)

    def iter_defs(self) -> Iterator[tuple[str, dict[str, Any]]]:
        """``(section, def)`` of every typedef, sections in AtlasTypesDef order; the defs are read-only."""
        state = self._state
        for section in SECTIONS:
            for d in state.defs[section].values():
                yield section, d

    def typedef(self, name: str) -> dict[str, Any]:
        """Any typedef by name, with its ``category`` (a copy): Atlas's GET /types/typedef/name/{name}."""
        section = self._state.kind.get(name)
        if section is None:
            raise UnknownTypeError(f"unknown type '{name}'" + did_you_mean(name, self._state.kind))
        return {"category": CATEGORY[section], **copy.deepcopy(self._state.defs[section][name])}

    def name_of_guid(self, guid: str) -> str | None:
        """The name of the typedef whose ``guid`` is this one, or None."""
        for _section, d in self.iter_defs():
            if d.get("guid") == guid:
                return d["name"]
        return None

    def headers(self) -> list[dict[str, Any]]:
        """Atlas's AtlasTypeDefHeader of every typedef: guid, name, category, serviceType."""
        found = []
        for section, d in self.iter_defs():
            header = {"guid": d.get("guid"), "name": d["name"], "category": CATEGORY[section]}
            if d.get("serviceType"):
                header["serviceType"] = d["serviceType"]
            found.append(header)
        return found

    def super_types(self, name: str) -> frozenset[str]:
        """Every super type of an entity or classification type, itself included (empty for others)."""
        return self._state.ancestors.get(name, frozenset())

    def direct_subtypes(self, name: str) -> list[str]:
        """Entity or classification types that list ``name`` in their superTypes, sorted."""
        return sorted(d["name"] for _section, d in self.iter_defs() if name in (d.get("superTypes") or ()))

    def references_to(self, name: str, ignore: Iterable[str] = ()) -> list[tuple[str, str]]:
        """Who uses type ``name``, as ``(kind, what)``; defs named in ``ignore`` do not count.

        kind: ``subtype``, ``attribute`` (an attribute's type mentions it), ``relationship``
        (a relationshipDef end), ``entityTypes`` (a classification's), ``applicableEntityTypes``
        (a business metadata attribute's).
        """
        skip = set(ignore) | {name}
        found: list[tuple[str, str]] = []
        for section, d in self.iter_defs():
            owner = d["name"]
            if owner in skip:
                continue
            if name in (d.get("superTypes") or ()):
                found.append(("subtype", f"subtype {owner}"))
            for a in d.get("attributeDefs") or ():
                if name in names_in(a["typeName"]):
                    found.append(("attribute", f"attribute {owner}.{a['name']} ({a['typeName']})"))
                if name in _applicable(a):
                    found.append(("applicableEntityTypes", f"applicableEntityTypes of {owner}.{a['name']}"))
            for end in ("endDef1", "endDef2"):
                if section == "relationshipDefs" and d[end]["type"] == name:
                    found.append(("relationship", f"relationshipDef {owner} ({end} {d[end]['name']})"))
            if name in (d.get("entityTypes") or ()):
                found.append(("entityTypes", f"entityTypes of classificationDef {owner}"))
        return found

    def without(self, names: Iterable[str]) -> TypeRegistry:
        """A new registry without the typedefs ``names``; TypeDefError when the rest needs one of them."""
        state, gone = self._state, set(names)
        defs = {s: {n: d for n, d in state.defs[s].items() if n not in gone} for s in SECTIONS}
        kind = {n: k for n, k in state.kind.items() if n not in gone}
        where = {n: w for n, w in state.source.items() if n not in gone}
        other = TypeRegistry()
        other._state = State(defs, kind, where)
        return other

    # -- validation -------------------------------------------------------------------------

    def validate(self, entity: Entity) -> None:
        """Raise EntityValidationError unless the entity conforms to its type; fast, no I/O."""
        state = self._state
        table = state.tables.get(entity.type_name)
        if table is None or not table.is_entity:
            self._require_entity_type(entity)
            table = state.table(entity.type_name)
        attrs = entity.attributes
        checkers = table.checkers
        for name, value in attrs.items():
            chk = checkers.get(name)
            if chk is None:
                self._check_other_attribute(entity, table, name, value)
            elif value is not None:
                frag = chk(value)
                if frag is not None:
                    raise EntityValidationError(f"{_label(entity)}: attribute '{name}'{frag}")
        rels = entity.relationship_attributes
        for name, expects in table.mandatory:
            if attrs.get(name) is None and rels.get(name) is None:
                got = "None" if name in attrs else "nothing"
                raise EntityValidationError(f"{_label(entity)}: attribute '{name}' is mandatory: "
                                            f"expects {expects}, got {got}")
        for name, value in rels.items():
            chk = table.rel_checkers.get(name)
            if chk is None:
                raise EntityValidationError(self._not_a_relationship(entity, table, name))
            if value is not None:
                frag = chk(value)
                if frag is not None:
                    raise EntityValidationError(f"{_label(entity)}: relationship attribute '{name}'{frag}")
        if entity.classifications:
            self._check_classifications(entity)
        if table.has_qualified_name and (not isinstance(entity.qualified_name, str) or not entity.qualified_name):
            raise EntityValidationError(f"{_label(entity)}: attribute 'qualifiedName' is mandatory: "
                                        f"expects a non-empty string, got {describe(entity.qualified_name)}")
        bad = check_string(entity.qualified_name) if isinstance(entity.qualified_name, str) else None
        if bad is not None:
            raise EntityValidationError(f"{_label(entity)}: attribute 'qualifiedName'{bad}")

    def _require_entity_type(self, entity: Entity) -> None:
        state = self._state
        if entity.type_name not in state.defs["entityDefs"]:
            name = entity.type_name
            other = f" ('{name}' is a {KIND[state.kind[name]]})" if name in state.kind else ""
            raise UnknownTypeError(f"{_label(entity)}: unknown entity type '{name}'{other}"
                                   + did_you_mean(str(name), state.defs["entityDefs"]))

    def _check_other_attribute(self, entity: Entity, table: Table, name: str, value: Any) -> None:
        """An attribute with no checker: qualifiedName, a relationship end (Atlas moves those), or unknown."""
        if name == "qualifiedName" and table.has_qualified_name:
            if value is not None and value != entity.qualified_name:
                raise EntityValidationError(f"{_label(entity)}: attribute 'qualifiedName' expects the entity's "
                                            f"qualifiedName '{entity.qualified_name}', got {describe(value)}")
            return
        rel = table.rel_checkers.get(name)
        if rel is not None:
            frag = rel(value) if value is not None else None
            if frag is not None:
                raise EntityValidationError(f"{_label(entity)}: attribute '{name}'{frag}")
            return
        known = [*table.checkers, *table.rel_checkers]
        hint = did_you_mean(name, known) or f" (attributes: {', '.join(sorted(known))})"
        raise EntityValidationError(f"{_label(entity)}: attribute '{name}' is not an attribute of "
                                    f"{entity.type_name}, got {describe(value)}{hint}")

    def _not_a_relationship(self, entity: Entity, table: Table, name: str) -> str:
        ends = sorted(table.rel_checkers)
        hint = did_you_mean(name, ends) or f" (relationship attributes: {', '.join(ends) or 'none'})"
        return (f"{_label(entity)}: relationship attribute '{name}' is not a relationship end of "
                f"{entity.type_name}{hint}")

    def _check_classifications(self, entity: Entity) -> None:
        state = self._state
        seen: set[str] = set()
        for c in entity.classifications:
            name = getattr(c, "type_name", None)
            cdef = state.defs["classificationDefs"].get(name) if isinstance(name, str) else None
            if cdef is None:
                known = state.defs["classificationDefs"]
                hint = did_you_mean(str(name), known) or f" (known: {', '.join(sorted(known)) or 'none'})"
                raise EntityValidationError(f"{_label(entity)}: classification '{name}' expects a known "
                                            f"classification type, got an unknown one{hint}")
            if name in seen:
                raise EntityValidationError(f"{_label(entity)}: classification '{name}' is given twice")
            seen.add(name)
            allowed = self._classification_entity_types(name)
            if allowed and not any(self.is_a(entity.type_name, t) for t in allowed):
                raise EntityValidationError(f"{_label(entity)}: classification '{name}' expects an entity of "
                                            f"type {' or '.join(sorted(allowed))}, got {entity.type_name}")
            table = state.table(name, entity=False)
            frag = state.check_fields(table, getattr(c, "attributes", None) or {}, f"{name} attributes")
            if frag is not None:
                raise EntityValidationError(f"{_label(entity)}: classification '{name}'{frag}")

    def _classification_entity_types(self, name: str) -> set[str]:
        """entityTypes of a classification, inherited from its superTypes (empty = any)."""
        state = self._state
        allowed: set[str] = set()
        for ancestor in state.ancestors[name]:
            allowed.update(state.defs["classificationDefs"][ancestor].get("entityTypes") or ())
        return allowed

    def __repr__(self) -> str:
        counts = ", ".join(f"{len(self._state.defs[s])} {s}" for s in SECTIONS if self._state.defs[s])
        return f"<TypeRegistry {counts or 'empty'}>"
