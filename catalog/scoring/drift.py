"""Per-feature drift of scored batches against the training data, from mergeable binned counts.

Scoring sees each (micro-)batch once, so drift is computed from counts gathered in that
same pass: the training data is profiled once (``Baseline``: bin edges, category lists,
counts), every batch only adds to fixed-size count vectors (``DriftAccumulator.add``,
vectorised ``np.searchsorted``/``np.bincount``), accumulators of several batches or
executors are summed (``merge``) or stored as JSON and summed later, and the statistics
are read off the totals (``report``). No statistic needs a second scan of the data.

Public API: ``DriftSettings``, ``Baseline``, ``DriftAccumulator``, ``DriftReport``.

Definitions (``a``/``e``: the batch's/baseline's proportion per bin or category):

- Numeric features are binned at the baseline's quantiles ``np.quantile(finite, i/bins)``,
  ``i = 1..bins-1``, deduplicated, with -inf/+inf as outer edges; a value equal to an edge
  falls in the upper bin. Null and NaN are counted as ``missing``, ±inf as ``non_finite``;
  neither is binned. Other features are categorical: the baseline's ``max_categories``
  most frequent values (as strings) and ``__other__`` for the rest and for unseen values;
  nulls are ``missing``.
- PSI = sum((a - e) * ln(a / e)) over bins, each proportion floored at 1e-4 (empty bins stay finite).
- KS (binned) = max over the inner bin edges of |CDF_batch - CDF_baseline| at that edge.
- Wasserstein-1 (binned) = the trapezoid rule over the edges x_0 = baseline min,
  x_1..x_m = inner edges, x_m+1 = baseline max, of |CDF_batch - CDF_baseline| (taken as 0
  at the outer bounds): sum_k |dF(x_k)| * (x_k+1 - x_k-1) / 2; reported divided by the
  baseline's (population) std, 1 when that std is 0.
- Jensen-Shannon distance = sqrt of the JS divergence, log base 2, in [0, 1]
  (``scipy.spatial.distance.jensenshannon(p, q, base=2)``), for categorical features.
- Labels (predictions only): numeric predictions rounded to the nearest integer
  (``np.rint``, halves to even), string predictions as they are. Chi-square goodness of fit
  of the batch's label counts against the baseline's proportions, each floored at
  0.5 / (baseline labelled rows) and renormalised; labels unseen in the baseline share one
  ``__other__`` cell; p = ``scipy.stats.chi2.sf``, dof = cells - 1; under 2 cells, no test.
- A feature drifts when any statistic crosses its threshold (``drifted_by`` names them:
  psi, ks, wasserstein above; js above; chi2_p: p below); "no-data" when no binned row
  arrived, else "ok". The report drifts if any feature or the prediction does, is
  "no-data" without any row, else "ok". Report floats have 6 significant digits, never NaN/inf.
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, fields
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

__all__ = ["Baseline", "DriftAccumulator", "DriftReport", "DriftSettings"]

OTHER = "__other__"
_FLOOR = 1e-4
_THRESHOLDS = ("psi", "ks", "wasserstein", "js", "chi2_p")
_ARROW = (pa.Array, pa.ChunkedArray)


@dataclass(frozen=True)
class DriftSettings:
    """Binning of the baseline and the thresholds a report's verdicts use."""

    bins: int = 10
    psi: float = 0.2
    ks: float = 0.2
    wasserstein: float = 0.5
    js: float = 0.1
    chi2_p: float = 0.01
    max_categories: int = 50

    def __post_init__(self) -> None:
        for name in ("bins", "max_categories"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"drift setting {name} must be a positive integer, not {value!r}")
        for name in _THRESHOLDS:
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 <= value < math.inf:
                raise ValueError(f"drift setting {name} must be a non-negative number, not {value!r}")

    @classmethod
    def from_mapping(cls, data: Mapping[str, Any] | None) -> DriftSettings:
        """Settings from a config mapping; a misspelt key is an error, never silently ignored."""
        data = dict(data or {})
        unknown = sorted(set(data) - {f.name for f in fields(cls)})
        if unknown:
            raise ValueError(f"unknown drift setting(s): {', '.join(map(str, unknown))}")
        return cls(**data)


