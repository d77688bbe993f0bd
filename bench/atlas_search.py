"""Atlas's basic search: ``POST search/basic`` for a type and a classification in the synthetic catalog.

The catalog is the ingest bench's synthetic batch (``bench.ingest.synthetic_batch``), in
its own SQLite file, with two classifications on its bulk tables:

- ``PII`` on every ``PII_EVERY``-th table, not propagated (a steward's direct tags);
- ``SENSITIVE`` on every ``SENSITIVE_EVERY``-th table, propagated along lineage: the
  synthetic pipelines read across each other, so it reaches most of the catalog (the
  dense case: tens of thousands of matches to count and sort).

Measured: ``POST /api/atlas/v2/search/basic`` through Flask's test client (the whole
WSGI stack: JSON body, parameter checks, the SQL, headers, the JSON answer) with
``{"typeName": "DataSet", "classification": "PII", "excludeDeletedEntities": true,
"limit": 25, "offset": ...}`` (DataSet with its 13 subtypes), offsets cycling over the
first ``PAGES`` pages. The baseline, timed right after each request, is the bare SQL of
the same query: the statements ``catalog.store.filters.page`` sent (two capped,
index-only counts that pick where SQLite's plan starts; the page, its count as a
window), replayed on the ``sqlite3`` cursor. Information rows: ``hive_table`` + PII with
an attribute filter (``entityFilters``: retention > 0 OR owner starts with team-1), and
DataSet + SENSITIVE (the dense case). Warm-up requests run first; the verdict is the
first row's p99 against ``P99_TARGET_MS``.
"""

from __future__ import annotations

import dataclasses
import gc
import time
from typing import Any

from bench.common import Context, fmt_ms, percentile, print_table, ratio_line

__all__ = ["run"]

PII_EVERY = 25
SENSITIVE_EVERY = 500
PAGE = 25
PAGES = 20
P99_TARGET_MS = 50.0
CALLS = {"quick": 40, "full": 300, "1m": 300}
URL = "/api/atlas/v2/search/basic"
FILTERED = {"condition": "OR", "criterion": [
    {"attributeName": "retention", "operator": ">", "attributeValue": "0"},
    {"attributeName": "owner", "operator": "startsWith", "attributeValue": "team-1"},
]}


def _build(ctx: Context) -> Any:
    """(catalog, path, tagged tables by classification, layout): the synthetic batch with its tags, ingested."""
    from bench.ingest import ingest_batch, open_catalog, synthetic_batch
    from catalog.model import Classification

    sizes = ctx.sizes
    batch, layout = synthetic_batch(sizes.entities, sizes.chain_every)
    tagged = {"PII": 0, "SENSITIVE": 0}
    for i, entity in enumerate(e for e in batch.entities if e.type_name == "hive_table"):
        tags = []
        if i % PII_EVERY == 0:
            tags.append(Classification("PII", propagate=False))
        if i % SENSITIVE_EVERY == 0:
            tags.append(Classification("SENSITIVE"))
        for tag in tags:
            tagged[tag.type_name] += 1
        entity.classifications = tags
    path = ctx.fresh_dir("atlas-search") / "catalog.db"
    catalog = open_catalog(path)
    ingest_batch(catalog, batch)
    return catalog, path, tagged, layout


def _app(catalog: Any) -> Any:
    from web import create_app

    settings = catalog.settings
    if any(f.name == "read_access" for f in dataclasses.fields(settings)):
        settings = dataclasses.replace(settings, read_access="open")
    return create_app({"TESTING": True}, settings=settings)


class _Recorder:
    """The SQL statements (and parameters) the app sends, per request, replayable on the DBAPI cursor."""

    def __init__(self, engine: Any) -> None:
        from sqlalchemy import event

        self.seen: list[tuple[str, Any]] = []
        self.engine = engine
        event.listen(engine, "before_cursor_execute", self._listen)
        self.raw = engine.raw_connection()

    def _listen(self, conn: Any, cursor: Any, statement: str, parameters: Any, context: Any, many: bool) -> None:
        self.seen.append((statement, parameters))

    def replay(self, statements: list[tuple[str, Any]]) -> int:
        rows = 0
        cursor = self.raw.driver_connection.cursor()
        try:
            for statement, parameters in statements:
                rows += len(cursor.execute(statement, parameters).fetchall())
        finally:
            cursor.close()
        return rows

    def close(self) -> None:
        from sqlalchemy import event

        event.remove(self.engine, "before_cursor_execute", self._listen)
        self.raw.close()


