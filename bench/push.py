"""The push to a real Atlas: HTTP requests per 1,000 entities, entities per second, the outbox's cost on ingest.

1. Push: the synthetic catalog's first 10,000 entities (tables, runs, model chains; the
   quick size: its 2,000) are ingested into a store with the push registered, then
   ``catalog.push.sync`` drains the outbox into ``catalog serve --workers 1`` (gunicorn, a
   process of its own, basic auth) over a new store: the loopback stand-in for a real Atlas.
   ``CATALOG_ATLAS_CREATE_TABLES=true`` (the synthetic tables are ``hive_table``s no Hive hook
   made). Printed: the requests of the drain (the typedef bootstrap apart) per 1,000
   entities, target <= 2; the drain's entities per second next to the embedded ingest of
   the same entities (``store.upsert_batch`` into a new store) timed in the same run; and a
   re-sync, which must send nothing; then, for information, the same entities from a second
   catalog with the default `CATALOG_ATLAS_CREATE_TABLES=false`: the tables (which Atlas now
   has) are looked up (up to 100 per request, 3 kB of query string) and linked.
2. Outbox overhead: the synthetic catalog (100,000 entities at full size) ingested into a
   new store with the push registered (one outbox row per entity written in the ingest's
   transaction) and into one without, alternating, medians. Target: ratio <= 1.15x.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from bench.common import Context, fmt_s, median, print_table, ratio_line, timed

__all__ = ["run"]

PUSH_ENTITIES = 10_000
REQUESTS_TARGET = 2.0
OVERHEAD_TARGET = 1.15
ADMIN = ("bench-admin", "bench-admin-password")


def _target_store(path: Path) -> None:
    from catalog import users
    from catalog.config import Settings
    from catalog.service import Catalog

    with Catalog(Settings(database_url=f"sqlite:///{path}", user="bench")) as catalog:
        with catalog.write_session() as session, session.begin():
            users.add_user(session, ADMIN[0], ADMIN[1], "admin")


def _registered(path: Path, url: str = "http://127.0.0.1:9", *, create_tables: bool = True) -> Any:
    """A new catalog at ``path`` with the push's sink registered (the outbox written from now on)."""
    from catalog.config import Settings
    from catalog.service import Catalog
    from catalog.store import outbox

    catalog = Catalog(Settings(database_url=f"sqlite:///{path}", user="bench", atlas_url=url, atlas_user=ADMIN[0],
                               atlas_password=ADMIN[1], atlas_create_tables="true" if create_tables else "false"))
    with catalog.write_session() as session, session.begin():
        outbox.register_sink(session, "atlas", "entities", url)
    return catalog


def _push(ctx: Context) -> tuple[list[list[str]], list[str]]:
    from bench.atlas_api import serving
    from bench.ingest import ingest_batch, open_catalog, synthetic_batch
    from catalog.push import client_for, sync

    size = min(PUSH_ENTITIES, ctx.sizes.entities)
    batch, _layout = synthetic_batch(size, prefix="push-")
    where = ctx.fresh_dir("push")
    _target_store(where / "atlas.db")
    with serving(where / "atlas.db", where) as url:
        source = _registered(where / "source.db", url)
        try:
            ingest_batch(source, batch)
            client = client_for(source.settings)
            seconds, report = timed(lambda: sync(source, client))
            again, second = timed(lambda: sync(source, client))
        finally:
            source.close()
        # the same entities from a second catalog that leaves tables to the Hive hook: Atlas has them
        # now (the first push made them), so they are looked up and linked, never written
        linking = _registered(where / "linking.db", url, create_tables=False)
        try:
            ingest_batch(linking, batch)
            link_s, linked = timed(lambda: sync(linking, client_for(linking.settings)))
        finally:
            linking.close()
    baseline = open_catalog(ctx.fresh_dir("push-ingest") / "catalog.db")
    try:
        baseline.engine  # noqa: B018 - opened and migrated outside the timing
        ingest_s, _ = timed(lambda: ingest_batch(baseline, batch))
    finally:
        baseline.close()
    (summary,) = report.summaries
    if summary.sent != len(batch.entities) or not report.complete:
        raise RuntimeError(f"the push did not take every entity: {summary.line()}")
    per_thousand = summary.requests / (summary.sent / 1000)
    rows = [
        [f"push {summary.sent:,} entities (catalog sync)", fmt_s(seconds), f"{summary.sent / seconds:,.0f}",
         f"{summary.requests} requests, {per_thousand:.2f} per 1,000"],
        ["embedded ingest of the same entities", fmt_s(ingest_s), f"{summary.sent / ingest_s:,.0f}", "one transaction"],
        ["re-sync, nothing changed", fmt_s(again), "", f"{second.summaries[0].requests} writes"],
        [f"push linking {linked.summaries[0].linked:,} tables Atlas has (info)", fmt_s(link_s),
         f"{len(batch.entities) / link_s:,.0f}",
         f"{linked.summaries[0].requests} requests (lookups of 3 kB of names each), {linked.summaries[0].sent:,} sent"],
    ]
    met = "MET" if per_thousand <= REQUESTS_TARGET else "MISSED"
    verdicts = [
        f"REQUESTS push per 1,000 entities = {per_thousand:.2f} (target <= {REQUESTS_TARGET:g}, "
        f"{summary.requests} for {summary.sent:,} entities, typedef bootstrap apart) {met}",
        ratio_line("push/embedded-ingest", seconds / ingest_s, None,
                   note=f"{summary.sent / seconds:,.0f} vs {summary.sent / ingest_s:,.0f} entities/s"),
    ]
    if second.summaries[0].requests:
        raise RuntimeError(f"a re-sync with nothing changed sent {second.summaries[0].requests} requests")
    return rows, verdicts


def _overhead(ctx: Context) -> tuple[list[list[str]], list[str]]:
    from bench.ingest import ingest_batch, open_catalog, synthetic_batch

    batch, _layout = ctx.cached(("batch", ctx.sizes.entities, ctx.sizes.chain_every),
                                lambda: synthetic_batch(ctx.sizes.entities, ctx.sizes.chain_every))
    with_push: list[float] = []
    without: list[float] = []
    for rep in range(max(3, ctx.sizes.ingest_reps)):
        for label, times in (("plain", without), ("outbox", with_push)):
            path = ctx.fresh_dir(f"push-overhead-{label}-{rep}") / "catalog.db"
            catalog = _registered(path) if label == "outbox" else open_catalog(path)
            try:
                catalog.engine  # noqa: B018
                seconds, _ = timed(lambda c=catalog: ingest_batch(c, batch))
            finally:
                catalog.close()
            times.append(seconds)
    n = len(batch.entities)
    rows = [
        [f"ingest {n:,} entities, no push", fmt_s(median(without)), f"{n / median(without):,.0f}", ""],
        [f"ingest {n:,} entities, push registered", fmt_s(median(with_push)), f"{n / median(with_push):,.0f}",
         f"{n:,} outbox rows in the same transaction"],
    ]
    verdict = ratio_line("ingest-with-outbox/ingest", median(with_push) / median(without), OVERHEAD_TARGET,
                         note=f"medians of {len(without)}")
    return rows, [verdict]


def run(ctx: Context) -> list[str]:
    push_rows, push_verdicts = _push(ctx)
    overhead_rows, overhead_verdicts = _overhead(ctx)
    print_table(["what", "time", "entities/s", "notes"], push_rows + overhead_rows)
    verdicts = push_verdicts + overhead_verdicts
    for line in verdicts:
        print(line)
    return verdicts