@dataclass(frozen=True)
class _Numeric:
    edges: np.ndarray  # inner edges, ascending; the outer ones are -inf/+inf
    counts: np.ndarray  # len(edges) + 1
    stats: Mapping[str, float | None]  # mean, std, min, max of the finite values
    missing: int = 0
    non_finite: int = 0
    labels: _Categorical | None = None  # numeric predictions only: rounded values as labels


@dataclass(frozen=True)
class _Categorical:
    categories: tuple[str, ...]
    counts: np.ndarray  # len(categories) + 1, the last one __other__
    missing: int = 0


_Profile = _Numeric | _Categorical


class Baseline:
    """The training data's profile: what each batch is binned against and compared with."""

    def __init__(self, profiles: Mapping[str, _Profile], rows: int, prediction: _Profile | None = None,
                 settings: Mapping[str, int] | None = None) -> None:
        self.profiles = dict(profiles)
        self.features: tuple[str, ...] = tuple(self.profiles)
        self.rows = int(rows)
        self.prediction = prediction
        self.settings = dict(settings or {})

    @classmethod
    def from_frame(cls, frame: Any, features: Sequence[str], *, predictions: Any = None,
                   settings: DriftSettings = DriftSettings()) -> Baseline:
        """Profile ``features`` of the training ``frame`` (and the model's ``predictions`` on it)."""
        features = list(dict.fromkeys(features))
        names = set(frame.column_names if hasattr(frame, "column_names") else frame.keys())
        absent = [name for name in features if name not in names]
        if absent:
            raise ValueError(f"features not in the training frame: {', '.join(absent)}")
        rows = len(next(iter(frame.values()))) if isinstance(frame, Mapping) and frame else len(frame)
        profiles = {name: _profile(frame[name], settings) for name in features}
        prediction = None
        if predictions is not None:
            if np.ndim(predictions) != 1:
                raise ValueError("predictions must be one-dimensional")
            if len(predictions) != rows:
                raise ValueError(f"{len(predictions)} predictions for {rows} training rows")
            prediction = _profile(predictions, settings, labels=True)
        return cls(profiles, rows, prediction, {"bins": settings.bins, "max_categories": settings.max_categories})

    def to_json(self) -> dict[str, Any]:
        return {"version": 1, "rows": self.rows, "settings": self.settings,
                "features": {name: _profile_json(p) for name, p in self.profiles.items()},
                "prediction": None if self.prediction is None else _profile_json(self.prediction)}

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Baseline:
        if data.get("version") != 1 or not isinstance(data.get("features"), Mapping):
            raise ValueError("not a version 1 drift baseline")
        prediction = data.get("prediction")
        return cls({str(k): _profile_from_json(v) for k, v in data["features"].items()}, int(data["rows"]),
                   None if prediction is None else _profile_from_json(prediction), data.get("settings"))

    @property
    def digest(self) -> str:
        """Identifies the baseline, so counts binned against another one are never summed."""
        text = json.dumps(self.to_json(), sort_keys=True, separators=(",", ":"), allow_nan=False)
        return hashlib.sha256(text.encode()).hexdigest()

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Baseline) and self.to_json() == other.to_json()

    __hash__ = None  # type: ignore[assignment]


def _is_numeric(values: Any) -> bool:
    """int/float columns (numpy, pandas incl. nullable, pyarrow); bool and everything else are categorical."""
    if isinstance(values, _ARROW):
        return pa.types.is_integer(values.type) or pa.types.is_floating(values.type)
    dtype = getattr(values, "dtype", None)
    if dtype is None:
        dtype = np.asarray(values).dtype
    return getattr(dtype, "kind", "O") in "iuf"


def _floats(values: Any) -> np.ndarray:
    """float64 with nulls as NaN, from pyarrow, pandas (nullable dtypes too) or numpy."""
    if isinstance(values, _ARROW):
        return np.asarray(pc.cast(values, pa.float64()).to_numpy(zero_copy_only=False), dtype=np.float64)
    if hasattr(values, "to_numpy") and not isinstance(values, np.ndarray):
        return values.to_numpy(dtype=np.float64, na_value=np.nan)
    return np.asarray(values, dtype=np.float64)


