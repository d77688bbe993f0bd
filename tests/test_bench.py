"""Smoke test of the benchmarks: each runs at ``--quick`` size and prints its figures.

Timings are never asserted (the machines are shared and noisy); only that each
bench completes, prints its table and its RATIO line(s).
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:  # bench/ is a top-level package of the repository, not installed
    sys.path.insert(0, str(REPO))

from bench import postgres
from bench.__main__ import main

#: The lineage bench also runs on PostgreSQL when initdb/pg_ctl are installed (the suite needs them anyway).
POSTGRES = postgres.available()


def _run(capsys: pytest.CaptureFixture[str], *argv: str) -> str:
    assert main([*argv, "--quick"]) == 0
    return capsys.readouterr().out


def test_ingest_bench(capsys: pytest.CaptureFixture[str]) -> None:
    out = _run(capsys, "ingest")
    assert "upsert_batch" in out and "sqlite3 executemany" in out
    assert "entities/s" in out and "edges/s" in out
    assert "re-ingest unchanged batch" in out
    assert re.search(r"^RATIO ingest/sqlite3-executemany = \d+\.\d+x \(target <= 2\.5x", out, re.MULTILINE)
    assert re.search(r"^RATIO ingest-unchanged/first-ingest = \d+\.\d+x \(target <= 0\.1x, 0 rows written\)",
                     out, re.MULTILINE)
    assert "1,000 entities into the 2,000-entity catalog" in out and "peak RSS" in out
    assert re.search(r"^MEMORY ingest-1k into-quick/into-empty = \d+\.\d+x \(target <= 1\.25x, peak RSS\)",
                     out, re.MULTILINE)


def test_lineage_bench(capsys: pytest.CaptureFixture[str]) -> None:
    out = _run(capsys, "lineage")  # builds its own catalog when the ingest bench did not run
    assert "p50" in out and "p99" in out and "bare recursive CTE" in out
    assert re.search(r"^LATENCY lineage p99 = \d+\.\d+ ms \(target <= 20 ms\)", out, re.MULTILINE)
    assert re.search(r"^RATIO lineage/bare-cte = \d+\.\d+x", out, re.MULTILINE)
    assert "same CTE SQL on the sqlite3 cursor" in out
    if POSTGRES:
        assert "same CTE SQL on the psycopg cursor" in out
        assert re.search(r"^LATENCY lineage-postgresql p99 = \d+\.\d+ ms \(target <= 20 ms\)", out, re.MULTILINE)
        assert re.search(r"^RATIO lineage-postgresql/bare-cte = \d+\.\d+x", out, re.MULTILINE)
    else:
        assert "PostgreSQL: initdb/pg_ctl not found, skipped" in out


def test_mlflow_bench(capsys: pytest.CaptureFixture[str]) -> None:
    out = _run(capsys, "mlflow")
    assert "read_mlflow(uri) full" in out and "search_runs" in out
    assert re.search(r"^RATIO mlflow-read/mlflow-search = \d+\.\d+x", out, re.MULTILINE)
    assert re.search(r"^RATIO mlflow-ingest/mlflow-search = \d+\.\d+x", out, re.MULTILINE)
    assert re.search(r"^INCREMENTAL mlflow-ingest unchanged = \d+\.\d+% of the first ingest", out, re.MULTILINE)


def test_benches_share_one_run(capsys: pytest.CaptureFixture[str]) -> None:
    """Several benches in one run (the lineage bench reuses the ingest's catalog) end with a summary."""
    out = _run(capsys, "ingest", "lineage")
    body, summary = out.split("## summary", 1)
    verdict = re.compile(r"^(?:RATIO|LATENCY|INCREMENTAL|MEMORY) .*$", re.MULTILINE)
    assert verdict.findall(summary) == verdict.findall(body)  # every bench's verdicts, in order, once
    names = [line.split(" = ", 1)[0] for line in verdict.findall(summary)]
    lineage = ["LATENCY lineage p99", "RATIO lineage/bare-cte"]
    if POSTGRES:
        lineage += ["LATENCY lineage-postgresql p99", "RATIO lineage-postgresql/bare-cte"]
    assert names[0] == "RATIO ingest/sqlite3-executemany" and names[-len(lineage):] == lineage
    assert "catalog: 2,000 entities, 3,000 edges (SQLite ready in 0.0 s)" in body  # the ingest's catalog, reused


def test_size_option_names_the_sizes_and_quick_is_its_alias(capsys: pytest.CaptureFixture[str]) -> None:
    from bench.common import FULL, MILLION, QUICK, SIZES

    assert SIZES == {"quick": QUICK, "full": FULL, "1m": MILLION}
    assert (QUICK.entities, FULL.entities, MILLION.entities) == (2_000, 100_000, 1_000_000)
    with pytest.raises(SystemExit) as exc:
        main(["--quick", "--size", "1m", "lineage"])
    assert exc.value.code == 2
    assert "--quick (= --size quick) contradicts --size 1m" in capsys.readouterr().err
    with pytest.raises(SystemExit) as exc:
        main(["--size", "10m"])
    assert exc.value.code == 2
    assert "invalid choice: '10m'" in capsys.readouterr().err


def test_size_quick_runs_like_quick(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--size", "quick", "lineage"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("# bench sizes=quick ")
    assert "catalog: 2,000 entities, 3,000 edges" in out
    assert "## summary (--quick: smoke-test sizes" in out


def test_unknown_bench_is_rejected(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        main(["nope"])
    assert exc.value.code == 2
    assert "unknown bench nope" in capsys.readouterr().err


def test_atlas_api_bench(capsys: pytest.CaptureFixture[str]) -> None:
    out = _run(capsys, "atlas_api")
    assert "entity/bulk (client)" in out and "embedded ingest" in out and "guidAssignments" in out
    assert re.search(r"^RATIO atlas-bulk-post/embedded-ingest = \d+\.\d+x \(target <= 1\.5x", out, re.MULTILINE)
    assert re.search(r"^LATENCY atlas-get-entity p99 = \d+\.\d+ ms at 2,000 entities \(target <= 10 ms\)",
                     out, re.MULTILINE)


def test_atlas_search_bench(capsys: pytest.CaptureFixture[str]) -> None:
    out = _run(capsys, "atlas_search")
    assert re.search(r"^LATENCY atlas-search p99 = \d+\.\d+ ms \(target <= 50 ms\)", out, re.MULTILINE)
    assert re.search(r"^RATIO atlas-search/bare-sql = \d+\.\d+x", out, re.MULTILINE)


def test_hook_bench(capsys: pytest.CaptureFixture[str]) -> None:
    out = _run(capsys, "hook")  # a real mlflow server posting to the catalog served on loopback
    assert "5 model versions registered one after another on a real mlflow server" in out
    assert "create_model_version -> readable via the Atlas API" in out and "direct incremental Catalog.ingest" in out
    assert re.search(r"^LATENCY hook-to-visible p99 = \d+ ms over 5 versions \(target <= 1000 ms\)", out, re.MULTILINE)
    assert re.search(r"^RATIO hook-to-visible/direct-ingest = \d+\.\d+x \(target <= 3x, medians\)", out, re.MULTILINE)


def test_push_bench(capsys: pytest.CaptureFixture[str]) -> None:
    out = _run(capsys, "push")  # catalog sync into catalog serve --workers 1 on loopback, then the outbox's cost
    assert re.search(r"^push 2,000 entities \(catalog sync\) +\d", out, re.MULTILINE)
    assert "embedded ingest of the same entities" in out and re.search(r"re-sync, nothing changed .* 0 writes$", out,
                                                                        re.MULTILINE)
    assert re.search(r"^push linking 960 tables Atlas has \(info\) .* \d+ requests \(lookups of 3 kB of names each\), "
                     r"1,040 sent$", out, re.MULTILINE)  # every table found and linked, none written
    assert re.search(r"^REQUESTS push per 1,000 entities = \d+\.\d\d \(target <= 2, \d+ for 2,000 entities, "
                     r"typedef bootstrap apart\) (MET|MISSED)$", out, re.MULTILINE)
    assert re.search(r"^RATIO push/embedded-ingest = \d+\.\d+x \(\d[\d,]* vs \d[\d,]* entities/s\)$", out, re.MULTILINE)
    assert re.search(r"^RATIO ingest-with-outbox/ingest = \d+\.\d+x \(target <= 1\.15x, medians of 3\)", out,
                     re.MULTILINE)


def test_compliance_bench(capsys: pytest.CaptureFixture[str]) -> None:
    out = _run(capsys, "compliance")  # the check in process on the synthetic catalog, then against GX alone
    assert re.search(r"^check, graph rules \(data=False\) +20 ", out, re.MULTILINE)
    assert "GX validate alone, same sample" in out and "500-row CSV sample, 44 expectations" in out
    assert re.search(r"^LATENCY check-graph p99 = \d+\.\d+ ms \(target <= 100 ms\)", out, re.MULTILINE)
    assert re.search(r"^RATIO check-with-gx/gx-alone = \d+\.\d+x \(target <= 1\.2x, medians\)", out, re.MULTILINE)


def test_scoring_bench(capsys: pytest.CaptureFixture[str]) -> None:
    out = _run(capsys, "scoring")  # real Spark, the demo's model through spark_udf, Delta outputs
    assert re.search(r"^bare: csv -> spark_udf -> Delta +1 ", out, re.MULTILINE)
    assert re.search(r"^1,000 rows +5 ", out, re.MULTILINE) and "20,000 rows" in out
    assert re.search(r"^RATIO governed-batch-20k/bare = \d+\.\d+x \(target <= 1\.15x, aim 1\.05x, median of paired "
                     r"rounds\)", out, re.MULTILINE)
    assert re.search(r"^paired ratios governed/bare per round: \[\d+\.\d+\]; ratio of the medians", out, re.MULTILINE)
    assert re.search(r"^LATENCY schema-gate p50 = \d+\.\d ms, \d+\.\d+x between 1k and 20,000 rows", out, re.MULTILINE)
    assert re.search(r"^LATENCY streaming-overhead median = -?\d+ ms per micro-batch over 4 ", out, re.MULTILINE)


def test_graph_bench(capsys: pytest.CaptureFixture[str]) -> None:
    out = _run(capsys, "graph")  # web.graph layout + to_svg of a 500-node neighbourhood, then igraph alone
    assert re.search(r"^layout \+ to_svg, 500 nodes \(max 25 per layer\) +\d", out, re.MULTILINE)
    assert "igraph layout_sugiyama alone, the drawn graph" in out and "every group expanded" in out
    assert re.search(r"^LATENCY graph-500 layout\+svg = \d+ ms \(target <= 2000 ms\) (MET|MISSED)$", out,
                     re.MULTILINE)
    assert re.search(r"^SIZE graph-500 svg = [\d,]+ KB \(target < 2,048 KB, \d+ of 500 entities drawn\) MET$", out,
                     re.MULTILINE)
    assert re.search(r"^RATIO graph-500/sugiyama-drawn = \d+\.\d+x", out, re.MULTILINE)
    assert re.search(r"^RATIO graph-500/sugiyama-all-nodes = \d+\.\d+x", out, re.MULTILINE)


def test_ui_load_bench(capsys: pytest.CaptureFixture[str]) -> None:
    out = _run(capsys, "ui_load")  # catalog serve --workers 2 on loopback, load from a client process
    assert "catalog serve --workers 2" in out and "5 clients" in out
    assert "people: 5 clients, think time 0.5-1.5 s, 3 s per target" in out
    assert "saturation (information): 5 clients, no think time, 3 s per target" in out
    for target in ("healthz", "ui-model-page", "ui-table-page (info)", "ui-lineage-depth3"):  # in both tables
        assert len(re.findall(rf"^{re.escape(target)} +[\d,]+ +\d+ +\d+\.\d ms +\d+\.\d ms +\d+\.\d ms +[\d,]+ +\d+%$",
                              out, re.MULTILINE)) == 2, target
    assert re.search(r"^--workers 1 +[\d,]+ +\d+ ", out, re.MULTILINE) and re.search(r"^--workers 2 +[\d,]+ +\d+ ", out,
                                                                                    re.MULTILINE)
    for name in ("ui-model-page", "ui-lineage-depth3"):
        assert re.search(rf"^LATENCY {name} p95 = \d+\.\d ms \(target <= 100 ms\) (MET|MISSED) \(5 clients with "
                         r"think time 0\.5-1\.5 s, 2,000 entities\)$", out, re.MULTILINE), name
    for name in ("healthz", "ui-model-page", "ui-lineage-depth3"):
        assert re.search(rf"^SATURATION {name} = [\d,]+ requests/s, p50 \d+\.\d ms, p95 \d+\.\d ms \(5 clients "
                         r"without think time, information\)$", out, re.MULTILINE), name
    assert re.search(r"^RATIO ui-model-page/healthz p50 = \d+\.\d\dx$", out, re.MULTILINE)
    assert re.search(r"^ERRORS ui = 0 \(target 0\) MET$", out, re.MULTILINE)
