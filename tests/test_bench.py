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

from bench.__main__ import main

RATIO = re.compile(r"^RATIO \S+ = \d+\.\d+x", re.MULTILINE)


def _run(capsys: pytest.CaptureFixture[str], *argv: str) -> str:
    assert main([*argv, "--quick"]) == 0
    return capsys.readouterr().out


def test_ingest_bench(capsys: pytest.CaptureFixture[str]) -> None:
    out = _run(capsys, "ingest")
    assert "upsert_batch" in out and "sqlite3 executemany" in out
    assert "entities/s" in out and "edges/s" in out
    assert "re-ingest unchanged batch" in out
    assert re.search(r"^RATIO ingest/sqlite3-executemany = \d+\.\d+x \(target <= 5x, aim 3x", out, re.MULTILINE)


def test_lineage_bench(capsys: pytest.CaptureFixture[str]) -> None:
    out = _run(capsys, "lineage")  # builds its own catalog when the ingest bench did not run
    assert "p50" in out and "p99" in out and "bare recursive CTE" in out
    assert re.search(r"^LATENCY lineage p99 = \d+\.\d+ ms \(target <= 20 ms\)", out, re.MULTILINE)
    assert re.search(r"^RATIO lineage/bare-cte = \d+\.\d+x", out, re.MULTILINE)


def test_mlflow_bench(capsys: pytest.CaptureFixture[str]) -> None:
    out = _run(capsys, "mlflow")
    assert "read_mlflow(uri) full" in out and "search_runs" in out
    assert re.search(r"^RATIO mlflow-read/mlflow-search = \d+\.\d+x", out, re.MULTILINE)
    assert re.search(r"^RATIO mlflow-ingest/mlflow-search = \d+\.\d+x", out, re.MULTILINE)
    assert re.search(r"^INCREMENTAL mlflow-ingest unchanged = \d+\.\d+% of the first ingest", out, re.MULTILINE)


def test_benches_share_one_run(capsys: pytest.CaptureFixture[str]) -> None:
    """Several benches in one run (the lineage bench reuses the ingest's catalog) end with a summary."""
    out = _run(capsys, "ingest", "lineage")
    summary = out.split("## summary", 1)[1]
    assert len(RATIO.findall(summary)) == 2
    assert "LATENCY lineage p99" in summary


def test_unknown_bench_is_rejected(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        main(["nope"])
    assert exc.value.code == 2
    assert "unknown bench nope" in capsys.readouterr().err
