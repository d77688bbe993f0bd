"""Who is calling, and who may write: credentials on every request, roles on the views that write.

Every request (API and pages alike) may carry ``Authorization: Basic ...`` (a user's
name and password, as Atlas takes them) or ``Authorization: Bearer <token>`` (an API
token from ``catalog tokens create``). Credentials that are given but wrong answer 401,
whatever the endpoint. Without credentials a request is anonymous: served when the
catalog's ``read_access`` is ``open``, else 401, except for ``PUBLIC_ENDPOINTS``.

A page session (``web.login``: a browser logged in at ``/login``) counts as its user for
reads, and for the pages' own forms, which are CSRF-checked; never for a write to an API
(``/api/``, ``/hooks/``): those need basic auth or a token. With reads closed, an anonymous
browser asking for a page (``Accept: text/html``) is redirected to the login page;
everything else (the APIs, scripts) gets the 401 as before.

Views that write are decorated with ``require("steward")`` (or another role): no user
answers 401, a user whose role is too low 403. Audits record ``user_name()``.

Basic auth checks a slow password hash (scrypt) by design; successful checks are kept
in memory for a minute (``catalog.users.PasswordCache``, per app), so a script sending
many requests with the same credentials pays for it once. A token is one indexed read;
its ``last_used_at`` is written at most once a minute, after the response is sent.
"""

from __future__ import annotations

import base64
import binascii
import functools
import hashlib
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from flask import (Flask, Response, current_app, g, has_request_context, jsonify, redirect, render_template, request,
                   url_for)

from catalog.service import Catalog
from catalog.users import ROLES, PasswordCache, User, authenticate, role_allows, touch_token, user_for_token

__all__ = ["PUBLIC_ENDPOINTS", "REALM", "UNAUTHORIZED", "FORBIDDEN", "init_app", "current_user", "require",
           "user_name", "is_api_path", "use_sessions"]

#: Endpoints served without credentials even when reads need them (the login page, logout).
#: ``hooks.mlflow`` (``POST /hooks/mlflow``) authenticates by its HMAC signature instead.
PUBLIC_ENDPOINTS: set[str] = {"healthz", "static", "hooks.mlflow", "login.login", "login.logout"}
REALM = "ml-lineage-catalog"
#: Atlas's codes for "authentication required" and "not authorised".
UNAUTHORIZED = "ATLAS-401-00-001"
FORBIDDEN = "ATLAS-403-00-001"

_PASSWORDS = "catalog_auth_passwords"
_TOUCHED = "catalog_auth_touched"
_SESSIONS = "catalog_auth_sessions"


def init_app(app: Flask) -> None:
    """Resolve the caller before every request of ``app`` (register before the blueprints)."""
    app.extensions[_PASSWORDS] = PasswordCache(ttl=60.0, max_entries=1024)
    app.extensions[_TOUCHED] = _Touched()
    app.before_request(_resolve_caller)


def use_sessions(app: Flask, user_of_session: Callable[[], User | None], counts: Callable[[], bool],
                 login_endpoint: str) -> None:
    """Count page sessions: ``user_of_session()`` is the user the request's session is logged in as, or None.

    ``counts()`` says whether a session counts for the request (``web.login``: reads, and
    the forms it CSRF-checks; never API writes). ``login_endpoint`` is where anonymous
    page reads are sent.
    """
    app.extensions[_SESSIONS] = (user_of_session, counts, login_endpoint)


def is_api_path() -> bool:
    """True for the APIs' paths (``/api/``, ``/hooks/``, ``/healthz``): JSON answers, no session writes."""
    return request.path.startswith(("/api/", "/hooks/")) or request.path == "/healthz"


def current_user() -> User | None:
    """The user the request's credentials name; None when anonymous (or outside a request)."""
    return g.get("catalog_user") if has_request_context() else None


def user_name() -> str:
    """The name audits record: the user's, or the catalog's configured user for anonymous requests."""
    user = current_user()
    return user.name if user is not None else _catalog().settings.user


def require(role: str, what: str | None = None) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """A view decorator: the caller must be a user whose role allows ``role``.

    No user: 401; a lower role: 403 naming the user, their role and the role needed.
    ``what`` says what is refused (default: the request's method and path).
    """
    if role not in ROLES:
        raise ValueError(f"unknown role {role!r}: expected one of {', '.join(ROLES)}")

    def decorate(view: Callable[..., Any]) -> Callable[..., Any]:
        @functools.wraps(view)
        def guarded(*args: Any, **kwargs: Any) -> Any:
            user = current_user()
            action = what or f"{request.method} {request.path}"
            if user is None and g.get("catalog_session_refused") is not None:
                return _session_refused(g.catalog_session_refused)
            if user is None:
                return _unauthorized(f"authentication required: {action} needs a user with role {role} "
                                     "(basic auth or an API token)")
            if not role_allows(user.role, role):
                return _refuse(403, FORBIDDEN, f"user {user.name!r} (role {user.role}) may not {action}: needs {role}")
            return view(*args, **kwargs)

        return guarded

    return decorate


# ---------------------------------------------------------------- resolving the caller


def _catalog() -> Catalog:
    return current_app.extensions["catalog"]


