"""Strict parsing of query parameters: a 400 in Atlas's shape for anything malformed.

``direction`` is one of the ASCII words INPUT, OUTPUT, BOTH in any ASCII case (not
``str.upper()``, which turns the dotless ``ı`` into ``I``); ``depth`` is at most
``MAX_DEPTH_DIGITS`` ASCII digits (larger values are capped by the store at the
configured ``lineage_max_depth`` anyway, and Python refuses to convert over 4300
digits); free text such as ``ref`` is printable (``str.isprintable``: no control,
format or separator characters but the space, no lone surrogates, nothing unassigned)
and at most ``MAX_REF_LENGTH`` characters. Messages name the parameter and the form
it takes and quote at most ``SHOWN_CHARS`` characters of what was sent.
"""

from __future__ import annotations

import unicodedata

from web.errors import BAD_REQUEST, INSTANCE_LINEAGE_INVALID_PARAMS, ApiError

__all__ = [
    "DEFAULT_DEPTH",
    "DEFAULT_DIRECTION",
    "DIRECTIONS",
    "MAX_DEPTH_DIGITS",
    "MAX_REF_LENGTH",
    "depth_param",
    "direction_param",
    "text_param",
]

DIRECTIONS = ("INPUT", "OUTPUT", "BOTH")
DEFAULT_DIRECTION = "BOTH"
DEFAULT_DEPTH = 3
MAX_DEPTH_DIGITS = 4
MAX_REF_LENGTH = 4096
SHOWN_CHARS = 40

_ASCII_DIGITS = frozenset("0123456789")

# Why a character is not printable, by Unicode general category.
_NOT_PRINTABLE = {
    "Cc": "a control character",
    "Cf": "a format character",
    "Cs": "a lone surrogate",
    "Co": "a private-use character",
    "Cn": "an unassigned code point",
    "Zl": "a line or paragraph separator",
    "Zp": "a line or paragraph separator",
    "Zs": "a space other than U+0020",
}


def _shown(value: str) -> str:
    """``repr`` of ``value``, cut to ``SHOWN_CHARS`` characters with its length if longer."""
    if len(value) <= SHOWN_CHARS:
        return repr(value)
    head = repr(value[:SHOWN_CHARS])
    return f"{head[:-1]}…{head[-1]} ({len(value)} characters)"


def _first_non_ascii(value: str) -> str:
    """`` (U+0131 at position 1 is not ASCII)`` for the first non-ASCII character, 1-based."""
    for position, char in enumerate(value, start=1):
        if not char.isascii():
            return f" (U+{ord(char):04X} at position {position} is not ASCII)"
    return ""


def direction_param(raw: str | None) -> str:
    """``INPUT``, ``OUTPUT`` or ``BOTH`` from ``raw`` (``BOTH`` if absent); 400 otherwise."""
    if raw is None:
        return DEFAULT_DIRECTION
    if raw.isascii():
        direction = raw.upper()  # ASCII in, ASCII case mapping only
        if direction in DIRECTIONS:
            return direction
        shown = _shown(direction)
    else:
        shown = _shown(raw) + _first_non_ascii(raw)
    raise ApiError(400, INSTANCE_LINEAGE_INVALID_PARAMS, f"direction must be INPUT, OUTPUT or BOTH, got {shown}")


def depth_param(raw: str | None) -> int:
    """A depth of at most ``MAX_DEPTH_DIGITS`` ASCII digits (``DEFAULT_DEPTH`` if absent); 400 otherwise."""
    if raw is None:
        return DEFAULT_DEPTH
    if not raw or not _ASCII_DIGITS.issuperset(raw):
        raise ApiError(400, INSTANCE_LINEAGE_INVALID_PARAMS, f"depth must be a non-negative integer, got {_shown(raw)}")
    if len(raw) > MAX_DEPTH_DIGITS:
        raise ApiError(
            400,
            INSTANCE_LINEAGE_INVALID_PARAMS,
            f"depth must be a non-negative integer of at most {MAX_DEPTH_DIGITS} digits, got {len(raw)} digits",
        )
    return int(raw)


def text_param(name: str, raw: str | None, *, max_length: int = MAX_REF_LENGTH) -> str | None:
    """``raw`` if it is printable text of at most ``max_length`` characters (``None`` if absent); 400 otherwise."""
    if raw is None:
        return None
    if len(raw) > max_length:
        raise ApiError(
            400, BAD_REQUEST, f"query parameter {name!r} must be at most {max_length} characters, got {len(raw)}"
        )
    if not raw.isprintable():
        position, char = next((i, c) for i, c in enumerate(raw, start=1) if not c.isprintable())
        why = _NOT_PRINTABLE.get(unicodedata.category(char), "not printable")
        raise ApiError(
            400,
            BAD_REQUEST,
            f"query parameter {name!r} must be printable text, got U+{ord(char):04X} ({why}) at position {position}",
        )
    return raw
