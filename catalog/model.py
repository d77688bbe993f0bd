"""Value objects shared by every layer: entities, references, classifications, findings.

Pure Python, no I/O. Entities are Atlas entities: ``typeName``, unique
``qualifiedName``, a stable ``guid``, attributes, relationship attributes and
classifications. References between entities are ``EntityRef`` values, the
equivalent of Atlas's ``AtlasObjectId`` with ``uniqueAttributes``.
"""

from __future__ import annotations

import functools
import hashlib
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

__all__ = [
    "EntityRef",
    "Classification",
    "Entity",
    "Finding",
    "SourceBatch",
    "StoredClassification",
    "StoredEntity",
    "EntityHeader",
    "HEADER_ATTRIBUTES",
    "LINEAGE_HEADER_KEYS",
    "LineageRelation",
    "LineageGraph",
    "guid_for",
    "ACTIVE",
    "DELETED",
    "HIVE_TABLE",
    "FS_PATH",
    "ML_DATASET",
    "PROJECT",
    "RUN",
    "LOGGED_MODEL",
    "REGISTERED_MODEL",
    "MODEL_VERSION",
    "MODEL_BUILD",
    "DECLARED_TRAINING",
    "DEPLOY_PROCESS",
    "DEPLOYMENT",
]

ACTIVE = "ACTIVE"
DELETED = "DELETED"

# Type names the code refers to (docs/atlas-types.md); every module takes them from here.
HIVE_TABLE = "hive_table"
FS_PATH = "fs_path"
ML_DATASET = "ml_dataset"
PROJECT = "ml_project"
RUN = "ml_training_run"
LOGGED_MODEL = "ml_logged_model"
REGISTERED_MODEL = "ml_registered_model"
MODEL_VERSION = "ml_model_version"
#: Atlas's model-build type: the super type of ``ml_model_version``.
MODEL_BUILD = "ml_model_build"
#: Atlas's train-build process: lineage.yml's declared training (tables -> registered model).
DECLARED_TRAINING = "ml_model_train_build_process"
DEPLOY_PROCESS = "ml_model_deploy_process"
DEPLOYMENT = "ml_deployment"

# Namespace for deterministic guids: the same (typeName, qualifiedName) gets the same
# guid in every catalog, so two concurrent ingests agree without a round trip.
_GUID_NAMESPACE = uuid.UUID("6f1c3c5e-5d0a-4b7e-9a55-0c1a7a6c0a11")
_NAMESPACE_BYTES = _GUID_NAMESPACE.bytes


@functools.lru_cache(maxsize=1 << 20)
def guid_for(type_name: str, qualified_name: str) -> str:
    """The stable guid of the entity keyed by (type_name, qualified_name): RFC 4122 UUID version 5.

    Equal to ``str(uuid.uuid5(namespace, f"{type_name}\\x00{qualified_name}"))``, computed
    without building ``UUID`` objects (a first ingest computes one per entity and edge).
    """
    name = f"{type_name}\x00{qualified_name}".encode("utf-8", "surrogatepass")  # validation rejects surrogates
    x = hashlib.sha1(_NAMESPACE_BYTES + name).hexdigest()
    # version 5 in the 13th hex digit, the RFC 4122 variant (10xx) in the 17th
    return f"{x[:8]}-{x[8:12]}-5{x[13:16]}-{_VARIANT[x[16]]}{x[17:20]}-{x[20:32]}"


#: A hex digit with its top two bits set to the RFC 4122 variant, 10.
_VARIANT = {digit: "89ab"[int(digit, 16) & 3] for digit in "0123456789abcdef"}


@dataclass(frozen=True, slots=True, order=True, repr=False)
class EntityRef:
    """A reference to an entity by its unique key (Atlas ``AtlasObjectId``)."""

    type_name: str
    qualified_name: str

    @property
    def guid(self) -> str:
        return guid_for(self.type_name, self.qualified_name)

    def __str__(self) -> str:
        return f"{self.type_name}:{self.qualified_name}"

    def __repr__(self) -> str:  # plain (no recursion guard): incoming digests repr many of these
        return f"EntityRef({self.type_name!r}, {self.qualified_name!r})"


@dataclass(frozen=True, slots=True, repr=False)
class Classification:
    """A classification (tag) on an entity; ``propagate`` follows Atlas's flag."""

    type_name: str
    attributes: Mapping[str, Any] = field(default_factory=dict)
    propagate: bool = True

    def __repr__(self) -> str:
        return f"Classification({self.type_name!r}, {self.attributes!r}, {self.propagate!r})"


