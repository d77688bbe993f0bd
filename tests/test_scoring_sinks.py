"""catalog.scoring.sinks and the batch's bitmask bookkeeping, without Spark.

The Delta sink keeps the table it read between batches; these tests pin that it still sees
what another writer (another process, a restarted query) committed in between, so a batch
is written exactly once. The bitmask helpers are checked against a plain per-row loop.
"""

from __future__ import annotations

import random
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pyarrow as pa
import pytest
from deltalake import DeltaTable

from catalog.scoring import batch
from catalog.scoring.deployment import Location
from catalog.scoring.sinks import open_sink


def _table(start: int, rows: int) -> pa.Table:
    return pa.table({"n": pa.array(range(start, start + rows), pa.int64())})


def _sink(path: Path, fmt: str = "delta"):
    return open_sink(Location(str(path), path, fmt))


def test_a_delta_sink_sees_batches_another_writer_committed_since_it_last_read(tmp_path: Path) -> None:
    first, second = _sink(tmp_path / "out"), _sink(tmp_path / "out")
    assert first.committed("q") == -1
    assert first.append(_table(0, 3), "q", 0) is True
    assert first.append(_table(0, 3), "q", 0) is False  # a replay of batch 0
    assert second.append(_table(0, 3), "q", 0) is False  # another writer sees it too
    assert second.append(_table(3, 2), "q", 1) is True
    assert first.committed("q") == 1  # first read the table before batch 1 was written
    assert first.append(_table(3, 2), "q", 1) is False
    assert first.append(_table(5, 1), "q", 2) is True
    assert second.committed("q") == 2 and second.committed("other") == -1
    assert sorted(DeltaTable(str(tmp_path / "out")).to_pyarrow_table().column("n").to_pylist()) == list(range(6))


def test_a_parquet_sink_writes_a_batch_once(tmp_path: Path) -> None:
    sink = _sink(tmp_path / "pq", "parquet")
    assert sink.append(_table(0, 2), "q", 4) is True
    assert sink.append(_table(0, 2), "q", 4) is False
    assert _sink(tmp_path / "pq", "parquet").committed("q") == 4


@pytest.mark.parametrize("rules", [3, 62, 63, 130])
def test_rule_counts_and_lists_match_a_per_row_loop(rules: int) -> None:
    rng = random.Random(rules)
    rows = 500
    failed = [[rng.random() < 0.02 for _ in range(rules)] for _ in range(rows)]
    failed[7] = [True] * rules  # a row failing every rule
    masks = [np.zeros(rows, dtype=np.int64) for _ in range(-(-rules // batch._BITS))]
    for r, row in enumerate(failed):
        for i, bad in enumerate(row):
            if bad:
                masks[i // batch._BITS][r] |= 1 << (i % batch._BITS)
    named = [SimpleNamespace(id=f"rule-{i}") for i in range(rules)]
    counts = batch._rule_counts(named, masks)
    assert counts == {f"rule-{i}": sum(row[i] for row in failed) for i in range(rules)}
    which = [i for i in range(rules) if i % 3 != 1]
    lists = batch._rule_lists(masks, [r.id for r in named], which, rows).to_pylist()
    assert lists == [[f"rule-{i}" for i in which if row[i]] for row in failed]
    assert batch._rule_lists(masks, [r.id for r in named], [], rows).to_pylist() == [[]] * rows
