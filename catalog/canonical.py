"""Canonical forms every layer shares: canonical JSON text, its digest, and chunks of long lists.

Why one home: stored attributes, content hashes, finding keys and MLflow fingerprints
must all agree on one text form, or a hash computed in one place never matches the
same value hashed in another.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Iterator, Sequence
from json.encoder import c_make_encoder, encode_basestring_ascii  # c_make_encoder: None without the C module
from typing import Any

__all__ = ["CHUNK", "canonical_json", "canonical_encoder", "digest", "chunks"]

#: Parameters per ``IN (...)`` list: well under SQLite's and PostgreSQL's limits.
CHUNK = 900


_ENCODER = json.JSONEncoder(sort_keys=True, separators=(",", ":"), default=str)


def canonical_json(value: Any) -> str:
    """JSON text with sorted keys and no spaces; values JSON cannot hold become ``str``."""
    return _ENCODER.encode(value)


def canonical_encoder(default: Callable[[Any], Any]) -> Callable[[Any], str]:
    """``canonical_json`` with another ``default`` hook, set up once for many values.

    ``JSONEncoder.encode`` builds a new C encoder per call (about 2.5 us, a quarter of
    encoding a typical entity's attributes); this one is built once. It keeps its
    circular-reference markers between calls, so it serves one task at a time (one
    ingest plan) and is not to be shared between threads.
    """
    markers: dict[int, Any] = {}
    try:  # the C encoder, with the arguments JSONEncoder.iterencode gives it (Python 3.11+)
        chunks_of = c_make_encoder(markers, default, encode_basestring_ascii, None, ":", ",", True, False, True)
    except TypeError:  # no C accelerator (None), or another signature: the plain encoder
        return json.JSONEncoder(sort_keys=True, separators=(",", ":"), default=default).encode

    def encode(value: Any) -> str:
        try:
            return "".join(chunks_of(value, 0))
        except BaseException:
            markers.clear()  # it raised inside containers, which it would take for cycles next time
            raise
    return encode


def digest(value: Any) -> str:
    """SHA-256 hex digest of a text, or of a value's canonical JSON."""
    text = value if isinstance(value, str) else canonical_json(value)
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()


def chunks(items: Sequence[Any], size: int = CHUNK) -> Iterator[Sequence[Any]]:
    """Consecutive slices of at most ``size`` items (bounded ``IN`` lists, bounded batches)."""
    for start in range(0, len(items), size):
        yield items[start : start + size]
