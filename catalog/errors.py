"""The catalog's exception tree: one root, each error also the builtin it is.

Callers catch ``CatalogError`` for anything the catalog raises on purpose, or the
builtin (``ValueError``, ``LookupError``, ...) when they do not care whose it is.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

__all__ = [
    "did_you_mean",
    "CatalogError",
    "ConfigError",
    "TypeDefError",
    "UnknownTypeError",
    "EntityValidationError",
    "LineageFileError",
    "SourceUnavailableError",
    "NotFound",
    "AmbiguousReference",
    "ReferenceNotFound",
    "HookRejected",
    "HookPayloadError",
]


class CatalogError(Exception):
    """Root of every error the catalog raises on purpose."""

    exit_code = 2


class ConfigError(CatalogError, ValueError):
    """A setting read from the environment is malformed."""


class TypeDefError(CatalogError, ValueError):
    """A typedef (AtlasTypesDef JSON) is malformed or refers to an unknown type."""


class UnknownTypeError(CatalogError, LookupError):
    """An entity or typedef names a type the registry does not know."""


class EntityValidationError(CatalogError, ValueError):
    """An entity does not conform to its type: missing, unknown or mistyped attribute."""


class LineageFileError(CatalogError, ValueError):
    """lineage.yml is malformed; the message names file, line, key path and expectation."""


class SourceUnavailableError(CatalogError, ConnectionError):
    """A source (MLflow tracking server, Atlas) could not be reached or read."""


class NotFound(CatalogError, LookupError):
    """No entity matches a reference (qualifiedName, guid, models:/..., runs:/...)."""


class AmbiguousReference(CatalogError, LookupError):
    """A reference matches more than one entity; the message lists the candidates."""


class ReferenceNotFound(EntityValidationError):
    """An entity refers to another entity that is neither in the batch nor in the store."""


class HookRejected(CatalogError, PermissionError):
    """A webhook whose signature, timestamp or delivery id does not hold (answered 401; nothing queued)."""


class HookPayloadError(CatalogError, ValueError):
    """A signed webhook whose body is not an MLflow registry event (answered 400; nothing queued)."""


def did_you_mean(word: Any, choices: Iterable[str]) -> str:
    """``"; did you mean 'x'?"`` for the closest of ``choices``, or ``""`` (the one hint helper)."""
    import difflib

    close = difflib.get_close_matches(str(word), list(choices), n=1, cutoff=0.6)
    return f"; did you mean {close[0]!r}?" if close else ""
