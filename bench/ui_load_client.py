"""The load generator of the web UI bench, run as its own process (as real browsers are).

``python -m bench.ui_load_client URL PATHS.json CLIENTS SECONDS [THINK_MIN THINK_MAX]``:
``CLIENTS`` threads, each with one kept ``http.client`` connection, GET the paths of
``PATHS.json`` (a JSON list; client ``i`` starts at path ``i`` and cycles through them) one
after another until ``SECONDS`` have passed since they all started. Without ``THINK_*`` that
is a closed loop without think time (the next request as soon as an answer is read); with
them each client, as a person reading a page would, waits a think time drawn uniformly from
``[THINK_MIN, THINK_MAX]`` seconds after each answer (and a random part of ``THINK_MAX``
before its first request, so the clients do not move in step), as locust's
``wait_time = between(THINK_MIN, THINK_MAX)`` does. Each request is
timed from sending it until its whole body is read. Prints one JSON object:
``{"seconds": [...], "errors": N, "error_samples": [...], "elapsed": s, "cpu": s}``: the
latency of every answered 200, the count of the rest (any other status, a dropped or
refused connection: the connection is then opened again), the wall time from the start
until the last client stopped, and this process's CPU time (user + system) over that
time, so the bench can show the generator was not the bottleneck.

Threads, not asyncio: each waits in ``recv`` with the interpreter lock released, and the
client's own work per request (format the request, parse the status line and headers)
is about 0.1 ms of Python, small next to the server's.
"""

from __future__ import annotations

import http.client
import json
import os
import random
import sys
import threading
import time
from pathlib import Path
from urllib.parse import urlsplit


def _load(url: str, paths: list[str], clients: int, seconds: float,
          think: tuple[float, float] | None = None) -> dict:
    parts = urlsplit(url)
    host, port = parts.hostname or "127.0.0.1", parts.port
    latencies: list[list[float]] = [[] for _ in range(clients)]
    errors = [0] * clients
    samples: list[str] = []
    start_line = threading.Barrier(clients + 1)
    box: dict[str, float] = {}

    def client(i: int) -> None:
        mine = latencies[i]
        connection = http.client.HTTPConnection(host, port, timeout=30)
        n = len(paths)
        k = i
        pause = random.Random()  # fresh think times in every round and target
        start_line.wait()
        deadline = box["deadline"]
        perf = time.perf_counter
        if think:
            time.sleep(pause.uniform(0, think[1]))

        def wait() -> None:
            if think:
                time.sleep(max(0.0, min(pause.uniform(*think), deadline - perf())))

        while perf() < deadline:
            path = paths[k % n]
            k += 1
            began = perf()
            try:
                connection.request("GET", path)
                answer = connection.getresponse()
                body = answer.read()
            except (OSError, http.client.HTTPException) as exc:
                errors[i] += 1
                if len(samples) < 10:
                    samples.append(f"GET {path}: {type(exc).__name__}: {exc}")
                connection.close()
                connection = http.client.HTTPConnection(host, port, timeout=30)
                wait()  # a person waits before trying again, too
                continue
            took = perf() - began
            if answer.status == 200 and body:
                mine.append(took)
            else:
                errors[i] += 1
                if len(samples) < 10:
                    samples.append(f"GET {path}: HTTP {answer.status}: {body[:200]!r}")
            wait()
        connection.close()

    threads = [threading.Thread(target=client, args=(i,), daemon=True) for i in range(clients)]
    for t in threads:
        t.start()
    cpu = os.times()
    began = time.perf_counter()
    box["deadline"] = began + seconds
    start_line.wait()
    for t in threads:
        t.join()
    elapsed = time.perf_counter() - began
    after = os.times()
    return {"seconds": [x for mine in latencies for x in mine], "errors": sum(errors), "error_samples": samples,
            "elapsed": elapsed, "cpu": (after.user - cpu.user) + (after.system - cpu.system)}


def main(argv: list[str]) -> int:
    if len(argv) not in (4, 6):
        print(__doc__, file=sys.stderr)
        return 2
    url, paths_file, clients, seconds = argv[:4]
    think = (float(argv[4]), float(argv[5])) if len(argv) == 6 else None
    paths = json.loads(Path(paths_file).read_text())
    print(json.dumps(_load(url, paths, int(clients), float(seconds), think)))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
