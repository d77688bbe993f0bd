"""Resolved typedefs: the immutable state a ``TypeRegistry`` swaps in after a load.

A ``State`` checks the shape of every def, resolves every name it uses (super types,
attribute types, relationship ends), and compiles per-type validation tables on first
use. ``TypeRegistry.load`` builds a new state and keeps it only when all of that
succeeds, so a failed load changes nothing.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from catalog.errors import TypeDefError, did_you_mean
from catalog.types.checkers import (
    PRIMITIVE_CHECKERS,
    Checker,
    array_checker,
    describe,
    enum_checker,
    map_checker,
    reference_checker,
)

SECTIONS = ("enumDefs", "structDefs", "classificationDefs", "entityDefs", "relationshipDefs", "businessMetadataDefs")
KIND = {
    "enumDefs": "enumDef", "structDefs": "structDef", "classificationDefs": "classificationDef",
    "entityDefs": "entityDef", "relationshipDefs": "relationshipDef", "businessMetadataDefs": "businessMetadataDef",
}
CATEGORY = {
    "enumDefs": "ENUM", "structDefs": "STRUCT", "classificationDefs": "CLASSIFICATION",
    "entityDefs": "ENTITY", "relationshipDefs": "RELATIONSHIP", "businessMetadataDefs": "BUSINESS_METADATA",
}
PRIMITIVE_TYPES = frozenset(
    ["boolean", "byte", "short", "int", "long", "float", "double", "biginteger", "bigdecimal", "string", "date"]
)
_CARDINALITIES = ("SINGLE", "LIST", "SET")
_REL_CATEGORIES = ("ASSOCIATION", "AGGREGATION", "COMPOSITION")
_PROPAGATE = ("NONE", "ONE_TO_TWO", "TWO_TO_ONE", "BOTH")


def split_type(type_name: str) -> tuple[str, tuple[str, ...]]:
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


class Table:
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


class State:
    """Everything loaded, resolved; never mutated after construction except its lazy caches."""

    def __init__(self, defs: dict[str, dict[str, dict]], kind: dict[str, str], source: dict[str, str]) -> None:
        self.defs = defs
        self.kind = kind
        self.source = source
        self.ancestors: dict[str, frozenset[str]] = {}
        self.subtypes: dict[str, set[str]] = {}
        self.attributes: dict[str, dict[str, dict]] = {}
        self.rel_ends: dict[str, dict[str, list[tuple[str, str, str]]]] = {}
        self.tables: dict[str, Table] = {}
        self.checkers: dict[str, Checker] = {}
        self._resolve()

    # -- resolution -------------------------------------------------------------------------

    def _fail(self, name: str, detail: str) -> TypeDefError:
        return TypeDefError(f"{self.source[name]}: {KIND[self.kind[name]]} '{name}': {detail}")

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
                                     + did_you_mean(entity_type, self.defs["entityDefs"]))
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
                    raise self._fail(name, f"{end} expects an object with string 'type' and 'name', got {describe(e)}")
                self._one_of(name, f"{end} cardinality", e.get("cardinality", "SINGLE"), _CARDINALITIES)
        attrs = d.get("attributeDefs") or []
        if not isinstance(attrs, list):
            raise self._fail(name, f"attributeDefs expects a list, got {describe(attrs)}")
        seen: set[str] = set()
        for a in attrs:
            if not (isinstance(a, Mapping) and isinstance(a.get("name"), str) and isinstance(a.get("typeName"), str)):
                raise self._fail(name, f"every attributeDef needs string 'name' and 'typeName', got {describe(a)}")
            if a["name"] in seen:
                raise self._fail(name, f"attribute '{a['name']}' is defined twice")
            self._one_of(name, f"attribute '{a['name']}' cardinality", a.get("cardinality", "SINGLE"), _CARDINALITIES)
            seen.add(a["name"])
        supers = d.get("superTypes") or []
        if not isinstance(supers, list) or any(not isinstance(s, str) for s in supers):
            raise self._fail(name, f"superTypes expects a list of type names, got {describe(supers)}")
        if supers and section not in ("entityDefs", "classificationDefs"):
            raise self._fail(name, f"superTypes expects nothing on a {KIND[section]}, got {supers!r}")

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
                        else f"a {KIND[self.kind[sup]]}, expects an {KIND[section]}")
                raise self._fail(name, f"superType '{sup}' is {what}" + did_you_mean(sup, self.defs[section]))
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
        shape, parts = split_type(type_name)
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
            raise self._fail(owner, f"{where} has type '{type_name}': '{bad}' is a {KIND[self.kind[bad]]}, "
                                    "not usable as an attribute type")
        candidates = [*PRIMITIVE_TYPES, *self.defs["enumDefs"], *self.defs["structDefs"], *self.defs["entityDefs"]]
        raise self._fail(owner, f"{where} has type '{type_name}': unknown type '{bad}'" + did_you_mean(bad, candidates))

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
                                           f"type '{entity_type}'" + did_you_mean(entity_type, self.defs["entityDefs"]))

    def _resolve_relationship(self, name: str, d: Mapping) -> None:
        ends = (d["endDef1"], d["endDef2"])
        for label, end in zip(("endDef1", "endDef2"), ends):
            if self.kind.get(end["type"]) != "entityDefs":
                raise self._fail(name, f"{label} type '{end['type']}' is not a known entity type"
                                       + did_you_mean(end["type"], self.defs["entityDefs"]))
        for attr in d.get("attributeDefs") or ():
            self._check_attribute_type(name, f"attribute '{attr['name']}'", attr["typeName"])
        for end, other in ((ends[0], ends[1]), (ends[1], ends[0])):
            entry = (name, other["type"], end.get("cardinality", "SINGLE"))
            for sub in self.subtypes[end["type"]]:
                found = self.rel_ends[sub].setdefault(end["name"], [])
                if entry not in found:
                    found.append(entry)

    # -- validation tables ------------------------------------------------------------------

    def table(self, type_name: str, *, entity: bool = True) -> Table:
        table = self.tables.get(type_name)
        if table is None:
            attributes = self.attributes[type_name]
            checkers = {n: self.checker(a["typeName"]) for n, a in attributes.items() if n != "qualifiedName"}
            mandatory = tuple(
                (n, self.expects(a["typeName"])) for n, a in attributes.items()
                if not a.get("isOptional", False) and n != "qualifiedName"
            )
            rel_checkers = {n: self._relationship_checker(ends) for n, ends in self.rel_ends.get(type_name, {}).items()}
            table = Table(type_name, checkers, mandatory, rel_checkers, "qualifiedName" in attributes, entity)
            self.tables[type_name] = table
        return table

    def expects(self, type_name: str) -> str:
        """What an attribute of this type expects, in words."""
        shape, parts = split_type(type_name)
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
        shape, parts = split_type(type_name)
        expects = self.expects(type_name)
        if shape == "array":
            return array_checker(self.checker(parts[0]), self.expects(parts[0]), expects)
        if shape == "map":
            return map_checker(self.checker(parts[0]), self.checker(parts[1]), self.expects(parts[1]), expects)
        if type_name in PRIMITIVE_CHECKERS:
            return PRIMITIVE_CHECKERS[type_name]
        kind = self.kind[type_name]
        if kind == "enumDefs":
            values = frozenset(e["value"] for e in self.defs["enumDefs"][type_name].get("elementDefs") or ())
            return enum_checker(values, expects)
        if kind == "structDefs":
            return self._struct_checker(type_name)
        return reference_checker(type_name, self.ancestors)

    def _struct_checker(self, struct_name: str) -> Checker:
        def check(value: Any) -> str | None:
            if not isinstance(value, Mapping):
                return f" expects struct {struct_name}, got {describe(value)}"
            fields = value
            if isinstance(value.get("attributes"), Mapping) and "typeName" in value:
                if value["typeName"] != struct_name:
                    return f" expects struct {struct_name}, got struct {value['typeName']!r}"
                fields = value["attributes"]
            return self.check_fields(self.table(struct_name, entity=False), fields, f"struct {struct_name} fields")
        return check

    def check_fields(self, table: Table, fields: Mapping, what: str) -> str | None:
        """Check a struct's or classification's attributes; the message tail or None."""
        for field_name, field_value in fields.items():
            chk = table.checkers.get(field_name)
            if chk is None:
                return (f" expects {what} ({', '.join(sorted(table.checkers)) or 'none'}), "
                        f"got unknown field '{field_name}'" + did_you_mean(field_name, table.checkers))
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
            single = reference_checker(other, self.ancestors)
            checks.append(single if cardinality == "SINGLE" else array_checker(single, f"a reference to {other}",
                                                                                 f"a list of references to {other}"))
        if len(checks) == 1:
            return checks[0]

        def check_any(value: Any) -> str | None:
            frags = [c(value) for c in checks]
            return None if None in frags else frags[0]
        return check_any


EMPTY = State({s: {} for s in SECTIONS}, {}, {})