@dataclass(slots=True)
class Entity:
    """An Atlas entity as the catalog ingests and stores it.

    ``attributes`` holds plain values and, for reference attributes (a Process's
    ``inputs``/``outputs``), ``EntityRef`` values or lists of them.
    ``relationship_attributes`` holds relationship ends (Atlas
    ``relationshipAttributes``), also as ``EntityRef`` values.
    """

    type_name: str
    qualified_name: str
    attributes: dict[str, Any] = field(default_factory=dict)
    relationship_attributes: dict[str, Any] = field(default_factory=dict)
    classifications: list[Classification] = field(default_factory=list)
    status: str = ACTIVE

    @property
    def ref(self) -> EntityRef:
        return EntityRef(self.type_name, self.qualified_name)

    @property
    def guid(self) -> str:
        return guid_for(self.type_name, self.qualified_name)

    @property
    def inputs(self) -> list[EntityRef]:
        return list(self.attributes.get("inputs") or [])

    @property
    def outputs(self) -> list[EntityRef]:
        return list(self.attributes.get("outputs") or [])

    def __str__(self) -> str:
        return f"{self.type_name} '{self.qualified_name}'"


@dataclass(frozen=True, slots=True)
class Finding:
    """Something an ingest or check noticed that is worth a person's look, not an error.

    ``kind`` is a stable slug (e.g. ``declared-not-logged``); ``subject`` the
    qualifiedName it is about; ``source`` where it came from.
    """

    kind: str
    subject: str
    message: str
    source: str = ""


@dataclass(slots=True)
class SourceBatch:
    """Entities and findings one source produced, ready for the store in one transaction."""

    source: str
    entities: list[Entity] = field(default_factory=list)
    findings: list[Finding] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class StoredClassification:
    """A classification as stored: direct (``source_guid == entity_guid``) or propagated."""

    type_name: str
    entity_guid: str
    source_guid: str
    propagate: bool = True
    attributes: Mapping[str, Any] = field(default_factory=dict)

    @property
    def propagated(self) -> bool:
        return self.source_guid != self.entity_guid


class _StoredNames:
    """The ``ref`` and ``name`` of an entity read back from the store.

    Shared by ``StoredEntity`` and ``EntityHeader``. No fields and empty ``__slots__``, so
    both stay slotted frozen dataclasses.
    """

    __slots__ = ()

    type_name: str
    qualified_name: str
    attributes: Mapping[str, Any]

    @property
    def ref(self) -> EntityRef:
        return EntityRef(self.type_name, self.qualified_name)

    @property
    def name(self) -> str:
        return str(self.attributes.get("name") or self.qualified_name)


@dataclass(frozen=True, slots=True)
class StoredEntity(_StoredNames):
    """An entity read back from the store: a frozen value, safe to hand to templates.

    ``attributes`` and ``relationship_attributes`` are in Atlas JSON form
    (references as ``{"typeName", "uniqueAttributes": {"qualifiedName"}}`` dicts).
    """

    guid: str
    type_name: str
    qualified_name: str
    status: str
    attributes: Mapping[str, Any]
    relationship_attributes: Mapping[str, Any]
    classifications: tuple[StoredClassification, ...]
    version: int
    created_at: int
    updated_at: int
    created_by: str
    updated_by: str
    source: str


#: The attributes an Atlas ``AtlasEntityHeader`` carries, in its order.
HEADER_ATTRIBUTES = ("qualifiedName", "name", "description", "owner", "createTime")
#: What an ``EntityHeader`` holds of the stored attributes: the header's, and a process's
#: ``inputs``/``outputs`` (readers of a lineage graph tell processes by them).
LINEAGE_HEADER_KEYS = (*HEADER_ATTRIBUTES, "inputs", "outputs")


@dataclass(frozen=True, slots=True)
class EntityHeader(_StoredNames):
    """An entity as a lineage answer needs it, read without its full attribute map.

    The fields of ``StoredEntity`` that Atlas's ``AtlasEntityHeader`` is made of.
    ``attributes`` holds only the ``LINEAGE_HEADER_KEYS`` the stored attributes have
    (values as stored, in that order), not e.g. a run's params and metrics.
    """

    guid: str
    type_name: str
    qualified_name: str
    status: str
    attributes: Mapping[str, Any]
    classifications: tuple[StoredClassification, ...]


@dataclass(frozen=True, slots=True)
class LineageRelation:
    """One edge of a lineage answer, pointing along the data flow."""

    from_guid: str
    to_guid: str
    relationship_guid: str


@dataclass(frozen=True, slots=True)
class LineageGraph:
    """A lineage neighbourhood: Atlas's AtlasLineageInfo as a value object."""

    base_guid: str
    direction: str
    depth: int
    entities: Mapping[str, StoredEntity | EntityHeader]  # store.lineage: EntityHeader, by guid
    relations: tuple[LineageRelation, ...]
