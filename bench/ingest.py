"""Bulk ingest: a synthetic 100k-entity / 150k-edge catalog through ``store.upsert_batch``.

Measured: ``Catalog(settings).write_session()`` + ``store.upsert_batch`` of one
``SourceBatch`` in one transaction on a fresh SQLite file (schema created before the
clock starts). Baseline: the same entity and edge rows (read back from that file, so
every column value, attribute JSON text included, is identical) inserted with the
stdlib ``sqlite3`` module's ``executemany`` in one transaction into a fresh file
whose schema ``catalog.db.upgrade`` created, with the same pragmas (WAL,
synchronous=NORMAL). Repetitions alternate measured and baseline runs; medians are
reported. Then the same unchanged batch is ingested again (it must write nothing).

The synthetic catalog:

- bulk pipelines: ``hive_table`` data sets and ``ml_training_run`` processes in equal
  numbers, each run reading 2 tables and writing 1 (a DAG in pipelines of 50 tables,
  with some reads across pipelines);
- one model chain per ``chain_every`` entities: bulk tables -> ``ml_training_run`` ->
  ``ml_model_version`` -> ``ml_model_deploy_process`` (+ a scoring input table) ->
  ``ml_deployment``.

At 100,000 entities: 48,000 tables + 48,000 runs + 1,000 chains x 4 entities, and
48,000 x 3 + 1,000 x 3 + 1,000 x 3 = 150,000 edges.
"""

from __future__ import annotations

import random
import sqlite3
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bench.common import (
    Context,
    fmt_s,
    median,
    print_table,
    ratio_line,
    timed,
    timed_cpu,
)

__all__ = ["BuiltCatalog", "Layout", "build_catalog", "ingest_batch", "open_catalog", "run", "synthetic_batch"]

USER = "bench"
SOURCE = "bench:synthetic"
BASE_TIME = 1_700_000_000_000  # fixed, so two builds of a size are the same batch
PIPELINE = 50  # tables per bulk pipeline
SOURCES_PER_PIPELINE = 10  # tables no run of the pipeline writes


@dataclass
class Layout:
    """Guids of the synthetic catalog that the lineage bench picks its bases from."""

    tables: list[str] = field(default_factory=list)
    runs: list[str] = field(default_factory=list)
    versions: list[str] = field(default_factory=list)
    deployments: list[str] = field(default_factory=list)
    entities: int = 0
    edges: int = 0


@dataclass
class BuiltCatalog:
    catalog: Any
    layout: Layout
    path: Path

    def close(self) -> None:
        self.catalog.close()


