"""The statistics against the measured vectors in shared/data/rec_stats_test_vectors.json."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from riskcast.feedback.stats import (
    beta_posterior_mean,
    beta_posterior_quantile,
    mann_kendall,
    sens_slope,
    wilson_lower_bound,
)

DATA = Path(__file__).resolve().parents[2] / ".." / "shared" / "data"
VECTORS: dict[str, Any] = json.loads((DATA / "rec_stats_test_vectors.json").read_text())


@pytest.mark.parametrize(("k", "n", "low"), [(k, n, low) for k, n, low, _ in VECTORS["wilson"]])
def test_wilson_lower_bound_matches_the_vectors(k: int, n: int, low: float) -> None:
    assert wilson_lower_bound(k, n) == pytest.approx(low, abs=1e-6)


def test_wilson_matches_scipy_binomtest() -> None:
    binomtest = pytest.importorskip("scipy.stats").binomtest
    for k, n in [(1, 3), (7, 20), (99, 100), (0, 1)]:
        ci = binomtest(k, n).proportion_ci(method="wilson", confidence_level=0.95)
        assert wilson_lower_bound(k, n) == pytest.approx(ci.low, abs=1e-9)


def test_wilson_rejects_impossible_counts() -> None:
    with pytest.raises(ValueError):
        wilson_lower_bound(3, 2)
    with pytest.raises(ValueError):
        wilson_lower_bound(1, 1, confidence=1.5)


def test_beta_posterior() -> None:
    assert beta_posterior_mean(5, 5) == pytest.approx(6 / 7)
    assert beta_posterior_mean(50, 100) == 0.5
    beta = pytest.importorskip("scipy.stats").beta
    assert beta_posterior_quantile(7, 10, q=0.05) == pytest.approx(beta.ppf(0.05, 8, 4))
    assert beta_posterior_quantile(7, 10, q=0.5, alpha=2, beta=3) == pytest.approx(
        beta.ppf(0.5, 9, 6))


@pytest.mark.parametrize("name", sorted(VECTORS["mann_kendall"]))
def test_mann_kendall_matches_the_vectors(name: str) -> None:
    v = VECTORS["mann_kendall"][name]
    r = mann_kendall(v["x"])
    assert r.n == len(v["x"])
    assert r.s == v["S"]
    assert r.var_s == pytest.approx(v["varS"], rel=1e-12)
    assert r.z == pytest.approx(v["z"], rel=1e-9)
    assert r.p == pytest.approx(v["p"], rel=1e-6)
    assert r.tau == pytest.approx(v["tau"], rel=1e-12)  # tau-a, as pymannkendall
    assert r.slope == pytest.approx(v["sen_slope"], abs=1e-6)  # x is rounded to 1e-6
    assert r.trend == v["trend"]


def test_sens_slope_equals_scipy_theilslopes() -> None:
    theilslopes = pytest.importorskip("scipy.stats").theilslopes
    for v in VECTORS["mann_kendall"].values():
        assert sens_slope(v["x"]) == pytest.approx(theilslopes(v["x"]).slope, rel=1e-12)
        assert sens_slope(v["x"]) == pytest.approx(v["scipy_theil_slope"], abs=1e-6)


def test_tau_a_differs_from_scipys_tau_b_with_ties() -> None:
    v = VECTORS["mann_kendall"]["with_ties"]
    assert mann_kendall(v["x"]).tau == pytest.approx(0.876, abs=5e-4)
    assert v["scipy_kendalltau"] == pytest.approx(0.907, abs=5e-4)


def test_mann_kendall_edges() -> None:
    assert mann_kendall([]).trend == "no trend"
    assert mann_kendall([1.0]).n == 1
    r = mann_kendall([1.0, float("nan"), 2.0, 3.0])
    assert (r.n, r.s) == (3, 3.0)
    decreasing = mann_kendall(np.arange(20.0)[::-1])
    assert decreasing.trend == "decreasing" and decreasing.slope == -1.0
