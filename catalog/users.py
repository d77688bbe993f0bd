"""Users and API tokens: who may use the API and the UI, and with which role.

Roles are ordered ``viewer`` < ``steward`` < ``admin``; a role allows what every lower
role allows. Passwords are kept as werkzeug password hashes (``app_user``), API tokens
as the sha256 digest of the token (``api_token``): the token text is shown once, when
it is created, and never stored.

The callers own the transaction: ``with catalog.write_session() as s, s.begin():
add_user(s, ...)``. Reads (``authenticate``, ``user_for_token``) never write.
SQLAlchemy and the rows are imported inside the functions, so ``catalog --help``
(which imports ``ROLES``) stays light.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from catalog.errors import CatalogError, NotFound, did_you_mean

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

__all__ = [
    "ROLES",
    "TOKEN_PREFIX",
    "User",
    "TokenInfo",
    "UserError",
    "UserExistsError",
    "PasswordCache",
    "role_allows",
    "check_name",
    "check_password",
    "user_exists",
    "check_new_user",
    "add_user",
    "list_users",
    "authenticate",
    "create_token",
    "user_for_token",
    "touch_token",
    "revoke_token",
    "revoke_tokens",
    "list_tokens",
    "active_tokens",
]

ROLES = ("viewer", "steward", "admin")
#: Every token starts with this, so a leaked one is recognisable (secret scanners, logs).
TOKEN_PREFIX = "mlc_"
MIN_PASSWORD_CHARS = 8
MAX_PASSWORD_CHARS = 1024
MAX_NAME_CHARS = 255
#: ``last_used_at`` of a token is written at most this often (milliseconds).
TOUCH_INTERVAL_MS = 60_000


class UserError(CatalogError, ValueError):
    """A user name, password, role or token label that the catalog does not accept."""


class UserExistsError(UserError):
    """``add_user`` of a name that is taken, without ``replace=True``."""


@dataclass(frozen=True)
class User:
    """Who is calling: a user's name and role (never the password hash)."""

    name: str
    role: str

    def allows(self, needed: str) -> bool:
        return role_allows(self.role, needed)


@dataclass(frozen=True)
class TokenInfo:
    """What may be shown about a token: never its text, never its digest."""

    user_name: str
    label: str
    created_at: int
    last_used_at: int | None
    revoked: bool

    def describe(self) -> str:
        """One line: user, label, state, when created and last used (UTC)."""
        state = "revoked" if self.revoked else "active"
        return (f"{self.user_name:<24} {self.label or '-':<20} {state:<8} created {_when(self.created_at)}, "
                f"last used {_when(self.last_used_at)}")


def _when(ms: int | None) -> str:
    from datetime import UTC, datetime

    return "never" if ms is None else datetime.fromtimestamp(ms / 1000, UTC).strftime("%Y-%m-%d %H:%M UTC")


def role_allows(role: str, needed: str) -> bool:
    """True when ``role`` is ``needed`` or above it; an unknown ``role`` allows nothing."""
    if needed not in ROLES:
        raise ValueError(f"unknown role {needed!r}: expected one of {', '.join(ROLES)}")
    return role in ROLES and ROLES.index(role) >= ROLES.index(needed)


def check_name(name: str) -> str:
    """``name`` if it can be a user name (and a basic-auth user), else ``UserError`` saying why."""
    if not isinstance(name, str) or not 1 <= len(name) <= MAX_NAME_CHARS:
        raise UserError(f"a user name has 1 to {MAX_NAME_CHARS} characters")
    if not name.isprintable() or name != name.strip():
        raise UserError(f"user name {name!r}: only printable characters, no leading or trailing spaces")
    if ":" in name:
        raise UserError(f"user name {name!r}: no ':' (basic authentication separates name and password by it)")
    return name


def check_password(password: str) -> str:
    """``password`` if it is acceptable, else ``UserError`` (the message never shows it)."""
    if not isinstance(password, str) or len(password) < MIN_PASSWORD_CHARS:
        raise UserError(f"a password has at least {MIN_PASSWORD_CHARS} characters")
    if len(password) > MAX_PASSWORD_CHARS:
        raise UserError(f"a password has at most {MAX_PASSWORD_CHARS} characters")
    try:
        password.encode("utf-8")
    except UnicodeEncodeError:
        raise UserError("the password is not valid text (UTF-8)") from None
    return password


def _check_role(role: str) -> str:
    if role not in ROLES:
        raise UserError(f"unknown role {role!r}: expected one of {', '.join(ROLES)}{did_you_mean(role, ROLES)}")
    return role


