"""Drift from mergeable binned counts: statistics pinned against hand computations and scipy.

Baselines are built from small pandas frames; batches arrive as numpy arrays or pyarrow
arrays, as a Spark scoring job hands them over. No mocks: every assertion is on values.
"""

from __future__ import annotations

import json
import math

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest
from scipy.spatial.distance import jensenshannon
from scipy.stats import chisquare

from catalog.scoring.drift import Baseline, DriftAccumulator, DriftReport, DriftSettings

WINE = ("fixed acidity", "volatile acidity", "citric acid", "residual sugar", "chlorides", "free sulfur dioxide",
        "total sulfur dioxide", "density", "pH", "sulphates", "alcohol")


def _normal_baseline(rows: int = 20_000, seed: int = 0) -> tuple[pd.DataFrame, Baseline]:
    frame = pd.DataFrame({"x": np.random.default_rng(seed).normal(0.0, 1.0, rows)})
    return frame, Baseline.from_frame(frame, ["x"])


def _report(baseline: Baseline, columns: dict, predictions=None, settings: DriftSettings = DriftSettings()) -> dict:
    acc = DriftAccumulator(baseline)
    acc.add(columns, predictions)
    out = acc.report(settings).to_json()
    json.dumps(out, allow_nan=False)
    return out


def test_the_training_data_itself_does_not_drift() -> None:
    frame, baseline = _normal_baseline()
    report = _report(baseline, {"x": frame["x"].to_numpy()})
    x = report["features"]["x"]
    assert (x["psi"], x["ks"], x["wasserstein"]) == (0.0, 0.0, 0.0)
    assert x["verdict"] == "ok" and x["drifted_by"] == [] and report["verdict"] == "ok"
    assert report["rows"] == x["rows"] == 20_000


def test_a_sample_of_the_same_distribution_is_ok() -> None:
    _, baseline = _normal_baseline()
    batch = np.random.default_rng(1).normal(0.0, 1.0, 20_000)
    x = _report(baseline, {"x": pa.array(batch)})["features"]["x"]
    assert x["psi"] < 0.01 and x["ks"] < 0.02 and x["wasserstein"] < 0.05
    assert x["verdict"] == "ok"


def test_a_shift_of_two_std_drifts_by_every_numeric_statistic() -> None:
    _, baseline = _normal_baseline()
    batch = np.random.default_rng(1).normal(2.0, 1.0, 20_000)
    report = _report(baseline, {"x": batch})
    x = report["features"]["x"]
    assert x["psi"] > 0.2 and x["ks"] > 0.2
    assert x["wasserstein"] == pytest.approx(2.0, rel=0.1)  # the shift, in baseline std
    assert x["verdict"] == "drift" and x["drifted_by"] == ["psi", "ks", "wasserstein"]
    assert report["verdict"] == "drift"


def test_psi_ks_and_wasserstein_of_two_bins_by_hand() -> None:
    baseline = Baseline.from_frame(pd.DataFrame({"x": [0.0, 0.0, 1.0, 1.0]}), ["x"], settings=DriftSettings(bins=2))
    assert baseline.to_json()["features"]["x"]["edges"] == [0.5]
    assert baseline.to_json()["features"]["x"]["counts"] == [2, 2]
    x = _report(baseline, {"x": np.array([0.0, 1.0, 1.0, 1.0])})["features"]["x"]
    psi = (0.25 - 0.5) * math.log(0.25 / 0.5) + (0.75 - 0.5) * math.log(0.75 / 0.5)
    assert x["psi"] == pytest.approx(psi, rel=1e-5) and x["psi"] == pytest.approx(0.25 * math.log(3), rel=1e-5)
    assert x["ks"] == 0.25
    # trapezoid over x = [min 0, edge 0.5, max 1]: |dF(0.5)| * (1 - 0) / 2, over the std 0.5
    assert x["wasserstein"] == pytest.approx(0.25 * 0.5 / 0.5)
    # an empty bin: the batch's proportion is floored at 1e-4, PSI stays finite
    x = _report(baseline, {"x": np.ones(4)})["features"]["x"]
    assert x["psi"] == pytest.approx((1e-4 - 0.5) * math.log(1e-4 / 0.5) + 0.5 * math.log(2), rel=1e-5)