def _strings(values: Any) -> Any:
    """A pyarrow string array (nulls kept) of a categorical column, so categories compare as text."""
    if isinstance(values, pa.ChunkedArray):
        values = values.combine_chunks()
    elif not isinstance(values, pa.Array):
        try:
            values = pa.array(values, from_pandas=True)
        except (pa.ArrowInvalid, pa.ArrowTypeError, TypeError):  # mixed Python types only
            values = pa.array([None if v is None or v != v else str(v) for v in values], pa.string())
    if pa.types.is_dictionary(values.type):
        values = values.dictionary_decode()
    if not pa.types.is_string(values.type):
        values = pc.cast(values, pa.string())
    return values


def _split_floats(x: np.ndarray) -> tuple[np.ndarray, int, int]:
    """(finite values, missing = null/NaN, non_finite = ±inf)."""
    nan, inf = np.isnan(x), np.isinf(x)
    return x[~(nan | inf)], int(nan.sum()), int(inf.sum())


def _top(values: np.ndarray, counts: np.ndarray, limit: int) -> np.ndarray:
    """Indexes of the ``limit`` largest counts (ties: the smaller value first, so profiles are stable)."""
    return np.lexsort((values, -counts))[:limit]


def _profile(values: Any, settings: DriftSettings, labels: bool = False) -> _Profile:
    """A numeric or categorical profile of one training column (or the predictions)."""
    if not _is_numeric(values):
        return _categorical_profile(_strings(values), settings.max_categories)
    finite, missing, non_finite = _split_floats(_floats(values))
    edges = np.unique(np.quantile(finite, np.arange(1, settings.bins) / settings.bins)) if finite.size else np.empty(0)
    counts = np.bincount(np.searchsorted(edges, finite, side="right"), minlength=edges.size + 1)
    stats = {"mean": float(finite.mean()), "std": float(finite.std()), "min": float(finite.min()),
             "max": float(finite.max())} if finite.size else {"mean": None, "std": None, "min": None, "max": None}
    label_profile = None
    if labels:
        rounded, label_counts = np.unique(np.rint(finite), return_counts=True)
        keep = np.sort(_top(rounded, label_counts, settings.max_categories))
        other = int(label_counts.sum() - label_counts[keep].sum())
        label_profile = _Categorical(tuple(str(int(v)) for v in rounded[keep]),
                                     np.append(label_counts[keep], other).astype(np.int64))
    return _Numeric(edges.astype(np.float64), counts.astype(np.int64), stats, missing, non_finite, label_profile)


def _categorical_profile(values: Any, limit: int) -> _Categorical:
    counted = pc.value_counts(values.drop_null())
    names = np.asarray(counted.field("values").to_pylist(), dtype=object)
    counts = np.asarray(counted.field("counts").to_numpy(zero_copy_only=False), dtype=np.int64)
    keep = _top(names.astype(str), counts, limit) if names.size else np.empty(0, dtype=np.int64)
    other = int(counts.sum() - counts[keep].sum())
    return _Categorical(tuple(str(n) for n in names[keep]), np.append(counts[keep], other).astype(np.int64),
                        int(values.null_count))


def _profile_json(p: _Profile) -> dict[str, Any]:
    if isinstance(p, _Categorical):
        return {"kind": "categorical", "categories": list(p.categories), "counts": p.counts.tolist(),
                "missing": p.missing}
    labels = {} if p.labels is None else {"labels": _profile_json(p.labels)}
    return {"kind": "numeric", "edges": p.edges.tolist(), "counts": p.counts.tolist(), **p.stats,
            "missing": p.missing, "non_finite": p.non_finite, **labels}


