"""The client side of the Atlas API bench, run as its own process (as a real client is).

``python -m bench.atlas_client bulk URL USER PASSWORD BODIES.json``: POSTs each body with
the official client (``entity.create_entities``), prints ``{"seconds", "http_seconds",
"assigned"}``: the whole time, the part spent in HTTP round trips (the rest is the
client's own work: encoding the bodies, decoding the answers into its model objects).
``python -m bench.atlas_client get URL GUIDS.json [http.client|requests]``: ``GET
entity/guid/{g}`` for each guid over one kept connection (after a warm-up of 20), with the
stdlib's ``http.client`` (the default) or ``requests``; prints ``{"seconds": [...]}``, each
request's time until its whole body is read.

A client in the server's process would share its interpreter lock with the server
threads: its own JSON work would be timed as the server's latency.
"""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Callable
from pathlib import Path
from urllib.parse import urlsplit

CLIENTS = ("http.client", "requests")


def _bulk(url: str, user: str, password: str, bodies_path: str) -> dict:
    from apache_atlas.client.base_client import AtlasClient

    bodies = json.loads(Path(bodies_path).read_text())
    client = AtlasClient(url, (user, password))
    # Before the clock, one authenticated request on the client's session: its connection is
    # opened and the server checks the password (scrypt, about 0.15 s, by design slow; then
    # cached for a minute), as any client's first request does once.
    client.session.get(f"{url}/api/atlas/admin/version", timeout=30).raise_for_status()
    http = [0.0]
    send = client.session.request

    def timed_request(*args: object, **kwargs: object) -> object:
        # the round trip: the body sent, the server's work, the answer read (requests reads it here)
        start = time.perf_counter()
        try:
            return send(*args, **kwargs)
        finally:
            http[0] += time.perf_counter() - start

    client.session.request = timed_request
    start = time.perf_counter()
    responses = [client.entity.create_entities(body) for body in bodies]
    seconds = time.perf_counter() - start
    return {"seconds": seconds, "http_seconds": http[0],
            "assigned": sum(len(r.guidAssignments or {}) for r in responses)}


def _getter(url: str, client: str) -> Callable[[str], bytes]:
    """A function GETting a path on ``url`` over one kept connection: the answer's body (raises unless 200)."""
    if client == "requests":
        import requests

        session = requests.Session()

        def get(path: str) -> bytes:
            answer = session.get(url + path, timeout=30)
            answer.raise_for_status()
            return answer.content
        return get
    import http.client

    parts = urlsplit(url)
    connection = http.client.HTTPConnection(parts.hostname or "127.0.0.1", parts.port, timeout=30)

    def get(path: str) -> bytes:
        connection.request("GET", path)
        answer = connection.getresponse()
        body = answer.read()
        if answer.status != 200:
            raise RuntimeError(f"GET {path}: HTTP {answer.status}: {body[:200]!r}")
        return body
    return get


def _get(url: str, guids_path: str, client: str = CLIENTS[0]) -> dict:
    guids = json.loads(Path(guids_path).read_text())
    get = _getter(url, client)
    paths = [f"/api/atlas/v2/entity/guid/{guid}" for guid in guids]
    for path in paths[:20]:
        get(path)
    seconds = []
    for path in paths:
        start = time.perf_counter()
        get(path)
        seconds.append(time.perf_counter() - start)
    return {"seconds": seconds}


def main(argv: list[str]) -> int:
    if argv[:1] == ["bulk"] and len(argv) == 5:
        print(json.dumps(_bulk(*argv[1:])))
        return 0
    if argv[:1] == ["get"] and (len(argv) == 3 or (len(argv) == 4 and argv[3] in CLIENTS)):
        print(json.dumps(_get(*argv[1:])))
        return 0
    print(__doc__, file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
