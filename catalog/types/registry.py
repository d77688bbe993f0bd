"""Atlas typedefs in a registry: load AtlasTypesDef JSON, answer type questions, validate entities.

The registry speaks Atlas's own typedef format (``enumDefs``, ``structDefs``,
``classificationDefs``, ``entityDefs``, ``relationshipDefs``,
``businessMetadataDefs``), so the packaged typedefs, an export from a real Atlas
and a body posted to ``/api/atlas/v2/types/typedefs`` all load the same way.

A registry holds one immutable ``_State``; ``load`` builds and resolves a new
state and swaps it in only when every name resolves, so a failed load changes
nothing and readers never see a half-loaded registry. Validation tables are
compiled per type on first use and cached on the state.
"""

from __future__ import annotations

import copy
import json
import threading
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from catalog.errors import EntityValidationError, TypeDefError, UnknownTypeError
from catalog.model import Entity
from catalog.types.checkers import (
    _PRIMITIVE_CHECKERS,
    Checker,
    _array_checker,
    _describe,
    _enum_checker,
    _map_checker,
    _reference_checker,
)

__all__ = ["TypeRegistry", "TYPEDEFS_DIR", "PRIMITIVE_TYPES"]

TYPEDEFS_DIR = Path(__file__).with_name("typedefs")

SECTIONS = ("enumDefs", "structDefs", "classificationDefs", "entityDefs", "relationshipDefs", "businessMetadataDefs")
_KIND = {
    "enumDefs": "enumDef", "structDefs": "structDef", "classificationDefs": "classificationDef",
    "entityDefs": "entityDef", "relationshipDefs": "relationshipDef", "businessMetadataDefs": "businessMetadataDef",
}
_CATEGORY = {
    "enumDefs": "ENUM", "structDefs": "STRUCT", "classificationDefs": "CLASSIFICATION",
    "entityDefs": "ENTITY", "relationshipDefs": "RELATIONSHIP", "businessMetadataDefs": "BUSINESS_METADATA",
}
PRIMITIVE_TYPES = frozenset(
    ["boolean", "byte", "short", "int", "long", "float", "double", "biginteger", "bigdecimal", "string", "date"]
)
_CARDINALITIES = ("SINGLE", "LIST", "SET")
_REL_CATEGORIES = ("ASSOCIATION", "AGGREGATION", "COMPOSITION")
_PROPAGATE = ("NONE", "ONE_TO_TWO", "TWO_TO_ONE", "BOTH")


def _suggest(name: str, candidates: Any) -> str:
    """'; did you mean 'x'?' for the closest candidate, or '' (difflib imported only on error)."""
    import difflib

    match = difflib.get_close_matches(name, list(candidates), n=1, cutoff=0.6)
    return f"; did you mean '{match[0]}'?" if match else ""


def _split_type(type_name: str) -> tuple[str, tuple[str, ...]]:
    """('array', (T,)), ('map', (K, V)) or ('name', (type_name,)) for an Atlas attribute type."""
    if type_name.startswith("array<") and type_name.endswith(">"):
        return "array", (type_name[6:-1].strip(),)
    if type_name.startswith("map<") and type_name.endswith(">"):
        inner, depth = type_name[4:-1], 0
        for i, char in enumerate(inner):
            depth += (char == "<") - (char == ">")
            if char == "," and depth == 0:
                return "map", (inner[:i].strip(), inner[i + 1 :].strip())
        return "name", (type_name,)
    return "name", (type_name,)


class _Table:
    """Per-type validation table: attribute checkers, mandatory names, relationship ends."""

    __slots__ = ("type_name", "checkers", "mandatory", "rel_checkers", "has_qualified_name", "is_entity")

    def __init__(self, type_name: str, checkers: dict[str, Checker], mandatory: tuple[tuple[str, str], ...],
                 rel_checkers: dict[str, Checker], has_qualified_name: bool, is_entity: bool) -> None:
        self.type_name = type_name
        self.checkers = checkers
        self.mandatory = mandatory
        self.rel_checkers = rel_checkers
        self.has_qualified_name = has_qualified_name
        self.is_entity = is_entity


