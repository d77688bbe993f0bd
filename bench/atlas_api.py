"""The Atlas v2 API: ``entity/bulk`` POST through the official client, and ``GET entity/guid``.

1. Bulk writes: the synthetic catalog's first 10,000 entities (tables, runs, model
   chains), as AtlasEntitiesWithExtInfo JSON, POSTed 1,000 per request with the official
   ``apache-atlas`` client (in a process of its own, ``bench.atlas_client``) to the
   catalog's server on loopback (a threaded Werkzeug server in this process, basic auth),
   into a new store. The baseline, timed right
   after each API round into another new store, is the same entities through the
   embedded ingest (``store.upsert_batch``, one transaction). Target: ratio <= 1.5x.
2. Entity reads: ``GET entity/guid/{guid}`` (relationship attributes, referred entities)
   over HTTP with ``requests`` (a client process of its own) against the 100k catalog of the ingest bench, for bases
   cycling over tables, runs, model versions and deployments. Baseline: the same
   entity read in process (``store.get_entity``). Target: p99 <= 10 ms.
"""

from __future__ import annotations

import time
from typing import Any

from bench.common import Context, fmt_ms, fmt_s, median, percentile, print_table, quiet_logs, ratio_line, timed

__all__ = ["run"]

BULK_ENTITIES = 10_000
PER_REQUEST = 1_000
BULK_TARGET = 1.5
GET_P99_TARGET_MS = 10.0
USER = ("bench-steward", "bench-steward-password")


def _served_app(path: Any) -> tuple[Any, Any, str]:
    """(app, server, url): the web app over the catalog at ``path``, served on a free loopback port."""
    import threading

    from web.cli import make_http_server

    from catalog import users
    from catalog.config import Settings
    from web import create_app

    app = create_app(settings=Settings(database_url=f"sqlite:///{path}", read_access="open", user="bench"))
    catalog = app.extensions["catalog"]
    with catalog.write_session() as session, session.begin():
        if not users.user_exists(session, USER[0]):
            users.add_user(session, USER[0], USER[1], "steward")
    server = make_http_server("127.0.0.1", 0, app)
    threading.Thread(target=server.serve_forever, name="bench-atlas-api", daemon=True).start()
    return app, server, f"http://127.0.0.1:{server.server_port}"


def _stop(app: Any, server: Any) -> None:
    server.shutdown()
    server.server_close()
    app.extensions["catalog"].close()


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


def _client(ctx: Context, *args: str) -> dict[str, Any]:
    """Run ``bench.atlas_client`` in its own process; its JSON answer."""
    import json
    import subprocess
    import sys
    from pathlib import Path

    root = Path(__file__).resolve().parents[1]
    done = subprocess.run([sys.executable, "-m", "bench.atlas_client", *args], cwd=root, capture_output=True,
                          text=True, timeout=1800, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"bench.atlas_client {args[0]} failed: {done.stderr[-2000:]}")
    return json.loads(done.stdout)


def _post_all(ctx: Context, rep: int, bodies_path: str) -> tuple[float, int]:
    path = ctx.fresh_dir(f"atlas-bulk-{rep}") / "catalog.db"
    app, server, url = _served_app(path)
    try:
        answer = _client(ctx, "bulk", url, USER[0], USER[1], bodies_path)
    finally:
        _stop(app, server)
    return answer["seconds"], answer["assigned"]


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
    rows, ratios = [], []
    for rep in range(max(1, min(3, ctx.sizes.ingest_reps))):
        api, assigned = _post_all(ctx, rep, str(bodies_path))
        embedded = _ingest_all(ctx, rep, batch)
        ratios.append(api / embedded)
        rows.append((f"round {rep + 1}", len(batch.entities), len(bodies), fmt_s(api),
                     f"{len(batch.entities) / api:,.0f}", fmt_s(embedded), f"{api / embedded:.2f}x", assigned))
    print_table(("round", "entities", "requests", "entity/bulk (client)", "entities/s", "embedded ingest",
                 "ratio", "guidAssignments"), rows)
    return [ratio_line("atlas-bulk-post/embedded-ingest", median(ratios), BULK_TARGET,
                       note=f"median of {len(ratios)}, {len(batch.entities):,} entities, {PER_REQUEST:,} per request")]


def _reads(ctx: Context) -> list[str]:
    from bench.lineage import _catalog
    from catalog import store

    built = _catalog(ctx)
    layout = built.layout
    kinds = (layout.tables, layout.runs, layout.versions, layout.deployments)
    calls = max(40, ctx.sizes.lineage_calls)
    guids = [kinds[i % 4][(i // 4 * 7919) % len(kinds[i % 4])] for i in range(calls)]
    import json

    guids_path = ctx.dir("atlas-reads") / "guids.json"
    guids_path.write_text(json.dumps(guids))
    app, server, url = _served_app(built.path)
    try:
        http = _client(ctx, "get", url, str(guids_path))["seconds"]
        catalog = app.extensions["catalog"]
        local = []
        for guid in guids:
            start = time.perf_counter()
            with catalog.session() as s:
                store.get_entity(s, guid)
            local.append(time.perf_counter() - start)
    finally:
        _stop(app, server)
    print_table(("path", "calls", "p50", "p99"), [
        ("GET entity/guid over HTTP", len(http), fmt_ms(median(http)), fmt_ms(percentile(http, 99))),
        ("store.get_entity in process", len(local), fmt_ms(median(local)), fmt_ms(percentile(local, 99))),
    ])
    p99 = percentile(http, 99) * 1000
    verdict = "MET" if p99 <= GET_P99_TARGET_MS else "MISSED"
    return [
        f"LATENCY atlas-get-entity p99 = {p99:.2f} ms at {layout.entities:,} entities "
        f"(target <= {GET_P99_TARGET_MS:g} ms) {verdict}",
        ratio_line("atlas-get-entity/store-get-entity p50", median(http) / median(local), None),
    ]


def run(ctx: Context) -> list[str]:
    with quiet_logs("werkzeug"):
        return _bulk(ctx) + _reads(ctx)
