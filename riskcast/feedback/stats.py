"""Effectiveness statistics: Wilson lower bound, Beta-Bernoulli posterior, Mann-Kendall trend.

numpy (and scipy for the Beta quantile). The doctests reproduce the vectors in
``shared/data/rec_stats_test_vectors.json`` (measured against scipy and pymannkendall 1.4.3).

References:

- E. B. Wilson (1927), "Probable inference, the law of succession, and statistical inference",
  JASA 22(158): 209-212.
- H. B. Mann (1945), "Nonparametric tests against trend", Econometrica 13(3): 245-259;
  M. G. Kendall (1975), *Rank Correlation Methods*, 4th ed., Griffin.
- P. K. Sen (1968), "Estimates of the regression coefficient based on Kendall's tau",
  JASA 63(324): 1379-1389.
"""

from __future__ import annotations

import importlib
import math
from collections.abc import Sequence
from statistics import NormalDist
from typing import Literal

import msgspec
import numpy as np

from riskcast.exceptions import MissingExtraError

__all__ = [
    "MannKendall",
    "beta_posterior_mean",
    "beta_posterior_quantile",
    "mann_kendall",
    "sens_slope",
    "wilson_lower_bound",
]

Trend = Literal["increasing", "decreasing", "no trend"]


def _z(confidence: float) -> float:
    if not 0.0 < confidence < 1.0:
        raise ValueError(f"confidence {confidence} must be between 0 and 1")
    return NormalDist().inv_cdf(1.0 - (1.0 - confidence) / 2.0)


def wilson_lower_bound(successes: int, trials: int, confidence: float = 0.95) -> float:
    """The lower end of the Wilson score interval for a proportion (two-sided).

    LB = [p + z²/2n - z·√(p(1-p)/n + z²/4n²)] / (1 + z²/n), z the normal quantile of the
    confidence (1.959964 for 95 %); 0 when there are no trials.

    >>> [round(wilson_lower_bound(k, n), 6) for k, n in
    ...  [(1, 1), (5, 5), (9, 10), (3, 4), (50, 100), (95, 100), (500, 1000), (0, 10)]]
    [0.206549, 0.565518, 0.59585, 0.300642, 0.403832, 0.88825, 0.46907, 0.0]
    """
    if trials < 0 or not 0 <= successes <= trials:
        raise ValueError(f"need 0 <= successes <= trials, got {successes}/{trials}")
    if trials == 0:
        return 0.0
    z = _z(confidence)
    n = float(trials)
    p = successes / n
    z2 = z * z
    centre = p + z2 / (2 * n)
    spread = z * math.sqrt(p * (1 - p) / n + z2 / (4 * n * n))
    return max(0.0, (centre - spread) / (1 + z2 / n))


def beta_posterior_mean(successes: int, trials: int, alpha: float = 1.0,
                        beta: float = 1.0) -> float:
    """Mean of the Beta(alpha+s, beta+f) posterior of a Bernoulli rate: (alpha+s)/(alpha+beta+n).

    >>> round(beta_posterior_mean(5, 5), 3), beta_posterior_mean(50, 100)
    (0.857, 0.5)
    """
    if trials < 0 or not 0 <= successes <= trials:
        raise ValueError(f"need 0 <= successes <= trials, got {successes}/{trials}")
    return (alpha + successes) / (alpha + beta + trials)


def beta_posterior_quantile(successes: int, trials: int, q: float = 0.05,
                            alpha: float = 1.0, beta: float = 1.0) -> float:
    """The ``q`` quantile of the Beta(alpha+s, beta+f) posterior: a Bayesian ranking score.

    With a flat prior and no data it is just ``q``; 5/5 successes put the 5 % quantile at
    0.05^(1/6):

    >>> beta_posterior_quantile(0, 0)
    0.05
    >>> round(beta_posterior_quantile(5, 5), 6) == round(0.05 ** (1 / 6), 6)
    True
    """
    if trials < 0 or not 0 <= successes <= trials:
        raise ValueError(f"need 0 <= successes <= trials, got {successes}/{trials}")
    try:
        special = importlib.import_module("scipy.special")
    except ImportError as err:
        raise MissingExtraError("scipy", "ml") from err
    value = float(special.betaincinv(alpha + successes, beta + trials - successes, q))
    return round(value, 12)


