"""Shared bench helpers: sizes, timing, percentiles, tables, ratio lines, a per-run work dir.

Absolute times drift on the shared 2-core machines this runs on, so every bench
measures its baseline in the same process, interleaved with the measured path,
and prints ``RATIO <bench>/<baseline> = <x>x (target ...)`` as its verdict.
"""

from __future__ import annotations

import contextlib
import gc
import logging
import math
import os
import platform
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Self

__all__ = [
    "FULL",
    "MILLION",
    "QUICK",
    "SIZES",
    "Context",
    "Sizes",
    "fmt_ms",
    "fmt_s",
    "machine",
    "median",
    "percentile",
    "print_table",
    "quiet_logs",
    "ratio_line",
    "timed",
    "timed_cpu",
]


@dataclass(frozen=True)
class Sizes:
    """Everything a bench scales with; ``FULL`` is the documented size, ``QUICK`` the smoke test's.

    ``MILLION`` scales the synthetic catalog (ingest, lineage) to 1,000,000 entities;
    the MLflow bench keeps its full size there (its store is not the catalog's size).
    """

    name: str
    entities: int  # synthetic catalog: entities (edges = 1.5x)
    chain_every: int  # one model chain (run -> version -> deploy -> deployment) per this many entities
    ingest_reps: int
    lineage_calls: int
    lineage_rounds: int
    mlflow_runs: int
    mlflow_versions: int
    mlflow_models: int
    mlflow_experiments: int
    mlflow_reps: int


FULL = Sizes(
    name="full",
    entities=100_000,
    chain_every=100,
    ingest_reps=5,
    lineage_calls=200,
    lineage_rounds=3,
    mlflow_runs=2_000,
    mlflow_versions=200,
    mlflow_models=5,
    mlflow_experiments=4,
    mlflow_reps=5,
)
QUICK = Sizes(
    name="quick",
    entities=2_000,
    chain_every=100,
    ingest_reps=1,
    lineage_calls=20,
    lineage_rounds=1,
    mlflow_runs=40,
    mlflow_versions=8,
    mlflow_models=2,
    mlflow_experiments=2,
    mlflow_reps=1,
)
MILLION = Sizes(
    name="1m",
    entities=1_000_000,
    chain_every=100,
    ingest_reps=3,
    lineage_calls=200,
    lineage_rounds=3,
    mlflow_runs=FULL.mlflow_runs,
    mlflow_versions=FULL.mlflow_versions,
    mlflow_models=FULL.mlflow_models,
    mlflow_experiments=FULL.mlflow_experiments,
    mlflow_reps=FULL.mlflow_reps,
)
#: ``--size`` choices, by name.
SIZES: dict[str, Sizes] = {size.name: size for size in (QUICK, FULL, MILLION)}


@dataclass
class Context:
    """One bench run: its sizes and a temp dir (removed at the end) caching built inputs by key."""

    sizes: Sizes
    root: Path | None = None
    cache: dict[Any, Any] = field(default_factory=dict)

    def dir(self, name: str) -> Path:
        if self.root is None:
            self.root = Path(tempfile.mkdtemp(prefix="catalog-bench-"))
        path = self.root / name
        path.mkdir(parents=True, exist_ok=True)
        return path

    def fresh_dir(self, name: str) -> Path:
        path = self.dir(name)
        shutil.rmtree(path)
        path.mkdir()
        return path

    def cached(self, key: Any, build: Callable[[], Any]) -> Any:
        if key not in self.cache:
            self.cache[key] = build()
        return self.cache[key]

    def close(self) -> None:
        for value in self.cache.values():
            close = getattr(value, "close", None)
            if callable(close):
                with contextlib.suppress(Exception):
                    close()
        self.cache.clear()
        if self.root is not None:
            shutil.rmtree(self.root, ignore_errors=True)
            self.root = None

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def median(values: Sequence[float]) -> float:
    return statistics.median(values)


def percentile(values: Sequence[float], pct: float) -> float:
    """Nearest-rank percentile (p99 of 200 samples is the 198th smallest)."""
    ordered = sorted(values)
    rank = max(1, math.ceil(pct / 100 * len(ordered)))
    return ordered[rank - 1]


def timed(fn: Callable[[], Any]) -> tuple[float, Any]:
    """(seconds, result) of one call; garbage of earlier work is collected first, not charged.

    The collector stays enabled during the call: a real ingest pays for its own garbage.
    """
    gc.collect()
    start = time.perf_counter()
    result = fn()
    return time.perf_counter() - start, result


def timed_cpu(fn: Callable[[], Any]) -> tuple[float, float, Any]:
    """(wall seconds, this process's CPU seconds, result): CPU time ignores other processes' load."""
    gc.collect()
    cpu = time.process_time()
    start = time.perf_counter()
    result = fn()
    return time.perf_counter() - start, time.process_time() - cpu, result


def fmt_s(seconds: float) -> str:
    return f"{seconds:.3f} s"


def fmt_ms(seconds: float) -> str:
    return f"{seconds * 1000:.2f} ms"


def print_table(headers: Sequence[str], rows: Sequence[Sequence[Any]], out: Any = None) -> None:
    out = out or sys.stdout
    text = [[str(c) for c in row] for row in rows]
    widths = [max(len(h), *(len(r[i]) for r in text)) if text else len(h) for i, h in enumerate(headers)]
    line = "  ".join(h.ljust(w) for h, w in zip(headers, widths, strict=True))
    print(line.rstrip(), file=out)
    print("  ".join("-" * w for w in widths), file=out)
    for row in text:
        cells = [c.ljust(w) if i == 0 else c.rjust(w) for i, (c, w) in enumerate(zip(row, widths, strict=True))]
        print("  ".join(cells).rstrip(), file=out)


def ratio_line(name: str, ratio: float, target: float | None, aim: float | None = None, note: str = "") -> str:
    """``RATIO ingest/sqlite3-executemany = 3.1x (target <= 5x, aim 3x) MET``."""
    parts = []
    if target is not None:
        parts.append(f"target <= {target:g}x")
    if aim is not None:
        parts.append(f"aim {aim:g}x")
    if note:
        parts.append(note)
    verdict = "" if target is None else (" MET" if ratio <= target else " MISSED")
    detail = f" ({', '.join(parts)})" if parts else ""
    return f"RATIO {name} = {ratio:.2f}x{detail}{verdict}"


@contextlib.contextmanager
def quiet_logs(*names: str, level: int = logging.WARNING) -> Iterator[None]:
    """Silence chatty INFO loggers (MLflow's and Alembic's migrations) for the duration."""
    loggers = [logging.getLogger(n) for n in names]
    saved = [lg.level for lg in loggers]
    for lg in loggers:
        lg.setLevel(level)
    try:
        yield
    finally:
        for lg, old in zip(loggers, saved, strict=True):
            lg.setLevel(old)


def machine() -> str:
    load = ""
    with contextlib.suppress(OSError, AttributeError):
        load = f" load(1m)={os.getloadavg()[0]:.2f}"
    import sqlite3

    return (
        f"python {platform.python_version()} sqlite {sqlite3.sqlite_version} "
        f"cpus={os.cpu_count()}{load} {platform.machine()} {platform.system()}"
    )
