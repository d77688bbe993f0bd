"""The hook's worker inside ``catalog serve``: one daemon thread working the queue and reconciling.

The thread sleeps until a webhook of its own process wakes it (``wake``) or
``hook_poll_seconds`` pass (jobs queued by another process, retries falling due), then
works off every due job (``worker.work_once``). Every ``reconcile_interval_seconds`` (and
once at start, to catch what was missed while the catalog was down) it runs the
reconciler first. ``stop`` ends it between two passes and waits for it. A pass that
fails (the store unreachable, say) is logged and tried again on the next wake: the jobs
it had claimed come back when their lease runs out.
"""

from __future__ import annotations

import logging
import threading
import time
from typing import TYPE_CHECKING

from catalog.errors import SourceUnavailableError
from catalog.intake import reconcile as reconciler
from catalog.intake import worker

if TYPE_CHECKING:
    from catalog.service import Catalog

__all__ = ["Background"]

log = logging.getLogger("catalog.intake")
#: Seconds before a failed reconcile is tried again.
RETRY_S = 30


class Background:
    """The worker thread of one catalog; ``start()``, then ``stop()``."""

    def __init__(self, catalog: Catalog, *, wake: threading.Event | None = None, mlflow_uri: str | None = None,
                 reconcile: bool = True) -> None:
        self.catalog = catalog
        self.wake = wake or threading.Event()
        self.mlflow_uri = mlflow_uri or catalog.settings.mlflow_uri
        self.reconcile = reconcile and catalog.settings.reconcile_interval_seconds > 0
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None
        self._next_reconcile = 0.0
        self._unreadable = ""  # the last reason MLflow could not be read, logged once
        #: passes that raised; the last error (for tests and logs)
        self.failures = 0
        self.last_error = ""

    def start(self) -> Background:
        if self._thread is not None:
            raise RuntimeError("the hook worker is already running")
        self._thread = threading.Thread(target=self._run, name="catalog-hook-worker", daemon=True)
        self._thread.start()
        log.info("hook worker started (MLflow %s, reconcile %s)", self.mlflow_uri,
                 f"every {self.catalog.settings.reconcile_interval_seconds} s" if self.reconcile else "off")
        return self

    def stop(self, timeout: float = 60.0) -> None:
        """Stop after the current pass; wait up to ``timeout`` seconds for it."""
        self._stopping.set()
        self.wake.set()
        if self._thread is not None:
            self._thread.join(timeout)
            if self._thread.is_alive():
                log.warning("hook worker still busy after %.0f s; left to finish as a daemon thread", timeout)
            self._thread = None

    def _run(self) -> None:
        poll = self.catalog.settings.hook_poll_seconds
        while not self._stopping.is_set():
            self.wake.clear()
            self._pass()
            if self._stopping.is_set():
                break
            self.wake.wait(timeout=poll)

    def _reconcile_if_due(self) -> None:
        """The periodic reconcile; MLflow not readable now is one log line per distinct reason."""
        if not self.reconcile or time.monotonic() < self._next_reconcile:
            return
        interval = self.catalog.settings.reconcile_interval_seconds
        # A reconcile that fails (MLflow down) is tried again within RETRY_S, not a whole interval later.
        self._next_reconcile = time.monotonic() + min(interval, RETRY_S)
        try:
            reconciler.reconcile(self.catalog, mlflow_uri=self.mlflow_uri)
        except SourceUnavailableError as exc:
            if str(exc) != self._unreadable:
                log.warning("hook reconciler: %s; trying again every %d s", exc, min(interval, RETRY_S))
            self._unreadable = str(exc)
            return
        self._unreadable = ""
        self._next_reconcile = time.monotonic() + interval

    def _pass(self) -> None:
        try:
            self._reconcile_if_due()
            while not self._stopping.is_set() and worker.work_once(self.catalog, mlflow_uri=self.mlflow_uri):
                pass
        except Exception as exc:  # noqa: BLE001 - a thread that dies would stop the hook for good
            self.failures += 1
            self.last_error = f"{type(exc).__name__}: {exc}"
            log.warning("hook worker pass failed, tried again later: %s", self.last_error)
