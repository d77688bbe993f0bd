"""``POST notification/topic/ATLAS_HOOK``: Atlas hook messages over HTTP.

HTTP only: reading, enveloping and applying the messages is ``catalog.embedded.notifications``.
Messages posted as JSON objects are answered 200 with one ``EntityMutationResponse`` for
the whole request (and ``messages``: what each message changed). Atlas's own REST
notification client posts a list of JSON strings and expects Atlas's answer, 204 with
no body: that form gets it.

``read_json`` is shared with ``web.openlineage``: the body read once, its size checked
against ``MAX_CONTENT_LENGTH`` (also after ``Content-Encoding: gzip``), JSON errors
answered with where the JSON breaks.
"""

from __future__ import annotations

import json
import zlib
from typing import Any

from flask import Response, current_app, jsonify, request
from werkzeug.exceptions import RequestEntityTooLarge

from catalog.embedded import notifications as hooks
from catalog.embedded.entities import mutation_response
from web.atlas_v2.common import BAD_JSON, bp, catalog_of_app
from web.auth import require, user_name
from web.errors import ApiError

__all__ = ["read_json", "HOOK_TOPIC", "TOO_LARGE"]

HOOK_TOPIC = "ATLAS_HOOK"
#: Atlas's ``INVALID_TOPIC_NAME``.
INVALID_TOPIC = "ATLAS-400-00-101"
TOO_LARGE = "ATLAS-413-00-000"
UNSUPPORTED_ENCODING = "ATLAS-415-00-000"


def _limit() -> int:
    return int(current_app.config.get("MAX_CONTENT_LENGTH") or 1_048_576)


def _too_large(limit: int, what: str = "request body") -> ApiError:
    return ApiError(413, TOO_LARGE, f"{what} is larger than the limit of {limit} bytes (MAX_CONTENT_LENGTH): "
                                    "send fewer messages per request")


def _gunzip(data: bytes, limit: int) -> bytes:
    inflater = zlib.decompressobj(16 + zlib.MAX_WBITS)
    try:
        out = inflater.decompress(data, limit + 1)
    except zlib.error as exc:
        raise ApiError(400, BAD_JSON, f"request body is not valid gzip (Content-Encoding: gzip): {exc}") from None
    if len(out) > limit or inflater.unconsumed_tail:
        raise _too_large(limit, "the decompressed request body")
    return out


def read_json() -> Any:
    """The request's JSON body (any JSON value); Atlas-style 400/413/415 otherwise, never a 500."""
    limit = _limit()
    if request.content_length is not None and request.content_length > limit:
        raise _too_large(limit)
    try:
        data = request.get_data(cache=True)
    except RequestEntityTooLarge:
        raise _too_large(limit) from None
    encoding = (request.headers.get("Content-Encoding") or "identity").strip().lower()
    if encoding == "gzip":
        data = _gunzip(data, limit)
    elif encoding != "identity":
        raise ApiError(415, UNSUPPORTED_ENCODING, f"Content-Encoding {encoding[:30]!r} is not supported "
                                                  "(send identity or gzip)")
    if not data.strip():
        raise ApiError(400, BAD_JSON, "request body is empty: expected JSON")
    try:
        return json.loads(data)
    except UnicodeDecodeError as exc:
        raise ApiError(400, BAD_JSON, f"request body is not UTF-8 text: byte {exc.start}") from None
    except json.JSONDecodeError as exc:
        raise ApiError(400, BAD_JSON, f"request body is not valid JSON: {exc.msg} at line {exc.lineno} "
                                      f"column {exc.colno}") from None
    except (ValueError, RecursionError) as exc:
        raise ApiError(400, BAD_JSON, f"request body is not valid JSON: {str(exc)[:100]}") from None


def _summary(message: hooks.HookMessage, mutation: Any, ignored: list[str]) -> dict[str, Any]:
    return {"index": message.index, "type": message.type, "user": hooks.audit_user(message.user, user_name()),
            "created": len(mutation.created), "updated": len(mutation.updated) + len(mutation.partial),
            "deleted": len(mutation.deleted), "guidAssignments": dict(mutation.guid_assignments),
            "ignoredAttributes": ignored}


@bp.post("/notification/topic/<topic>", strict_slashes=False)
@require("steward")
def post_notifications(topic: str):
    """Apply the hook messages of the body, all or nothing."""
    if topic != HOOK_TOPIC:
        raise ApiError(400, INVALID_TOPIC, f"Unsupported topic name : {topic[:80]} (only {HOOK_TOPIC} is consumed)")
    body = read_json()
    messages = hooks.read_messages(body)
    catalog = catalog_of_app()
    outcome = hooks.apply_messages(catalog, messages, caller=user_name())
    if isinstance(body, list) and body and all(isinstance(item, str) for item in body):
        return Response(status=204)  # Atlas's REST notification client expects exactly this
    with catalog.session() as session:
        answer = mutation_response(session, hooks.merged_mutation(outcome))
    answer["messages"] = [_summary(message, mutation, ignored)
                          for (message, mutation), ignored in zip(outcome.mutations, outcome.ignored, strict=True)]
    return jsonify(answer)