def _profile_from_json(data: Mapping[str, Any]) -> _Profile:
    counts = np.asarray(data["counts"], dtype=np.int64)
    if data.get("kind") == "categorical":
        categories = tuple(str(c) for c in data["categories"])
        if counts.size != len(categories) + 1:
            raise ValueError("a categorical profile needs one count per category and one for __other__")
        return _Categorical(categories, counts, int(data.get("missing", 0)))
    if data.get("kind") != "numeric":
        raise ValueError(f"unknown profile kind {data.get('kind')!r}")
    edges = np.asarray(data["edges"], dtype=np.float64)
    if counts.size != edges.size + 1 or np.any(np.diff(edges) <= 0):
        raise ValueError("a numeric profile needs ascending edges and one count more than edges")
    labels = data.get("labels")
    stats = {k: None if data.get(k) is None else float(data[k]) for k in ("mean", "std", "min", "max")}
    return _Numeric(edges, counts, stats, int(data.get("missing", 0)), int(data.get("non_finite", 0)),
                    None if labels is None else _profile_from_json(labels))


@dataclass
class _Counts:
    """One column's counts over the batches so far, aligned with its baseline profile."""

    counts: np.ndarray
    missing: int = 0
    non_finite: int = 0
    labels: np.ndarray | None = None

    @classmethod
    def empty(cls, p: _Profile) -> _Counts:
        labels = getattr(p, "labels", None)
        return cls(np.zeros_like(p.counts), labels=None if labels is None else np.zeros_like(labels.counts))

    def __add__(self, other: _Counts) -> _Counts:
        labels = None if self.labels is None else self.labels + other.labels
        return _Counts(self.counts + other.counts, self.missing + other.missing,
                       self.non_finite + other.non_finite, labels)


def _category_counts(values: Any, p: _Categorical) -> tuple[np.ndarray, int]:
    """Counts per baseline category (unseen -> __other__) and the nulls, without a loop over rows."""
    strings = _strings(values)
    valid = pc.is_valid(strings).to_numpy(zero_copy_only=False)
    index = pc.fill_null(pc.index_in(strings, value_set=pa.array(p.categories, pa.string())), len(p.categories))
    index = np.asarray(index.to_numpy(zero_copy_only=False), dtype=np.int64)[valid]
    return np.bincount(index, minlength=len(p.categories) + 1), int(valid.size - valid.sum())


def _label_counts(finite: np.ndarray, p: _Categorical) -> np.ndarray:
    """Counts of rounded numeric predictions per baseline label (sorted integers), the rest -> __other__."""
    known = np.asarray([float(c) for c in p.categories], dtype=np.float64)
    rounded = np.rint(finite)
    pos = np.clip(np.searchsorted(known, rounded), 0, max(known.size - 1, 0))
    hit = known[pos] == rounded if known.size else np.zeros(rounded.size, dtype=bool)
    return np.bincount(np.where(hit, pos, known.size), minlength=known.size + 1)


def _count(values: Any, p: _Profile, what: str) -> _Counts:
    """One batch column's counts against its profile."""
    if isinstance(p, _Categorical):
        counts, missing = _category_counts(values, p)
        return _Counts(counts, missing)
    try:
        finite, missing, non_finite = _split_floats(_floats(values))
    except (TypeError, ValueError, ArithmeticError) as exc:
        raise ValueError(f"{what} is numeric in the baseline but not in the batch: {exc}") from None
    counts = np.bincount(np.searchsorted(p.edges, finite, side="right"), minlength=p.edges.size + 1)
    labels = None if p.labels is None else _label_counts(finite, p.labels)
    return _Counts(counts, missing, non_finite, labels)


