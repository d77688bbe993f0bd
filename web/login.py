"""Login to the pages: a session cookie for the catalog's users, CSRF tokens on every form.

- ``GET/POST /login``: the login form (a Flask-WTF ``FlaskForm``: name, password, the page
  to go back to). The password is checked by ``catalog.users.authenticate`` (werkzeug's
  hash, constant time for unknown names); success starts a Flask-Login session and
  redirects to ``next`` when it is a path on this site (``/models/x?depth=2``), never
  elsewhere (``//evil.example``, ``http://...``, ``/\\evil``): anything else goes to ``/``.
- ``POST /logout``: ends the session (a form with its CSRF token; ``GET`` is 405).

Who a session counts as (``web.auth``): its user, for reads everywhere (pages and APIs,
``GET``/``HEAD``/``OPTIONS``) and for the pages' own forms, which all carry a CSRF token
(every ``POST`` outside ``/api/`` and ``/hooks/`` is checked here before its view runs;
a missing or wrong token is a 400 page). A write to an API never counts the session
(with only a session it is 403): it needs basic auth or an API token, so a form on
another site can never write, even through a browser that is logged in.

Session cookie (``catalog_session``): ``HttpOnly``, ``SameSite=Lax``, ``Secure`` when
the request came over TLS or ``SESSION_COOKIE_SECURE`` is set; signed (not encrypted)
with the secret key, valid 12 hours from login. It holds the user's name and a keyed
digest of their password hash, so setting a new password (``catalog users add
--replace``) ends that user's sessions, and a changed role applies at the next request.

The secret key: ``CATALOG_SECRET_KEY``; else, for a SQLite store, a random key made once
and kept in a file beside it (``<store>.secret-key``, mode 0600; created atomically, so
gunicorn workers starting together agree); else (PostgreSQL, an in-memory store) a
random key per process, with a warning: logins then end when the process does and are
not shared between ``--workers``. (Keeping the key in the store itself would need a
table of its own.)
"""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets
import tempfile
from datetime import timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from flask import (
    Blueprint,
    Flask,
    Response,
    current_app,
    flash,
    get_flashed_messages,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask.sessions import SecureCookieSessionInterface
from flask_login import LoginManager, UserMixin, login_user, logout_user
from flask_login import current_user as session_login
from flask_wtf import FlaskForm
from flask_wtf.csrf import CSRFError, CSRFProtect
from wtforms import HiddenField, PasswordField, StringField
from wtforms.validators import InputRequired, Length

from catalog.config import Settings
from catalog.errors import ConfigError
from catalog.users import MAX_NAME_CHARS, MAX_PASSWORD_CHARS, User, authenticate
from web import auth

__all__ = ["LoginForm", "SessionUser", "init_app", "safe_next", "secret_key"]

#: The shortest ``CATALOG_SECRET_KEY`` taken.
MIN_SECRET_CHARS = 16
#: How long a login lasts (the session cookie's signature is refused after it).
SESSION_HOURS = 12
#: The file beside a SQLite store that keeps its generated key: ``catalog.db.secret-key``.
KEY_FILE_SUFFIX = ".secret-key"
#: Methods that only read: a session counts for these on every path.
READ_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})

bp = Blueprint("login", __name__)
_csrf = CSRFProtect()


class LoginForm(FlaskForm):
    name = StringField("User name", validators=[InputRequired(), Length(max=MAX_NAME_CHARS)])
    password = PasswordField("Password", validators=[InputRequired(), Length(max=MAX_PASSWORD_CHARS)])
    next = HiddenField()


class SessionUser(UserMixin):
    """A logged-in user as Flask-Login keeps it: the ``User``, and the id its session holds."""

    def __init__(self, user: User, fingerprint: str) -> None:
        self.user, self.fingerprint = user, fingerprint

    def get_id(self) -> str:
        return f"{self.user.name}:{self.fingerprint}"  # a user name has no ':' (catalog.users.check_name)


# ---------------------------------------------------------------- the secret key


def secret_key(settings: Settings, log: Any = None) -> str:
    """The key that signs sessions and CSRF tokens of the catalog ``settings`` name (see the module's doc)."""
    if settings.secret_key:
        if len(settings.secret_key) < MIN_SECRET_CHARS:
            raise ConfigError(f"CATALOG_SECRET_KEY: expected at least {MIN_SECRET_CHARS} characters")
        return settings.secret_key
    path = _key_file(settings.database_url)
    if path is not None:
        return _kept_key(path)
    if log is not None:
        log.warning("CATALOG_SECRET_KEY is not set and the store is not a SQLite file: this process signs "
                    "logins with a key of its own, so they end when it stops and other workers refuse them")
    return secrets.token_hex(32)


def _key_file(database_url: str) -> Path | None:
    from sqlalchemy.engine import make_url

    url = make_url(database_url)
    database = url.database or ""
    if url.get_backend_name() != "sqlite" or database in ("", ":memory:") or database.startswith("file:"):
        return None
    path = Path(database)
    return path.with_name(path.name + KEY_FILE_SUFFIX) if path.parent.is_dir() else None


def _kept_key(path: Path) -> str:
    """The key in ``path``, made first if there is none: written to a temporary file, then linked in place."""
    if not path.exists():
        fd, temporary = tempfile.mkstemp(dir=path.parent, prefix=path.name + ".")  # mode 0600
        try:
            with os.fdopen(fd, "w", encoding="ascii") as out:
                out.write(secrets.token_hex(32) + "\n")
                out.flush()
                os.fsync(out.fileno())
            os.link(temporary, path)  # fails if another process made it first: then its key is read
        except FileExistsError:
            pass
        finally:
            os.unlink(temporary)
    try:
        key = path.read_text(encoding="ascii").strip()
    except (OSError, UnicodeError) as exc:
        raise ConfigError(f"cannot read the session key file {path}: {exc}") from None
    if len(key) < MIN_SECRET_CHARS:
        raise ConfigError(f"the session key file {path} holds fewer than {MIN_SECRET_CHARS} characters: "
                          "remove it (a new one is made) or set CATALOG_SECRET_KEY")
    return key


