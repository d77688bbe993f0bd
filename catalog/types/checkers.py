"""Value checkers for Atlas attribute types: one small function per type, shared by registries.

A checker returns None when a value fits its Atlas type, else the tail of the error
message that follows ``attribute 'x'`` (e.g. `` expects int, got str 'one'``).
"""

from __future__ import annotations

import numbers
import re
from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any

from catalog.model import EntityRef

INT_RANGES = {
    "byte": (-(2**7), 2**7 - 1), "short": (-(2**15), 2**15 - 1),
    "int": (-(2**31), 2**31 - 1), "long": (-(2**63), 2**63 - 1),
}
"""The value range of each Atlas integer type (``biginteger`` has none)."""
_SURROGATE = re.compile("[\ud800-\udfff]")
_SEQUENCES = (list, tuple, set, frozenset)

Checker = Callable[[Any], "str | None"]
"""Returns None when the value fits, else the message tail after ``attribute 'x'``."""


def describe(value: Any) -> str:
    """A short 'type value' rendering of what was given, for error messages."""
    if isinstance(value, EntityRef):
        return f"a reference to {value.type_name} '{value.qualified_name}'"
    if isinstance(value, _SEQUENCES) and any(isinstance(v, EntityRef) for v in value):
        text = "[" + ", ".join(str(v) if isinstance(v, EntityRef) else repr(v) for v in value) + "]"
    else:
        text = repr(value)
    if len(text) > 60:
        text = text[:57] + "..."
    return f"{type(value).__name__} {text}"


def check_string(value: Any) -> str | None:
    if not isinstance(value, str):
        return f" expects string, got {describe(value)}"
    # a surrogate code point (e.g. from surrogateescape decoding) cannot be stored as UTF-8
    lone = None if value.isascii() else _SURROGATE.search(value)
    if lone is not None:
        return (f" expects string, got {describe(value)} "
                f"(not valid Unicode text: lone surrogate U+{ord(lone.group()):04X})")
    return None


def _check_boolean(value: Any) -> str | None:
    return None if value is True or value is False else f" expects boolean, got {describe(value)}"


def _int_checker(type_name: str) -> Checker:
    low, high = INT_RANGES.get(type_name, (None, None))

    def check(value: Any) -> str | None:
        if not isinstance(value, int) or isinstance(value, bool):
            return f" expects {type_name}, got {describe(value)}"
        if low is not None and not low <= value <= high:
            return f" expects {type_name}, got int {value} (outside {low}..{high})"
        return None
    return check


def _float_checker(type_name: str) -> Checker:
    def check(value: Any) -> str | None:
        if isinstance(value, (float, int)) and not isinstance(value, bool):
            return None
        return f" expects {type_name}, got {describe(value)}"
    return check


def _check_bigdecimal(value: Any) -> str | None:
    if isinstance(value, numbers.Number) and not isinstance(value, (bool, complex)):
        return None
    return f" expects bigdecimal, got {describe(value)}"


def _check_date(value: Any) -> str | None:
    if type(value) is int:
        return None
    if isinstance(value, str):
        try:
            datetime.fromisoformat(value)
        except ValueError:
            return f" expects date (epoch milliseconds int or ISO-8601 string), got str {value!r} (not ISO-8601)"
        return None
    if isinstance(value, int) and not isinstance(value, bool):
        return None
    return f" expects date (epoch milliseconds int or ISO-8601 string), got {describe(value)}"


PRIMITIVE_CHECKERS: dict[str, Checker] = {
    "string": check_string, "boolean": _check_boolean, "date": _check_date, "bigdecimal": _check_bigdecimal,
    "byte": _int_checker("byte"), "short": _int_checker("short"), "int": _int_checker("int"),
    "long": _int_checker("long"), "biginteger": _int_checker("biginteger"),
    "float": _float_checker("float"), "double": _float_checker("double"),
}


def enum_checker(values: frozenset[str], expects: str) -> Checker:
    lowered = {v.lower(): v for v in values}

    def check(value: Any) -> str | None:
        if isinstance(value, str) and value in values:  # a list or dict is not hashable: no ``in`` on it
            return None
        hint = ""
        if isinstance(value, str) and value.lower() in lowered:
            hint = f"; did you mean '{lowered[value.lower()]}'?"
        return f" expects {expects}, got {describe(value)}{hint}"
    return check


def reference_checker(type_name: str, ancestors: dict[str, frozenset[str]]) -> Checker:
    def check(value: Any) -> str | None:
        if not isinstance(value, EntityRef):
            return f" expects a reference to {type_name} (EntityRef), got {describe(value)}"
        found = ancestors.get(value.type_name)
        if found is not None and type_name in found:
            return None
        unknown = " (an unknown type)" if found is None else ""
        return (f" wrong reference type: expects a reference to {type_name}, "
                f"got a reference to {value.type_name} '{value.qualified_name}'{unknown}")
    return check


def array_checker(element: Checker, element_expects: str, expects: str) -> Checker:
    def check(value: Any) -> str | None:
        if not isinstance(value, _SEQUENCES):
            return f" expects {expects}, got {describe(value)}"
        for index, item in enumerate(value):
            frag = element(item) if item is not None else f" expects {element_expects}, got None"
            if frag is not None:
                return f"[{index}]{frag}"
        return None
    return check


def map_checker(key: Checker, value_checker: Checker, value_expects: str, expects: str) -> Checker:
    def check(value: Any) -> str | None:
        if not isinstance(value, Mapping):
            return f" expects {expects}, got {describe(value)}"
        for k, item in value.items():
            frag = key(k)
            if frag is not None:
                return f" key {k!r}{frag}"
            frag = value_checker(item) if item is not None else f" expects {value_expects}, got None"
            if frag is not None:
                return f"[{k!r}]{frag}"
        return None
    return check
