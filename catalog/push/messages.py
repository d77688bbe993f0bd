"""Atlas hook messages out: committed changes as HookNotification V2, in Atlas's envelope.

Each message is what Atlas's own hooks put on the ``ATLAS_HOOK`` topic: an
``AtlasNotificationMessage`` (version 1.0.0, uncompressed, one split) around a
``HookNotification``. Entities the sink has not taken before go out as
``ENTITY_CREATE_V2``, those it has as ``ENTITY_FULL_UPDATE_V2`` (the full current state:
repeating one is harmless), deletes as ``ENTITY_DELETE_V2`` with ``AtlasObjectId``s by
unique attribute. ``ENTITY_PARTIAL_UPDATE_V2`` is not needed: every message carries the
entity's whole state. Atlas 2.4+ takes a list of these, each as a JSON string, on
``POST api/atlas/v2/notification/topic/ATLAS_HOOK``.
"""

from __future__ import annotations

import json
import socket
from collections.abc import Sequence
from typing import Any

from catalog.model import EntityRef

__all__ = ["envelope", "upsert_message", "delete_message"]

CREATE, FULL_UPDATE, DELETE = "ENTITY_CREATE_V2", "ENTITY_FULL_UPDATE_V2", "ENTITY_DELETE_V2"


def _source_ip() -> str:
    try:
        return socket.gethostbyname(socket.gethostname())
    except OSError:
        return "127.0.0.1"


def envelope(message: dict[str, Any], *, created_by: str, at: int) -> str:
    """``AtlasNotificationMessage`` JSON text around ``message``."""
    return json.dumps({
        "version": {"version": "1.0.0", "versionParts": [1]},
        "msgCompressionKind": "NONE",
        "msgSplitIdx": 1,
        "msgSplitCount": 1,
        "msgSourceIP": _source_ip(),
        "msgCreatedBy": created_by,
        "msgCreationTime": at,
        "message": message,
    }, ensure_ascii=False)


def upsert_message(kind: str, user: str, entities: dict[str, Any]) -> dict[str, Any]:
    """``ENTITY_CREATE_V2`` or ``ENTITY_FULL_UPDATE_V2`` of ``entities`` (``AtlasEntitiesWithExtInfo``)."""
    return {"type": kind, "user": user, "entities": entities}


def delete_message(user: str, keys: Sequence[EntityRef]) -> dict[str, Any]:
    return {"type": DELETE, "user": user, "entities": [
        {"typeName": k.type_name, "uniqueAttributes": {"qualifiedName": k.qualified_name}} for k in keys
    ]}
