"""An MLflow webhook body -> the registry change it announces (``HookEvent``), or why not.

MLflow posts ``{"entity", "action", "timestamp", "data": {...}}``; ``data`` is the
payload of ``mlflow.webhooks.types`` for the event ``<entity>.<action>``. The six model
registry events are handled; any other well-formed event (``prompt.*``, ``budget_policy.*``,
one a later MLflow adds) is ignored: ``HookEvent.handled`` is False. A malformed body
raises ``HookPayloadError`` naming the field and what was expected.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any

from catalog.errors import HookPayloadError

__all__ = ["EVENTS", "GATE", "INGEST", "HookEvent", "parse_event"]

#: The events the hook handles, and the ``data`` fields each must carry.
EVENTS: dict[str, tuple[str, ...]] = {
    "registered_model.created": ("name",),
    "model_version.created": ("name", "version"),
    "model_version_tag.set": ("name", "version", "key"),
    "model_version_tag.deleted": ("name", "version", "key"),
    "model_version_alias.created": ("name", "alias", "version"),
    "model_version_alias.deleted": ("name", "alias"),
}
#: What a job does: run the alias gate (which ingests), or ingest.
GATE, INGEST = "gate", "ingest"
_WORD = re.compile(r"[a-z][a-z_]{0,63}\Z")
_VERSION = re.compile(r"[1-9][0-9]{0,9}\Z")
_ALIAS = re.compile(r"[A-Za-z0-9_-]{1,255}\Z")
_MAX_NAME = 2048


@dataclass(frozen=True, slots=True)
class HookEvent:
    """One registry change: ``event`` (``model_version.created``), the model, and what it names."""

    event: str
    model: str = ""
    version: str = ""  # "" when the event names none (registered_model.created, alias deleted)
    alias: str = ""
    data: dict[str, Any] = field(default_factory=dict)

    @property
    def handled(self) -> bool:
        return self.event in EVENTS

    @property
    def work(self) -> str:
        """``gate`` for an alias set on a version (the compliance gate runs), else ``ingest``."""
        return GATE if self.event == "model_version_alias.created" else INGEST

    def describe(self) -> str:
        """``model_version.created wine-quality/3``, ``model_version_alias.created wine-quality@champion -> 3``."""
        if self.alias:
            return f"{self.event} {self.model}@{self.alias}" + (f" -> {self.version}" if self.version else "")
        return f"{self.event} {self.model}" + (f"/{self.version}" if self.version else "")


def parse_event(body: bytes) -> HookEvent:
    """The event of a webhook body (its raw bytes, as signed)."""
    try:
        doc = json.loads(body.decode("utf-8"))
    except UnicodeDecodeError:
        raise HookPayloadError("webhook body: not UTF-8 text") from None
    except ValueError as exc:
        raise HookPayloadError(f"webhook body: not JSON ({exc})") from None
    if not isinstance(doc, dict):
        raise HookPayloadError(f"webhook body: expected a JSON object, got {_kind(doc)}")
    entity, action = (_word(doc, key) for key in ("entity", "action"))
    event = f"{entity}.{action}"
    data = doc.get("data")
    if not isinstance(data, dict):
        raise HookPayloadError(f"webhook body: data: expected an object (the {event} payload), got {_kind(data)}")
    if event not in EVENTS:
        return HookEvent(event, data=data)
    for key in EVENTS[event]:
        if key not in data:
            raise HookPayloadError(f"webhook body: data.{key}: missing (a {event} event names it)")
    name = data["name"]
    if not isinstance(name, str) or not name.strip() or len(name) > _MAX_NAME:
        raise HookPayloadError(f"webhook body: data.name: expected a registered model name, got {_shown(name)}")
    version = _checked(data, "version", _VERSION, "a model version number as a string ('1', '2', ...)")
    alias = _checked(data, "alias", _ALIAS, "an MLflow alias (letters, digits, '_', '-')")
    if "key" in EVENTS[event] and not isinstance(data["key"], str):
        raise HookPayloadError(f"webhook body: data.key: expected a tag key (a string), got {_shown(data['key'])}")
    return HookEvent(event, name, version, alias, data)


def _word(doc: dict, key: str) -> str:
    value = doc.get(key)
    if not isinstance(value, str) or not _WORD.match(value):
        raise HookPayloadError(f"webhook body: {key}: expected an MLflow webhook {key} such as "
                               f"{'model_version' if key == 'entity' else 'created'!r}, got {_shown(value)}")
    return value


def _checked(data: dict, key: str, pattern: re.Pattern[str], what: str) -> str:
    if key not in data:
        return ""
    value = data[key]
    if isinstance(value, int) and not isinstance(value, bool):
        value = str(value)
    if not isinstance(value, str) or not pattern.match(value):
        raise HookPayloadError(f"webhook body: data.{key}: expected {what}, got {_shown(data[key])}")
    return value


def _kind(value: Any) -> str:
    return {dict: "an object", list: "an array", str: "a string", bool: "a boolean",
            type(None): "null"}.get(type(value), "a number")


def _shown(value: Any) -> str:
    text = json.dumps(value, ensure_ascii=False) if not isinstance(value, str) else repr(value)
    return text if len(text) <= 80 else text[:77] + "..."
