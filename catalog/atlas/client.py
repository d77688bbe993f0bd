"""The HTTP client of a real Apache Atlas (v2 REST API): timeouts, retries, and Atlas's errors.

Why ``requests`` and not one of the public Atlas clients: the push needs a connect and a
read timeout on every request, retries with exponential backoff and jitter on what is
worth retrying (connection errors, timeouts, 429/502/503/504) and never on what is not
(Atlas's 4xx answers, which name the rejected entity), the ``guidAssignments`` of
``entity/bulk``, and a session that tests hand in rather than patch. ``apache-atlas``
(0.0.16) sends no timeout and turns every error into one exception type;
``pyatlasclient`` (1.2.0) has neither retries nor ``entity/bulk`` deletes. Both speak
the same v2 endpoints used here, and the test suite drives our server with them.

Kerberos (SPNEGO) comes from ``requests-kerberos``, an optional extra
(``pip install 'ml-lineage-catalog[kerberos]'``).
"""

from __future__ import annotations

import json
import random
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote, urlsplit, urlunsplit

import requests

from catalog.errors import CatalogError

__all__ = ["AtlasClient", "AtlasError", "AtlasRejected", "AtlasUnavailable", "Retry", "api_root", "make_auth"]

#: HTTP statuses worth a retry: the server is busy, restarting or behind a proxy that is.
RETRY_STATUSES = frozenset({408, 429, 500, 502, 503, 504})


class AtlasError(CatalogError):
    """Talking to Atlas failed."""


