"""The Atlas v2 API: ``entity/bulk`` POST through the official client, and ``GET entity/guid``.

The server is ``catalog serve --workers 1 --port 0`` (gunicorn, one ``gthread`` worker
process, kept connections, basic auth) in a process of its own, as a deployment runs it;
each client runs in a process of its own too (``bench.atlas_client``): a client sharing
the server's interpreter lock would have its own JSON work timed as the server's, and a
server in the bench's process would carry the bench's data in its heap (its cyclic GC
would scan the bench's entities). The bench process itself only builds inputs and runs
the baselines.

1. Bulk writes: the synthetic catalog's first 10,000 entities (tables, runs, model
   chains), as AtlasEntitiesWithExtInfo JSON, POSTed 1,000 per request with the official
   ``apache-atlas`` client into a new store (after one authenticated request that opens the
   connection and has the server check the password, as a client's first request does
   once). The baseline, timed right after each API round into another new store, is the
   same entities through the embedded ingest (``store.upsert_batch``, one transaction).
   Target: ratio <= 1.5x. The client's time is split into its HTTP round trips (the body
   sent, the server's work, the answer read) and its own work (encoding the bodies,
   decoding each answer into the client's model objects), both printed.
2. Entity reads: ``GET entity/guid/{guid}`` (relationship attributes, referred entities)
   against the 100k catalog of the ingest bench, for bases cycling over tables, runs,
   model versions and deployments, over one kept connection with ``http.client``
   (the stdlib's HTTP/1.1 client, which ``requests`` is built on). Target: p99 <= 10 ms.
   ``http.client`` because the target is the server's latency: ``requests`` adds
   1.0-1.5 ms of its own Python per call on this machine (the same trivial endpoint: about
   1.9-2.1 ms p50 with it, 0.8-1.0 ms with ``http.client``), which is the client library's
   time. The same reads with ``requests``, and with ``catalog serve``'s default server
   (Werkzeug's, one process), are printed as information, as is the baseline: the same
   entity read in process (``store.get_entity``).
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from bench.common import Context, fmt_ms, fmt_s, median, percentile, print_table, ratio_line, timed

__all__ = ["run", "serving"]

BULK_ENTITIES = 10_000
PER_REQUEST = 1_000
BULK_TARGET = 1.5
GET_P99_TARGET_MS = 10.0
USER = ("bench-steward", "bench-steward-password")
_ROOT = Path(__file__).resolve().parents[1]


@contextlib.contextmanager
def serving(path: Path, log_dir: Path, *, workers: int | None = 1, timeout: float = 120.0) -> Iterator[str]:
    """``catalog serve`` (``--workers N``; None: its default server) over the store at ``path``; its URL.

    Reads are open; writes need a user of the store. Stopped (Ctrl-C) on exit.
    """
    import os
    import re
    import signal
    import subprocess
    import sys
    import urllib.request

    # No MLflow for the hook's reconciler, whatever the checkout holds (a demo's mlflow.db
    # in the repository would have every worker import MLflow beside the measured requests)
    env = {**os.environ, "CATALOG_DATABASE_URL": f"sqlite:///{path}", "CATALOG_READ_ACCESS": "open",
           "CATALOG_USER": "bench", "PYTHONUNBUFFERED": "1",
           "CATALOG_MLFLOW_URI": f"sqlite:///{log_dir / 'no-mlflow.db'}"}
    args = ["serve", "--port", "0", *(["--workers", str(workers)] if workers is not None else [])]
    out, err = log_dir / "serve.out", log_dir / "serve.err"
    with out.open("w") as stdout, err.open("w") as stderr:
        proc = subprocess.Popen([sys.executable, "-c", "from catalog.cli import main; main()", *args], cwd=_ROOT,
                                env=env, stdout=stdout, stderr=stderr)
    try:
        deadline = time.monotonic() + timeout
        url = None
        while True:
            found = re.search(r" on (http://\S+?)/ ", out.read_text())
            url = url or (found.group(1) if found else None)
            if url is not None:
                with contextlib.suppress(OSError), urllib.request.urlopen(f"{url}/healthz", timeout=5) as answer:
                    if answer.status == 200:
                        break
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"catalog serve {' '.join(args)} did not answer: {err.read_text()[-2000:]}")
            time.sleep(0.05)
        yield url
    finally:
        proc.send_signal(signal.SIGINT)  # Ctrl-C: gunicorn stops at once
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=30)


def _new_store(path: Path) -> None:
    """A new store holding the steward the client writes as (made before the server starts)."""
    from catalog import users
    from catalog.config import Settings
    from catalog.service import Catalog

    with Catalog(Settings(database_url=f"sqlite:///{path}", user="bench")) as catalog:
        with catalog.write_session() as session, session.begin():
            users.add_user(session, USER[0], USER[1], "steward")


def _bulk_bodies(size: int) -> tuple[list[dict[str, Any]], Any]:
    """Request bodies of ``PER_REQUEST`` entities each (referenced entities first), and the batch."""
    from bench.ingest import synthetic_batch
    from catalog.atlas import entity_to_atlas

    batch, _layout = synthetic_batch(size, prefix="api-")
    bodies = []
    for start in range(0, len(batch.entities), PER_REQUEST):
        chunk = batch.entities[start:start + PER_REQUEST]
        bodies.append({"entities": [{**entity_to_atlas(e), "guid": f"-{start + i + 1}"} for i, e in enumerate(chunk)]})
    return bodies, batch


def _client(*args: str) -> dict[str, Any]:
    """Run ``bench.atlas_client`` in its own process; its JSON answer."""
    import json
    import subprocess
    import sys

    done = subprocess.run([sys.executable, "-m", "bench.atlas_client", *args], cwd=_ROOT, capture_output=True,
                          text=True, timeout=1800, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"bench.atlas_client {args[0]} failed: {done.stderr[-2000:]}")
    return json.loads(done.stdout)


def _post_all(ctx: Context, rep: int, bodies_path: str) -> dict[str, Any]:
    where = ctx.fresh_dir(f"atlas-bulk-{rep}")
    _new_store(where / "catalog.db")
    with serving(where / "catalog.db", where) as url:
        return _client("bulk", url, USER[0], USER[1], bodies_path)


def _ingest_all(ctx: Context, rep: int, batch: Any) -> float:
    from bench.ingest import ingest_batch, open_catalog

    catalog = open_catalog(ctx.fresh_dir(f"atlas-ingest-{rep}") / "catalog.db")
    try:
        catalog.engine  # noqa: B018 - open and migrate outside the timing, as the server is started
        seconds, _ = timed(lambda: ingest_batch(catalog, batch))
    finally:
        catalog.close()
    return seconds


def _bulk(ctx: Context) -> list[str]:
    size = min(BULK_ENTITIES, max(ctx.sizes.entities // 10, 200))
    import json

    bodies, batch = _bulk_bodies(size)
    bodies_path = ctx.dir("atlas-bodies") / "bodies.json"
    bodies_path.write_text(json.dumps(bodies))
    requests = len(bodies)
    del bodies  # the client reads them from the file
    rows, ratios = [], []
    for rep in range(max(1, min(3, ctx.sizes.ingest_reps))):
        answer = _post_all(ctx, rep, str(bodies_path))
        api, http = answer["seconds"], answer["http_seconds"]
        embedded = _ingest_all(ctx, rep, batch)
        ratios.append(api / embedded)
        rows.append((f"round {rep + 1}", len(batch.entities), requests, fmt_s(api), fmt_s(http), fmt_s(api - http),
                     f"{len(batch.entities) / api:,.0f}", fmt_s(embedded), f"{api / embedded:.2f}x",
                     f"{http / embedded:.2f}x", answer["assigned"]))
    print_table(("round", "entities", "requests", "entity/bulk (client)", "HTTP round trips", "client's own",
                 "entities/s", "embedded ingest", "ratio", "HTTP/embedded", "guidAssignments"), rows)
    return [ratio_line("atlas-bulk-post/embedded-ingest", median(ratios), BULK_TARGET,
                       note=f"median of {len(ratios)}, {len(batch.entities):,} entities, {PER_REQUEST:,} per request")]


#: (row label, ``catalog serve --workers`` (None: its default server), client) of each timed read pass;
#: the first is the verdict's.
_READ_PATHS = (
    ("GET entity/guid, serve --workers 1, http.client", 1, "http.client"),
    ("GET entity/guid, serve --workers 1, requests (info)", 1, "requests"),
    ("GET entity/guid, serve (Werkzeug), requests (info)", None, "requests"),
)


def _reads(ctx: Context) -> list[str]:
    from bench.lineage import _catalog
    from catalog import store

    built = _catalog(ctx)
    layout = built.layout
    kinds = (layout.tables, layout.runs, layout.versions, layout.deployments)
    calls = max(40, ctx.sizes.lineage_calls)
    guids = [kinds[i % 4][(i // 4 * 7919) % len(kinds[i % 4])] for i in range(calls)]
    import json

    where = ctx.dir("atlas-reads")
    guids_path = where / "guids.json"
    guids_path.write_text(json.dumps(guids))
    timings: dict[str, list[float]] = {}
    for label, workers, client in _READ_PATHS:
        with serving(built.path, where, workers=workers) as url:
            timings[label] = _client("get", url, str(guids_path), client)["seconds"]
    local = []
    for guid in guids:
        start = time.perf_counter()
        with built.catalog.session() as s:
            store.get_entity(s, guid)
        local.append(time.perf_counter() - start)
    rows = [(label, len(t), fmt_ms(median(t)), fmt_ms(percentile(t, 99))) for label, t in timings.items()]
    rows.append(("store.get_entity in process", len(local), fmt_ms(median(local)), fmt_ms(percentile(local, 99))))
    print_table(("path", "calls", "p50", "p99"), rows)
    http = timings[_READ_PATHS[0][0]]
    p99 = percentile(http, 99) * 1000
    verdict = "MET" if p99 <= GET_P99_TARGET_MS else "MISSED"
    return [
        f"LATENCY atlas-get-entity p99 = {p99:.2f} ms at {layout.entities:,} entities "
        f"(target <= {GET_P99_TARGET_MS:g} ms) {verdict} (catalog serve --workers 1, http.client)",
        ratio_line("atlas-get-entity/store-get-entity p50", median(http) / median(local), None),
    ]


def run(ctx: Context) -> list[str]:
    return _bulk(ctx) + _reads(ctx)
