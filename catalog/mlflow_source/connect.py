"""Where to connect to MLflow, checked before MLflow gets a chance to create anything.

A sqlite store must exist and is opened read-only; HTTP reads get bounded retries and
timeouts; credentials never reach a message.
"""

from __future__ import annotations

import contextlib
import os
import re
import threading
from collections.abc import Iterator, Mapping
from urllib.parse import quote, unquote, urlencode, urlsplit

from catalog.errors import SourceUnavailableError

_USERINFO_RE = re.compile(r"(?<=://)[^/@\s]*@")
HTTP_PROBE_ENV = {"MLFLOW_HTTP_REQUEST_MAX_RETRIES": "0", "MLFLOW_HTTP_REQUEST_TIMEOUT": "3"}
_HTTP_READ_ENV = {
    "MLFLOW_HTTP_REQUEST_MAX_RETRIES": "2",
    "MLFLOW_HTTP_REQUEST_TIMEOUT": "30",
    "MLFLOW_HTTP_REQUEST_BACKOFF_FACTOR": "1",
    "MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR": "false",
}
_ENV_LOCK = threading.Lock()


def scrub(text: str) -> str:
    return _USERINFO_RE.sub("", text)


def source_errors() -> tuple[type[BaseException], ...]:
    from mlflow.exceptions import MlflowException

    errors: list[type[BaseException]] = [MlflowException, ConnectionError, TimeoutError, OSError]
    with contextlib.suppress(ImportError):
        import requests

        errors.append(requests.RequestException)
    with contextlib.suppress(ImportError):
        import sqlalchemy.exc

        errors.append(sqlalchemy.exc.SQLAlchemyError)
    return tuple(errors)


# -- where to connect, checked before MLflow gets a chance to create anything --------------


def client_uri(uri: str, safe: str) -> str:
    scheme = urlsplit(uri).scheme.lower()
    if scheme.startswith("sqlite"):
        return _sqlite_read_only_uri(uri, safe)
    if scheme == "file" or (not scheme and uri not in ("databricks", "databricks-uc", "uc")):
        path = unquote(urlsplit(uri).path) if scheme == "file" else uri
        if not os.path.isdir(os.path.join(path, ".trash")):
            raise SourceUnavailableError(f"MLflow file store {safe} does not exist or is not an MLflow store")
    return uri


def _sqlite_read_only_uri(uri: str, safe: str) -> str:
    """The same database as a read-only SQLite URI, after checking it is an MLflow store.

    MLflow creates (and migrates) the database of a ``sqlite:`` URI when it opens it;
    a read-only connection makes that impossible. The ``sqlite+pysqlite`` spelling
    keeps MLflow from creating directories named after the ``file:`` URI.
    """
    import sqlite3

    from sqlalchemy.engine import make_url

    try:
        url = make_url(uri)
    except Exception:
        raise SourceUnavailableError(f"MLflow URI {safe} is not a valid sqlite URI") from None
    database = url.database or ""
    if database.startswith("file:"):
        database = unquote(urlsplit(database).path)
    if not database or database == ":memory:":
        raise SourceUnavailableError(f"MLflow at {safe} is an in-memory database: nothing to read")
    path = os.path.abspath(database)
    if not os.path.isfile(path):
        raise SourceUnavailableError(f"MLflow database {safe} does not exist ({path})")
    try:
        con = sqlite3.connect(f"file:{quote(path, safe='/')}?mode=ro", uri=True)
        try:
            tables = {row[0] for row in con.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
        finally:
            con.close()
    except sqlite3.Error as exc:
        raise SourceUnavailableError(f"MLflow database {safe} cannot be read: {exc}") from None
    missing = {"experiments", "runs", "registered_models", "model_versions"} - tables
    if missing:
        raise SourceUnavailableError(
            f"{safe} is not an MLflow tracking database (missing tables: {', '.join(sorted(missing))})"
        )
    query = {k: v for k, v in url.query.items() if k not in ("mode", "uri")}
    query.update(mode="ro", uri="true")
    # SQLAlchemy unquotes the database part once, SQLite decodes the file: URI once more.
    return f"sqlite+pysqlite:///file:{quote(quote(path, safe='/'), safe='/')}?{urlencode(sorted(query.items()))}"


@contextlib.contextmanager
def patched_env(values: Mapping[str, str]) -> Iterator[None]:
    saved = {k: os.environ.get(k) for k in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for key, old in saved.items():
            if old is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = old


@contextlib.contextmanager
def http_env(is_http: bool) -> Iterator[None]:
    """Bounded retries/timeouts for the duration of an HTTP read (a user's own values win)."""
    if not is_http:
        yield
        return
    with _ENV_LOCK, patched_env({k: os.environ.get(k, v) for k, v in _HTTP_READ_ENV.items()}):
        yield
