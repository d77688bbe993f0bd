"""References to entities: every form parsed and resolved here, with one set of patterns.

Forms (docs/cli.md): a guid; a qualifiedName; ``type:qualifiedName``;
``models:/name/N`` (a model version); ``models:/name@alias`` (the version carrying an
alias); ``runs:/run_id[/path]`` (a training run). The CLI, the web layer, the ingest
funnel and every later entry point (Atlas API, hook, ``catalog check``, ``catalog
score``) go through ``parse`` and ``resolve``; an unknown reference raises ``NotFound``
and one that matches several entities ``AmbiguousReference``, each naming what was tried.
"""

from __future__ import annotations

import re
from collections.abc import Container
from dataclasses import dataclass
from typing import TYPE_CHECKING

from sqlalchemy.orm import Session

from catalog import naming, store
from catalog.errors import AmbiguousReference, NotFound
from catalog.model import MODEL_BUILD, RUN, StoredEntity

if TYPE_CHECKING:
    from catalog.types.registry import TypeRegistry

__all__ = [
    "GUID",
    "MODEL_NAME",
    "ALIAS",
    "Ref",
    "is_guid",
    "parse",
    "parse_model_ref",
    "model_ref",
    "resolve",
    "resolve_model_version",
]

#: Atlas guids as the catalog writes them (lower-case, canonical form).
GUID = r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"
#: A registered model name inside ``models:/``: anything up to the version or alias at the end
#: (names may hold ``/``, as CML's "Predict w/ Monitoring & Lineage" does).
MODEL_NAME = r".+?"
#: An MLflow alias (ASCII letters, digits, ``_``, ``-``).
ALIAS = r"[A-Za-z0-9_-]+"
_GUID = re.compile(GUID + r"\Z")
_MODEL = re.compile(rf"models:/(?P<name>{MODEL_NAME})(?:/(?P<version>[0-9]+)|@(?P<alias>{ALIAS}))\Z")
_RUN = re.compile(r"runs:/(?P<run>[0-9A-Za-z_-]+)(?:/.*)?\Z")
_MODEL_EXPECTED = "'models:/<name>/<version>' or 'models:/<name>@<alias>'"
#: Versions are Atlas ``int`` attributes (``ml_model_version.version``).
VERSION_MAX = 2**31 - 1


@dataclass(frozen=True, slots=True)
class Ref:
    """A parsed reference: ``kind`` is guid, model_version, model_alias, run, typed or qualified_name."""

    kind: str
    text: str
    key: str  # the guid, model name, run id or qualifiedName
    selector: int | str | None = None  # version number or alias of a model reference
    type_name: str | None = None  # of a typed reference


def is_guid(text: str) -> bool:
    return _GUID.match(text) is not None


def parse(text: str, *, entity_types: Container[str] = ()) -> Ref:
    """Which form ``text`` is; ``entity_types`` tells ``type:qualifiedName`` from a name with a colon."""
    text = text.strip()
    if _GUID.match(text):
        return Ref("guid", text, text)
    if _MODEL.match(text):
        name, selector = parse_model_ref(text)
        kind = "model_version" if isinstance(selector, int) else "model_alias"
        return Ref(kind, text, name, selector)
    if m := _RUN.match(text):
        return Ref("run", text, m["run"])
    type_name, sep, rest = text.partition(":")
    if sep and type_name in entity_types:
        return Ref("typed", text, rest, type_name=type_name)
    return Ref("qualified_name", text, text)


def parse_model_ref(text: str) -> tuple[str, int | str]:
    """``models:/wine-quality/3`` -> ``('wine-quality', 3)``; ``models:/m@champion`` -> ``('m', 'champion')``.

    Raises ``ValueError`` naming the expected forms, or the version bound.
    """
    m = _MODEL.match(text)
    if m is None:
        raise ValueError(f"expected {_MODEL_EXPECTED}, got {text!r}")
    if m["version"] is None:
        return m["name"], m["alias"]
    return m["name"], _version(m["version"])


def _version(digits: str) -> int:
    if len(digits.lstrip("0")) > len(str(VERSION_MAX)) or int(digits) > VERSION_MAX:
        shown = digits if len(digits) <= 60 else digits[:57] + "..."
        raise ValueError(
            f"expected a model version of at most {VERSION_MAX} (ml_model_version.version is an Atlas int), "
            f"got {shown}"
        )
    return int(digits)


def model_ref(model: str, selector: int | str) -> str:
    """The ``models:/`` reference of a version number or an alias."""
    return f"models:/{model}/{selector}" if isinstance(selector, int) else f"models:/{model}@{selector}"


def resolve(session: Session, text: str, registry: TypeRegistry, instance: str) -> StoredEntity:
    """The one entity ``text`` refers to; ``NotFound`` / ``AmbiguousReference`` otherwise."""
    ref = parse(text, entity_types=_EntityTypes(registry))
    if ref.kind == "guid":
        found = store.get_entity(session, ref.key)
        if found is None:
            raise NotFound(f"no entity with guid {ref.key}")
        return found
    if ref.kind in ("model_version", "model_alias"):
        assert ref.selector is not None
        return resolve_model_version(session, ref.key, ref.selector, registry, instance)
    if ref.kind == "run":
        qn = naming.run_qn(ref.key, instance)
        return _one(session, ref.text, store.find_by_qualified_name(session, qn, registry.subtypes(RUN)))
    if ref.kind == "typed":
        assert ref.type_name is not None
        return _one(session, ref.text, store.find_by_qualified_name(session, ref.key, {ref.type_name}))
    return _one(session, ref.text, store.find_by_qualified_name(session, ref.key))


def resolve_model_version(
    session: Session, model: str, selector: int | str, registry: TypeRegistry, instance: str
) -> StoredEntity:
    """The stored version ``selector`` (a number or an alias) of registered model ``model``."""
    types = registry.subtypes(MODEL_BUILD)
    text = model_ref(model, selector)
    if isinstance(selector, int):
        qn = naming.model_version_qn(model, selector, instance)
        return _one(session, text, store.find_by_qualified_name(session, qn, types))
    prefix = model + "/"
    candidates = [
        e
        for e in store.search(session, prefix, type_names=types, limit=10_000)
        if e.qualified_name.startswith(prefix)
        and selector in (e.attributes.get("aliases") or [])
        and e.qualified_name.endswith("@" + instance)
    ]
    if not candidates:
        raise NotFound(f"{text}: no version of model '{model}' carries alias '{selector}' in the catalog")
    return _one(session, text, candidates)


def _one(session: Session, ref: str, found: list[StoredEntity]) -> StoredEntity:
    if len(found) == 1:
        return found[0]
    if len(found) > 1:
        names = ", ".join(f"{e.type_name}:{e.qualified_name}" for e in found)
        raise AmbiguousReference(f"{ref} matches {len(found)} entities: {names}; prefix it with the type")
    stem = naming.split_cluster(ref.rsplit("/", 1)[-1].split(":", 1)[-1])[0][:40]
    similar = [e.qualified_name for e in store.search(session, stem, limit=5)] if stem else []
    hint = f"; similar: {', '.join(similar)}" if similar else ""
    raise NotFound(f"no entity matches '{ref}'{hint}")


class _EntityTypes:
    """``in`` over the registry's entity type names, without listing them."""

    def __init__(self, registry: TypeRegistry) -> None:
        self._registry = registry

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and self._registry.has_entity_type(name)