def _check_label(label: str) -> str:
    if not isinstance(label, str) or len(label) > MAX_NAME_CHARS or not label.isprintable():
        raise UserError(f"a token label has at most {MAX_NAME_CHARS} printable characters")
    return label


# ---------------------------------------------------------------- users


def user_exists(session: Session, name: str) -> bool:
    from catalog.store.schema import UserRow

    return session.get(UserRow, name) is not None


def check_new_user(session: Session, name: str) -> None:
    """``UserExistsError`` when ``name`` is taken."""
    from catalog.store.schema import UserRow

    row = session.get(UserRow, name)
    if row is not None:
        raise UserExistsError(
            f"user {name!r} exists (role {row.role}); replace it to set its password and role "
            "(catalog users add --replace)"
        )


def _unknown_user(session: Session, name: str) -> NotFound:
    from sqlalchemy import select

    from catalog.store.schema import UserRow

    names = session.scalars(select(UserRow.name)).all()
    return NotFound(f"no user {name!r}{did_you_mean(name, names)} (add one with `catalog users add`)")


def add_user(session: Session, name: str, password: str, role: str, *, replace: bool = False) -> None:
    """Add user ``name``; ``replace=True`` sets the password and role of an existing one instead.

    Tokens of a replaced user stay valid (revoke them with ``revoke_tokens``).
    """
    from werkzeug.security import generate_password_hash

    from catalog.store.schema import UserRow, now_ms

    check_name(name)
    check_password(password)
    _check_role(role)
    if not replace:
        check_new_user(session, name)
    row = session.get(UserRow, name)
    now = now_ms()
    password_hash = generate_password_hash(password)
    if row is None:
        session.add(UserRow(name=name, password_hash=password_hash, role=role, created_at=now, updated_at=now))
    else:
        row.password_hash, row.role, row.updated_at = password_hash, role, now
    session.flush()


def list_users(session: Session) -> list[User]:
    """Every user, by name."""
    from sqlalchemy import select

    from catalog.store.schema import UserRow

    return [User(n, r) for n, r in session.execute(select(UserRow.name, UserRow.role).order_by(UserRow.name))]


_dummy_lock = threading.Lock()
_dummy: list[str] = []


def _dummy_hash() -> str:
    """A hash of a random password, checked for unknown names so they take as long as known ones."""
    from werkzeug.security import generate_password_hash

    with _dummy_lock:
        if not _dummy:
            _dummy.append(generate_password_hash(secrets.token_urlsafe(16)))
        return _dummy[0]


class PasswordCache:
    """Recently verified (name, password) pairs, so repeated basic auth skips the slow hash.

    Keys are (name, HMAC-SHA256 of the password under a key made per cache): no password
    is kept. A hit counts only while the user's stored hash is the one verified, so a
    changed password takes effect at once. Entries live ``ttl`` seconds; at most
    ``max_entries`` are kept (least recently used go first). Thread-safe.
    """

    def __init__(self, ttl: float = 60.0, max_entries: int = 1024, clock: Callable[[], float] = time.monotonic):
        self.ttl = ttl
        self.max_entries = max_entries
        self._clock = clock
        self._key = secrets.token_bytes(32)
        self._entries: OrderedDict[tuple[str, bytes], tuple[float, str]] = OrderedDict()
        self._lock = threading.Lock()

    def _slot(self, name: str, password: str) -> tuple[str, bytes]:
        return name, hmac.new(self._key, password.encode("utf-8"), hashlib.sha256).digest()

    def hit(self, name: str, password: str, password_hash: str) -> bool:
        slot = self._slot(name, password)
        with self._lock:
            entry = self._entries.get(slot)
            if entry is None:
                return False
            expires, verified_hash = entry
            if expires <= self._clock() or not hmac.compare_digest(verified_hash, password_hash):
                del self._entries[slot]
                return False
            self._entries.move_to_end(slot)
            return True

    def put(self, name: str, password: str, password_hash: str) -> None:
        slot = self._slot(name, password)
        with self._lock:
            self._entries[slot] = (self._clock() + self.ttl, password_hash)
            self._entries.move_to_end(slot)
            while len(self._entries) > self.max_entries:
                self._entries.popitem(last=False)

    def __len__(self) -> int:
        return len(self._entries)