class MannKendall(msgspec.Struct, frozen=True):
    """The original Mann-Kendall test (two-sided) with Sen's slope."""

    n: int
    #: Σ_{k<j} sgn(x_j - x_k)
    s: float
    #: Var(S) with the tie correction
    var_s: float
    #: (S∓1)/√Var(S), 0 when S = 0 (continuity correction)
    z: float
    #: two-sided normal p-value of ``z``
    p: float
    #: Kendall's tau-a: S / (n(n-1)/2)
    tau: float
    #: median of the pairwise slopes (x_j - x_i)/(j - i)
    slope: float
    trend: Trend


def sens_slope(x: Sequence[float] | np.ndarray) -> float:
    """Sen's slope: the median of (x_j - x_i)/(j - i) over all pairs i < j.

    >>> sens_slope([1.0, 2.0, 2.0, 3.0, 3.0, 3.0, 4.0, 5.0, 5.0, 6.0, 4.0, 7.0, 8.0, 8.0, 9.0])
    0.5454545454545454
    """
    a = np.asarray(x, dtype=np.float64)
    n = a.size
    if n < 2:
        return float("nan")
    i, j = np.triu_indices(n, k=1)
    return float(np.median((a[j] - a[i]) / (j - i)))


def mann_kendall(x: Sequence[float] | np.ndarray, alpha: float = 0.05) -> MannKendall:
    """The Mann-Kendall trend test on a series in time order.

    S = Σ_{k<j} sgn(x_j - x_k); Var(S) = [n(n-1)(2n+5) - Σ t(t-1)(2t+5)]/18 over tie groups
    of size t; Z = (S-1)/√Var for S > 0, (S+1)/√Var for S < 0, else 0; p two-sided; the trend
    is significant when p < ``alpha``. NaNs are dropped.

    The vector with ties (n = 15):

    >>> r = mann_kendall([1, 2, 2, 3, 3, 3, 4, 5, 5, 6, 4, 7, 8, 8, 9])
    >>> r.s, round(r.var_s, 2), round(r.z, 3), round(r.tau, 3), r.trend
    (92.0, 400.67, 4.546, 0.876, 'increasing')

    A flat series has no trend:

    >>> mann_kendall([3.0, 3.0, 3.0]).trend
    'no trend'
    """
    a = np.asarray(x, dtype=np.float64)
    a = a[~np.isnan(a)]
    n = int(a.size)
    if n < 2:
        return MannKendall(n, 0.0, 0.0, 0.0, 1.0, 0.0, float("nan"), "no trend")
    i, j = np.triu_indices(n, k=1)
    s = float(np.sign(a[j] - a[i]).sum())
    _, counts = np.unique(a, return_counts=True)
    t = counts[counts > 1].astype(np.float64)
    var_s = float((n * (n - 1) * (2 * n + 5) - (t * (t - 1) * (2 * t + 5)).sum()) / 18.0)
    if s > 0 and var_s > 0:
        z = (s - 1) / math.sqrt(var_s)
    elif s < 0 and var_s > 0:
        z = (s + 1) / math.sqrt(var_s)
    else:
        z = 0.0
    p = math.erfc(abs(z) / math.sqrt(2.0))
    tau = s / (n * (n - 1) / 2.0)
    trend: Trend = "no trend"
    if p < alpha:
        trend = "increasing" if z > 0 else "decreasing"
    slope = float(np.median((a[j] - a[i]) / (j - i)))
    return MannKendall(n, s, var_s, z, p, tau, slope, trend)
