"""The web tests' shared pieces: the app over a catalog, its test client, the app served on loopback.

A test module defines an ``app`` fixture (``with catalog_app(settings) as app: yield app``)
and imports ``client`` and ``base_url`` from here. ``catalog_app`` serves anonymous reads
(``read_access="open"``, as the demo does); ``open_reads=False`` keeps the settings' own
``read_access``.
"""

from __future__ import annotations

import base64
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from web.cli import make_http_server

from catalog.config import Settings


@contextmanager
def served(app: Any, name: str) -> Iterator[str]:
    """``http://127.0.0.1:<port>`` while the app is served by a threaded Werkzeug server."""
    server = make_http_server("127.0.0.1", 0, app)
    thread = threading.Thread(target=server.serve_forever, name=name, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        thread.join(timeout=10)
        server.server_close()


@contextmanager
def catalog_app(settings: Settings, *, open_reads: bool = True) -> Iterator[Any]:
    """The web app over the catalog ``settings`` name, in testing mode; its catalog closed after.

    ``open_reads``: anonymous reads are served (``read_access="open"``), whatever ``settings`` say.
    """
    from dataclasses import replace

    from web import create_app

    if open_reads:
        settings = replace(settings, read_access="open")
    app = create_app({"TESTING": True}, settings=settings)
    try:
        yield app
    finally:
        app.extensions["catalog"].close()


@pytest.fixture
def client(app: Any) -> Any:
    """Flask's test client of the module's ``app``."""
    return app.test_client()


@pytest.fixture(scope="module")
def base_url(app: Any) -> Iterator[str]:
    """The module's ``app`` served over HTTP on a free loopback port."""
    with served(app, "catalog-web-test") as url:
        yield url


def basic_auth(who: tuple[str, str]) -> dict[str, str]:
    """The ``Authorization`` header of HTTP basic auth for ``(name, password)``."""
    return {"Authorization": "Basic " + base64.b64encode(f"{who[0]}:{who[1]}".encode()).decode()}