class _State:
    """Everything loaded, resolved; never mutated after construction except its lazy caches."""

    def __init__(self, defs: dict[str, dict[str, dict]], kind: dict[str, str], source: dict[str, str]) -> None:
        self.defs = defs
        self.kind = kind
        self.source = source
        self.ancestors: dict[str, frozenset[str]] = {}
        self.subtypes: dict[str, set[str]] = {}
        self.attributes: dict[str, dict[str, dict]] = {}
        self.rel_ends: dict[str, dict[str, list[tuple[str, str, str]]]] = {}
        self.tables: dict[str, _Table] = {}
        self.checkers: dict[str, Checker] = {}
        self._resolve()

    # -- resolution -------------------------------------------------------------------------

    def _fail(self, name: str, detail: str) -> TypeDefError:
        return TypeDefError(f"{self.source[name]}: {_KIND[self.kind[name]]} '{name}': {detail}")

    def _resolve(self) -> None:
        for section in SECTIONS:
            for name, d in self.defs[section].items():
                self._check_shape(section, name, d)
        for section in ("entityDefs", "classificationDefs"):
            for name in self.defs[section]:
                self._ancestors_of(name, section, ())
        for name, ancestors in self.ancestors.items():
            for ancestor in ancestors:
                self.subtypes.setdefault(ancestor, set()).add(name)
        for section in ("structDefs", "classificationDefs", "entityDefs", "businessMetadataDefs"):
            for name in self.defs[section]:
                self._all_attributes(name)
                for attr in self.defs[section][name].get("attributeDefs") or ():
                    self._check_attribute_type(name, f"attribute '{attr['name']}'", attr["typeName"])
        for name, d in self.defs["classificationDefs"].items():
            for entity_type in d.get("entityTypes") or ():
                if self.kind.get(entity_type) != "entityDefs":
                    raise self._fail(name, f"entityTypes names unknown entity type '{entity_type}'"
                                     + _suggest(entity_type, self.defs["entityDefs"]))
        for name, d in self.defs["businessMetadataDefs"].items():
            self._check_applicable_types(name, d)
        for name in self.defs["entityDefs"]:
            self.rel_ends[name] = {}
        for name, d in self.defs["relationshipDefs"].items():
            self._resolve_relationship(name, d)

    def _one_of(self, name: str, where: str, value: Any, allowed: tuple[str, ...]) -> None:
        if value not in allowed:
            raise self._fail(name, f"{where} expects one of {', '.join(allowed)}, got {value!r}")

    def _check_shape(self, section: str, name: str, d: Mapping) -> None:
        """Structure Atlas requires of a def, before any name is resolved."""
        if section == "enumDefs":
            values = [e.get("value") if isinstance(e, Mapping) else None for e in d.get("elementDefs") or ()]
            if any(not isinstance(v, str) for v in values):
                raise self._fail(name, "every elementDef needs a string 'value'")
            if len(set(values)) != len(values):
                raise self._fail(name, "elementDefs repeat a value")
            return
        if section == "relationshipDefs":
            self._one_of(name, "relationshipCategory", d.get("relationshipCategory", "ASSOCIATION"), _REL_CATEGORIES)
            self._one_of(name, "propagateTags", d.get("propagateTags", "NONE"), _PROPAGATE)
            for end in ("endDef1", "endDef2"):
                e = d.get(end)
                if not (isinstance(e, Mapping) and isinstance(e.get("type"), str) and isinstance(e.get("name"), str)):
                    raise self._fail(name, f"{end} expects an object with string 'type' and 'name', got {_describe(e)}")
                self._one_of(name, f"{end} cardinality", e.get("cardinality", "SINGLE"), _CARDINALITIES)
        attrs = d.get("attributeDefs") or []
        if not isinstance(attrs, list):
            raise self._fail(name, f"attributeDefs expects a list, got {_describe(attrs)}")
        seen: set[str] = set()
        for a in attrs:
            if not (isinstance(a, Mapping) and isinstance(a.get("name"), str) and isinstance(a.get("typeName"), str)):
                raise self._fail(name, f"every attributeDef needs string 'name' and 'typeName', got {_describe(a)}")
            if a["name"] in seen:
                raise self._fail(name, f"attribute '{a['name']}' is defined twice")
            self._one_of(name, f"attribute '{a['name']}' cardinality", a.get("cardinality", "SINGLE"), _CARDINALITIES)
            seen.add(a["name"])
        supers = d.get("superTypes") or []
        if not isinstance(supers, list) or any(not isinstance(s, str) for s in supers):
            raise self._fail(name, f"superTypes expects a list of type names, got {_describe(supers)}")
        if supers and section not in ("entityDefs", "classificationDefs"):
            raise self._fail(name, f"superTypes expects nothing on a {_KIND[section]}, got {supers!r}")

    def _ancestors_of(self, name: str, section: str, path: tuple[str, ...]) -> frozenset[str]:
        done = self.ancestors.get(name)
        if done is not None:
            return done
        if name in path:
            raise self._fail(name, f"superTypes form a cycle: {' -> '.join(path + (name,))}")
        result = {name}
        for sup in self.defs[section][name].get("superTypes") or ():
            if self.kind.get(sup) != section:
                what = ("an unknown type" if sup not in self.kind
                        else f"a {_KIND[self.kind[sup]]}, expects an {_KIND[section]}")
                raise self._fail(name, f"superType '{sup}' is {what}" + _suggest(sup, self.defs[section]))
            result |= self._ancestors_of(sup, section, path + (name,))
        self.ancestors[name] = frozenset(result)
        return self.ancestors[name]

    def _all_attributes(self, name: str) -> dict[str, dict]:
        done = self.attributes.get(name)
        if done is not None:
            return done
        d = self.defs[self.kind[name]][name]
        merged: dict[str, dict] = {}
        for sup in d.get("superTypes") or ():
            inherited = self._all_attributes(sup)
            for attr in d.get("attributeDefs") or ():
                if attr["name"] in inherited:
                    raise self._fail(name, f"attribute '{attr['name']}' already exists in parent type '{sup}'")
            for attr_name, attr in inherited.items():
                merged.setdefault(attr_name, attr)
        for attr in d.get("attributeDefs") or ():
            merged[attr["name"]] = attr
        self.attributes[name] = merged
        return merged

    def _unknown_in(self, type_name: str) -> str | None:
        """The first name in an attribute type that is no usable attribute type, or None."""
        shape, parts = _split_type(type_name)
        if shape != "name":
            for part in parts:
                bad = self._unknown_in(part)
                if bad is not None:
                    return bad
            return None
        if type_name in PRIMITIVE_TYPES or self.kind.get(type_name) in ("enumDefs", "structDefs", "entityDefs"):
            return None
        return type_name

    def _check_attribute_type(self, owner: str, where: str, type_name: str) -> None:
        bad = self._unknown_in(type_name)
        if bad is None:
            return
        if bad in self.kind:
            raise self._fail(owner, f"{where} has type '{type_name}': '{bad}' is a {_KIND[self.kind[bad]]}, "
                                    "not usable as an attribute type")
        candidates = [*PRIMITIVE_TYPES, *self.defs["enumDefs"], *self.defs["structDefs"], *self.defs["entityDefs"]]
        raise self._fail(owner, f"{where} has type '{type_name}': unknown type '{bad}'" + _suggest(bad, candidates))

    def _check_applicable_types(self, name: str, d: Mapping) -> None:
        for attr in d.get("attributeDefs") or ():
            raw = (attr.get("options") or {}).get("applicableEntityTypes")
            try:
                applicable = json.loads(raw) if isinstance(raw, str) else [] if raw is None else None
            except ValueError:
                applicable = None
            if not isinstance(applicable, list):
                raise self._fail(name, f"attribute '{attr['name']}' option applicableEntityTypes expects a JSON list "
                                       f"of entity type names, got {raw!r}")
            for entity_type in map(str, applicable):
                if self.kind.get(entity_type) != "entityDefs":
                    raise self._fail(name, f"attribute '{attr['name']}' applicableEntityTypes names unknown entity "
                                           f"type '{entity_type}'" + _suggest(entity_type, self.defs["entityDefs"]))

    def _resolve_relationship(self, name: str, d: Mapping) -> None:
        ends = (d["endDef1"], d["endDef2"])
        for label, end in zip(("endDef1", "endDef2"), ends):
            if self.kind.get(end["type"]) != "entityDefs":
                raise self._fail(name, f"{label} type '{end['type']}' is not a known entity type"
                                       + _suggest(end["type"], self.defs["entityDefs"]))
        for attr in d.get("attributeDefs") or ():
            self._check_attribute_type(name, f"attribute '{attr['name']}'", attr["typeName"])
        for end, other in ((ends[0], ends[1]), (ends[1], ends[0])):
            entry = (name, other["type"], end.get("cardinality", "SINGLE"))
            for sub in self.subtypes[end["type"]]:
                found = self.rel_ends[sub].setdefault(end["name"], [])
                if entry not in found:
                    found.append(entry)

    # -- validation tables ------------------------------------------------------------------

    def table(self, type_name: str, *, entity: bool = True) -> _Table:
        table = self.tables.get(type_name)
        if table is None:
            attributes = self.attributes[type_name]
            checkers = {n: self.checker(a["typeName"]) for n, a in attributes.items() if n != "qualifiedName"}
            mandatory = tuple(
                (n, self.expects(a["typeName"])) for n, a in attributes.items()
                if not a.get("isOptional", False) and n != "qualifiedName"
            )
            rel_checkers = {n: self._relationship_checker(ends) for n, ends in self.rel_ends.get(type_name, {}).items()}
            table = _Table(type_name, checkers, mandatory, rel_checkers, "qualifiedName" in attributes, entity)
            self.tables[type_name] = table
        return table

    def expects(self, type_name: str) -> str:
        """What an attribute of this type expects, in words."""
        shape, parts = _split_type(type_name)
        kind = self.kind.get(type_name)
        if shape != "name" or type_name in PRIMITIVE_TYPES:
            return "date (epoch milliseconds int or ISO-8601 string)" if type_name == "date" else type_name
        if kind == "enumDefs":
            values = [e["value"] for e in self.defs["enumDefs"][type_name].get("elementDefs") or ()]
            return f"{type_name} (one of {', '.join(values)})"
        if kind == "structDefs":
            return f"struct {type_name}"
        return f"a reference to {type_name}"

    def checker(self, type_name: str) -> Checker:
        found = self.checkers.get(type_name)
        if found is None:
            found = self.checkers[type_name] = self._make_checker(type_name)
        return found

    def _make_checker(self, type_name: str) -> Checker:
        shape, parts = _split_type(type_name)
        expects = self.expects(type_name)
        if shape == "array":
            return _array_checker(self.checker(parts[0]), self.expects(parts[0]), expects)
        if shape == "map":
            return _map_checker(self.checker(parts[0]), self.checker(parts[1]), self.expects(parts[1]), expects)
        if type_name in _PRIMITIVE_CHECKERS:
            return _PRIMITIVE_CHECKERS[type_name]
        kind = self.kind[type_name]
        if kind == "enumDefs":
            values = frozenset(e["value"] for e in self.defs["enumDefs"][type_name].get("elementDefs") or ())
            return _enum_checker(values, expects)
        if kind == "structDefs":
            return self._struct_checker(type_name)
        return _reference_checker(type_name, self.ancestors)

    def _struct_checker(self, struct_name: str) -> Checker:
        def check(value: Any) -> str | None:
            if not isinstance(value, Mapping):
                return f" expects struct {struct_name}, got {_describe(value)}"
            fields = value
            if isinstance(value.get("attributes"), Mapping) and "typeName" in value:
                if value["typeName"] != struct_name:
                    return f" expects struct {struct_name}, got struct {value['typeName']!r}"
                fields = value["attributes"]
            return self.check_fields(self.table(struct_name, entity=False), fields, f"struct {struct_name} fields")
        return check

    def check_fields(self, table: _Table, fields: Mapping, what: str) -> str | None:
        """Check a struct's or classification's attributes; the message tail or None."""
        for field_name, field_value in fields.items():
            chk = table.checkers.get(field_name)
            if chk is None:
                return (f" expects {what} ({', '.join(sorted(table.checkers)) or 'none'}), "
                        f"got unknown field '{field_name}'" + _suggest(field_name, table.checkers))
            if field_value is not None:
                frag = chk(field_value)
                if frag is not None:
                    return f".{field_name}{frag}"
        for field_name, expects in table.mandatory:
            if fields.get(field_name) is None:
                return f".{field_name} is mandatory: expects {expects}, got nothing"
        return None

    def _relationship_checker(self, ends: list[tuple[str, str, str]]) -> Checker:
        checks = []
        for _rel, other, cardinality in ends:
            single = _reference_checker(other, self.ancestors)
            checks.append(single if cardinality == "SINGLE" else _array_checker(single, f"a reference to {other}",
                                                                                 f"a list of references to {other}"))
        if len(checks) == 1:
            return checks[0]

        def check_any(value: Any) -> str | None:
            frags = [c(value) for c in checks]
            return None if None in frags else frags[0]
        return check_any