def _counts(entities: int, chain_every: int) -> tuple[int, int]:
    chains = max(1, entities // chain_every)
    bulk = (entities - 4 * chains) // 2
    if bulk < PIPELINE:
        raise ValueError(f"{entities} entities is too small a catalog (need at least {4 * chains + 2 * PIPELINE})")
    return bulk, chains


def synthetic_batch(entities: int, chain_every: int = 100, prefix: str = "") -> tuple[Any, Layout]:
    """A ``SourceBatch`` of ``entities`` entities and 1.5x as many lineage edges, plus its layout.

    ``prefix`` starts every database, run and model name: batches with different
    prefixes share no entity (the memory probe adds one to an existing catalog).
    """
    from catalog import naming
    from catalog.model import Entity, EntityRef, SourceBatch

    rng = random.Random(20240601)
    bulk, chains = _counts(entities, chain_every)
    layout = Layout()
    out: list[Entity] = []

    table_refs: list[EntityRef] = []
    for i in range(bulk):
        db = prefix + (f"sales_{i % 20:02d}" if i % 3 else f"features_{i % 13:02d}")
        qn = naming.table_qn(f"{db}.t_{i:06d}", "cm")
        attrs = {
            "name": f"t_{i:06d}",
            "owner": f"team-{i % 17}",
            "description": f"synthetic table {i} of pipeline {i // PIPELINE}",
            "createTime": BASE_TIME + i * 1000,
            "tableType": "MANAGED_TABLE",
            "retention": 30 if i % 5 == 0 else 0,
            "parameters": {"format": "parquet", "numRows": str(1000 + i * 7 % 100_000)},
        }
        entity = Entity("hive_table", qn, attrs)
        out.append(entity)
        table_refs.append(entity.ref)
        layout.tables.append(entity.guid)

    # Bulk runs: pipeline p owns tables [p*50, p*50+50); its first 10 are sources, run k of the
    # pipeline writes table 10 + k % 40 (so 10 tables have two writers) from two earlier tables.
    runnable = PIPELINE - SOURCES_PER_PIPELINE
    for k in range(bulk):
        p, j = divmod(k, PIPELINE)
        start = p * PIPELINE
        width = min(PIPELINE, bulk - start)
        out_local = SOURCES_PER_PIPELINE + j % runnable
        if out_local >= width:  # a short last pipeline
            out_local = width - 1
        lo = start if out_local >= 2 else 0  # a short last pipeline reads earlier pipelines
        hi = start + out_local  # only tables before the one the run writes: a DAG
        a = rng.randrange(lo, hi)
        b = rng.randrange(0, start) if p > 0 and rng.random() < 0.15 else rng.randrange(lo, hi)
        while b == a:
            b = rng.randrange(lo, hi)
        run_id = f"{prefix}{k:032x}"
        attrs = {
            "name": f"etl-{p}-{j}",
            "userName": f"svc-etl-{p % 11}",
            "runId": run_id,
            "experimentId": str(p % 40),
            "status": "FINISHED",
            "startTime": BASE_TIME + k * 60_000,
            "endTime": BASE_TIME + k * 60_000 + 45_000,
            "params": {"mode": "overwrite", "partitions": str(8 + k % 8)},
            "metrics": {"rows_out": float(1000 + k % 5000), "seconds": 45.0},
            "tags": {"pipeline": f"p{p}"},
            "inputs": [table_refs[a], table_refs[b]],
            "outputs": [table_refs[start + out_local]],
        }
        entity = Entity("ml_training_run", naming.run_qn(run_id, "mlflow"), attrs)
        out.append(entity)
        layout.runs.append(entity.guid)

    for c in range(chains):
        model = f"{prefix}model-{c // 10:03d}"
        version = c % 10 + 1
        a, b, d = rng.sample(range(bulk), 3)
        version_qn = naming.model_version_qn(model, version, "mlflow")
        run_id = f"{prefix}c{c:031x}"
        run_attrs = {
            "name": f"train-{model}-v{version}",
            "userName": f"data-scientist-{c % 23}",
            "runId": run_id,
            "experimentId": str(100 + c // 10),
            "status": "FINISHED",
            "startTime": BASE_TIME + c * 3_600_000,
            "endTime": BASE_TIME + c * 3_600_000 + 900_000,
            "params": {"alpha": str(0.1 * (c % 9 + 1)), "l1_ratio": "0.5", "max_iter": "1000"},
            "metrics": {"rmse": 0.5 + (c % 7) / 10, "r2": 0.3 + (c % 5) / 10},
            "tags": {"team": f"team-{c % 17}"},
            "inputs": [table_refs[a], table_refs[b]],
            "outputs": [],
        }
        version_entity = Entity(
            "ml_model_version",
            version_qn,
            {
                "name": f"{model} v{version}",
                "version": version,
                "modelName": model,
                "runId": run_id,
                "source": f"models:/m-{c:032x}",
                "status": "READY",
                "aliases": ["champion"] if version == 10 else [],
                "tags": {"validated": "true"},
                "createTime": BASE_TIME + c * 3_600_000 + 1_000_000,
            },
        )
        run_attrs["outputs"] = [version_entity.ref]
        run_entity = Entity("ml_training_run", naming.run_qn(run_id, "mlflow"), run_attrs)
        target = ("batch", "streaming", "online")[c % 3]
        deployment = Entity(
            "ml_deployment",
            naming.deployment_qn(f"{model}-{version}", target, "cm"),
            {
                "name": f"{model}-{version} ({target})",
                "owner": f"team-{c % 17}",
                "mode": target,
                "target": target,
                "modelRef": f"models:/{model}/{version}",
                "status": "deployed",
                "cpuMillicores": 500,
                "createTime": BASE_TIME + c * 3_600_000 + 2_000_000,
                "deployedTime": BASE_TIME + c * 3_600_000 + 2_000_000,
            },
            {"build": version_entity.ref},
        )
        deploy = Entity(
            "ml_model_deploy_process",
            naming.deploy_process_qn(f"{model}-{version}", target, "cm"),
            {
                "name": f"deploy {model}-{version} to {target}",
                "userName": f"team-{c % 17}",
                "inputs": [version_entity.ref, table_refs[d]],
                "outputs": [deployment.ref],
            },
        )
        out.extend([run_entity, version_entity, deployment, deploy])
        layout.runs.append(run_entity.guid)
        layout.versions.append(version_entity.guid)
        layout.deployments.append(deployment.guid)

    # Referenced entities before the processes referring to them, as the real sources emit.
    order = {"hive_table": 0, "ml_model_version": 1, "ml_deployment": 2}
    out.sort(key=lambda e: order.get(e.type_name, 3))
    layout.entities = len(out)
    layout.edges = sum(len(e.inputs) + len(e.outputs) for e in out if e.type_name.startswith("ml_") and "inputs" in e.attributes)
    return SourceBatch(SOURCE, out), layout


def open_catalog(path: Path) -> Any:
    from catalog.config import Settings
    from catalog.service import Catalog

    return Catalog(Settings(database_url=f"sqlite:///{path}", user=USER))


def ingest_batch(catalog: Any, batch: Any) -> tuple[Any, int]:
    """One ingest in one write transaction: (IngestResult, rows SQLite changed on the connection)."""
    from catalog import store

    with catalog.write_session() as session, session.begin():
        dbapi = session.connection().connection.driver_connection
        before = dbapi.total_changes
        result = store.upsert_batch(session, batch, catalog.registry, user=USER)
        session.flush()
        changes = dbapi.total_changes - before
    return result, changes


def build_catalog(ctx: Context, path: Path | None = None) -> BuiltCatalog:
    """A fresh catalog holding the synthetic batch (the lineage bench's input)."""
    batch, layout = _batch(ctx)
    path = path or ctx.fresh_dir("catalog") / "catalog.db"
    catalog = open_catalog(path)
    ingest_batch(catalog, batch)
    return BuiltCatalog(catalog, layout, path)


def _batch(ctx: Context) -> tuple[Any, Layout]:
    sizes = ctx.sizes
    return ctx.cached(("batch", sizes.entities, sizes.chain_every), lambda: synthetic_batch(sizes.entities, sizes.chain_every))


def _columns(con: sqlite3.Connection, table: str) -> list[str]:
    return [row[1] for row in con.execute(f"PRAGMA table_info({table})")]


def _read_rows(path: Path) -> dict[str, tuple[list[str], list[tuple]]]:
    """The rows the measured ingest wrote, in rowid (insertion) order, per table."""
    con = sqlite3.connect(path)
    try:
        rows = {}
        for table in ("entity", "lineage_edge", "audit_event"):
            cols = _columns(con, table)
            rows[table] = (cols, con.execute(f"SELECT {', '.join(cols)} FROM {table} ORDER BY rowid").fetchall())
        return rows
    finally:
        con.close()


def _baseline(path: Path, rows: dict[str, tuple[list[str], list[tuple]]], tables: tuple[str, ...]) -> tuple[float, float]:
    """(wall, CPU) seconds to executemany ``rows`` of ``tables`` in one transaction into a fresh schema."""
    from catalog.db import make_engine, upgrade

    engine = make_engine(f"sqlite:///{path}")
    upgrade(engine)
    engine.dispose()
    con = sqlite3.connect(path, isolation_level=None)
    try:
        con.execute("PRAGMA journal_mode=WAL")
        con.execute("PRAGMA synchronous=NORMAL")

        def insert() -> None:
            con.execute("BEGIN IMMEDIATE")
            for table in tables:
                cols, values = rows[table]
                sql = f"INSERT INTO {table} ({', '.join(cols)}) VALUES ({', '.join('?' * len(cols))})"
                con.executemany(sql, values)
            con.execute("COMMIT")

        wall, cpu, _ = timed_cpu(insert)
        return wall, cpu
    finally:
        con.close()


def run(ctx: Context) -> list[str]:
    sizes = ctx.sizes
    (build_s, (batch, layout)) = timed(lambda: _batch(ctx))
    print(f"synthetic batch: {layout.entities:,} entities, {layout.edges:,} edges "
          f"({len(layout.tables):,} hive_table, {len(layout.runs):,} runs, {len(layout.versions):,} model chains; "
          f"built in {fmt_s(build_s)}, not timed below)")
    work = ctx.fresh_dir("ingest")
    real: list[float] = []
    base: list[float] = []
    real_cpu: list[float] = []
    base_cpu: list[float] = []
    base_audit: list[float] = []
    rows = None
    last = None
    for rep in range(sizes.ingest_reps):
        path = work / f"catalog-{rep}.db"
        catalog = open_catalog(path)  # schema migrated here, before the clock
        seconds, cpu, (result, _changes) = timed_cpu(lambda: ingest_batch(catalog, batch))  # noqa: B023
        if len(result.created) != layout.entities:
            raise AssertionError(f"ingest created {len(result.created)} of {layout.entities} entities")
        real.append(seconds)
        real_cpu.append(cpu)
        if rows is None:
            rows = _read_rows(path)
            if len(rows["lineage_edge"][1]) != layout.edges:
                raise AssertionError(f"ingest wrote {len(rows['lineage_edge'][1])} of {layout.edges} edges")
        seconds, cpu = _baseline(work / f"baseline-{rep}.db", rows, ("entity", "lineage_edge"))
        base.append(seconds)
        base_cpu.append(cpu)
        base_audit.append(_baseline(work / f"baseline-audit-{rep}.db", rows, ("entity", "lineage_edge", "audit_event"))[0])
        if last is not None:
            last.close()
        last = catalog
    assert last is not None and rows is not None

    again: list[float] = []
    again_cpu: list[float] = []
    for _ in range(max(1, min(3, sizes.ingest_reps))):
        seconds, cpu, (result, changes) = timed_cpu(lambda: ingest_batch(last, batch))
        if result.changed or result.unchanged != layout.entities or changes:
            raise AssertionError(f"unchanged re-ingest wrote something: {result.summary()}, {changes} row changes")
        again.append(seconds)
        again_cpu.append(cpu)

    r, b, ba, a = median(real), median(base), median(base_audit), median(again)
    # Each measured run is paired with the baseline run right after it: the median of the
    # paired ratios follows the machine's load better than the ratio of the medians.
    paired = median([x / y for x, y in zip(real, base, strict=True)])
    ents, edges = layout.entities, layout.edges
    print(f"repetitions: {sizes.ingest_reps} (median times; each measured run is followed by its baseline run)")
    print_table(
        ["path", "time", "entities/s", "edges/s", "vs baseline"],
        [
            ["upsert_batch (Catalog write session, 1 txn)", fmt_s(r), f"{ents / r:,.0f}", f"{edges / r:,.0f}", f"{r / b:.2f}x"],
            ["sqlite3 executemany entity+edge (baseline)", fmt_s(b), f"{ents / b:,.0f}", f"{edges / b:,.0f}", "1.00x"],
            ["sqlite3 executemany entity+edge+audit (info)", fmt_s(ba), f"{ents / ba:,.0f}", f"{edges / ba:,.0f}", f"{ba / b:.2f}x"],
            ["re-ingest unchanged batch (0 rows written)", fmt_s(a), f"{ents / a:,.0f}", "-", f"{a / b:.2f}x"],
        ],
    )
    print(f"all runs (s): upsert {[round(x, 3) for x in real]}, baseline {[round(x, 3) for x in base]}, "
          f"unchanged {[round(x, 3) for x in again]}")
    print(f"paired ratios upsert/baseline per repetition: {[round(x / y, 2) for x, y in zip(real, base, strict=True)]}")
    cpu_ratio = median([x / y for x, y in zip(real_cpu, base_cpu, strict=True)])
    print(f"CPU time (info; ignores other processes' load): upsert {fmt_s(median(real_cpu))}, "
          f"baseline {fmt_s(median(base_cpu))}, paired ratio {cpu_ratio:.2f}x")
    print(f"unchanged re-ingest: {a / r:.0%} of the first ingest (CPU {median(again_cpu) / median(real_cpu):.0%}: "
          f"{fmt_s(median(again_cpu))} against {fmt_s(median(real_cpu))}), 0 rows written (sqlite total_changes)")
    line = ratio_line("ingest/sqlite3-executemany", paired, 2.5, note="median of paired runs")
    print(line)
    again_line = ratio_line("ingest-unchanged/first-ingest", a / r, 0.10, note="0 rows written")
    print(again_line)
    memory_line = _memory(ctx)
    # Keep the last catalog for the lineage bench of this run.
    key = ("catalog", sizes.entities, sizes.chain_every)
    previous = ctx.cache.pop(key, None)
    if previous is not None:
        previous.close()
    ctx.cache[key] = BuiltCatalog(last, layout, work / f"catalog-{sizes.ingest_reps - 1}.db")
    return [line, again_line, memory_line]


PROBE_ENTITIES = 1_000


def _memory(ctx: Context) -> str:
    """Peak RSS of the whole ingest, and of 1,000 new entities into an empty vs the full catalog."""
    from bench.memory import probe

    work = ctx.fresh_dir("memory")
    n = ctx.sizes.entities
    full = probe(work / "full.db", n, "")
    into_full = probe(work / "full.db", PROBE_ENTITIES, "probe_")
    into_empty = probe(work / "empty.db", PROBE_ENTITIES, "probe_")
    for figures, want in ((full, n), (into_full, PROBE_ENTITIES), (into_empty, PROBE_ENTITIES)):
        if figures["created"] != want:
            raise AssertionError(f"memory probe created {figures['created']} of {want} entities")
    print("peak memory (RSS of a fresh process: interpreter, imports, the batch, the ingest)")
    print_table(
        ["ingest", "peak RSS", "before the ingest", "ingest's own"],
        [
            [f"{n:,} entities into an empty catalog", f"{full['peak_mib']:,.0f} MiB",
             f"{full['before_mib']:,.0f} MiB", f"{full['ingest_mib']:,.0f} MiB"],
            [f"{PROBE_ENTITIES:,} entities into the {n:,}-entity catalog", f"{into_full['peak_mib']:,.0f} MiB",
             f"{into_full['before_mib']:,.0f} MiB", f"{into_full['ingest_mib']:,.0f} MiB"],
            [f"{PROBE_ENTITIES:,} entities into an empty catalog", f"{into_empty['peak_mib']:,.0f} MiB",
             f"{into_empty['before_mib']:,.0f} MiB", f"{into_empty['ingest_mib']:,.0f} MiB"],
        ],
    )
    line = f"MEMORY ingest-1k into-{ctx.sizes.name}/into-empty = {into_full['peak_mib'] / into_empty['peak_mib']:.2f}x"
    line += " (target <= 1.25x, peak RSS)"
    line += " MET" if into_full["peak_mib"] <= 1.25 * into_empty["peak_mib"] else " MISSED"
    print(line)
    return line