def _search_sql(statements: list[tuple[str, Any]]) -> list[tuple[str, Any]]:
    """The statements of ``catalog.store.filters.page`` (not the typedef check, not the header read)."""
    return [(s, p) for s, p in statements if "FROM typedef" not in s and "LEFT OUTER JOIN classification" not in s]


def _measure(client: Any, recorder: _Recorder, body: dict[str, Any], calls: int) -> dict[str, list[float]]:
    times: dict[str, list[float]] = {"full": [], "bare": [], "all": []}
    counts = set()
    for i in range(-max(5, calls // 10), calls):  # negative: warm-up
        request = {**body, "offset": (i % PAGES) * PAGE}
        recorder.seen.clear()
        t0 = time.perf_counter()
        response = client.post(URL, json=request)
        t1 = time.perf_counter()
        if response.status_code != 200:
            raise AssertionError(f"search/basic answered {response.status_code}: {response.get_data(as_text=True)}")
        statements = [(s, p) for s, p in recorder.seen if s.lstrip().upper().startswith("SELECT")]
        recorder.replay(_search_sql(statements))
        t2 = time.perf_counter()
        recorder.replay(statements)
        t3 = time.perf_counter()
        counts.add(response.get_json()["approximateCount"])
        if i >= 0:
            times["full"].append(t1 - t0)
            times["bare"].append(t2 - t1)
            times["all"].append(t3 - t2)
    times["matches"] = [float(c) for c in counts]
    return times


def _row(label: str, ts: list[float]) -> list[str]:
    return [label, fmt_ms(percentile(ts, 50)), fmt_ms(percentile(ts, 99)), fmt_ms(max(ts))]


def run(ctx: Context) -> list[str]:
    sizes = ctx.sizes
    calls = CALLS.get(sizes.name, CALLS["full"])
    start = time.perf_counter()
    catalog, _path, tagged, layout = _build(ctx)
    app = _app(catalog)
    print(f"catalog: {layout.entities:,} entities, {layout.edges:,} edges; tables tagged: {tagged['PII']:,} PII "
          f"(direct), {tagged['SENSITIVE']:,} SENSITIVE (propagated); ready in {time.perf_counter() - start:.1f} s; "
          f"{calls} requests per row, pages of {PAGE}", flush=True)
    body = {"typeName": "DataSet", "classification": "PII", "excludeDeletedEntities": True, "limit": PAGE}
    recorder = _Recorder(app.extensions["catalog"].engine)
    gc.collect()
    gc.freeze()
    try:
        client = app.test_client()
        plain = _measure(client, recorder, body, calls)
        filtered = _measure(client, recorder, {**body, "typeName": "hive_table", "entityFilters": FILTERED}, calls)
        dense = _measure(client, recorder, {**body, "classification": "SENSITIVE"}, max(10, calls // 10))
    finally:
        gc.unfreeze()
        recorder.close()
        app.extensions["catalog"].close()
        catalog.close()
    print(f"matches: {int(plain['matches'][0]):,} (DataSet + PII), {int(filtered['matches'][0]):,} (hive_table + PII "
          f"+ attribute filter), {int(dense['matches'][0]):,} (DataSet + SENSITIVE)")
    print_table(["path", "p50", "p99", "max"], [
        _row("POST search/basic, DataSet + PII (test client)", plain["full"]),
        _row("bare SQL: the search statements on the sqlite3 cursor", plain["bare"]),
        _row("all SQL of the request on the sqlite3 cursor (info)", plain["all"]),
        _row("POST search/basic, hive_table + PII + entityFilters (info)", filtered["full"]),
        _row("  its bare SQL (info)", filtered["bare"]),
        _row(f"POST search/basic, DataSet + SENSITIVE, {len(dense['full'])} requests (info)", dense["full"]),
        _row("  its bare SQL (info)", dense["bare"]),
    ])
    p99_ms = percentile(plain["full"], 99) * 1000
    verdict = "MET" if p99_ms <= P99_TARGET_MS else "MISSED"
    latency = f"LATENCY atlas-search p99 = {p99_ms:.2f} ms (target <= {P99_TARGET_MS:g} ms) {verdict}"
    ratio = ratio_line("atlas-search/bare-sql", percentile(plain["full"], 50) / percentile(plain["bare"], 50), None,
                       note=f"p50 full/bare; p99 full/bare "
                            f"{percentile(plain['full'], 99) / percentile(plain['bare'], 99):.2f}x")
    print(latency)
    print(ratio)
    return [latency, ratio]
