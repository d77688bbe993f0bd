"""The client side of the Atlas API bench, run as its own process (as a real client is).

``python -m bench.atlas_client bulk URL USER PASSWORD BODIES.json``: POSTs each body with
the official client (``entity.create_entities``), prints ``{"seconds", "assigned"}``.
``python -m bench.atlas_client get URL GUIDS.json``: ``GET entity/guid/{g}`` for each guid
with ``requests`` (after a warm-up of 20), prints ``{"seconds": [...]}``.

A client in the server's process would share its interpreter lock with the server
threads: its own JSON work would be timed as the server's latency.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path


def _bulk(url: str, user: str, password: str, bodies_path: str) -> dict:
    from apache_atlas.client.base_client import AtlasClient

    bodies = json.loads(Path(bodies_path).read_text())
    client = AtlasClient(url, (user, password))
    start = time.perf_counter()
    responses = [client.entity.create_entities(body) for body in bodies]
    seconds = time.perf_counter() - start
    return {"seconds": seconds, "assigned": sum(len(r.guidAssignments or {}) for r in responses)}


def _get(url: str, guids_path: str) -> dict:
    import requests

    guids = json.loads(Path(guids_path).read_text())
    session = requests.Session()
    for guid in guids[:20]:
        session.get(f"{url}/api/atlas/v2/entity/guid/{guid}", timeout=30).raise_for_status()
    seconds = []
    for guid in guids:
        start = time.perf_counter()
        session.get(f"{url}/api/atlas/v2/entity/guid/{guid}", timeout=30).raise_for_status()
        seconds.append(time.perf_counter() - start)
    return {"seconds": seconds}


def main(argv: list[str]) -> int:
    if argv[:1] == ["bulk"] and len(argv) == 5:
        print(json.dumps(_bulk(*argv[1:])))
        return 0
    if argv[:1] == ["get"] and len(argv) == 3:
        print(json.dumps(_get(*argv[1:])))
        return 0
    print(__doc__, file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
