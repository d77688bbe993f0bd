"""``POST /hooks/mlflow``: MLflow Model Registry webhooks in, answered at once; the worker does the work.

HTTP only: ``catalog.intake.receive`` verifies the signature over the raw body, parses the
event and queues it in the store before the answer; the worker thread of ``catalog serve``
(``start_background``) ingests it. Answers, all JSON:

- 202 ``{"status": "queued", "job": N, ...}``: the job is committed (a repeated event
  joins the job already queued for it);
- 200 ``{"status": "ignored", ...}``: a well-formed event the hook does not handle
  (``prompt.created``, ...), logged, nothing written;
- 401 (a bad, missing or stale signature, a replayed delivery id, no secret configured) and
  400 (a malformed body), ``{errorCode, errorMessage}`` with the reason; nothing written;
- 503 with ``Retry-After`` when the store cannot take the job now (MLflow retries a 503).

The endpoint needs no user credentials (``web.auth.PUBLIC_ENDPOINTS``): its HMAC is its
authentication.
"""

from __future__ import annotations

import threading
from collections.abc import Callable

from flask import Blueprint, Flask, Response, current_app, jsonify, request

from catalog.errors import HookPayloadError, HookRejected
from web.atlas_v2.common import catalog_of_app
from web.auth import UNAUTHORIZED
from web.errors import BAD_REQUEST

__all__ = ["WAKE", "bp", "init_app", "start_background"]

bp = Blueprint("hooks", __name__, url_prefix="/hooks")
#: ``app.extensions`` key of the event that wakes the app's worker when a job is queued.
WAKE = "catalog_hook_wake"
UNAVAILABLE = "ATLAS-503-00-001"


@bp.post("/mlflow", strict_slashes=False)
def mlflow() -> tuple[Response, int] | Response:
    from sqlalchemy.exc import SQLAlchemyError

    from catalog.intake import receive

    body = request.get_data(cache=False)
    try:
        received = receive(catalog_of_app(), request.headers, body)
    except HookRejected as exc:
        return _error(401, UNAUTHORIZED, str(exc))
    except HookPayloadError as exc:
        return _error(400, BAD_REQUEST, str(exc))
    except SQLAlchemyError as exc:  # the store is locked or down: MLflow sends it again
        cause = getattr(exc, "orig", None) or exc
        current_app.logger.warning("hook delivery not queued, store unavailable: %s", type(cause).__name__)
        response, status = _error(503, UNAVAILABLE, "the catalog's store cannot queue the delivery now; retry")
        response.headers["Retry-After"] = "5"
        return response, status
    if received.ignored:
        return jsonify(received.to_json()), 200
    current_app.extensions[WAKE].set()
    return jsonify(received.to_json()), 202


def _error(status: int, code: str, message: str) -> tuple[Response, int]:
    return jsonify({"errorCode": code, "errorMessage": message}), status


def init_app(app: Flask) -> None:
    app.extensions[WAKE] = threading.Event()
    app.register_blueprint(bp)


def start_background(app: Flask) -> Callable[[], None]:
    """Start the hook's worker thread for ``app`` (queue and periodic reconcile); returns its stop.

    ``catalog serve`` calls it after building the app and calls the returned function on
    shutdown: it waits for the pass under way, then returns.
    """
    from catalog.intake import Background

    worker = Background(app.extensions["catalog"], wake=app.extensions[WAKE]).start()
    return worker.stop
