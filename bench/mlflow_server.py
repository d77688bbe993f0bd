"""A real ``mlflow server`` on a free loopback port (SQL backend on sqlite), for the hook bench and the tests.

One starter for both, so they run MLflow the same way: its own process group (the worker
it spawns goes with it), ``/health`` polled until it answers, SIGTERM then SIGKILL at the end.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path

__all__ = ["MLFLOW", "QUIET", "ServerDidNotStart", "free_port", "mlflow_server_process"]

MLFLOW = Path(sys.executable).parent / "mlflow"
QUIET = {"MLFLOW_DISABLE_TELEMETRY": "true", "DO_NOT_TRACK": "true"}


class ServerDidNotStart(RuntimeError):
    """``mlflow server`` exited or did not answer ``/health`` in time; the message ends with its log."""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextmanager
def mlflow_server_process(root: Path, env: Mapping[str, str] | None = None, *,
                          start_timeout: float = 180) -> Iterator[str]:
    """``mlflow server`` with its store and artifacts in ``root``, answering on the URL yielded; stopped after."""
    import requests

    port = free_port()
    log = root / "server.log"
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [str(MLFLOW), "server", "--backend-store-uri", f"sqlite:///{root / 'mlflow.db'}",
             "--default-artifact-root", str(root / "artifacts"), "--host", "127.0.0.1", "--port", str(port),
             "--workers", "1"],
            cwd=root, env={**os.environ, **QUIET, **(env or {})}, stdout=out, stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + start_timeout
        while True:
            try:
                if requests.get(f"{url}/health", timeout=5).status_code == 200:
                    break
            except requests.RequestException:  # not listening yet, or too busy starting to answer
                pass
            if proc.poll() is not None or time.monotonic() > deadline:
                raise ServerDidNotStart(f"mlflow server did not answer /health on {url}:\n"
                                        f"{log.read_text(errors='replace')[-2000:]}")
            time.sleep(0.25)
        yield url
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=30)
