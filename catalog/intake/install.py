"""``catalog hook install`` and ``catalog hook test``: the catalog's webhook in MLflow's registry.

``install`` creates the webhook with ``MlflowClient.create_webhook`` (or updates the one of
the same name, so running it again is harmless); ``send_test`` asks MLflow to post its test
event for the webhook (``MlflowClient.test_webhook``): MLflow itself signs and sends it, so
a success proves URL, network guards and secret end to end.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from catalog.errors import CatalogError, ConfigError, NotFound
from catalog.intake.events import EVENTS
from catalog.intake.registry import client, guarded

__all__ = ["DEFAULT_EVENTS", "DEFAULT_NAME", "Installed", "TestResult", "install", "send_test"]

DEFAULT_NAME = "ml-lineage-catalog"
#: The model registry events the hook handles, in MLflow's order.
DEFAULT_EVENTS: tuple[str, ...] = tuple(EVENTS)
#: The shortest secret ``install`` accepts (HMAC-SHA256 takes any length; a short one is guessable).
MIN_SECRET = 16


@dataclass(frozen=True, slots=True)
class Installed:
    webhook_id: str
    name: str
    url: str
    events: tuple[str, ...]
    created: bool  # False: an existing webhook of that name was updated


@dataclass(frozen=True, slots=True)
class TestResult:
    webhook_id: str
    success: bool
    status: int | None
    body: str
    error: str


def install(uri: str, url: str, secret: str, *, events: Sequence[str] = DEFAULT_EVENTS,
            name: str = DEFAULT_NAME, description: str = "") -> Installed:
    """Register (or update) webhook ``name`` posting ``events`` to ``url``, signed with ``secret``."""
    if len(secret) < MIN_SECRET:
        raise ConfigError(f"the hook secret has {len(secret)} characters: expected at least {MIN_SECRET} "
                          "(e.g. `python -c 'import secrets; print(secrets.token_urlsafe(32))'`)")
    unknown = [e for e in events if e not in EVENTS]
    if unknown:
        raise ConfigError(f"unknown hook event {unknown[0]!r}: the hook handles {', '.join(EVENTS)}")
    from mlflow.exceptions import MlflowException

    with guarded(uri, f"creating webhook {name!r}"):
        mlflow = client(uri)
        existing = _find(mlflow, name)
        try:
            if existing is None:
                hook = mlflow.create_webhook(name=name, url=url, events=list(events), description=description or None,
                                             secret=secret, status="ACTIVE")
            else:
                hook = mlflow.update_webhook(existing.webhook_id, url=url, events=list(events), secret=secret,
                                             status="ACTIVE", description=description or None)
        except MlflowException as exc:
            if exc.error_code != "INVALID_PARAMETER_VALUE":
                raise
            raise CatalogError(f"MLflow refused webhook {name!r} for {url}: {exc.message}{_guard_hint(exc.message)}"
                               ) from None
    return Installed(hook.webhook_id, hook.name, hook.url, tuple(str(e) for e in hook.events), existing is None)


def send_test(uri: str, *, name: str = DEFAULT_NAME, event: str | None = None) -> TestResult:
    """MLflow posts its test event (``event``, default the webhook's first) to webhook ``name``."""
    with guarded(uri, f"testing webhook {name!r}"):
        mlflow = client(uri)
        hook = _find(mlflow, name)
        if hook is None:
            raise NotFound(f"MLflow at {uri} has no webhook named {name!r}: run `catalog hook install` first")
        result = mlflow.test_webhook(hook.webhook_id, event=event)
    return TestResult(hook.webhook_id, bool(result.success), result.response_status, result.response_body or "",
                      result.error_message or "")


def _find(mlflow: Any, name: str) -> Any | None:
    token = None
    while True:
        page = mlflow.list_webhooks(max_results=100, page_token=token)
        for hook in page:
            if hook.name == name:
                return hook
        token = page.token
        if not token:
            return None


def _guard_hint(message: str) -> str:
    if "scheme" in message:
        return " (start the MLflow server with MLFLOW_WEBHOOK_ALLOWED_SCHEMES=http,https for a plain-HTTP hook)"
    if "private" in message.lower() or "public" in message.lower():
        return (" (start the MLflow server with MLFLOW_WEBHOOK_ALLOW_PRIVATE_IPS=true for a hook on a private "
                "network or loopback)")
    return ""