class DriftAccumulator:
    """Counts of the batches scored so far, binned against one baseline; summed with ``merge``."""

    def __init__(self, baseline: Baseline) -> None:
        self.baseline = baseline
        self.rows = 0
        self.columns = {name: _Counts.empty(p) for name, p in baseline.profiles.items()}
        self.prediction = None if baseline.prediction is None else _Counts.empty(baseline.prediction)

    def add(self, columns: Mapping[str, Any], predictions: Any = None) -> None:
        """Count one batch: every baseline feature must be a column of it, all of one length."""
        absent = [name for name in self.baseline.features if name not in columns]
        if absent:
            raise ValueError(f"features not in the batch: {', '.join(absent)}")
        if predictions is not None and self.baseline.prediction is None:
            raise ValueError("the baseline has no predictions to compare the batch's with")
        lengths = {len(columns[name]) for name in self.baseline.features} | (
            set() if predictions is None else {len(predictions)})
        if len(lengths) > 1:
            raise ValueError(f"the batch's columns differ in length: {sorted(lengths)}")
        counted = {name: _count(columns[name], p, name) for name, p in self.baseline.profiles.items()}
        if predictions is not None:
            self.prediction += _count(predictions, self.baseline.prediction, "the prediction")
        for name, counts in counted.items():
            self.columns[name] += counts
        self.rows += lengths.pop() if lengths else 0

    def merge(self, other: DriftAccumulator) -> DriftAccumulator:
        """A new accumulator with the sum of both's counts (neither is changed)."""
        if other.baseline is not self.baseline and other.baseline.digest != self.baseline.digest:
            raise ValueError("cannot merge drift counts binned against different baselines")
        merged = DriftAccumulator(self.baseline)
        merged.rows = self.rows + other.rows
        merged.columns = {name: c + other.columns[name] for name, c in self.columns.items()}
        if self.prediction is not None and other.prediction is not None:
            merged.prediction = self.prediction + other.prediction
        return merged

    def to_json(self) -> dict[str, Any]:
        return {"version": 1, "baseline": self.baseline.digest, "rows": self.rows,
                "features": {name: _counts_json(c) for name, c in self.columns.items()},
                "prediction": None if self.prediction is None else _counts_json(self.prediction)}

    @classmethod
    def from_json(cls, data: Mapping[str, Any], baseline: Baseline) -> DriftAccumulator:
        if data.get("version") != 1 or data.get("baseline") != baseline.digest:
            raise ValueError("these drift counts were not binned against this baseline")
        acc = cls(baseline)
        acc.rows = int(data["rows"])
        acc.columns = {name: _counts_from_json(data["features"][name], acc.columns[name])
                       for name in baseline.features}
        if acc.prediction is not None and data.get("prediction") is not None:
            acc.prediction = _counts_from_json(data["prediction"], acc.prediction)
        return acc

    def report(self, settings: DriftSettings = DriftSettings()) -> DriftReport:
        features = {name: _column_report(self.baseline.profiles[name], c, settings)
                    for name, c in self.columns.items()}
        prediction = None
        if self.baseline.prediction is not None and self.prediction is not None:
            prediction = _column_report(self.baseline.prediction, self.prediction, settings, labels=True)
        verdicts = [r["verdict"] for r in features.values()] + ([prediction["verdict"]] if prediction else [])
        verdict = "no-data" if self.rows == 0 else "drift" if "drift" in verdicts else "ok"
        thresholds = {name: float(getattr(settings, name)) for name in _THRESHOLDS}
        return DriftReport(features, prediction, verdict, self.rows, thresholds)


def _counts_json(c: _Counts) -> dict[str, Any]:
    labels = {} if c.labels is None else {"labels": c.labels.tolist()}
    return {"counts": c.counts.tolist(), "missing": c.missing, "non_finite": c.non_finite, **labels}


def _counts_from_json(data: Mapping[str, Any], empty: _Counts) -> _Counts:
    counts = np.asarray(data["counts"], dtype=np.int64)
    labels = None if empty.labels is None else np.asarray(data["labels"], dtype=np.int64)
    if counts.shape != empty.counts.shape or (labels is not None and labels.shape != empty.labels.shape):
        raise ValueError("drift counts do not fit the baseline's bins")
    return _Counts(counts, int(data.get("missing", 0)), int(data.get("non_finite", 0)), labels)


def _proportions(counts: np.ndarray) -> np.ndarray:
    total = counts.sum()
    return counts / total if total else np.zeros(counts.shape, dtype=np.float64)


def _psi(a: np.ndarray, e: np.ndarray) -> float:
    a, e = np.maximum(a, _FLOOR), np.maximum(e, _FLOOR)
    return float(np.sum((a - e) * np.log(a / e)))


