"""Is this webhook MLflow's? ``X-MLflow-Signature``, ``X-MLflow-Timestamp``, ``X-MLflow-Delivery-Id``.

MLflow signs ``{delivery_id}.{timestamp}.{raw body}`` with HMAC-SHA256 under the webhook's
secret and sends ``v1,<base64 digest>`` (Standard Webhooks' scheme). The catalog recomputes
it over the raw bytes it received and compares in constant time; a timestamp outside the
window (either way) is stale. Replays inside the window are the queue's to refuse: it keeps
the delivery ids it accepted (``intake.queue``). Pure functions; nothing is read or written.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
from collections.abc import Mapping
from dataclasses import dataclass

from catalog.errors import HookRejected

__all__ = ["DELIVERY_HEADER", "SIGNATURE_HEADER", "TIMESTAMP_HEADER", "Delivery", "sign", "verify"]

SIGNATURE_HEADER = "X-MLflow-Signature"
TIMESTAMP_HEADER = "X-MLflow-Timestamp"
DELIVERY_HEADER = "X-MLflow-Delivery-Id"
_VERSION = "v1"
_DELIVERY_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:-]{0,254}\Z")
_TIMESTAMP = re.compile(r"[0-9]{1,12}\Z")


@dataclass(frozen=True, slots=True)
class Delivery:
    """A delivery whose signature holds and whose timestamp is inside the window."""

    delivery_id: str
    timestamp: int  # unix seconds, as MLflow sent it


def sign(secret: str, delivery_id: str, timestamp: int | str, body: bytes) -> str:
    """``v1,<base64 HMAC-SHA256>`` of ``{delivery_id}.{timestamp}.{body}``: what MLflow sends."""
    signed = f"{delivery_id}.{timestamp}.".encode() + body
    digest = hmac.new(secret.encode("utf-8"), signed, hashlib.sha256).digest()
    return f"{_VERSION},{base64.b64encode(digest).decode('ascii')}"


def verify(secret: str, headers: Mapping[str, str], body: bytes, *, now: float, window: int) -> Delivery:
    """The delivery, or ``HookRejected`` saying which header does not hold and why.

    ``headers`` is case-insensitive when it is Werkzeug's (a plain dict needs the exact
    names). Several space-separated signatures are accepted (a secret being rotated):
    one matching is enough.
    """
    if not secret:
        raise HookRejected("the catalog has no hook secret (CATALOG_HOOK_SECRET is not set): every webhook is refused")
    delivery_id = _header(headers, DELIVERY_HEADER)
    if not _DELIVERY_ID.match(delivery_id):
        raise HookRejected(f"malformed {DELIVERY_HEADER} {delivery_id[:80]!r}: expected up to 255 letters, "
                           "digits, '.', '_', ':' or '-' (MLflow sends a UUID)")
    stamp = _header(headers, TIMESTAMP_HEADER)
    if not _TIMESTAMP.match(stamp):
        raise HookRejected(f"malformed {TIMESTAMP_HEADER} {stamp[:40]!r}: expected unix seconds")
    signatures = _header(headers, SIGNATURE_HEADER).split()
    expected = sign(secret, delivery_id, stamp, body).encode("ascii")
    matched = False
    for given in signatures:  # every one compared, so the time does not say which matched
        matched |= hmac.compare_digest(given.encode("utf-8", "replace"), expected)
    if not matched:
        if not any(s.startswith(_VERSION + ",") for s in signatures):
            raise HookRejected(f"malformed {SIGNATURE_HEADER}: expected 'v1,<base64 HMAC-SHA256>'")
        raise HookRejected(f"bad {SIGNATURE_HEADER}: it is not the HMAC-SHA256 of this delivery under the "
                           "catalog's secret (CATALOG_HOOK_SECRET must equal the webhook's secret in MLflow)")
    age = int(now) - int(stamp)
    if abs(age) > window:
        when = f"{age} s old" if age > 0 else f"{-age} s in the future"
        raise HookRejected(f"stale {TIMESTAMP_HEADER} {stamp}: {when}, outside the {window} s window "
                           "(CATALOG_HOOK_WINDOW_SECONDS)")
    return Delivery(delivery_id, int(stamp))


def _header(headers: Mapping[str, str], name: str) -> str:
    value = headers.get(name)
    if value is None or not value.strip():
        raise HookRejected(f"missing {name} header: not a signed MLflow webhook")
    return value.strip()
