"""Is a data set in the configured Apache Atlas? One read per data set, for ``training-lineage-known``.

``CATALOG_ATLAS_URL`` names the Atlas (``http(s)://user:password@host:21000``: basic
auth from the URL's user part, which is never shown: messages carry the redacted URL).
The lookup is Atlas's own ``GET entity/uniqueAttribute/type/{type}?attr:qualifiedName=``
with a timeout, through the standard library: a check reads a handful of entities,
and the push (which owns the Atlas client of the catalog) is not needed for that.
"""

from __future__ import annotations

import base64
import json
import urllib.error
import urllib.request
from dataclasses import dataclass
from urllib.parse import quote, urlsplit, urlunsplit

from catalog.config import redact_uri
from catalog.errors import SourceUnavailableError

__all__ = ["TIMEOUT_S", "AtlasEntityState", "atlas_state"]

TIMEOUT_S = 10.0


@dataclass(frozen=True, slots=True)
class AtlasEntityState:
    """What Atlas says of one entity: absent, or its guid and status (ACTIVE, DELETED)."""

    found: bool
    guid: str = ""
    status: str = ""


def _base_and_auth(url: str) -> tuple[str, str | None]:
    parts = urlsplit(url.rstrip("/"))
    auth = None
    if parts.username is not None:
        from urllib.parse import unquote

        token = f"{unquote(parts.username)}:{unquote(parts.password or '')}".encode()
        auth = "Basic " + base64.b64encode(token).decode()
    netloc = parts.hostname or ""
    if parts.port is not None:
        netloc += f":{parts.port}"
    return urlunsplit((parts.scheme, netloc, parts.path, "", "")), auth


def atlas_state(atlas_url: str, type_name: str, qualified_name: str, *, timeout: float = TIMEOUT_S) -> AtlasEntityState:
    """The entity ``type_name``/``qualified_name`` in the Atlas at ``atlas_url``; ``SourceUnavailableError`` if unreadable."""
    base, auth = _base_and_auth(atlas_url)
    url = (f"{base}/api/atlas/v2/entity/uniqueAttribute/type/{quote(type_name, safe='')}"
           f"?attr:qualifiedName={quote(qualified_name, safe='')}&minExtInfo=true&ignoreRelationships=true")
    request = urllib.request.Request(url, headers={"Accept": "application/json", **({"Authorization": auth} if auth else {})})
    where = redact_uri(atlas_url)
    try:
        with urllib.request.urlopen(request, timeout=timeout) as answer:  # noqa: S310 - http(s) from settings
            body = json.loads(answer.read(4_194_304))
    except urllib.error.HTTPError as exc:
        if exc.code == 404:
            return AtlasEntityState(False)
        raise SourceUnavailableError(f"Atlas at {where} answered {exc.code} for {type_name} {qualified_name}") from None
    except (urllib.error.URLError, OSError, ValueError) as exc:
        reason = getattr(exc, "reason", exc)
        raise SourceUnavailableError(f"Atlas at {where} could not be read: {reason}") from None
    entity = body.get("entity") if isinstance(body, dict) else None
    if not isinstance(entity, dict):
        raise SourceUnavailableError(f"Atlas at {where} answered something that is not an AtlasEntityWithExtInfo")
    return AtlasEntityState(True, str(entity.get("guid", "")), str(entity.get("status", "ACTIVE")))