class AtlasUnavailable(AtlasError):
    """Atlas could not be reached or kept failing after the retries (worth trying again later).

    ``status``: the HTTP status of the last answer (None: no answer at all). A 500 that
    persists is usually Atlas failing on one entity rather than Atlas being away.
    """

    def __init__(self, message: str, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status


class AtlasRejected(AtlasError):
    """Atlas answered a 4xx: the request itself is refused (retrying it unchanged will not help)."""

    def __init__(self, status: int, code: str, message: str, path: str) -> None:
        self.status, self.code, self.atlas_message, self.path = status, code, message, path
        super().__init__(f"Atlas refused {path}: HTTP {status}" + (f" {code}" if code else "") + f": {message}")


@dataclass(frozen=True)
class Retry:
    """How often and how patiently a request is retried: ``attempts`` in all, delays doubling from ``base``."""

    attempts: int = 5
    base: float = 0.5
    cap: float = 30.0

    def delay(self, attempt: int, rand: Callable[[], float] = random.random) -> float:
        """Seconds before try ``attempt + 1``: exponential, capped, with full jitter in its upper half."""
        ceiling = min(self.cap, self.base * (2 ** attempt))
        return ceiling * (0.5 + 0.5 * rand())


def api_root(url: str) -> str:
    """``http://host:21000`` (or ``.../api/atlas``, ``.../api/atlas/v2``) -> ``http://host:21000/api/atlas``."""
    parts = urlsplit(url.strip())
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise AtlasError(f"CATALOG_ATLAS_URL={url!r}: expected http(s)://host[:port]")
    path = parts.path.rstrip("/")
    for suffix in ("/v2", "/api/atlas"):
        if path.endswith(suffix):
            path = path[: -len(suffix)]
    netloc = parts.netloc.rpartition("@")[2]  # credentials travel in headers, never in the URL
    return urlunsplit((parts.scheme, netloc, path + "/api/atlas", "", ""))


def make_auth(kind: str, user: str, password: str) -> Any:
    """requests' auth for ``CATALOG_ATLAS_AUTH``: ``basic`` (user and password; no user: none), ``kerberos`` or ``none``."""
    if kind == "none":
        return None
    if kind == "kerberos":
        try:
            from requests_kerberos import OPTIONAL, HTTPKerberosAuth  # type: ignore[import-not-found]
        except ImportError:
            raise AtlasError("CATALOG_ATLAS_AUTH=kerberos needs requests-kerberos: "
                             "pip install 'ml-lineage-catalog[kerberos]'") from None
        return HTTPKerberosAuth(mutual_authentication=OPTIONAL)
    if not user:  # an Atlas that asks for none (behind an authenticating proxy, say)
        return None
    return requests.auth.HTTPBasicAuth(user, password)


class AtlasClient:
    """Atlas's v2 API at ``root`` (see ``api_root``), over ``session`` (a ``requests.Session``).

    Every request carries ``timeout=(connect, read)``. ``requests_sent`` counts HTTP
    requests (retries included); ``on_retry(message)`` hears each retry.
    """

    def __init__(self, root: str, *, session: requests.Session | None = None, auth: Any = None,
                 verify: bool | str = True, connect_timeout: float = 5.0, read_timeout: float = 60.0,
                 retry: Retry = Retry(), sleep: Callable[[float], None] = time.sleep,
                 on_retry: Callable[[str], None] | None = None) -> None:
        self.root = root.rstrip("/")
        self.session = session or requests.Session()
        if auth is not None:
            self.session.auth = auth
        #: passed on every request: a session's own ``verify`` loses to REQUESTS_CA_BUNDLE / CURL_CA_BUNDLE
        self.verify = verify
        self.timeout = (connect_timeout, read_timeout)
        self.retry = retry
        self.sleep = sleep
        self.on_retry = on_retry
        self.requests_sent = 0

    # -- transport --------------------------------------------------------------------------

    def call(self, method: str, path: str, *, params: Any = None, body: Any = None,
             ok: Sequence[int] = (200, 204)) -> Any:
        """One API call with the retry policy; the JSON answer (None for an empty one)."""
        url = f"{self.root}/{path.lstrip('/')}"
        data = None if body is None else json.dumps(body, ensure_ascii=False).encode("utf-8")
        headers = {"Accept": "application/json"}
        if data is not None:
            headers["Content-Type"] = "application/json"
        last, status = "", None
        for attempt in range(self.retry.attempts):
            if attempt:
                if self.on_retry is not None:
                    self.on_retry(f"{method} {path}: {last}; retry {attempt} of {self.retry.attempts - 1}")
                self.sleep(self.retry.delay(attempt - 1))
            self.requests_sent += 1
            try:
                answer = self.session.request(method, url, params=params, data=data, headers=headers,
                                              timeout=self.timeout, verify=self.verify)
            except requests.Timeout:
                last, status = f"no answer within {self.timeout[1]:g} s", None
                continue
            except requests.ConnectionError as exc:
                last, status = f"connection failed ({_reason(exc)})", None
                continue
            if answer.status_code in ok:
                return _json(answer)
            if answer.status_code in RETRY_STATUSES:
                code, message = _atlas_error(answer)
                last, status = f"HTTP {answer.status_code}" + (f" {code}: {message[:300]}" if code else ""), \
                    answer.status_code
                continue
            code, message = _atlas_error(answer)
            raise AtlasRejected(answer.status_code, code, message, f"{method} {path}")
        raise AtlasUnavailable(f"Atlas at {self.root} is unavailable: {method} {path}: {last} "
                               f"(after {self.retry.attempts} attempts)", status)

    # -- endpoints --------------------------------------------------------------------------

    def version(self) -> dict[str, Any]:
        return self.call("GET", "admin/version") or {}

    def typedefs(self) -> dict[str, Any]:
        return self.call("GET", "v2/types/typedefs") or {}

    def create_typedefs(self, body: Mapping[str, Any]) -> dict[str, Any]:
        return self.call("POST", "v2/types/typedefs", body=body) or {}

    def update_typedefs(self, body: Mapping[str, Any]) -> dict[str, Any]:
        return self.call("PUT", "v2/types/typedefs", body=body) or {}

    def upsert_entities(self, body: Mapping[str, Any]) -> dict[str, Any]:
        """``POST entity/bulk`` (``AtlasEntitiesWithExtInfo``), replacing the classifications sent."""
        return self.call("POST", "v2/entity/bulk", params={"replaceClassifications": "true"}, body=body) or {}

    def delete_entities(self, guids: Sequence[str]) -> dict[str, Any]:
        return self.call("DELETE", "v2/entity/bulk", params=[("guid", g) for g in guids]) or {}

    def delete_by_unique(self, type_name: str, qualified_name: str) -> dict[str, Any]:
        """``DELETE entity/uniqueAttribute/type/{t}?attr:qualifiedName=`` (an entity whose Atlas guid is unknown)."""
        return self.call("DELETE", f"v2/entity/uniqueAttribute/type/{quote(type_name, safe='')}",
                         params={"attr:qualifiedName": qualified_name}) or {}

    def entities_by_unique(self, type_name: str, qualified_names: Sequence[str]) -> dict[str, Any]:
        """``GET entity/bulk/uniqueAttribute/type/{t}?attr_N:qualifiedName=``: those Atlas has."""
        params = [(f"attr_{i}:qualifiedName", q) for i, q in enumerate(qualified_names)]
        params += [("minExtInfo", "true"), ("ignoreRelationships", "true")]
        return self.call("GET", f"v2/entity/bulk/uniqueAttribute/type/{quote(type_name, safe='')}", params=params) or {}

    def post_messages(self, messages: Sequence[str], topic: str = "ATLAS_HOOK") -> None:
        """Atlas 2.4+'s REST notification endpoint: a list of enveloped messages, each a JSON string."""
        self.call("POST", f"v2/notification/topic/{quote(topic, safe='')}", body=list(messages))


def _reason(exc: Exception) -> str:
    text = str(exc)
    for marker in ("Connection refused", "Connection reset", "Connection aborted", "Name or service not known",
                   "Remote end closed connection", "timed out"):
        if marker in text:
            return marker.lower()
    return type(exc).__name__


def _json(answer: requests.Response) -> Any:
    if not answer.content:
        return None
    try:
        return answer.json()
    except ValueError:
        raise AtlasUnavailable(f"Atlas answered {answer.request.method} {answer.url} with HTTP "
                               f"{answer.status_code} but not JSON: {answer.text[:200]!r}") from None


def _atlas_error(answer: requests.Response) -> tuple[str, str]:
    """Atlas's ``{"errorCode", "errorMessage"}`` body, or the start of whatever came back."""
    try:
        body = answer.json()
    except ValueError:
        return "", (answer.text or answer.reason or "")[:500]
    if isinstance(body, Mapping):
        return str(body.get("errorCode") or ""), str(body.get("errorMessage") or body.get("error") or body)[:2000]
    return "", str(body)[:500]