def authenticate(session: Session, name: str, password: str, *, cache: PasswordCache | None = None) -> User | None:
    """The user ``name`` if ``password`` is theirs, else None.

    Constant-time: the hash comparison is werkzeug's, and an unknown name is checked
    against a dummy hash so it takes as long as a known one. With ``cache``, a pair
    verified in the last minute is accepted without hashing again (one indexed read).
    """
    from werkzeug.security import check_password_hash

    from catalog.store.schema import UserRow

    if not isinstance(name, str) or not isinstance(password, str):
        return None
    try:
        password.encode("utf-8")
    except UnicodeEncodeError:
        return None
    plausible = 0 < len(name) <= MAX_NAME_CHARS and name.isprintable()
    row = session.get(UserRow, name) if plausible else None
    if row is None:
        check_password_hash(_dummy_hash(), password)
        return None
    if cache is not None and cache.hit(name, password, row.password_hash):
        return User(row.name, row.role)
    if not check_password_hash(row.password_hash, password):
        return None
    if cache is not None:
        cache.put(name, password, row.password_hash)
    return User(row.name, row.role)


# ---------------------------------------------------------------- tokens


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def _looks_like_token(token: object) -> bool:
    return isinstance(token, str) and token.startswith(TOKEN_PREFIX) and len(token) <= 200 and token.isascii()


def create_token(session: Session, user_name: str, label: str = "") -> str:
    """A new token of ``user_name``: its text, returned this once; only its sha256 is stored."""
    from catalog.store.schema import TokenRow, now_ms

    _check_label(label)
    if not user_exists(session, user_name):
        raise _unknown_user(session, user_name)
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    session.add(TokenRow(token_hash=_digest(token), user_name=user_name, label=label, created_at=now_ms(),
                         last_used_at=None, revoked=False))
    session.flush()
    return token


def user_for_token(session: Session, token: str) -> User | None:
    """The user a valid token belongs to; None for an unknown or revoked one. One indexed read."""
    from sqlalchemy import select

    from catalog.store.schema import TokenRow, UserRow

    if not _looks_like_token(token):
        return None
    found = session.execute(
        select(UserRow.name, UserRow.role)
        .join(TokenRow, TokenRow.user_name == UserRow.name)
        .where(TokenRow.token_hash == _digest(token), TokenRow.revoked.is_(False))
    ).first()
    return None if found is None else User(found.name, found.role)


def touch_token(session: Session, token: str, now: int | None = None) -> bool:
    """Set the token's ``last_used_at`` unless it was set in the last minute; True when written."""
    from sqlalchemy import or_, update

    from catalog.store.schema import TokenRow, now_ms

    if not _looks_like_token(token):
        return False
    now = now_ms() if now is None else now
    result = session.execute(
        update(TokenRow)
        .where(TokenRow.token_hash == _digest(token))
        .where(or_(TokenRow.last_used_at.is_(None), TokenRow.last_used_at <= now - TOUCH_INTERVAL_MS))
        .values(last_used_at=now)
    )
    return bool(result.rowcount)


def revoke_token(session: Session, token: str, user_name: str | None = None) -> bool:
    """Revoke the token whose text is ``token`` (only if it is ``user_name``'s, when given).

    False when there was nothing to revoke: the token is unknown, revoked already or someone else's.
    """
    from sqlalchemy import update

    from catalog.store.schema import TokenRow

    user = user_for_token(session, token)
    if user is None or (user_name is not None and user.name != user_name):
        return False
    session.execute(update(TokenRow).where(TokenRow.token_hash == _digest(token)).values(revoked=True))
    return True


def revoke_tokens(session: Session, user_name: str, label: str | None = None) -> int:
    """Revoke the active tokens of ``user_name`` (only those labelled ``label`` if given); how many."""
    from sqlalchemy import update

    from catalog.store.schema import TokenRow

    if not user_exists(session, user_name):
        raise _unknown_user(session, user_name)
    statement = update(TokenRow).where(TokenRow.user_name == user_name, TokenRow.revoked.is_(False))
    if label is not None:
        statement = statement.where(TokenRow.label == label)
    return int(session.execute(statement.values(revoked=True)).rowcount or 0)


def active_tokens(session: Session) -> dict[str, int]:
    """How many active (not revoked) tokens each user has; users without any are left out."""
    from sqlalchemy import func, select

    from catalog.store.schema import TokenRow

    statement = (select(TokenRow.user_name, func.count()).where(TokenRow.revoked.is_(False))
                 .group_by(TokenRow.user_name))
    return {name: int(count) for name, count in session.execute(statement)}


def list_tokens(session: Session, user_name: str | None = None) -> list[TokenInfo]:
    """The tokens (of ``user_name``, or everyone's), oldest first; digests are not part of the answer."""
    from sqlalchemy import select

    from catalog.store.schema import TokenRow

    statement = select(TokenRow.user_name, TokenRow.label, TokenRow.created_at, TokenRow.last_used_at,
                       TokenRow.revoked).order_by(TokenRow.user_name, TokenRow.created_at)
    if user_name is not None:
        statement = statement.where(TokenRow.user_name == user_name)
    return [TokenInfo(*row) for row in session.execute(statement)]
