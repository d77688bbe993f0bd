"""Single lineage.yml values that become Atlas attributes: their ranges, and how to describe them.

Why: a value the file accepts must also fit the Atlas attribute it lands in (an Atlas
``int`` is 32 bits, a ``date`` a 64-bit count of epoch milliseconds, ``status`` an enum),
or the store rejects it at write time with no file or line. These checks run during
validation instead, so the message carries the place. The ranges come from
``catalog.types.checkers``, the same table the type registry checks entities with.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

from catalog.errors import did_you_mean
from catalog.types.checkers import INT_RANGES

__all__ = [
    "DEPLOYMENT_STATUSES",
    "FieldProblem",
    "INT_MAX",
    "LONG_MAX",
    "atlas_int",
    "deployment_status",
    "describe_value",
    "epoch_millis",
    "format_version",
]

INT_MAX = INT_RANGES["int"][1]
"""The largest Atlas ``int``: cpuMillicores, ml_model_version.version."""
LONG_MAX = INT_RANGES["long"][1]
"""The largest Atlas ``long``, hence of a ``date`` (createTime, deployedTime) in epoch milliseconds."""
DEPLOYMENT_STATUSES = ("unknown", "deploying", "deployed", "stopping", "stopped")
"""The values of the Atlas enum ml_model_deployment_status, the type of ml_deployment.status."""

_EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.timezone.utc)
_KINDS = {
    type(None): "null",
    bool: "a boolean",
    int: "an integer",
    float: "a number",
    str: "a string",
    list: "a list",
    dict: "a mapping",
    bytes: "binary data",
    set: "a set",
    dt.date: "a date",
    dt.datetime: "a date-time",
}


class FieldProblem(ValueError):
    """A validator's complaint about a key below the value it validates (``subpath``)."""

    def __init__(self, message: str, subpath: tuple[str | int, ...] = ()) -> None:
        super().__init__(message)
        self.subpath = subpath


def describe_value(value: Any) -> str:
    """``a string 'x'``, ``an integer 3``, ``a date 2024-05-01``, ``a mapping``: what a YAML value is."""
    kind = _KINDS.get(type(value), f"a {type(value).__name__}")
    if isinstance(value, (dt.date, dt.datetime)):
        return f"{kind} {value.isoformat()}"
    if isinstance(value, (bool, int, float, str)):
        text = repr(value)
        return f"{kind} {text[:60] + '...' if len(text) > 60 else text}"
    return kind


def epoch_millis(value: Any) -> Any:
    """``created``: epoch milliseconds, or an ISO date / date-time (UTC when naive), as 0..LONG_MAX.

    Other types pass through for the field's own type check to report.
    """
    given = value
    if isinstance(value, str):
        try:
            value = dt.datetime.fromisoformat(value)
        except ValueError:
            raise ValueError(
                f"expected epoch milliseconds or an ISO date such as 2024-05-01, got {value!r}"
            ) from None
    if isinstance(value, dt.date) and not isinstance(value, dt.datetime):
        value = dt.datetime(value.year, value.month, value.day)
    if isinstance(value, dt.datetime):
        if value.tzinfo is None:
            value = value.replace(tzinfo=dt.timezone.utc)
        millis = (value - _EPOCH) // dt.timedelta(milliseconds=1)  # exact, unlike timestamp() * 1000
        if millis < 0:
            raise ValueError(
                f"expected a date from 1970-01-01 on (epoch milliseconds 0..{LONG_MAX}), got {describe_value(given)}"
            )
        return millis
    if isinstance(value, int) and not isinstance(value, bool) and value > LONG_MAX:
        raise ValueError(f"expected epoch milliseconds in 0..{LONG_MAX} (an Atlas long), got {describe_value(value)}")
    return value


def atlas_int(attribute: str) -> Callable[[int], int]:
    """A check of the upper end of the Atlas ``int`` ``attribute`` (the field's ``ge`` is the lower one)."""

    def check(value: int) -> int:
        if value > INT_MAX:
            raise ValueError(
                f"expected an integer in 0..{INT_MAX} ({attribute} is an Atlas int), got {describe_value(value)}"
            )
        return value

    return check


def deployment_status(value: str) -> str:
    """``status``: one of the Atlas enum's values (``DEPLOYMENT_STATUSES``)."""
    if value not in DEPLOYMENT_STATUSES:
        hint = did_you_mean(value, DEPLOYMENT_STATUSES)
        raise ValueError(
            f"expected one of {', '.join(map(repr, DEPLOYMENT_STATUSES))} (ml_model_deployment_status, "
            f"an Atlas enum), got {describe_value(value)}{hint}"
        )
    return value


def format_version(value: Any) -> Any:
    """``version``: ``true`` and ``1.0`` equal 1 in Python, but they are not the integer 1."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValueError(f"expected the integer 1, got {describe_value(value)}")
    return value
