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

from catalog.scoring import split
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
    masks = [np.zeros(rows, dtype=np.int64) for _ in range(-(-rules // split.BITS))]
    for r, row in enumerate(failed):
        for i, bad in enumerate(row):
            if bad:
                masks[i // split.BITS][r] |= 1 << (i % split.BITS)
    named = [SimpleNamespace(id=f"rule-{i}") for i in range(rules)]
    counts = split.rule_counts(named, masks)
    assert counts == {f"rule-{i}": sum(row[i] for row in failed) for i in range(rules)}
    which = [i for i in range(rules) if i % 3 != 1]
    lists = split.rule_lists(masks, [r.id for r in named], which, rows).to_pylist()
    assert lists == [[f"rule-{i}" for i in which if row[i]] for row in failed]
    assert split.rule_lists(masks, [r.id for r in named], [], rows).to_pylist() == [[]] * rows


@pytest.mark.parametrize("prefix", ["q:4", "0f8fad5b-d9cb-469f-a165-70867728950e:12", "é:0"])
def test_row_ids_are_the_prefix_and_the_position_across_every_digit_count(prefix: str) -> None:
    edges = [0, 1, 9, 10, 99, 100, 9_999, 10_000, 10_001, 99_999_999, 100_000_000, 10**12 + 7, 10**18, 2**63 - 1]
    rng = random.Random(7)
    for positions in ([], [0], edges, sorted(rng.sample(range(3_000_000), 5_000)), list(range(995, 1_012)),
                      sorted(rng.randrange(10**rng.randrange(1, 19)) for _ in range(300))):
        ids = split.row_ids(prefix, np.array(positions, dtype=np.int64))
        ids.validate(full=True)
        assert ids.type == pa.string()
        assert ids.to_pylist() == [f"{prefix}:{p}" for p in positions]


def test_row_ids_out_of_order_are_still_right() -> None:
    assert split.row_ids("r:1", np.array([12, 3, 100, 7])).to_pylist() == ["r:1:12", "r:1:3", "r:1:100", "r:1:7"]


def _collected(rows: int, chunk: int, failed: dict[int, list[int]]) -> pa.Table:
    """A collected batch as the scoring plan returns it: input ``x``, one mask column, the
    prediction, the corrupt record and the source file, in chunks of ``chunk`` rows."""
    mask = np.zeros(rows, dtype=np.int64)
    for row, rules in failed.items():
        for i in rules:
            mask[row] |= 1 << i
    table = pa.table({"x": pa.array([float(i) for i in range(rows)]), "_corrupt_record": pa.nulls(rows, pa.string()),
                      "_failed_0": pa.array(mask), "prediction": pa.array([i / 10 for i in range(rows)]),
                      "_source_file": pa.array([f"in/{i}.csv" if i in failed else None for i in range(rows)])})
    return pa.Table.from_batches(table.to_batches(max_chunksize=chunk))


_RULES = [SimpleNamespace(id="not-null", action="quarantine"), SimpleNamespace(id="range", action="warn"),
          SimpleNamespace(id="set", action="quarantine")]
_CONSTANTS = {"batch_id": (4, pa.int64()), "model_version": ("m/1", pa.string()), "run_id": ("r", pa.string())}


@pytest.mark.parametrize("chunk", [1, 3, 7, 100])
def test_a_split_streams_the_scored_rows_and_builds_the_quarantine_from_the_diverted_ones(
        tmp_path: Path, chunk: int) -> None:
    failed = {0: [0], 2: [1], 3: [1, 2], 5: [0, 1, 2], 9: [1]}  # rows 0, 3, 5 diverted; 2, 9 warned only
    table = _collected(10, chunk, failed)
    rows = split.split(table, _RULES, split.masks_of(_RULES, table), "q:4", _CONSTANTS)
    assert (rows.rows_scored, rows.rows_quarantined, rows.rows_warned) == (7, 3, 2)
    sink = _sink(tmp_path / "p")
    assert sink.append(rows.predictions(), "q", 4) is True
    written = DeltaTable(str(tmp_path / "p")).to_pyarrow_table().sort_by("x")
    assert written.column_names == ["x", "prediction", "prediction_id", "warned_rules", "batch_id", "model_version",
                                    "run_id"]
    assert written.column("x").to_pylist() == [1.0, 2.0, 4.0, 6.0, 7.0, 8.0, 9.0]
    assert written.column("prediction_id").to_pylist() == [f"q:4:{i}" for i in (1, 2, 4, 6, 7, 8, 9)]
    assert written.column("warned_rules").to_pylist() == [[], ["range"], [], [], [], [], ["range"]]
    assert set(written.column("model_version").to_pylist()) == {"m/1"}
    assert set(written.column("batch_id").to_pylist()) == {4}
    bad = rows.quarantine()
    assert bad.column("x").to_pylist() == [0.0, 3.0, 5.0]
    assert bad.column("prediction_id").to_pylist() == ["q:4:0", "q:4:3", "q:4:5"]
    assert bad.column("failed_rules").to_pylist() == [["not-null"], ["set"], ["not-null", "set"]]
    assert bad.column("source_file").to_pylist() == ["in/0.csv", "in/3.csv", "in/5.csv"]
    assert "prediction" not in bad.column_names
    sample = rows.drift_sample(["x"], limit=3)
    assert sample.column("x").to_pylist() == [1.0, 6.0, 9.0]  # every third scored row
    assert rows.drift_sample(["x"], limit=100).column("x").to_pylist() == [1.0, 2.0, 4.0, 6.0, 7.0, 8.0, 9.0]


@pytest.mark.parametrize("fmt", ["delta", "parquet"])
def test_a_predictions_stream_whose_count_disagrees_with_the_split_commits_nothing(tmp_path: Path, fmt: str) -> None:
    table = _collected(6, 2, {1: [0]})
    rows = split.split(table, _RULES, split.masks_of(_RULES, table), "q:0", _CONSTANTS)
    rows.keep_at = np.arange(6)  # the split says six rows are scored; the stream yields five
    sink = _sink(tmp_path / "p", fmt)
    with pytest.raises(Exception, match="the predictions stream yielded 5 rows where 6 were scored"):
        sink.append(rows.predictions(), "q", 0)
    assert _sink(tmp_path / "p", fmt).committed("q") == -1
    if fmt == "parquet":
        assert [p.name for p in (tmp_path / "p").iterdir()] == []  # not even a partial file


def _wide(start: int, rows: int, chunk: int = 10_000) -> pa.Table:
    """The predictions' column kinds (double, long, string, list of strings), in collected chunks."""
    n = np.arange(start, start + rows)
    table = pa.table({"x": pa.array(n / 4.0), "n": pa.array(n, pa.int64()),
                      "id": pa.array([f"q:0:{i}" for i in n]),
                      "rules": pa.array([["r"] if i % 7 == 0 else [] for i in n], pa.list_(pa.string())),
                      "flag": pa.array(n % 2 == 0)})
    return pa.Table.from_batches(table.to_batches(max_chunksize=chunk))


def test_a_large_append_is_written_as_several_files_in_one_commit_with_their_statistics(tmp_path: Path) -> None:
    from catalog.scoring import delta_files

    sink = _sink(tmp_path / "out")
    rows = _wide(0, 600_000)
    assert sink.append(pa.RecordBatchReader.from_batches(rows.schema, rows.to_batches()), "q", 0) is True
    table = DeltaTable(str(tmp_path / "out"))
    assert table.version() == 0 and table.transaction_version("q") == 0  # one commit, the batch's transaction in it
    actions = pa.table(table.get_add_actions(flatten=True)).to_pylist()
    assert len(actions) == delta_files.WRITERS  # written side by side
    assert sum(a["num_records"] for a in actions) == 600_000
    assert min(a["min.n"] for a in actions) == 0 and max(a["max.n"] for a in actions) == 599_999
    assert min(a["min.x"] for a in actions) == 0.0 and max(a["max.x"] for a in actions) == 599_999 / 4.0
    assert all(a["null_count.n"] == 0 for a in actions)
    back = table.to_pyarrow_table().sort_by("n")
    assert back.column("n").to_pylist() == list(range(600_000))
    assert back.column("id").to_pylist()[:2] == ["q:0:0", "q:0:1"] and back.column("rules").to_pylist()[7] == ["r"]
    assert sorted(p.name for p in (tmp_path / "out").glob("*.parquet")) == sorted(a["path"] for a in actions)
    # the next batch goes into the same table, a commit of its own
    assert sink.append(_wide(600_000, 10), "q", 1) is True
    assert DeltaTable(str(tmp_path / "out")).version() == 1
    assert DeltaTable(str(tmp_path / "out")).to_pyarrow_table().num_rows == 600_010


def test_the_row_ids_are_written_without_a_dictionary_and_the_other_columns_with_one(tmp_path: Path) -> None:
    import pyarrow.parquet as pq

    rows = _wide(0, 50_000).append_column("prediction_id", pa.array([f"q:0:{i}" for i in range(50_000)]))
    assert _sink(tmp_path / "out").append(rows, "q", 0) is True
    files = sorted((tmp_path / "out").glob("*.parquet"))
    assert files
    for path in files:
        meta = pq.read_metadata(path)
        names = meta.schema.names
        chunks = {names[i]: meta.row_group(0).column(i) for i in range(meta.num_columns)}
        assert chunks["prediction_id"].has_dictionary_page is False
        assert "PLAIN_DICTIONARY" not in chunks["prediction_id"].encodings
        assert chunks["id"].has_dictionary_page is True and chunks["n"].has_dictionary_page is True
    back = DeltaTable(str(tmp_path / "out")).to_pyarrow_table().sort_by("n")
    assert back.column("prediction_id").to_pylist()[-1] == "q:0:49999"


def test_a_failing_stream_leaves_no_file_behind_in_a_delta_table(tmp_path: Path) -> None:
    rows = _wide(0, 400_000)

    def batches():
        yield from rows.to_batches()
        raise RuntimeError("the stream broke after its last batch")

    sink = _sink(tmp_path / "out")
    assert sink.append(_wide(0, 5), "q", 0) is True
    before = sorted(p.name for p in (tmp_path / "out").glob("*.parquet"))
    with pytest.raises(RuntimeError, match="the stream broke after its last batch"):
        sink.append(pa.RecordBatchReader.from_batches(rows.schema, batches()), "q", 1)
    assert sorted(p.name for p in (tmp_path / "out").glob("*.parquet")) == before
    assert _sink(tmp_path / "out").committed("q") == 0
    assert DeltaTable(str(tmp_path / "out")).to_pyarrow_table().num_rows == 5


def test_the_writers_threads_are_kept_between_appends_and_two_appends_run_at_once(tmp_path: Path) -> None:
    """Fresh threads for every append paid their buffers in page faults again; the pool is
    the module's, sized for the predictions and the quarantine appended side by side."""
    import threading
    from concurrent.futures import ThreadPoolExecutor

    from catalog.scoring import delta_files

    def writers() -> set[int]:
        return {t.ident for t in threading.enumerate() if t.name.startswith("catalog-parquet")}

    first, second = _sink(tmp_path / "a"), _sink(tmp_path / "b")
    assert first.append(_wide(0, 300_000), "q", 0) is True
    kept = writers()
    assert 0 < len(kept) <= 2 * delta_files.WRITERS
    with ThreadPoolExecutor(max_workers=2) as pool:  # two appends at once, as a batch does
        done = [pool.submit(sink.append, _wide(0, 300_000), "q", 1) for sink in (first, second)]
        assert [f.result(timeout=60) for f in done] == [True, True]
    assert kept <= writers() and len(writers()) <= 2 * delta_files.WRITERS  # the same threads, no new ones
    assert DeltaTable(str(tmp_path / "a")).to_pyarrow_table().num_rows == 600_000
    assert DeltaTable(str(tmp_path / "b")).to_pyarrow_table().num_rows == 300_000


def test_tables_the_parallel_writer_cannot_serve_go_through_delta_rs(tmp_path: Path) -> None:
    """A partitioned table, a constraint, a changed schema, a type outside the plain ones:
    ``write_deltalake`` appends them (merging a new column into the schema)."""
    from deltalake import write_deltalake

    from catalog.scoring import delta_files

    plain = _wide(0, 3)
    assert delta_files.plain(None, plain.schema) is True
    stamped = plain.append_column("at", pa.array([0, 1, 2], pa.timestamp("us", tz="UTC")))
    assert delta_files.plain(None, stamped.schema) is False
    assert delta_files.plain(None, pa.schema([("u", pa.uint32())])) is False

    write_deltalake(str(tmp_path / "parted"), plain, partition_by=["flag"])
    assert delta_files.plain(DeltaTable(str(tmp_path / "parted")), plain.schema) is False
    assert _sink(tmp_path / "parted").append(_wide(3, 4), "q", 0) is True
    assert DeltaTable(str(tmp_path / "parted")).to_pyarrow_table().num_rows == 7

    constrained = tmp_path / "constrained"
    write_deltalake(str(constrained), plain)
    DeltaTable(str(constrained)).alter.add_constraint({"n_positive": "n >= 0"})
    assert delta_files.plain(DeltaTable(str(constrained)), plain.schema) is False
    with pytest.raises(Exception, match="3 rows failed validation check"):  # delta-rs enforces it
        _sink(constrained).append(pa.table({c: plain.column(c) for c in plain.column_names}).set_column(
            1, "n", pa.array([-1, -2, -3], pa.int64())), "q", 0)

    sink = _sink(tmp_path / "evolving")
    assert sink.append(plain, "q", 0) is True
    assert delta_files.plain(DeltaTable(str(tmp_path / "evolving")), stamped.schema) is False
    assert sink.append(stamped, "q", 1) is True  # a new column: merged into the table's schema
    back = DeltaTable(str(tmp_path / "evolving")).to_pyarrow_table()
    assert back.num_rows == 6 and "at" in back.column_names
