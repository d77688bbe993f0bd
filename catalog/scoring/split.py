"""A collected batch split into its two outputs: the predictions and the quarantined rows.

The scoring plan (``batch``) returns one Arrow table: the input columns, each row rule's
failures as bits of ``long`` mask columns, the prediction and the source file of a diverted
row. Here, in the driver, the masks say where each row goes (``split``): a row that failed
a ``quarantine`` rule is diverted, every other row is scored. Both tables are built from
their own rows only:

- the quarantine table (a few rows, built at once): input columns, ``prediction_id``, the
  ids of the rules the row failed, the raw line, the source file, batch, model and run;
- the predictions (nearly every row) as a stream of record batches, one per collected
  chunk, built while the sink writes them: input columns, ``prediction``,
  ``prediction_id``, the ids of the ``warn`` rules the row failed, batch, model and run.
  Filtering a million rows into a fresh table before writing it cost 100-250 ms of a
  batch (mostly the first touch of 110 MB of new memory); chunk by chunk, the allocator
  reuses the same few megabytes and the building overlaps the encoding. The stream
  counts what it yields and fails before its end when that is not the split's count, so
  the sink never commits a batch whose counts do not add up.

Public API: ``BITS``, ``Split``, ``mask_name``, ``rule_bits``, ``masks_of``, ``hit``,
``rule_counts``, ``rule_lists``, ``row_ids``, ``input_columns``, ``split``.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from catalog.scoring.deployment import ScoringError
from catalog.scoring.source import CORRUPT_COLUMN

if TYPE_CHECKING:
    import numpy as np
    import pyarrow as pa

__all__ = ["BITS", "FILE", "PREDICTION", "ROW_ID", "Split", "hit", "input_columns", "mask_name", "masks_of", "rule_bits",
           "row_ids", "rule_counts", "rule_lists", "split"]

PREDICTION = "prediction"
#: Each output row's stable id: ``<app id>:<batch id>:<position>``.
ROW_ID = "prediction_id"
FILE = "_source_file"
#: Row rules per bitmask column: bit j of ``_failed_<k>`` is rule 62k+j (a long holds 63 bits).
BITS = 62


def mask_name(k: int) -> str:
    return f"_failed_{k}"


def rule_bits(rules: Sequence[Any], wanted: Callable[[Any], bool]) -> list[int]:
    """Per mask column, the bits of the rules ``wanted`` picks."""
    out = [0] * max(1, -(-len(rules) // BITS))
    for i, rule in enumerate(rules):
        if wanted(rule):
            out[i // BITS] |= 1 << (i % BITS)
    return out


def _flags(masks: Sequence[Any], index: int) -> Any:
    """Rule ``index``'s failures, a numpy bool array, from the bitmask columns."""
    return (masks[index // BITS] >> (index % BITS)) & 1 == 1


def masks_of(rules: Sequence[Any], table: pa.Table) -> list[Any]:
    """The collected bitmask columns as numpy arrays."""
    return [table.column(mask_name(k)).to_numpy() for k in range(-(-len(rules) // BITS) or 1)]


def hit(masks: Sequence[Any], bits: Sequence[int]) -> Any:
    """Per row, whether it failed any rule of ``bits`` (one bit pattern per mask column)."""
    import numpy as np

    out = np.zeros(len(masks[0]) if masks else 0, dtype=bool)
    for mask, pattern in zip(masks, bits):
        if pattern:
            out |= (mask & pattern) != 0
    return out


def rule_counts(rules: Sequence[Any], masks: Sequence[Any]) -> dict[str, int]:
    """Rows failing each rule, from the bitmask columns: per rule, a pass over the failing rows only."""
    import numpy as np

    if not masks or len(masks[0]) == 0:
        return {r.id: 0 for r in rules}
    failing = np.flatnonzero(hit(masks, [-1] * len(masks)))
    some = [mask[failing] for mask in masks]
    return {rule.id: int(_flags(some, i).sum()) for i, rule in enumerate(rules)}


def rule_lists(masks: Sequence[Any], ids: list[str], which: list[int], rows: int) -> pa.Array:
    """Per row, the ids of the rules (of ``which``) it failed: a list<string> column, vectorised
    over the rows that failed one of them (most rows fail none)."""
    import numpy as np
    import pyarrow as pa

    offsets = np.zeros(rows + 1, dtype=np.int32)
    if not which or rows == 0:
        return pa.ListArray.from_arrays(pa.array(offsets), pa.array([], type=pa.string()))
    bits = [0] * len(masks)
    for i in which:
        bits[i // BITS] |= 1 << (i % BITS)
    failing = np.flatnonzero(hit(masks, bits))
    some = [mask[failing] for mask in masks]
    matrix = np.column_stack([_flags(some, i) for i in which])
    _, cols = np.nonzero(matrix)  # row-major: each row's failed rules, in rule order
    np.add.at(offsets, failing + 1, matrix.sum(axis=1).astype(np.int32))
    np.cumsum(offsets, out=offsets)
    values = pa.array(np.array([ids[i] for i in which], dtype=object)[cols] if len(cols) else [], type=pa.string())
    return pa.ListArray.from_arrays(pa.array(offsets), values)


#: Decimal digits of a row position: ``10**k`` for k = 1..18 (int64 holds 19 digits).
_POWERS = [10**k for k in range(1, 19)]


@functools.lru_cache(maxsize=1)
def _quads() -> Any:
    """The 10,000 four-digit words, "0000" to "9999", as 32-bit integers."""
    import numpy as np

    return np.array([f"{i:04d}".encode() for i in range(10_000)], dtype="S4").view(np.uint32)


@functools.lru_cache(maxsize=64)
def _record(head: int, digits: int, at: int, size: int) -> Any:
    """A numpy record of ``size`` bytes: ``head`` bytes from 0 (when any), ``digits`` bytes from ``at``."""
    import numpy as np

    names, formats, offsets = (["head"], [f"V{head}"], [0]) if head else ([], [], [])
    return np.dtype({"names": [*names, "digits"], "formats": [*formats, f"V{digits}"], "offsets": [*offsets, at],
                     "itemsize": size})


def row_ids(prefix: str, positions: Any) -> pa.Array:
    """``<prefix>:<position>`` for each position (ascending, as a split's are), as Arrow strings.

    The bytes are laid out with numpy, a block of rows per digit count (ascending positions
    keep each block contiguous): the prefix broadcast down a column, the digits four at a
    time from a table of the 10,000 four-digit words. Joining the prefix to the positions
    cast to strings with ``pyarrow.compute`` cost 75-110 ms per million rows, most of the
    stream the predictions' writers read. Positions out of order, or 2 GiB of ids, take that path.
    """
    import numpy as np
    import pyarrow as pa
    import pyarrow.compute as pc

    at = np.asarray(positions, dtype=np.int64)
    head = f"{prefix}:".encode()
    ordered = not len(at) or (at[0] >= 0 and not np.any(at[1:] < at[:-1]))
    # rows [bounds[w - 1], bounds[w]) have w digits (ascending positions: one block per digit count)
    bounds = [0, *np.searchsorted(at, np.array(_POWERS, dtype=np.int64)).tolist(), len(at)] if ordered else []
    sizes = [(bounds[w] - bounds[w - 1]) * (len(head) + w) for w in range(1, len(bounds))]
    if not ordered or sum(sizes) >= 2**31:
        return pc.binary_join_element_wise(prefix, pc.cast(pa.array(at, pa.int64()), pa.string()), ":")
    quads, data = _quads(), np.empty(sum(sizes), dtype=np.uint8)
    offsets = np.empty(len(at) + 1, dtype=np.int32)
    offsets[len(at)] = len(data)
    start = 0
    for width in range(1, len(bounds)):
        lo, hi = bounds[width - 1], bounds[width]
        if lo == hi:
            continue
        groups, size, rows = -(-width // 4), len(head) + width, hi - lo
        offsets[lo:hi] = np.arange(start, start + rows * size, size, dtype=np.int32)
        # each row as a record of two byte fields: a field is copied as one item per row,
        # where a slice of a 2-d byte array is copied byte by byte (3-4x slower)
        block = data[start:start + rows * size].view(_record(len(head), width, len(head), size))
        start += rows * size
        block["head"] = np.void(head)
        words, rest = np.empty((rows, groups), dtype=np.uint32), at[lo:hi]
        for g in range(groups - 1, -1, -1):  # four digits at a time, from the right
            rest, low = np.divmod(rest, 10_000) if g else (rest, rest)
            words[:, g] = quads[low]
        block["digits"] = words.view(_record(0, width, 4 * groups - width, 4 * groups)).reshape(rows)["digits"]
    return pa.StringArray.from_buffers(len(at), pa.py_buffer(offsets), pa.py_buffer(data))


def input_columns(table_names: Sequence[str]) -> list[str]:
    """The batch's own columns among the collected ones (not the masks, file, corrupt record, prediction)."""
    return [c for c in table_names
            if c not in (FILE, CORRUPT_COLUMN, PREDICTION) and not c.startswith("_failed_")]


@dataclass
class Split:
    """Where each row of a collected batch goes, and the two tables built from it."""

    table: pa.Table
    masks: list[Any]
    rules: Sequence[Any]  # the row rules, in mask order
    keep_at: np.ndarray  # positions of the scored rows
    divert_at: np.ndarray  # positions of the quarantined rows
    warned: np.ndarray  # per row, whether it failed a warn rule
    prefix: str  # ``<app id>:<batch id>``: a row's id is ``<prefix>:<position>``
    constants: dict[str, Any]  # column -> (value, Arrow type): batch_id, model_version, run_id

    @property
    def rows_scored(self) -> int:
        return len(self.keep_at)

    @property
    def rows_quarantined(self) -> int:
        return len(self.divert_at)

    @property
    def rows_warned(self) -> int:
        import numpy as np

        return int(np.count_nonzero(self.warned[self.keep_at])) if len(self.keep_at) else 0

    def _ids(self, positions: Any) -> pa.Array:
        """``<app id>:<batch id>:<row>``: the same for a replayed batch (same files, same order)."""
        return row_ids(self.prefix, positions)

    def _lists(self, positions: Any, which: list[int]) -> pa.Array:
        return rule_lists([m[positions] for m in self.masks], [r.id for r in self.rules], which, len(positions))

    def _constant_columns(self, rows: int) -> list[pa.Array]:
        import pyarrow as pa

        return [pa.repeat(pa.scalar(value, kind), rows) for value, kind in self.constants.values()]

    def quarantine(self) -> pa.Table:
        """Input columns, ``prediction_id``, ``failed_rules``, ``raw_line``, ``source_file``, the constants."""
        import pyarrow as pa

        table, at = self.table, pa.array(self.divert_at)
        which = [i for i, r in enumerate(self.rules) if r.action == "quarantine"]
        raw = (table.column(CORRUPT_COLUMN).take(at) if CORRUPT_COLUMN in table.column_names
               else pa.nulls(len(self.divert_at), pa.string()))
        out = table.select(input_columns(table.column_names)).take(at)
        for name, column in ((ROW_ID, self._ids(self.divert_at)),
                             ("failed_rules", self._lists(self.divert_at, which)),
                             ("raw_line", raw), ("source_file", table.column(FILE).take(at)),
                             *zip(self.constants, self._constant_columns(len(self.divert_at)))):
            out = out.append_column(name, column)
        return out

    def predictions(self) -> pa.RecordBatchReader:
        """The scored rows as a stream: input columns, ``prediction``, ``prediction_id``,
        ``warned_rules``, the constants; one record batch per collected chunk."""
        import pyarrow as pa

        table = self.table.select([*input_columns(self.table.column_names), PREDICTION])
        which = [i for i, r in enumerate(self.rules) if r.action != "quarantine"]
        added = [pa.field(ROW_ID, pa.string()), pa.field("warned_rules", pa.list_(pa.string())),
                 *(pa.field(name, kind) for name, (_, kind) in self.constants.items())]
        schema = pa.schema([*table.schema, *added])
        return pa.RecordBatchReader.from_batches(schema, self._prediction_batches(table, which, schema))

    def _prediction_batches(self, table: pa.Table, which: list[int], schema: pa.Schema) -> Iterator[pa.RecordBatch]:
        import numpy as np
        import pyarrow as pa

        kept = np.ones(self.table.num_rows, dtype=bool)
        kept[self.divert_at] = False
        chunks = table.to_batches()
        # the columns every chunk shares (the constants; no warn rule: empty lists) are built
        # once, as long as the longest chunk, and sliced (no copy) per chunk
        longest = max((c.num_rows for c in chunks), default=0)
        shared = self._constant_columns(longest)
        empty = None if which else rule_lists(self.masks, [], [], longest)
        start = yielded = 0
        for chunk in chunks:
            rows = chunk.num_rows
            keep = kept[start:start + rows]
            positions = np.flatnonzero(keep) + start
            start += rows
            if len(positions) == 0:
                continue
            if len(positions) < rows:
                chunk = chunk.filter(pa.array(keep, pa.bool_()))
            lists = self._lists(positions, which) if empty is None else empty.slice(0, len(positions))
            columns = [*chunk.columns, self._ids(positions), lists, *(c.slice(0, len(positions)) for c in shared)]
            yielded += len(positions)
            yield pa.RecordBatch.from_arrays(columns, schema=schema)
        if yielded != self.rows_scored:  # fails the write before its commit
            raise ScoringError(f"the predictions stream yielded {yielded} rows where {self.rows_scored} were scored")

    def drift_sample(self, columns: list[str], limit: int) -> pa.Table:
        """The scored rows' ``columns`` and prediction: all of them, or ``limit`` evenly spaced."""
        import pyarrow as pa

        table = self.table.select([*columns, PREDICTION])
        if not len(self.divert_at) and table.num_rows <= limit:
            return table
        positions = self.keep_at
        if len(positions) > limit:
            positions = positions[::-(-len(positions) // limit)]
        return table.take(pa.array(positions))


def split(table: pa.Table, rules: Sequence[Any], masks: list[Any], prefix: str,
          constants: dict[str, Any]) -> Split:
    """Where each row goes: diverted when it failed a ``quarantine`` rule, scored otherwise."""
    import numpy as np

    diverted = hit(masks, rule_bits(rules, lambda r: r.action == "quarantine"))
    warned = hit(masks, rule_bits(rules, lambda r: r.action != "quarantine"))
    return Split(table=table, masks=masks, rules=rules, keep_at=np.flatnonzero(~diverted),
                 divert_at=np.flatnonzero(diverted), warned=warned, prefix=prefix, constants=constants)