# -- the registry -----------------------------------------------------------------------------

_EMPTY = _State({s: {} for s in SECTIONS}, {}, {})
_default_state: _State | None = None
_default_lock = threading.Lock()


def _label(entity: Entity) -> str:
    return f"{entity.type_name} '{entity.qualified_name}'"


class TypeRegistry:
    """Atlas types by name: loads AtlasTypesDef JSON, answers is-a questions, validates entities."""

    def __init__(self) -> None:
        self._state = _EMPTY

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
            raise TypeDefError(f"{source}: expects an AtlasTypesDef object, got {_describe(typesdef)}")
        for key in typesdef:
            if key not in SECTIONS and not str(key).startswith("_"):
                raise TypeDefError(f"{source}: unknown AtlasTypesDef key '{key}'{_suggest(str(key), SECTIONS)} "
                                   f"(expects {', '.join(SECTIONS)})")
        old = self._state
        defs = {s: dict(old.defs[s]) for s in SECTIONS}
        kind, where = dict(old.kind), dict(old.source)
        loaded: set[str] = set()
        for section in SECTIONS:
            items = typesdef.get(section) or []
            if not isinstance(items, list):
                raise TypeDefError(f"{source}: {section} expects a list of typedefs, got {_describe(items)}")
            for d in items:
                name = d.get("name") if isinstance(d, Mapping) else None
                if not isinstance(name, str) or not name:
                    raise TypeDefError(f"{source}: every {_KIND[section]} needs a non-empty string 'name', "
                                       f"got {_describe(d)}")
                if name in PRIMITIVE_TYPES or name in ("array", "map"):
                    raise TypeDefError(f"{source}: {_KIND[section]} '{name}': '{name}' is a built-in type name")
                if name in loaded:
                    raise TypeDefError(f"{source}: {_KIND[section]} '{name}' is defined twice in this typesdef")
                if name in kind:
                    if not replace:
                        raise TypeDefError(f"{source}: {_KIND[section]} '{name}' already exists (defined by "
                                           f"{where[name]}); load with replace=True to redefine it")
                    if kind[name] != section:
                        raise TypeDefError(f"{source}: {_KIND[section]} '{name}' would replace a "
                                           f"{_KIND[kind[name]]} of that name (defined by {where[name]})")
                defs[section][name] = copy.deepcopy(dict(d))
                kind[name], where[name] = section, source
                loaded.add(name)
        self._state = _State(defs, kind, where)

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
            other = f" ('{name}' is a {_KIND[state.kind[name]]})" if name in state.kind else ""
            raise UnknownTypeError(f"unknown {what} '{name}'{other}{_suggest(name, state.defs[section])}")
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
                                   + _suggest(name, self._state.defs["relationshipDefs"]))
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
            section: [{"category": _CATEGORY[section], **copy.deepcopy(d)} for d in state.defs[section].values()]
            for section in SECTIONS
        }

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
                                        f"expects a non-empty string, got {_describe(entity.qualified_name)}")

    def _require_entity_type(self, entity: Entity) -> None:
        state = self._state
        if entity.type_name not in state.defs["entityDefs"]:
            name = entity.type_name
            other = f" ('{name}' is a {_KIND[state.kind[name]]})" if name in state.kind else ""
            raise UnknownTypeError(f"{_label(entity)}: unknown entity type '{name}'{other}"
                                   + _suggest(str(name), state.defs["entityDefs"]))

    def _check_other_attribute(self, entity: Entity, table: _Table, name: str, value: Any) -> None:
        """An attribute with no checker: qualifiedName, a relationship end (Atlas moves those), or unknown."""
        if name == "qualifiedName" and table.has_qualified_name:
            if value is not None and value != entity.qualified_name:
                raise EntityValidationError(f"{_label(entity)}: attribute 'qualifiedName' expects the entity's "
                                            f"qualifiedName '{entity.qualified_name}', got {_describe(value)}")
            return
        rel = table.rel_checkers.get(name)
        if rel is not None:
            frag = rel(value) if value is not None else None
            if frag is not None:
                raise EntityValidationError(f"{_label(entity)}: attribute '{name}'{frag}")
            return
        known = [*table.checkers, *table.rel_checkers]
        hint = _suggest(name, known) or f" (attributes: {', '.join(sorted(known))})"
        raise EntityValidationError(f"{_label(entity)}: attribute '{name}' is not an attribute of "
                                    f"{entity.type_name}, got {_describe(value)}{hint}")

    def _not_a_relationship(self, entity: Entity, table: _Table, name: str) -> str:
        ends = sorted(table.rel_checkers)
        hint = _suggest(name, ends) or f" (relationship attributes: {', '.join(ends) or 'none'})"
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
                hint = _suggest(str(name), known) or f" (known: {', '.join(sorted(known)) or 'none'})"
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
