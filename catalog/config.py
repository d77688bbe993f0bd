"""Settings: the one reader of the environment (``CATALOG_*``).

Each setting is declared once with its default and parser. Defaults point at the
demo's files in the current directory, so every ``catalog`` command works from the
repository root after ``make demo`` with no extra environment.

``read_access`` (``CATALOG_READ_ACCESS``) says who may read through the web app (API
and pages): ``authenticated`` (the default) asks every request for credentials (a user's
basic auth or an API token) except ``/healthz``; ``open`` serves reads to anyone, as the
local demo does. Writes always need credentials and a role that allows them, whatever
this says (``catalog.users``, ``web.auth``).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, fields
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from catalog.errors import ConfigError

__all__ = ["Settings", "read_secret", "redact_uri"]


def _int(value: str) -> int:
    return int(value)


def _str(value: str) -> str:
    return value


#: Settings that take one of a few words, and those words.
CHOICES: dict[str, tuple[str, ...]] = {
    "read_access": ("open", "authenticated"),
    "atlas_auth": ("basic", "kerberos", "none"),
    "atlas_tls_verify": ("true", "false"),
    "atlas_push": ("entities", "messages", "both"),
    "atlas_create_tables": ("false", "true"),
}


#: Int settings with a lower bound, and the bound.
_AT_LEAST: dict[str, int] = {
    "hook_window_seconds": 1, "hook_poll_seconds": 1, "reconcile_interval_seconds": 0,
    "atlas_connect_timeout_seconds": 1, "atlas_read_timeout_seconds": 1, "atlas_batch_size": 1,
    "atlas_push_interval_seconds": 1,
}


def _not_one_of(what: str, value: Any, allowed: tuple[str, ...]) -> str:
    return f"{what}={value!r}: expected one of " + ", ".join(repr(a) for a in allowed)


@dataclass(frozen=True)
class Settings:
    """Runtime settings; ``Settings.from_env()`` reads ``CATALOG_<FIELD>`` for each field."""

    database_url: str = "sqlite:///catalog.db"
    mlflow_uri: str = "sqlite:///mlflow.db"
    mlflow_instance: str = "mlflow"
    cluster: str = "cm"
    lineage_file: str = "lineage.yml"
    user: str = ""
    #: a real Atlas to push to (``http(s)://host:21000``); "" = the embedded Atlas API only.
    #: The ``atlas_*`` settings below apply only when it is set (docs/atlas.md)
    atlas_url: str = field(default="", repr=False)  # it may hold user:password
    lineage_max_depth: int = 50
    max_lineage_file_bytes: int = 1_048_576
    host: str = "127.0.0.1"
    port: int = 5000
    read_access: str = "authenticated"
    #: the ``Host`` names ``catalog serve`` answers for (comma-separated; ``*``: any), against DNS rebinding
    trusted_hosts: str = "127.0.0.1,localhost,::1,[::1]"
    #: the MLflow webhook's shared secret (HMAC-SHA256 key); never shown in a repr or a log
    hook_secret: str = field(default="", repr=False)
    #: the key signing the pages' session cookies and CSRF tokens (at least 16 characters); "" = one the
    #: catalog generates and keeps beside a SQLite store (web/login.py); never shown in a repr or a log
    secret_key: str = field(default="", repr=False)
    #: how old (or how far ahead) an ``X-MLflow-Timestamp`` may be, and how long delivery ids are kept
    hook_window_seconds: int = 300
    #: how often the hook's worker looks for queued work that no request of its own process woke it for
    hook_poll_seconds: int = 1
    #: how often ``catalog serve`` compares MLflow's registry with the catalog (0: never)
    reconcile_interval_seconds: int = 300
    #: Spark's warehouse folder (``spark.sql.warehouse.dir``) for the scoring job: where a
    #: hive_table of lineage.yml that Spark's catalog does not know is read from; "" keeps Spark's
    spark_warehouse: str = ""
    atlas_user: str = ""
    atlas_password: str = field(default="", repr=False)
    #: ``basic`` (user and password; no user: no credentials), ``kerberos`` (an optional extra) or ``none``
    atlas_auth: str = "basic"
    atlas_tls_verify: str = "true"
    #: a CA bundle (PEM) to verify Atlas's certificate with, instead of the system's
    atlas_ca_bundle: str = ""
    atlas_connect_timeout_seconds: int = 5
    atlas_read_timeout_seconds: int = 60
    #: entities per ``entity/bulk`` request (and per hook-message batch)
    atlas_batch_size: int = 500
    #: what is pushed: ``entities`` (``entity/bulk``), ``messages`` (HookNotification V2) or ``both``
    atlas_push: str = "entities"
    #: create tables Atlas does not have (else they are reported and their dependents wait)
    atlas_create_tables: str = "false"
    #: how often ``catalog serve`` drains the outbox
    atlas_push_interval_seconds: int = 2

    def __post_init__(self) -> None:
        for name, allowed in CHOICES.items():
            value = getattr(self, name)
            if value not in allowed:
                raise ConfigError(_not_one_of(f"CATALOG_{name.upper()}", value, allowed))
        for name, least in _AT_LEAST.items():
            if getattr(self, name) < least:
                raise ConfigError(f"CATALOG_{name.upper()}={getattr(self, name)!r}: expected an int >= {least}")

    @classmethod
    def from_env(cls, prefix: str = "CATALOG_", environ: Mapping[str, str] | None = None) -> Settings:
        env = os.environ if environ is None else environ
        values: dict[str, Any] = {}
        for f in fields(cls):
            key = prefix + f.name.upper()
            if key not in env:
                continue
            parse: Callable[[str], Any] = _int if f.type in ("int", int) else _str
            try:
                values[f.name] = parse(env[key])
            except ValueError:
                raise ConfigError(f"{key}={env[key]!r}: expected {f.type}") from None
            if f.name in CHOICES:
                values[f.name] = values[f.name].strip().lower()
                if values[f.name] not in CHOICES[f.name]:
                    raise ConfigError(_not_one_of(key, env[key], CHOICES[f.name]))
        settings = cls(**values)
        if not settings.user:
            settings = cls(**{**values, "user": env.get("USER") or env.get("LOGNAME") or "catalog"})
        return settings


def read_secret(variable: str, environ: Mapping[str, str] | None = None) -> str:
    """The secret held by environment variable ``variable`` ("" when unset): ``catalog hook install --secret-env``.

    Here, beside ``Settings.from_env``, so the environment keeps one reader.
    """
    return (os.environ if environ is None else environ).get(variable, "")


def redact_uri(uri: str) -> str:
    """``uri`` with its credentials masked (``***@host``): safe for messages and logs.

    The one redaction of the catalog (store URLs, MLflow tracking URIs, Atlas URLs):
    user and password both go (a user part may be a token); ``***`` says some were given.
    """
    parts = urlsplit(uri)
    if "@" not in parts.netloc:
        return uri
    return urlunsplit(parts._replace(netloc="***@" + parts.netloc.rpartition("@")[2]))