def _numeric_stats(p: _Numeric, counts: np.ndarray) -> dict[str, float]:
    """PSI, binned KS and binned Wasserstein-1 / std (definitions in the module docstring)."""
    a, e = _proportions(counts), _proportions(p.counts)
    gap = np.abs(np.cumsum(a)[:-1] - np.cumsum(e)[:-1])  # at the inner edges
    wasserstein = 0.0
    if gap.size and p.stats["min"] is not None:
        x = np.concatenate(([p.stats["min"]], p.edges, [p.stats["max"]]))
        wasserstein = float(np.sum(gap * (x[2:] - x[:-2]) / 2)) / (p.stats["std"] or 1.0)
    return {"psi": _psi(a, e), "ks": float(gap.max()) if gap.size else 0.0, "wasserstein": wasserstein}


def _js(p: _Categorical, counts: np.ndarray) -> float:
    from scipy.spatial.distance import jensenshannon

    if not p.counts.sum():
        return 1.0  # nothing was seen in training: every batch value is new
    value = float(jensenshannon(p.counts.astype(np.float64), counts.astype(np.float64), base=2))
    return min(max(value, 0.0), 1.0) if math.isfinite(value) else 0.0


def _chi2(p: _Categorical, observed: np.ndarray) -> dict[str, Any] | None:
    """Goodness of fit of the batch's labels against the baseline's proportions; None under 2 cells."""
    from scipy.stats import chi2

    base = p.counts.astype(np.float64)
    cells = np.flatnonzero((base > 0) | (observed > 0))
    total_base, n = base.sum(), int(observed.sum())
    if cells.size < 2 or not total_base or not n:
        return None
    share = np.maximum(base[cells] / total_base, 0.5 / total_base)
    expected = n * share / share.sum()
    obs = observed[cells].astype(np.float64)
    stat = float(np.sum((obs - expected) ** 2 / expected))
    names = [(p.categories + (OTHER,))[i] for i in cells]
    return {"chi2": stat, "p_value": float(chi2.sf(stat, cells.size - 1)), "dof": int(cells.size - 1),
            "observed": dict(zip(names, observed[cells].tolist())), "expected": dict(zip(names, expected.tolist()))}


def _column_report(p: _Profile, c: _Counts, settings: DriftSettings, labels: bool = False) -> dict[str, Any]:
    """One feature's (or the prediction's) statistics, the thresholds they cross and its verdict."""
    rows = int(c.counts.sum())
    out: dict[str, Any] = {"kind": "numeric" if isinstance(p, _Numeric) else "categorical", "rows": rows,
                           "missing": c.missing}
    if isinstance(p, _Numeric):
        out["non_finite"] = c.non_finite
    drifted: list[str] = []
    if rows:
        stats = _numeric_stats(p, c.counts) if isinstance(p, _Numeric) else {"js": _js(p, c.counts)}
        out.update(stats)
        drifted = [name for name, value in stats.items() if value > getattr(settings, name)]
        if labels:
            test = _chi2(p.labels, c.labels) if isinstance(p, _Numeric) else _chi2(p, c.counts)
            if test is not None:
                out["labels"] = test
                drifted += ["chi2_p"] if test["p_value"] < settings.chi2_p else []
    out["verdict"] = "no-data" if not rows else "drift" if drifted else "ok"
    out["drifted_by"] = drifted
    return out


def _clean(value: Any) -> Any:
    """JSON-ready: 6 significant digits, numpy scalars as Python ones, NaN/inf as null."""
    if isinstance(value, Mapping):
        return {str(k): _clean(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_clean(v) for v in value]
    if isinstance(value, (bool, np.bool_)):
        return bool(value)
    if isinstance(value, (int, np.integer)):
        return int(value)
    if isinstance(value, (float, np.floating)):
        return float(f"{float(value):.6g}") if math.isfinite(value) else None
    return value


@dataclass(frozen=True)
class DriftReport:
    """Drift of the batches counted so far; ``to_json`` is what a scoring run records as ``drift``."""

    features: Mapping[str, Mapping[str, Any]]
    prediction: Mapping[str, Any] | None
    verdict: str
    rows: int = 0
    thresholds: Mapping[str, float] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return _clean({"verdict": self.verdict, "thresholds": self.thresholds, "rows": self.rows,
                       "features": self.features, "prediction": self.prediction})