class _SessionInterface(SecureCookieSessionInterface):
    """Flask's signed cookie session, ``Secure`` on requests that came over TLS too."""

    def get_cookie_secure(self, app: Flask) -> bool:
        return bool(app.config["SESSION_COOKIE_SECURE"]) or request.is_secure


# ---------------------------------------------------------------- who the session is


def _fingerprint(password_hash: str) -> str:
    key = current_app.config["SECRET_KEY"].encode("utf-8")
    return hmac.new(key, b"session\0" + password_hash.encode("utf-8"), hashlib.sha256).hexdigest()[:32]


def _stored(name: str) -> tuple[User, str] | None:
    """The user ``name`` and the fingerprint of their password hash; None when there is no such user."""
    from catalog.store.schema import UserRow

    with current_app.extensions["catalog"].session() as db:
        row = db.get(UserRow, name)
        return None if row is None else (User(row.name, row.role), _fingerprint(row.password_hash))


def _load(user_id: str) -> SessionUser | None:
    name, _, fingerprint = user_id.partition(":")
    found = _stored(name) if name and fingerprint else None
    if found is None or not hmac.compare_digest(found[1], fingerprint):
        return None  # removed, or a new password since this session began
    return SessionUser(*found)


def session_user() -> User | None:
    """The user the request's session cookie is logged in as; None without one."""
    login = session_login._get_current_object() if "_user_id" in session else None
    return login.user if isinstance(login, SessionUser) else None


def _session_counts() -> bool:
    """Whether a session counts for this request: reads, and the pages' forms (``_csrf_check`` checks them)."""
    return request.method in READ_METHODS or not auth.is_api_path()


# ---------------------------------------------------------------- views


def safe_next(target: str | None) -> str | None:
    """``target`` when it is a path on this site (``/x?y``), else None: never another host or scheme."""
    if not target or len(target) > 2048 or not target.startswith("/") or target.startswith("//"):
        return None
    if "\\" in target or any(ord(c) < 0x21 or ord(c) == 0x7F for c in target):
        return None  # browsers read "/\evil" as "//evil"; no spaces or control characters either
    parts = urlsplit(target)
    if parts.scheme or parts.netloc:
        return None
    return target


@bp.route("/login", methods=["GET", "POST"])
def login() -> Any:
    form = LoginForm()
    if request.method == "GET":
        form.next.data = safe_next(request.args.get("next")) or ""
    message = None
    status = 200
    if form.validate_on_submit():
        with current_app.extensions["catalog"].session() as db:
            user = authenticate(db, form.name.data or "", form.password.data or "")
        if user is not None:
            found = _stored(user.name)
            if found is not None:
                session.clear()  # nothing of the anonymous session (its CSRF token) carries over
                login_user(SessionUser(*found))
                return redirect(safe_next(form.next.data) or url_for("ui.index"))
        message = "Wrong user name or password."
    elif request.method == "POST":
        message = "Give a user name and a password."
        status = 400
    form.password.data = ""
    return render_template("login.html", form=form, message=message, notices=get_flashed_messages(),
                           user=session_user()), status


@bp.route("/logout", methods=["POST"])
def logout() -> Response:
    logout_user()
    session.clear()
    flash("You are logged out.")
    return redirect(url_for("login.login"))


def _csrf_check() -> None:
    """Every form post to the pages (not the APIs, which never take the session for writes) carries its token."""
    if request.endpoint is None or auth.is_api_path():
        return  # an unknown route or method is the 404/405 it would be
    _csrf.protect()


def _csrf_refused(error: CSRFError) -> tuple[str, int]:
    message = (f"This form was refused: {error.description} Forms of the catalog carry a token of your session; "
               "reload the page and send the form again.")
    return render_template("error.html", status=400, message=message), 400


def _account() -> dict[str, Any]:
    """What base.html's header shows: the session's user (with a logout form), else who the credentials name."""
    return {"account": {"session": session_user(), "caller": auth.current_user()}}


def init_app(app: Flask) -> None:
    """Sessions, CSRF and ``/login``, ``/logout`` on ``app`` (after ``web.auth.init_app``)."""
    settings: Settings = app.extensions["catalog"].settings
    if not app.config.get("SECRET_KEY"):
        app.config["SECRET_KEY"] = secret_key(settings, app.logger)
    app.config.update(SESSION_COOKIE_NAME="catalog_session", SESSION_COOKIE_HTTPONLY=True,
                      SESSION_COOKIE_SAMESITE="Lax", PERMANENT_SESSION_LIFETIME=timedelta(hours=SESSION_HOURS))
    # the token lives as long as the session: a page left open an hour can still log out
    app.config.setdefault("WTF_CSRF_TIME_LIMIT", None)
    app.config["WTF_CSRF_CHECK_DEFAULT"] = False  # checked by _csrf_check, which leaves the APIs alone
    app.session_interface = _SessionInterface()
    _csrf.init_app(app)

    manager = LoginManager()
    manager.init_app(app, add_context_processor=False)
    manager.user_loader(_load)
    manager.login_view = "login.login"
    auth.use_sessions(app, session_user, _session_counts, "login.login")

    app.before_request(_csrf_check)
    app.register_error_handler(CSRFError, _csrf_refused)
    app.context_processor(_account)
    app.register_blueprint(bp)
