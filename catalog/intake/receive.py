"""A webhook request -> its job in the queue: verify, parse, queue; the one entry of ``POST /hooks/mlflow``.

The order matters: the signature is checked over the raw bytes before the body is read
as JSON (an unsigned body is never parsed), then the event, then the delivery id is
recorded with its job in one transaction (a replay inside the window is refused there).
An event the hook does not handle is acknowledged and not written.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from catalog.intake import queue
from catalog.intake.events import HookEvent, parse_event
from catalog.intake.signature import verify

if TYPE_CHECKING:
    from catalog.service import Catalog

__all__ = ["Received", "receive"]

log = logging.getLogger("catalog.intake")


@dataclass(frozen=True, slots=True)
class Received:
    """What became of a delivery: queued as ``job_id`` (``new`` False: a queued job took it), or ignored."""

    delivery_id: str
    event: HookEvent
    job_id: int | None
    new: bool

    @property
    def ignored(self) -> bool:
        return self.job_id is None

    def to_json(self) -> dict[str, Any]:
        if self.ignored:
            return {"status": "ignored", "event": self.event.event, "deliveryId": self.delivery_id,
                    "message": f"{self.event.event} is not an event the catalog's hook handles"}
        return {"status": "queued", "event": self.event.event, "deliveryId": self.delivery_id, "job": self.job_id,
                "new": self.new, "message": f"{self.event.describe()} queued as job {self.job_id}"}


def receive(catalog: Catalog, headers: Mapping[str, str], body: bytes, *, now: float | None = None) -> Received:
    """Queue the delivery's work; ``HookRejected`` (401) or ``HookPayloadError`` (400) with nothing written."""
    settings = catalog.settings
    now = time.time() if now is None else now
    delivery = verify(settings.hook_secret, headers, body, now=now, window=settings.hook_window_seconds)
    event = parse_event(body)
    if not event.handled:
        log.info("hook delivery %s: %s ignored (not a model registry event the hook handles)",
                 delivery.delivery_id, event.event)
        return Received(delivery.delivery_id, event, None, False)
    receipt = queue.accept(catalog, delivery, event, window=settings.hook_window_seconds, now=int(now * 1000))
    log.info("hook delivery %s: %s queued as job %d%s", delivery.delivery_id, event.describe(), receipt.job_id,
             "" if receipt.new else " (already queued)")
    return Received(delivery.delivery_id, event, receipt.job_id, receipt.new)
