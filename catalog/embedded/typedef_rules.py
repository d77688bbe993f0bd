"""The rules of Atlas's typedef API: request bodies, what a typedef must be, what an update may change.

Pure functions over AtlasTypesDef JSON that raise ``AtlasApiError`` with Atlas's own
codes (``AtlasErrorCode``) and messages in Atlas's templates, with the typedef and the
attribute named; ``catalog.embedded.typedefs`` runs them on the typedefs read under the
store's write lock. Where Atlas answers less helpfully (an unknown attribute type is a
404 "Given typename X was invalid" there), the code is the one Atlas defines for the case
(``UNKNOWN_TYPE``, 400) and the difference is in docs/atlas.md.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from catalog.canonical import canonical_json
from catalog.embedded.errors import AtlasApiError
from catalog.errors import did_you_mean
from catalog.types.checkers import describe
from catalog.types.registry import TypeRegistry, names_in
from catalog.types.resolved import CATEGORY, KIND, PRIMITIVE_TYPES, SECTIONS

__all__ = ["posted", "check_request", "check_names", "check_update", "search_filter", "clean", "body_of",
           "FILTER_TYPES", "PATH_CATEGORIES", "SECTION_OF"]

# Atlas's AtlasErrorCode values for what the typedef API refuses (Atlas's message template beside some).
TYPE_ALREADY_EXISTS = "ATLAS-409-00-001"  # Given type {0} already exists
TYPE_HAS_REFERENCES = "ATLAS-409-00-002"  # Given type {0} has references
TYPE_HAS_RELATIONSHIPS = "ATLAS-409-00-005"  # Given type {0} has associated relationshipDefs
TYPE_NAME_NOT_FOUND = "ATLAS-404-00-001"  # Given typename {0} was invalid
TYPE_GUID_NOT_FOUND = "ATLAS-404-00-002"  # Given type guid {0} was invalid
UNKNOWN_TYPE = "ATLAS-400-00-001"  # Unknown type {0} for {1}.{2}
INCOMPATIBLE_SUPERTYPE = "ATLAS-400-00-003"  # {0}: incompatible supertype {1}
CANNOT_ADD_MANDATORY_ATTRIBUTE = "ATLAS-400-00-00C"
ATTRIBUTE_DELETION_NOT_SUPPORTED = "ATLAS-400-00-00D"
SUPERTYPE_REMOVAL_NOT_SUPPORTED = "ATLAS-400-00-00E"
TYPE_MATCH_FAILED = "ATLAS-400-00-010"  # Given type {0} doesn't match {1}
INVALID_TYPE_DEFINITION = "ATLAS-400-00-011"  # Invalid type definition {0}
TYPE_NAME_INVALID_FORMAT = "ATLAS-400-00-019"
BAD_REQUEST = "ATLAS-400-00-029"
MISSING_MANDATORY_ATTRIBUTE = "ATLAS-400-00-02B"  # Mandatory field {0}.{1} has empty/null value
RELATIONSHIPDEF_INVALID_END_TYPE = "ATLAS-400-00-035"
RELATIONSHIPDEF_INVALID_END1_UPDATE = "ATLAS-400-00-037"
RELATIONSHIPDEF_INVALID_END2_UPDATE = "ATLAS-400-00-038"
CLASSIFICATIONDEF_INVALID_ENTITYTYPES = "ATLAS-400-00-052"
ATTRIBUTE_TYPE_INVALID = "ATLAS-400-00-081"
UNSUPPORTED_TYPE_NAME = "ATLAS-400-00-102"
INVALID_GUID = "ATLAS-400-00-108"
UNAUTHORIZED_ACCESS = "ATLAS-403-00-001"

SECTION_OF = {category: section for section, category in CATEGORY.items()}
#: ``type`` values of Atlas's SearchFilter (``FilterUtil.getTypePredicate``) -> category.
FILTER_TYPES = {"CLASS": "ENTITY", "ENTITY": "ENTITY", "TRAIT": "CLASSIFICATION", "CLASSIFICATION": "CLASSIFICATION",
                "STRUCT": "STRUCT", "ENUM": "ENUM", "RELATIONSHIP": "RELATIONSHIP",
                "BUSINESS_METADATA": "BUSINESS_METADATA"}
#: The per-category reads (``types/entitydef/name/{name}``): path segment -> category.
PATH_CATEGORIES = {"entitydef": "ENTITY", "classificationdef": "CLASSIFICATION", "relationshipdef": "RELATIONSHIP",
                   "enumdef": "ENUM", "structdef": "STRUCT", "businessmetadatadef": "BUSINESS_METADATA"}

_NAME = re.compile(r"[a-zA-Z][a-zA-Z0-9_ ]*\Z")  # Atlas's AtlasTypeUtil NAME_REGEX
_TRAIT_NAME = re.compile(r"[a-zA-Z][a-zA-Z0-9_ .]*\Z")  # classifications may also use '.'
_RESERVED = {"description", "version", "options", "name", "servicetype"}
#: What the server keeps about a typedef, and what it derives: never part of a stored body.
BOOKKEEPING = ("guid", "createdBy", "updatedBy", "createTime", "updateTime", "version")
DERIVED = ("category", "subTypes", "relationshipAttributeDefs", "businessAttributeDefs")
_ATTRIBUTE_SECTIONS = ("enumDefs", "structDefs", "entityDefs")


def invalid(code: str, message: str) -> AtlasApiError:
    return AtlasApiError(400, code, message)


def name_not_found(name: str) -> AtlasApiError:
    return AtlasApiError(404, TYPE_NAME_NOT_FOUND, f"Given typename {name} was invalid")


def guid_not_found(guid: str) -> AtlasApiError:
    return AtlasApiError(404, TYPE_GUID_NOT_FOUND, f"Given type guid {guid} was invalid")


def builtin_refused(user: str, action: str, name: str) -> AtlasApiError:
    return AtlasApiError(403, UNAUTHORIZED_ACCESS,
                         f"{user} is not authorized to perform {action} of type {name}: {name} is a built-in type "
                         "of the catalog (read-only); only typedefs created through the API can be changed")


# -- request bodies ---------------------------------------------------------------------------

def _drop_nulls(value: Any) -> Any:
    """Atlas reads a null field as an absent one (its official client sends every field, most null)."""
    if isinstance(value, Mapping):
        return {k: _drop_nulls(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [_drop_nulls(v) for v in value]
    return value


def posted(body: Any) -> list[tuple[str, dict[str, Any]]]:
    """``(section, def)`` of an AtlasTypesDef request body, in section order."""
    if not isinstance(body, Mapping):
        raise invalid(BAD_REQUEST, f"expects an AtlasTypesDef object ({', '.join(SECTIONS)}), got {describe(body)}")
    for key in body:
        if key not in SECTIONS:
            raise invalid(BAD_REQUEST, f"unknown AtlasTypesDef key '{key}'{did_you_mean(key, SECTIONS)} "
                                        f"(expects {', '.join(SECTIONS)})")
    found = []
    for section in SECTIONS:
        items = body.get(section)
        if items is not None and not isinstance(items, list):
            raise invalid(BAD_REQUEST, f"{section} expects a list of typedefs, got {describe(items)}")
        for d in items or ():
            if not isinstance(d, Mapping):
                raise invalid(BAD_REQUEST, f"{section} expects typedef objects, got {describe(d)}")
            found.append((section, _drop_nulls(d)))
    return found


def clean(d: Mapping[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in d.items() if k not in BOOKKEEPING and k not in DERIVED}


def body_of(d: Mapping[str, Any]) -> str:
    return canonical_json(clean(d))


def check_shape(section: str, d: Mapping[str, Any]) -> None:
    """What a posted def must be before any name resolves: name, category, attributeDefs, elementDefs."""
    name, category = d.get("name"), CATEGORY[section]
    if not isinstance(name, str) or not name.strip():
        raise invalid(MISSING_MANDATORY_ATTRIBUTE, f"Mandatory field {KIND[section]}.name has empty/null value "
                                                    f"(got {describe(name)})")
    if not (_TRAIT_NAME if section == "classificationDefs" else _NAME).match(name):
        raise invalid(TYPE_NAME_INVALID_FORMAT, f"{name}: invalid name for {category}.  Names must consist of a "
                                                 "letter followed by a sequence of letter, number, space, or '_' "
                                                 "characters")
    if name.lower() in _RESERVED or name in PRIMITIVE_TYPES or name in ("array", "map"):
        raise invalid(UNSUPPORTED_TYPE_NAME, f"Unsupported {category} name '{name}'. Names such as 'description',"
                                              "'version','options','name','servicetype' and the primitive types' "
                                              "are not supported")
    if d.get("category", category) != category:
        raise invalid(TYPE_MATCH_FAILED, f"Given type {name} doesn't match {category}: it is in {section}, "
                                          f"its category says {d['category']!r}")
    if not isinstance(d.get("serviceType", ""), str):
        raise invalid(INVALID_TYPE_DEFINITION, f"Invalid type definition {name}: serviceType expects a string, "
                                                f"got {describe(d['serviceType'])}")
    attrs = d.get("attributeDefs", [])
    if not isinstance(attrs, list):
        raise invalid(INVALID_TYPE_DEFINITION, f"Invalid type definition {name}: attributeDefs expects a list, "
                                                f"got {describe(attrs)}")
    for i, a in enumerate(attrs):
        for field in ("name", "typeName"):
            value = a.get(field) if isinstance(a, Mapping) else None
            if not isinstance(value, str) or not value.strip():
                which = f"'{a['name']}'" if isinstance(a, Mapping) and isinstance(a.get("name"), str) else f"#{i + 1}"
                got = "nothing" if value is None else describe(value)
                raise invalid(MISSING_MANDATORY_ATTRIBUTE, f"Mandatory field {name}.{field} has empty/null value "
                                                           f"(attribute {which}, got {got})")
    if section == "enumDefs":
        elements = d.get("elementDefs")
        if not isinstance(elements, list) or not elements:
            raise invalid(MISSING_MANDATORY_ATTRIBUTE, f"Mandatory field {name}.values has empty/null value "
                                                       "(elementDefs expects a non-empty list, got "
                                                       f"{describe(elements)})")
        for e in elements:
            if not isinstance(e, Mapping) or not isinstance(e.get("value"), str) or not e["value"]:
                raise invalid(MISSING_MANDATORY_ATTRIBUTE, f"Mandatory field {name}.elementValue has empty/null "
                                                            f"value (got {describe(e)})")


def check_request(posted: Sequence[tuple[str, Mapping[str, Any]]]) -> None:
    seen: set[str] = set()
    for section, d in posted:
        check_shape(section, d)
        if d["name"] in seen:
            raise invalid(INVALID_TYPE_DEFINITION, f"Invalid type definition {d['name']}: defined twice in this "
                                                    "request")
        seen.add(d["name"])


def _hint(name: str, known: Mapping[str, str], sections: Sequence[str]) -> str:
    return did_you_mean(name, [n for n, s in known.items() if s in sections])


def check_names(section: str, d: Mapping[str, Any], known: Mapping[str, str]) -> None:
    """Every name a def uses resolves (``known``: name -> section, current and posted typedefs)."""
    name = d["name"]
    for sup in d.get("superTypes") or ():
        found = known.get(sup) if isinstance(sup, str) else None
        if found is None:
            raise invalid(UNKNOWN_TYPE, f"Unknown type {sup} for {name}.superTypes" + _hint(str(sup), known, [section]))
        if found != section:
            raise invalid(INCOMPATIBLE_SUPERTYPE, f"{name}: incompatible supertype {sup} (a {KIND[found]}, "
                                                   f"expects a {KIND[section]})")
    for a in d.get("attributeDefs") or ():
        for used in sorted(names_in(a["typeName"]) - PRIMITIVE_TYPES):
            found = known.get(used)
            whole = f" (typeName {a['typeName']})" if used != a["typeName"] else ""
            if found is None:
                candidates = [*PRIMITIVE_TYPES, *(n for n, s in known.items() if s in _ATTRIBUTE_SECTIONS)]
                raise invalid(UNKNOWN_TYPE, f"Unknown type {used} for {name}.{a['name']}{whole}"
                                             + did_you_mean(used, candidates))
            if found not in _ATTRIBUTE_SECTIONS:
                raise invalid(ATTRIBUTE_TYPE_INVALID, f"{name}.{a['name']}: invalid attribute type. Attribute cannot "
                                                       f"be of type {KIND[found][:-3]} ({used}){whole}")
    for end in ("endDef1", "endDef2") if section == "relationshipDefs" else ():
        e = d.get(end)
        if not isinstance(e, Mapping) or not isinstance(e.get("type"), str) or not isinstance(e.get("name"), str):
            raise invalid(MISSING_MANDATORY_ATTRIBUTE, f"Mandatory field {name}.{end} has empty/null value "
                                                       "(expects an object with string type and name, got "
                                                       f"{describe(e)})")
        if known.get(e["type"]) != "entityDefs":
            raise invalid(RELATIONSHIPDEF_INVALID_END_TYPE, f"relationshipDef {name} has invalid end type {e['type']}"
                                                             f" ({end}, expects an entity type)"
                                                             + _hint(e["type"], known, ["entityDefs"]))
    for entity_type in d.get("entityTypes") or ():
        if known.get(entity_type) != "entityDefs":
            raise invalid(CLASSIFICATIONDEF_INVALID_ENTITYTYPES, f"ClassificationDef '{name}' has invalid "
                                                                  f"'{entity_type}' in entityTypes"
                                                                  + _hint(str(entity_type), known, ["entityDefs"]))


def check_update(section: str, old: Mapping[str, Any], new: Mapping[str, Any]) -> None:
    """What Atlas refuses of an update: removed attributes or superTypes, new mandatory ones, type changes."""
    name = new["name"]
    before = {a["name"]: a for a in old.get("attributeDefs") or ()}
    after = {a["name"]: a for a in new.get("attributeDefs") or ()}
    for attr in before:
        if attr not in after:
            raise invalid(ATTRIBUTE_DELETION_NOT_SUPPORTED, f"{name}.{attr} : attribute delete not supported")
    for attr, a in after.items():
        was = before.get(attr)
        if was is None and not a.get("isOptional", False):
            raise invalid(CANNOT_ADD_MANDATORY_ATTRIBUTE, f"{name}.{attr} : can not add mandatory attribute")
        if was is not None and was["typeName"] != a["typeName"]:
            raise invalid(BAD_REQUEST, f"Data type update for attribute is not supported: {name}.{attr} is "
                                        f"{was['typeName']}, the update says {a['typeName']}")
    removed = set(old.get("superTypes") or ()) - set(new.get("superTypes") or ())
    if removed:
        raise invalid(SUPERTYPE_REMOVAL_NOT_SUPPORTED, f"superType remove not supported: {name} would no longer "
                                                        f"extend {', '.join(sorted(removed))}")
    ends = (("endDef1", RELATIONSHIPDEF_INVALID_END1_UPDATE), ("endDef2", RELATIONSHIPDEF_INVALID_END2_UPDATE))
    for end, code in ends:
        if section == "relationshipDefs":
            now, was_end = new.get(end) or {}, old[end]
            if (now.get("type"), now.get("name")) != (was_end["type"], was_end["name"]):
                raise invalid(code, f"invalid update for relationshipDef {name}: new {end[:3]}{end[-1]} "
                                     f"{now.get('type')}.{now.get('name')}, existing {end[:3]}{end[-1]} "
                                     f"{was_end['type']}.{was_end['name']}")



def search_filter(params: Mapping[str, Sequence[str]]) -> Callable[[TypeRegistry, str, Mapping[str, Any]], bool]:
    """Atlas's SearchFilter (``FilterUtil``): type, name, supertype, servicetype and their negations."""
    def first(*keys: str) -> str | None:
        return next((v[0] for k in keys if (v := params.get(k)) and v[0]), None)

    wanted = first("type")
    category = FILTER_TYPES.get(wanted.upper()) if wanted else None
    if wanted and category is None:
        names = ["entity", "classification", "relationship", "enum", "struct", "business_metadata"]
        raise invalid(BAD_REQUEST, f"query parameter type={wanted[:40]!r} names no typedef category: expects one of "
                                    f"{', '.join(names)}{did_you_mean(wanted.lower(), names)}")
    name, supertype, not_super = first("name"), first("supertype"), first("notsupertype")
    service, not_service = first("servicetype", "serviceType"), first("notservicetype", "notServiceType")
    not_names = set(params.get("notname") or ())

    def keep(registry: TypeRegistry, section: str, d: Mapping[str, Any]) -> bool:
        ancestors = registry.super_types(d["name"]) - {d["name"]}
        return ((category is None or CATEGORY[section] == category) and (name is None or d["name"] == name)
                and (supertype is None or supertype in ancestors) and (not_super is None or not_super not in ancestors)
                and (service is None or d.get("serviceType") == service)
                and (not_service is None or d.get("serviceType") != not_service) and d["name"] not in not_names)
    return keep