def _resolve_caller() -> Response | None:
    g.catalog_user = g.catalog_session_refused = None
    header = request.headers.get("Authorization")
    if header is not None and header.strip():
        user, why = _from_header(header.strip())
        if user is None:
            return _unauthorized(why)
        g.catalog_user = user
        return None
    sessions = current_app.extensions.get(_SESSIONS)
    logged_in = sessions[0]() if sessions is not None else None
    if logged_in is not None and sessions[1]():
        g.catalog_user = logged_in
        return None
    g.catalog_session_refused = logged_in
    if request.endpoint in PUBLIC_ENDPOINTS or _catalog().settings.read_access == "open":
        return None
    if logged_in is not None:
        return _session_refused(logged_in)
    if sessions is not None and _browser_reading_a_page():
        target = request.full_path.rstrip("?") if request.query_string else request.path
        return redirect(url_for(sessions[2], next=target))
    return _unauthorized("authentication required: this catalog serves reads only to its users "
                         "(basic auth or Authorization: Bearer <API token>)")


def _session_refused(logged_in: User) -> Response:
    """403 for a request that has only a page session where one does not count (an API write).

    Not 401: the browser knows who it is, and a 401's basic-auth challenge would make it
    prompt for a password on a script's ``fetch``.
    """
    return _refuse(403, FORBIDDEN, f"user {logged_in.name!r} is logged in to the pages, but a page session does not "
                                   f"authorize {request.method} {request.path}: send basic auth or an API token")


def _wants_html() -> bool:
    """A browser's request: its ``Accept`` names HTML itself (``*/*`` alone is a script's)."""
    return any(kind in ("text/html", "application/xhtml+xml") and quality > 0
               for kind, quality in request.accept_mimetypes)


def _browser_reading_a_page() -> bool:
    return request.method in ("GET", "HEAD") and not is_api_path() and _wants_html()


def _from_header(header: str) -> tuple[User | None, str]:
    """The user of an Authorization header, or None and why not (never echoing the secret)."""
    scheme, _, rest = header.partition(" ")
    rest = rest.strip(" \t")
    if scheme.lower() == "basic":
        try:
            name, colon, password = base64.b64decode(rest, validate=True).decode("utf-8").partition(":")
        except (binascii.Error, UnicodeError):
            return None, "malformed basic credentials: expected base64 of 'name:password'"
        if not colon:
            return None, "malformed basic credentials: expected base64 of 'name:password'"
        cache = current_app.extensions[_PASSWORDS]
        with _parameters_hidden(), _catalog().session() as session:
            user = authenticate(session, name, password, cache=cache)
        return user, "invalid user name or password"
    if scheme.lower() == "bearer":
        with _parameters_hidden(), _catalog().session() as session:
            user = user_for_token(session, rest)
        if user is not None:
            current_app.extensions[_TOUCHED].later(rest)
        return user, "invalid or revoked API token"
    return None, f"unsupported authorization scheme {scheme[:20]!r}: use Basic or Bearer"


@contextmanager
def _parameters_hidden() -> Iterator[None]:
    """A store error while checking credentials, re-raised without its SQL parameters (a token's digest)."""
    from sqlalchemy.exc import SQLAlchemyError

    try:
        yield
    except SQLAlchemyError as exc:
        cause = getattr(exc, "orig", None)
        detail = f"{type(cause).__name__}: {cause}" if cause is not None else type(exc).__name__
        raise RuntimeError(f"credentials could not be checked: {detail}") from None


def _refuse(status: int, code: str, message: str) -> Response:
    if is_api_path():
        response = jsonify({"errorCode": code, "errorMessage": message})
    elif _wants_html():
        response = Response(render_template("error.html", status=status, message=message), mimetype="text/html")
    else:
        response = Response(f"{status} {'Unauthorized' if status == 401 else 'Forbidden'}: {message}\n",
                            mimetype="text/plain")
    response.status_code = status
    return response


def _unauthorized(message: str) -> Response:
    response = _refuse(401, UNAUTHORIZED, message)
    response.headers["WWW-Authenticate"] = f'Basic realm="{REALM}"'
    return response


class _Touched:
    """When this process last wrote a token's ``last_used_at``, so it writes at most once a minute.

    The write runs after the response is sent (``call_on_close``), in its own short
    transaction, and a failure there is logged, not answered: the request was served.
    """

    def __init__(self, interval: float = 60.0, max_entries: int = 4096) -> None:
        self.interval = interval
        self.max_entries = max_entries
        self._at: OrderedDict[str, float] = OrderedDict()
        self._lock = threading.Lock()

    def _due(self, token: str) -> bool:
        key = hashlib.sha256(token.encode("utf-8")).hexdigest()  # no token text kept in memory
        now = time.monotonic()
        with self._lock:
            last = self._at.get(key)
            if last is not None and now - last < self.interval:
                return False
            self._at[key] = now
            self._at.move_to_end(key)
            while len(self._at) > self.max_entries:
                self._at.popitem(last=False)
            return True

    def later(self, token: str) -> None:
        if not self._due(token):
            return
        from flask import after_this_request

        app = current_app._get_current_object()  # type: ignore[attr-defined]

        def touch() -> None:
            try:
                with app.extensions["catalog"].write_session() as session, session.begin():
                    touch_token(session, token)
            except Exception as exc:  # noqa: BLE001 - the response is already sent
                app.logger.warning("could not record the use of an API token: %s", type(exc).__name__)

        @after_this_request
        def on_close(response: Response) -> Response:
            response.call_on_close(touch)
            return response