def test_edges_are_deduplicated_quantiles_and_ties_go_to_the_upper_bin() -> None:
    frame = pd.DataFrame({"q": [5, 5, 5, 5, 6, 6, 6, 7, 7, 8]})
    baseline = Baseline.from_frame(frame, ["q"], settings=DriftSettings(bins=4))
    profile = baseline.to_json()["features"]["q"]
    assert profile["edges"] == np.unique(np.quantile(frame["q"], [0.25, 0.5, 0.75])).tolist() == [5.0, 6.0, 6.75]
    assert profile["counts"] == [0, 4, 3, 3]
    assert (profile["min"], profile["max"]) == (5.0, 8.0)


def test_merging_two_halves_equals_one_add_of_the_whole() -> None:
    rng = np.random.default_rng(3)
    frame = pd.DataFrame({"x": rng.normal(size=1000), "c": rng.choice(list("abcd"), 1000)})
    baseline = Baseline.from_frame(frame, ["x", "c"], predictions=rng.normal(5, 1, 1000))
    x, c, pred = rng.normal(0.5, 1, 999), rng.choice(list("abcde"), 999), rng.normal(5.5, 1, 999)
    x[::50] = np.nan
    whole, first, second = DriftAccumulator(baseline), DriftAccumulator(baseline), DriftAccumulator(baseline)
    whole.add({"x": x, "c": c}, pred)
    first.add({"x": x[:400], "c": c[:400]}, pred[:400])
    second.add({"x": pa.array(x[400:]), "c": pa.array(c[400:])}, pa.array(pred[400:]))
    merged = first.merge(second)
    assert merged.to_json() == whole.to_json()
    assert merged.report().to_json() == whole.report().to_json()
    assert first.to_json()["rows"] == 400  # merge leaves its inputs alone
    other = Baseline.from_frame(frame.head(500), ["x", "c"], predictions=rng.normal(5, 1, 500))
    with pytest.raises(ValueError, match="different baselines"):
        first.merge(DriftAccumulator(other))


def test_baseline_and_counts_round_trip_through_json() -> None:
    rng = np.random.default_rng(4)
    frame = pd.DataFrame({"x": rng.normal(size=500), "c": pd.Categorical(rng.choice(["r", "w"], 500)),
                          "n": pd.array([1, None, 3] * 166 + [2, 2], dtype="Int64")})
    baseline = Baseline.from_frame(frame, ["x", "c", "n"], predictions=rng.choice(["good", "bad"], 500))
    data = json.loads(json.dumps(baseline.to_json(), allow_nan=False))
    again = Baseline.from_json(data)
    assert again.to_json() == baseline.to_json() and again == baseline and again.digest == baseline.digest
    assert again.features == ("x", "c", "n") and again.rows == 500
    assert baseline.to_json()["features"]["n"]["missing"] == 166
    acc = DriftAccumulator(baseline)
    acc.add({"x": rng.normal(size=300), "c": rng.choice(["r", "w", "rosé"], 300), "n": rng.integers(1, 4, 300)},
            rng.choice(["good", "bad"], 300))
    restored = DriftAccumulator.from_json(json.loads(json.dumps(acc.to_json())), again)
    assert restored.to_json() == acc.to_json()
    assert restored.report().to_json() == acc.report().to_json()
    with pytest.raises(ValueError, match="not binned against this baseline"):
        DriftAccumulator.from_json(acc.to_json(), Baseline.from_frame(frame, ["x"]))


def test_nulls_nan_and_inf_are_counted_not_binned() -> None:
    _, baseline = _normal_baseline(1000)
    acc = DriftAccumulator(baseline)
    acc.add({"x": np.array([0.1, np.nan, np.inf, -np.inf, 0.2])})
    acc.add({"x": pa.array([0.3, None, None, float("nan")], pa.float64())})
    acc.add({"x": [None, 0.4]})
    x = acc.report().to_json()["features"]["x"]
    assert (x["rows"], x["missing"], x["non_finite"]) == (4, 5, 2)
    assert sum(acc.to_json()["features"]["x"]["counts"]) == 4
    assert acc.report().to_json()["rows"] == 11
    frame = pd.DataFrame({"x": [1.0, np.nan, np.inf, 2.0, 3.0]})
    profile = Baseline.from_frame(frame, ["x"], settings=DriftSettings(bins=2)).to_json()["features"]["x"]
    assert (sum(profile["counts"]), profile["missing"], profile["non_finite"], profile["max"]) == (3, 1, 1, 3.0)


