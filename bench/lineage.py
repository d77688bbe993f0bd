"""Lineage: ``store.lineage`` + ``lineage_to_atlas`` around many bases of the synthetic catalog.

Bases cycle over model versions (``BOTH``), deployments (``INPUT``) and bulk tables
(``BOTH``), all depth 3, each base used once per round. Each call is timed as the
API serves it: ``store.lineage(session, guid, ...)`` (walk, relations, entity
headers, classifications) plus ``catalog.atlas.lineage_to_atlas`` (AtlasLineageInfo
JSON shape). The baseline, timed right after each full call on the same base and
session, is the bare recursive CTE: ``store.walk`` alone, once per direction walked.
A warm-up pass over other bases runs first; the round with the median p99 is
reported (the verdict), next to each base's best of the rounds (noise filtered).

On SQLite (the catalog of the ingest bench, or one built the same way) and, when
``initdb``/``pg_ctl`` are installed, on a PostgreSQL server of the bench's own
holding the same batch (``bench.postgres``): the same table and a ``LATENCY
lineage-postgresql`` line.
"""

from __future__ import annotations

import gc
import time
from typing import Any

from bench.common import Context, fmt_ms, median, percentile, print_table, ratio_line

__all__ = ["bases", "run"]

DEPTH = 3
P99_TARGET_MS = 20.0


