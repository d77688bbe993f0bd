"""Atlas types for the catalog: AtlasTypesDef JSON typedefs and the registry that validates entities."""

from __future__ import annotations

from catalog.types.registry import TypeRegistry

__all__ = ["TypeRegistry"]