def test_a_feature_without_finite_rows_has_no_data() -> None:
    _, baseline = _normal_baseline(1000)
    report = _report(baseline, {"x": np.array([np.nan, np.inf])})
    assert report["features"]["x"] == {"kind": "numeric", "rows": 0, "missing": 1, "non_finite": 1,
                                       "verdict": "no-data", "drifted_by": []}
    assert report["verdict"] == "ok"  # rows arrived; the feature alone has no data


def test_categorical_jensen_shannon_distance() -> None:
    frame = pd.DataFrame({"colour": ["red"] * 60 + ["white"] * 40})
    baseline = Baseline.from_frame(frame, ["colour"])
    same = _report(baseline, {"colour": np.array(["red"] * 30 + ["white"] * 20)})["features"]["colour"]
    assert same == {"kind": "categorical", "rows": 50, "missing": 0, "js": 0.0, "verdict": "ok", "drifted_by": []}
    disjoint = _report(baseline, {"colour": pa.array(["rosé", "orange", None])})["features"]["colour"]
    assert (disjoint["js"], disjoint["verdict"], disjoint["drifted_by"]) == (1.0, "drift", ["js"])
    assert (disjoint["rows"], disjoint["missing"]) == (2, 1)
    batch = ["red"] * 50 + ["white"] * 50
    expected = float(jensenshannon([60, 40, 0], [50, 50, 0], base=2))
    for threshold, verdict in ((expected * 0.9, "drift"), (expected * 1.1, "ok")):
        got = _report(baseline, {"colour": batch}, settings=DriftSettings(js=threshold))["features"]["colour"]
        assert got["js"] == pytest.approx(expected, rel=1e-5) and got["verdict"] == verdict


def test_categories_beyond_the_limit_count_as_other() -> None:
    frame = pd.DataFrame({"c": ["a"] * 5 + ["b"] * 4 + ["c"] * 3 + ["d"]})
    profile = Baseline.from_frame(frame, ["c"], settings=DriftSettings(max_categories=2)).to_json()["features"]["c"]
    assert (profile["categories"], profile["counts"]) == (["a", "b"], [5, 4, 4])


def test_label_chi_square_matches_scipy() -> None:
    rng = np.random.default_rng(5)
    baseline_labels = rng.choice(["bad", "good", "great"], 1000, p=[0.3, 0.5, 0.2])
    baseline = Baseline.from_frame(pd.DataFrame({"x": rng.normal(size=1000)}), ["x"], predictions=baseline_labels)
    batch = np.array(["bad"] * 45 + ["good"] * 35 + ["great"] * 20 + ["new"] * 3)
    pred = _report(baseline, {"x": rng.normal(size=103)}, batch)["prediction"]
    labels = pred["labels"]
    counts = {k: int((baseline_labels == k).sum()) for k in ("bad", "good", "great")}
    share = np.array([counts["bad"], counts["good"], counts["great"], 0.5]) / 1000
    expected = 103 * share / share.sum()
    scipy_stat, scipy_p = chisquare([45, 35, 20, 3], f_exp=expected)
    assert labels["observed"] == {"bad": 45, "good": 35, "great": 20, "__other__": 3}
    assert labels["dof"] == 3
    assert labels["chi2"] == pytest.approx(scipy_stat, rel=1e-5)
    assert labels["p_value"] == pytest.approx(scipy_p, rel=1e-5)
    assert [labels["expected"][k] for k in ("bad", "good", "great", "__other__")] == pytest.approx(
        expected.tolist(), rel=1e-5)
    assert ("chi2_p" in pred["drifted_by"]) == (scipy_p < 0.01) and pred["kind"] == "categorical"


