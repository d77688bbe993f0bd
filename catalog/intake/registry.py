"""What the hook asks MLflow's model registry: is a version still there, what the registry holds, webhooks.

Every call goes through the MLflow client with the reader's guards
(``mlflow_source.connect``: bounded HTTP retries and timeouts, credentials scrubbed from
messages), and an MLflow that cannot be reached raises ``SourceUnavailableError`` naming
the URI: the worker then keeps the job queued. ``mlflow`` is imported inside the functions.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, TypeVar
from urllib.parse import urlsplit

from catalog.config import redact_uri
from catalog.errors import SourceUnavailableError

__all__ = ["RegistryState", "VersionState", "client", "exists", "registry_state"]

T = TypeVar("T")
_MISSING = ("RESOURCE_DOES_NOT_EXIST", "INVALID_PARAMETER_VALUE")


@dataclass(frozen=True, slots=True)
class VersionState:
    """One model version as MLflow's registry has it now."""

    aliases: tuple[str, ...]
    tags: dict[str, str]
    status: str


@dataclass(frozen=True, slots=True)
class RegistryState:
    """Every registered model and version of MLflow's registry, for the reconciler."""

    models: frozenset[str] = frozenset()
    versions: dict[tuple[str, str], VersionState] = field(default_factory=dict)


def client(uri: str) -> Any:
    """A read client of MLflow at ``uri``; a ``sqlite:`` store is opened read-only and must exist.

    MLflow creates and migrates the database of a ``sqlite:`` URI it is given; the
    reconciler of a ``catalog serve`` started where there is no MLflow must not. The
    store is checked before MLflow is imported: importing it takes about a second of CPU, under
    the interpreter lock the server's request threads share with the hook's worker,
    which retries every 30 s where there is no MLflow.
    """
    from catalog.mlflow_source.connect import client_uri

    read_uri = client_uri(uri, redact_uri(uri))
    from mlflow.tracking import MlflowClient

    return MlflowClient(tracking_uri=read_uri, registry_uri=read_uri)


@contextmanager
def guarded(uri: str, what: str) -> Iterator[None]:
    """MLflow's errors of an unreachable or failing server, as ``SourceUnavailableError`` naming ``uri``."""
    from catalog.mlflow_source.connect import http_env, scrub, source_errors

    with http_env(urlsplit(uri).scheme.lower() in ("http", "https")):
        try:
            yield
        except SourceUnavailableError:
            raise
        except source_errors() as exc:
            detail = scrub(str(exc))
            detail = detail if len(detail) <= 500 else detail[:500] + "..."
            raise SourceUnavailableError(
                f"MLflow at {redact_uri(uri)} could not be read ({what}): {type(exc).__name__}: {detail}") from None


def exists(uri: str, model: str, version: str = "") -> bool:
    """Whether MLflow still has registered model ``model`` (and its ``version``, when given)."""
    from mlflow.exceptions import MlflowException

    def ask() -> bool:
        try:
            if version:
                client(uri).get_model_version(model, version)
            else:
                client(uri).get_registered_model(model)
            return True
        except MlflowException as exc:
            if exc.error_code in _MISSING:
                return False
            raise

    with guarded(uri, f"model version {model}/{version}" if version else f"registered model {model}"):
        return ask()


def registry_state(uri: str) -> RegistryState:
    """Every registered model, and every version with its aliases, tags and status."""
    with guarded(uri, "the model registry"):
        mlflow = client(uri)
        models = {rm.name: rm for rm in _pages(mlflow.search_registered_models, order_by=["name ASC"])}
        aliases: dict[tuple[str, str], list[str]] = {}
        for rm in models.values():
            for alias, number in (rm.aliases or {}).items():
                aliases.setdefault((rm.name, str(number)), []).append(alias)
        versions: dict[tuple[str, str], VersionState] = {}
        for mv in _pages(mlflow.search_model_versions, order_by=["name ASC", "version_number ASC"]):
            if mv.name not in models:
                continue
            key = (mv.name, str(mv.version))
            status = getattr(mv.status, "name", mv.status)
            versions[key] = VersionState(tuple(sorted(aliases.get(key, []))), dict(mv.tags or {}), str(status or ""))
    return RegistryState(frozenset(models), versions)


def _pages(search: Callable[..., Any], **kwargs: Any) -> Iterator[Any]:
    token = None
    while True:
        page = search(max_results=1000, page_token=token, **kwargs)
        yield from page
        token = page.token
        if not token:
            return
