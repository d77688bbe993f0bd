"""Canonical forms every layer shares: canonical JSON text, its digest, and chunks of long lists.

Why one home: stored attributes, content hashes, finding keys and MLflow fingerprints
must all agree on one text form, or a hash computed in one place never matches the
same value hashed in another.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator, Sequence
from typing import Any

__all__ = ["CHUNK", "canonical_json", "digest", "chunks"]

#: Parameters per ``IN (...)`` list: well under SQLite's and PostgreSQL's limits.
CHUNK = 900


_ENCODER = json.JSONEncoder(sort_keys=True, separators=(",", ":"), default=str)


def canonical_json(value: Any) -> str:
    """JSON text with sorted keys and no spaces; values JSON cannot hold become ``str``."""
    return _ENCODER.encode(value)


def digest(value: Any) -> str:
    """SHA-256 hex digest of a text, or of a value's canonical JSON."""
    text = value if isinstance(value, str) else canonical_json(value)
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()


def chunks(items: Sequence[Any], size: int = CHUNK) -> Iterator[Sequence[Any]]:
    """Consecutive slices of at most ``size`` items (bounded ``IN`` lists, bounded batches)."""
    for start in range(0, len(items), size):
        yield items[start : start + size]