def bases(layout: Any, count: int, offset: int = 0) -> list[tuple[str, str, str]]:
    """``count`` (kind, guid, direction) bases, cycling versions/deployments/tables, starting at ``offset``."""
    kinds = (
        ("model_version", layout.versions, "BOTH"),
        ("deployment", layout.deployments, "INPUT"),
        ("hive_table", layout.tables, "BOTH"),
    )
    out = []
    for i in range(offset, offset + count):
        kind, guids, direction = kinds[i % 3]
        # Spread over the catalog: a stride coprime with typical sizes.
        guid = guids[(i // 3 * 7919) % len(guids)]
        out.append((kind, guid, direction))
    return out


def _catalog(ctx: Context) -> Any:
    from bench.ingest import build_catalog

    sizes = ctx.sizes
    return ctx.cached(("catalog", sizes.entities, sizes.chain_every), lambda: build_catalog(ctx))


def _postgres_catalog(ctx: Context) -> Any:
    from bench import postgres

    if not postgres.available():
        return None
    sizes = ctx.sizes
    return ctx.cached(("postgres-catalog", sizes.entities, sizes.chain_every), lambda: postgres.build_catalog(ctx))


def _directions(direction: str) -> tuple[bool, ...]:
    return (True,) if direction == "INPUT" else (False,) if direction == "OUTPUT" else (True, False)


class _Paths:
    """The three timed paths on one session: full answer, bare CTE, the CTE's SQL on the DBAPI connection."""

    def __init__(self, catalog: Any, session: Any, template: str) -> None:
        self.catalog, self.session, self.template = catalog, session, template
        self.walk_sql = self._capture_walk_sql()
        self.dbapi = session.connection().connection.driver_connection

    def full(self, guid: str, direction: str) -> dict:
        from catalog import store
        from catalog.atlas import lineage_to_atlas

        graph = store.lineage(self.session, guid, direction=direction, depth=DEPTH, registry=self.catalog.registry)
        return lineage_to_atlas(graph)

    def bare(self, guid: str, direction: str) -> int:
        from catalog import store

        return sum(len(store.walk(self.session, [guid], 0, DEPTH, up)) for up in _directions(direction))

    def _capture_walk_sql(self) -> dict[bool, tuple[str, Any]]:
        """The SQL and parameters ``store.walk`` sends to the database, per direction (for the raw replay)."""
        from sqlalchemy import event

        from catalog import store

        seen: list[tuple[str, Any]] = []

        def listen(conn: Any, cursor: Any, statement: str, parameters: Any, context: Any, many: bool) -> None:
            seen.append((statement, parameters))

        engine = self.session.get_bind()
        event.listen(engine, "before_cursor_execute", listen)
        try:
            out = {}
            for upstream in (True, False):
                seen.clear()
                store.walk(self.session, [self.template], 0, DEPTH, upstream)
                out[upstream] = seen[-1]
            return out
        finally:
            event.remove(engine, "before_cursor_execute", listen)

    def raw(self, guid: str, direction: str) -> int:
        found = 0
        for upstream in _directions(direction):
            statement, params = self.walk_sql[upstream]
            if isinstance(params, dict):  # psycopg: named parameters
                bound: Any = {k: guid if v == self.template else v for k, v in params.items()}
            else:  # sqlite3: positional
                bound = tuple(guid if p == self.template else p for p in params)
            found += len(self.dbapi.execute(statement, bound).fetchall())
        return found


def _round(paths: _Paths, chosen: list[tuple[str, str, str]], sizes_seen: list[int]) -> dict[str, Any]:
    t_full: list[float] = []
    t_bare: list[float] = []
    t_raw: list[float] = []
    by_kind: dict[str, list[float]] = {}
    for kind, guid, direction in chosen:
        t0 = time.perf_counter()
        doc = paths.full(guid, direction)
        t1 = time.perf_counter()
        paths.bare(guid, direction)
        t2 = time.perf_counter()
        paths.raw(guid, direction)
        t3 = time.perf_counter()
        t_full.append(t1 - t0)
        t_bare.append(t2 - t1)
        t_raw.append(t3 - t2)
        by_kind.setdefault(kind, []).append(t1 - t0)
        if len(sizes_seen) < len(chosen):
            sizes_seen.append(len(doc["guidEntityMap"]))
    return {
        "full_p50": percentile(t_full, 50), "full_p99": percentile(t_full, 99),
        "bare_p50": percentile(t_bare, 50), "bare_p99": percentile(t_bare, 99),
        "raw_p50": percentile(t_raw, 50), "raw_p99": percentile(t_raw, 99),
        "by_kind": by_kind, "full_max": max(t_full), "t_full": t_full, "t_bare": t_bare,
    }


def _measure(catalog: Any, layout: Any, rounds: int, calls: int) -> tuple[list[dict[str, Any]], list[int]]:
    """Warm up on other bases, then ``rounds`` rounds over ``calls`` bases: per-round figures, answer sizes."""
    chosen = bases(layout, calls)
    warm = bases(layout, max(10, calls // 10), offset=calls)
    out: list[dict[str, Any]] = []
    sizes_seen: list[int] = []
    session = catalog.session()
    try:
        paths = _Paths(catalog, session, warm[0][1])
        for _kind, guid, direction in warm:
            paths.full(guid, direction)
            if paths.raw(guid, direction) != paths.bare(guid, direction):
                raise AssertionError("the raw CTE replay disagrees with store.walk")
        for _ in range(rounds):
            out.append(_round(paths, chosen, sizes_seen))
    finally:
        session.close()
    return out, sizes_seen


def _report(backend: str, rounds: list[dict[str, Any]], sizes_seen: list[int]) -> list[str]:
    """Print one backend's table; return its LATENCY and RATIO lines."""
    # The round with the median full p99 (robust to a noisy round on a shared machine).
    pick = sorted(rounds, key=lambda r: r["full_p99"])[len(rounds) // 2]
    driver = "sqlite3" if backend == "sqlite" else "psycopg"
    print(f"[{backend}] entities per answer: min {min(sizes_seen)}, median {median(sizes_seen):.0f}, max {max(sizes_seen)}")
    print_table(
        ["path", "p50", "p99", "max"],
        [
            ["store.lineage + lineage_to_atlas", fmt_ms(pick["full_p50"]), fmt_ms(pick["full_p99"]), fmt_ms(pick["full_max"])],
            ["bare recursive CTE (store.walk)", fmt_ms(pick["bare_p50"]), fmt_ms(pick["bare_p99"]), "-"],
            [f"same CTE SQL on the {driver} cursor (info)", fmt_ms(pick["raw_p50"]), fmt_ms(pick["raw_p99"]), "-"],
            *[
                [f"  full, {kind} bases ({len(ts)})", fmt_ms(percentile(ts, 50)), fmt_ms(percentile(ts, 99)), fmt_ms(max(ts))]
                for kind, ts in pick["by_kind"].items()
            ],
        ],
    )
    print("p99 per round (ms): full " + ", ".join(f"{r['full_p99'] * 1000:.2f}" for r in rounds)
          + "; bare " + ", ".join(f"{r['bare_p99'] * 1000:.2f}" for r in rounds))
    calls = len(rounds[0]["t_full"])
    best_full = [min(r["t_full"][i] for r in rounds) for i in range(calls)]
    best_bare = [min(r["t_bare"][i] for r in rounds) for i in range(calls)]
    print(f"per-base best of {len(rounds)} rounds (filters transient load; a slow base stays slow): "
          f"full p50 {fmt_ms(percentile(best_full, 50))} p99 {fmt_ms(percentile(best_full, 99))}, "
          f"bare p50 {fmt_ms(percentile(best_bare, 50))} p99 {fmt_ms(percentile(best_bare, 99))}")
    name = "lineage" if backend == "sqlite" else f"lineage-{backend}"
    p99_ms = pick["full_p99"] * 1000
    verdict = "MET" if p99_ms <= P99_TARGET_MS else "MISSED"
    target = f"LATENCY {name} p99 = {p99_ms:.2f} ms (target <= {P99_TARGET_MS:g} ms) {verdict}"
    print(target)
    line = ratio_line(f"{name}/bare-cte", pick["full_p50"] / pick["bare_p50"], None,
                      note=f"p50 full/bare; p99 full/bare {pick['full_p99'] / pick['bare_p99']:.2f}x")
    print(line)
    return [target, line]


def _prepare(ctx: Context) -> list[tuple[str, Any, Any]]:
    """(backend, catalog, layout) for SQLite and, when installed, PostgreSQL, built before the clock."""
    sizes = ctx.sizes
    start = time.perf_counter()
    built = _catalog(ctx)
    ready = [("sqlite", built.catalog, built.layout)]
    print(f"catalog: {built.layout.entities:,} entities, {built.layout.edges:,} edges "
          f"(SQLite ready in {time.perf_counter() - start:.1f} s); {sizes.lineage_calls} bases x "
          f"{sizes.lineage_rounds} rounds, depth {DEPTH}, warm-up {max(10, sizes.lineage_calls // 10)} other bases",
          flush=True)
    start = time.perf_counter()
    pg = _postgres_catalog(ctx)
    if pg is None:
        print("PostgreSQL: initdb/pg_ctl not found, skipped")
    else:
        print(f"PostgreSQL {pg.server.version()}: the same batch through store.upsert_batch, then ANALYZE "
              f"(ready in {time.perf_counter() - start:.1f} s)", flush=True)
        ready.append(("postgresql", pg.catalog, pg.layout))
    return ready


def run(ctx: Context) -> list[str]:
    sizes = ctx.sizes
    ready = _prepare(ctx)
    # The bench's own heap (the cached synthetic batch) is not the server's: drop it and freeze
    # what is left, so a collection during a call scans only what the call allocated.
    ctx.cache.pop(("batch", sizes.entities, sizes.chain_every), None)
    gc.collect()
    gc.freeze()
    lines: list[str] = []
    try:
        for backend, catalog, layout in ready:
            rounds, sizes_seen = _measure(catalog, layout, sizes.lineage_rounds, sizes.lineage_calls)
            lines.extend(_report(backend, rounds, sizes_seen))
    finally:
        gc.unfreeze()
    return lines
