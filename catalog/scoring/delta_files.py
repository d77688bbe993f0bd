"""A Delta append whose Parquet files are written by pyarrow, two at once, and committed by delta-rs.

``deltalake.write_deltalake`` encodes one Parquet file on one thread; for the predictions of
a large batch that is most of the append (a million rows of the wine table: 0.26 s, and
0.21 s this way: pyarrow's encoder releases the GIL, so two files are written side by side). Here the rows (a table or a stream of record batches)
are spread over ``WRITERS`` files, each written by its own thread from a shared iterator,
and the files are committed in one Delta commit by deltalake's transaction API
(``create_write_transaction``, ``create_table_with_add_actions``) with the same application
transaction as before: nothing is visible until that commit, and an append that fails
removes its files.

Only plain tables take this path (``plain``): no partition columns, no column mapping, no
constraints or generated columns, a writer protocol of at most 2, a schema that is the
rows' own, and column types whose Parquet form every Delta reader shares (signed integers,
float, double, boolean, string, lists of strings). Everything else goes through
``write_deltalake`` (which also merges a changed schema).

Public API: ``WRITERS``, ``DISTINCT``, ``plain``, ``append_files``.
"""

from __future__ import annotations

import json
import math
import threading
import time
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor, wait
from pathlib import Path
from typing import TYPE_CHECKING, Any

from catalog.scoring.split import ROW_ID

if TYPE_CHECKING:
    import pyarrow as pa

__all__ = ["DISTINCT", "WRITERS", "append_files", "plain"]

#: Parquet files written at once for one append.
WRITERS = 2
#: Rows per Parquet row group: the collected chunks (10,000 rows each) are gathered up to
#: this many (a row group per chunk made the file twice as large and three times as slow).
GROUP_ROWS = 1 << 18
#: The writers' threads, kept between appends: a new thread starts with an empty heap in
#: Arrow's allocator, so fresh threads for every append paid their buffers in page faults
#: again (a million predictions, timed alone: 7,300 page faults and 337-339 ms; on threads
#: kept, 510 and 278-283 ms). Twice ``WRITERS``: the predictions and the quarantine are
#: appended at once. (The executor starts its threads at the first append, not here.)
_POOL = ThreadPoolExecutor(max_workers=2 * WRITERS, thread_name_prefix="catalog-parquet")
#: Table settings a writer must honour (CHECK constraints, column mapping). Generated and
#: identity columns live in the schema's field metadata, which the schema comparison sees.
_TABLE_KEYS = ("delta.constraints.", "delta.columnMapping.mode")
#: Columns whose every value is distinct (the job's row ids), written without a dictionary:
#: Parquet's writer builds one for a column until it outgrows a page, then abandons it for
#: plain encoding, so a dictionary here is work thrown away (a million predictions: 259 ->
#: 241 ms to encode, the file 2% smaller).
DISTINCT = (ROW_ID,)


def _plain_type(kind: pa.DataType) -> bool:
    import pyarrow as pa

    if pa.types.is_list(kind):
        return pa.types.is_string(kind.value_type)
    return (pa.types.is_signed_integer(kind) or pa.types.is_float32(kind) or pa.types.is_float64(kind)
            or pa.types.is_boolean(kind) or pa.types.is_string(kind))


def plain(table: Any, schema: pa.Schema) -> bool:
    """Whether rows of ``schema`` may be appended to ``table`` (a DeltaTable, or None for a new
    one) by ``append_files``."""
    from deltalake import Schema

    if not all(_plain_type(f.type) for f in schema):
        return False
    if table is None:
        return True
    metadata = table.metadata()
    if metadata.partition_columns or table.protocol().min_writer_version > 2:
        return False
    if any(key.startswith(_TABLE_KEYS) for key in metadata.configuration):
        return False
    return json.loads(table.schema().to_json()) == json.loads(Schema.from_arrow(schema).to_json())


def _stats(path: Path, schema: pa.Schema) -> str:
    """Delta's per-file statistics, as JSON, from the file's Parquet footer."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    meta = pq.read_metadata(path)
    low: dict[str, Any] = {}
    high: dict[str, Any] = {}
    nulls: dict[str, int] = {}
    index = {name: i for i, name in enumerate(meta.schema.names)}
    for field in schema:
        if pa.types.is_list(field.type) or field.name not in index:
            continue
        at, lows, highs, count, known = index[field.name], [], [], 0, True
        for g in range(meta.num_row_groups):
            stats = meta.row_group(g).column(at).statistics
            if stats is None or not stats.has_null_count:
                known = False
                break
            count += stats.null_count
            if stats.has_min_max:
                lows.append(stats.min)
                highs.append(stats.max)
        if not known:
            continue
        nulls[field.name] = count
        if lows and not pa.types.is_boolean(field.type):
            lo, hi = min(lows), max(highs)
            if not (isinstance(lo, float) and not (math.isfinite(lo) and math.isfinite(hi))):
                low[field.name], high[field.name] = lo, hi
    return json.dumps({"numRecords": meta.num_rows, "minValues": low, "maxValues": high, "nullCount": nulls})


def _write(folder: Path, batches: Iterator[pa.RecordBatch], lock: threading.Lock, schema: pa.Schema,
           written: list[Path]) -> Path | None:
    """Write the batches this thread takes from the shared iterator to one new file."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    writer = None
    path = folder / f"part-{uuid.uuid4()}-c000.snappy.parquet"
    group: list[pa.RecordBatch] = []
    rows = 0
    try:
        while True:
            with lock:
                batch = next(batches, None)
            if batch is not None and batch.num_rows:
                group.append(batch)
                rows += batch.num_rows
            if group and (batch is None or rows >= GROUP_ROWS):
                if writer is None:
                    with lock:
                        written.append(path)
                    writer = pq.ParquetWriter(path, schema, compression="snappy",
                                              use_dictionary=[f.name for f in schema if f.name not in DISTINCT])
                writer.write_table(pa.Table.from_batches(group, schema), row_group_size=GROUP_ROWS)
                group, rows = [], 0
            if batch is None:
                return path if writer is not None else None
    finally:
        if writer is not None:
            writer.close()


def append_files(uri: str, folder: Path, table: Any, rows: pa.Table | pa.RecordBatchReader,
                 commit_properties: Any) -> bool:
    """Write ``rows`` as up to ``WRITERS`` files and commit them as one append; False (nothing
    committed, nothing left) when there were no rows. A failing stream removes its files."""
    import pyarrow as pa
    from deltalake import Schema
    from deltalake.transaction import AddAction, create_table_with_add_actions

    schema = rows.schema
    batches = iter(rows.to_batches() if isinstance(rows, pa.Table) else rows)
    lock = threading.Lock()
    written: list[Path] = []
    folder.mkdir(parents=True, exist_ok=True)
    try:
        futures = [_POOL.submit(_write, folder, batches, lock, schema, written) for _ in range(WRITERS)]
        wait(futures)  # every writer done before a failure's files are removed
        files = [p for p in (f.result() for f in futures) if p is not None]
        if not files:
            return False
        now = int(time.time() * 1000)
        actions = [AddAction(path.name, path.stat().st_size, {}, now, True, _stats(path, schema)) for path in files]
        if table is None:
            create_table_with_add_actions(uri, Schema.from_arrow(schema), actions, mode="append",
                                          commit_properties=commit_properties)
        else:
            table.create_write_transaction(actions, mode="append", schema=schema,
                                           commit_properties=commit_properties)
        written.clear()  # committed: the files are the table's now
        return True
    finally:
        for path in written:
            path.unlink(missing_ok=True)
