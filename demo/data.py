"""A synthetic wine-quality data set with the UCI attributes, made from a seeded RNG.

The marginals follow the published ranges of the UCI red wine quality data
(1599 wines); the main correlations are built in: fixed acidity raises citric
acid and density and lowers pH, alcohol lowers density, free sulfur dioxide
drives total sulfur dioxide, and quality rises with alcohol and sulphates and
falls with volatile acidity, plus noise. Nothing is downloaded or shipped.

Files written under a root directory (``write_demo_data``):

- ``warehouse/default.db/wineds_ext/part-0.csv``: table ``default.wineds_ext``, with the label;
- ``warehouse/default.db/wineds_ext_nolabel/part-0.csv``: ``default.wineds_ext_nolabel``, the
  same wines without ``quality``;
- ``incoming/wine-0001.csv``, ``incoming/wine-0002.csv``: new, unlabelled wines for the
  streaming deployment;
- ``incoming/wine-0003.csv``: more of them, with a few bad rows (a NaN, a missing value,
  an impossible pH, an infinite density) that governed scoring quarantines.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

__all__ = [
    "COLUMNS",
    "FEATURES",
    "LABEL",
    "ROWS",
    "SEED",
    "DemoData",
    "generate_wine",
    "table_dir",
    "write_demo_data",
]

FEATURES = [
    "fixed acidity",
    "volatile acidity",
    "citric acid",
    "residual sugar",
    "chlorides",
    "free sulfur dioxide",
    "total sulfur dioxide",
    "density",
    "pH",
    "sulphates",
    "alcohol",
]
LABEL = "quality"
COLUMNS = [*FEATURES, LABEL]
ROWS = 1599
SEED = 42
TABLE = "default.wineds_ext"
NOLABEL_TABLE = "default.wineds_ext_nolabel"
INCOMING_FILES = 2
INCOMING_ROWS = 40
#: Rows of ``wine-0003.csv`` that break a row check: (column, value as written in the CSV).
BAD_ROWS = (("pH", "NaN"), ("alcohol", ""), ("pH", "9.9"), ("density", "Infinity"))


def _lognormal(median: float, sigma: float, z: np.ndarray) -> np.ndarray:
    return median * np.exp(sigma * z)


def generate_wine(rows: int = ROWS, seed: int = SEED) -> pd.DataFrame:
    """``rows`` wines: the 11 attributes (floats) and ``quality`` (int, 3..9)."""
    rng = np.random.default_rng(seed)
    z = rng.standard_normal((12, rows))
    z_fixed, z_volatile, z_sugar, z_chlorides, z_free, z_alcohol = z[0], z[1], z[2], z[3], z[4], z[5]
    # Correlated standard normals: each mixes its drivers with its own noise, variance 1.
    z_citric = 0.60 * z_fixed - 0.45 * z_volatile + np.sqrt(1 - 0.60**2 - 0.45**2) * z[6]
    z_total = 0.67 * z_free + np.sqrt(1 - 0.67**2) * z[7]
    z_density = 0.65 * z_fixed - 0.50 * z_alcohol + 0.25 * z_sugar + np.sqrt(1 - 0.65**2 - 0.50**2 - 0.25**2) * z[8]
    z_ph = -0.68 * z_fixed + np.sqrt(1 - 0.68**2) * z[9]
    z_sulphates = 0.30 * z_chlorides + np.sqrt(1 - 0.30**2) * z[10]

    free = np.clip(np.round(_lognormal(13.5, 0.6, z_free)), 1, 72)
    df = pd.DataFrame(
        {
            "fixed acidity": np.round(np.clip(8.32 + 1.74 * z_fixed, 4.6, 15.9), 1),
            "volatile acidity": np.round(np.clip(0.528 + 0.179 * z_volatile, 0.12, 1.58), 3),
            "citric acid": np.round(np.clip(0.271 + 0.195 * z_citric, 0.0, 1.0), 2),
            "residual sugar": np.round(np.clip(_lognormal(2.2, 0.35, z_sugar), 0.9, 15.5), 1),
            "chlorides": np.round(np.clip(_lognormal(0.079, 0.3, z_chlorides), 0.012, 0.611), 3),
            "free sulfur dioxide": free,
            "total sulfur dioxide": np.maximum(np.clip(np.round(_lognormal(38.0, 0.6, z_total)), 6, 289), free),
            "density": np.round(np.clip(0.99675 + 0.0019 * z_density, 0.990, 1.004), 5),
            "pH": np.round(np.clip(3.31 + 0.154 * z_ph, 2.74, 4.01), 2),
            "sulphates": np.round(np.clip(_lognormal(0.64, 0.22, z_sulphates), 0.33, 2.0), 2),
            "alcohol": np.round(np.clip(10.42 + 1.07 * z_alcohol, 8.4, 14.9), 1),
        }
    )
    latent = (
        5.64
        + 0.30 * (df["alcohol"] - 10.42)
        - 1.10 * (df["volatile acidity"] - 0.528)
        + 0.90 * (df["sulphates"] - 0.658)
        + 0.62 * z[11]
    )
    df[LABEL] = np.clip(np.round(latent), 3, 9).astype("int64")
    return df[COLUMNS]


def table_dir(root: Path, table: str) -> Path:
    """Where a ``db.table`` lives under ``root``, laid out like a Hive warehouse."""
    database, _, name = table.partition(".")
    return root / "warehouse" / f"{database}.db" / name


@dataclass(frozen=True)
class DemoData:
    """The files ``write_demo_data`` wrote (or found)."""

    table: Path
    nolabel_table: Path
    incoming: tuple[Path, ...]
    rows: int

    @property
    def paths(self) -> tuple[Path, ...]:
        return (self.table, self.nolabel_table, *self.incoming)


def demo_paths(root: Path) -> DemoData:
    return DemoData(
        table=table_dir(root, TABLE) / "part-0.csv",
        nolabel_table=table_dir(root, NOLABEL_TABLE) / "part-0.csv",
        incoming=tuple(root / "incoming" / f"wine-{i:04d}.csv" for i in range(1, INCOMING_FILES + 2)),
        rows=ROWS,
    )


def write_demo_data(root: Path, *, seed: int = SEED) -> DemoData:
    """Write the demo's tables and incoming files under ``root`` (same seed, same bytes)."""
    paths = demo_paths(root)
    wine = generate_wine(ROWS, seed)
    for path in paths.paths:
        path.parent.mkdir(parents=True, exist_ok=True)
    wine.to_csv(paths.table, index=False)
    wine[FEATURES].to_csv(paths.nolabel_table, index=False)
    # New wines, from another stream of the same RNG family, arriving unlabelled.
    fresh = generate_wine(INCOMING_ROWS * INCOMING_FILES, seed + 1)[FEATURES]
    for i, path in enumerate(paths.incoming[:INCOMING_FILES]):
        fresh.iloc[i * INCOMING_ROWS:(i + 1) * INCOMING_ROWS].to_csv(path, index=False)
    _write_with_bad_rows(paths.incoming[INCOMING_FILES], generate_wine(INCOMING_ROWS // 2, seed + 2)[FEATURES])
    return paths


def _write_with_bad_rows(path: Path, wines: pd.DataFrame) -> None:
    """``wines`` as CSV, then one row per ``BAD_ROWS`` entry: a copy of a good row with that value."""
    lines = wines.to_csv(index=False).splitlines()
    for i, (column, value) in enumerate(BAD_ROWS):
        fields = lines[1 + i].split(",")
        fields[FEATURES.index(column)] = value
        lines.append(",".join(fields))
    path.write_text("\n".join(lines) + "\n")


def read_table(path: Path) -> pd.DataFrame:
    """Read a table file written by ``write_demo_data`` back with the generator's dtypes."""
    df = pd.read_csv(path)
    return df.astype({c: "float64" for c in FEATURES if c in df.columns})