def test_regressor_predictions_are_rounded_into_labels() -> None:
    rng = np.random.default_rng(6)
    train = np.concatenate([rng.uniform(4.6, 5.4, 300), rng.uniform(5.6, 6.4, 700)])
    baseline = Baseline.from_frame(pd.DataFrame({"x": rng.normal(size=1000)}), ["x"], predictions=train)
    assert baseline.to_json()["prediction"]["labels"]["categories"] == ["5", "6"]
    ok = _report(baseline, {"x": rng.normal(size=10)}, np.array([4.7, 5.2, 5.8, 6.1, 6.3, 5.9, 6.2, 6.0, 5.7, 4.9]))
    labels = ok["prediction"]["labels"]
    assert labels["observed"] == {"5": 3, "6": 7} and labels["dof"] == 1
    assert labels["p_value"] == pytest.approx(chisquare([3, 7], f_exp=[3.0, 7.0]).pvalue)
    shifted = _report(baseline, {"x": rng.normal(size=200)}, pa.array(rng.uniform(6.6, 7.4, 200)))["prediction"]
    assert shifted["labels"]["observed"] == {"5": 0, "6": 0, "__other__": 200}
    assert "chi2_p" in shifted["drifted_by"] and shifted["verdict"] == "drift"


def test_settings_from_a_mapping() -> None:
    assert DriftSettings.from_mapping(None) == DriftSettings()
    assert DriftSettings.from_mapping({"psi": 0.1, "bins": 20}) == DriftSettings(psi=0.1, bins=20)
    with pytest.raises(ValueError, match="unknown drift setting.*psy"):
        DriftSettings.from_mapping({"psy": 0.1})
    with pytest.raises(ValueError, match="bins"):
        DriftSettings.from_mapping({"bins": 0})


def test_a_missing_feature_is_named() -> None:
    frame = pd.DataFrame({"pH": [3.0, 3.1]})
    with pytest.raises(ValueError, match="alcohol"):
        Baseline.from_frame(frame, ["pH", "alcohol"])
    with pytest.raises(ValueError, match="pH"):
        DriftAccumulator(Baseline.from_frame(frame, ["pH"])).add({"alcohol": np.ones(2)})


def test_no_batch_or_an_empty_one_has_no_data() -> None:
    _, baseline = _normal_baseline(100)
    acc = DriftAccumulator(baseline)
    assert acc.report().to_json() == {"verdict": "no-data", "thresholds": DriftReport(
        {}, None, "ok", 0, dict(psi=0.2, ks=0.2, wasserstein=0.5, js=0.1, chi2_p=0.01)).to_json()["thresholds"],
        "rows": 0, "prediction": None,
        "features": {"x": {"kind": "numeric", "rows": 0, "missing": 0, "non_finite": 0,
                           "verdict": "no-data", "drifted_by": []}}}
    acc.add({"x": pa.array([], pa.float64())})
    report = acc.report()
    assert report.verdict == "no-data" and report.features["x"]["verdict"] == "no-data"
    json.dumps(report.to_json(), allow_nan=False)


def test_report_json_is_finite_and_six_digits() -> None:
    baseline = Baseline.from_frame(pd.DataFrame({"x": [1.0, 1.0, 1.0]}), ["x"], predictions=[1.0, 1.0, 1.0])
    report = _report(baseline, {"x": np.array([1.0, 2.0, np.inf])}, np.array([1.0, 3.0, np.nan]))
    text = json.dumps(report, allow_nan=False)
    assert "NaN" not in text and "Infinity" not in text
    assert report["features"]["x"]["psi"] == float(f"{report['features']['x']['psi']:.6g}")


def test_a_million_rows_of_eleven_features() -> None:
    rng = np.random.default_rng(7)
    baseline = Baseline.from_frame(pd.DataFrame({name: rng.normal(size=5000) for name in WINE}), WINE,
                                   predictions=rng.normal(5.6, 0.8, 5000))
    columns = {name: rng.normal(size=1_000_000) for name in WINE}
    columns["pH"][::1000] = np.nan
    columns["alcohol"] = pa.chunked_array([columns["alcohol"][:600_000], columns["alcohol"][600_000:]])
    acc = DriftAccumulator(baseline)
    acc.add(columns, rng.normal(5.6, 0.8, 1_000_000))
    report = acc.report().to_json()
    assert report["rows"] == 1_000_000
    for name in WINE:
        feature = report["features"][name]
        assert feature["rows"] + feature["missing"] + feature["non_finite"] == 1_000_000
    assert report["features"]["pH"]["missing"] == 1000
    assert sum(report["prediction"]["labels"]["observed"].values()) == 1_000_000
