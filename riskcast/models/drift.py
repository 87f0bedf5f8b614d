"""Drift per feature against the training reference: PSI and the two-sample KS test.

* Population Stability Index (Siddiqi 2006, *Credit Risk Scorecards*, Wiley, ch. 8;
  Yurdakul 2018, *Statistical properties of population stability index*, WMU thesis):
  ``PSI = sum((c_i - r_i) * ln(c_i / r_i))`` over bins cut at the reference's deciles, with
  shares floored at 1e-4 so empty bins stay finite. Rule of thumb: below 0.1 stable, 0.1-0.25
  moderate shift, above 0.25 major shift.
* Kolmogorov-Smirnov two-sample statistic and p-value (``scipy.stats.ks_2samp``).

>>> rng = np.random.default_rng(0)
>>> ref = rng.normal(size=5000)
>>> round(psi(ref, ref), 6)
0.0
>>> psi(ref, rng.normal(size=5000)) < 0.1, psi(ref, rng.normal(1.0, size=5000)) > 0.25
(True, True)
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Final

import msgspec
import numpy as np

from riskcast.exceptions import MissingExtraError, ValidationError

try:
    from scipy.stats import ks_2samp  # type: ignore[import-untyped]
except ImportError as err:  # pragma: no cover - scipy comes with scikit-learn
    raise MissingExtraError("scipy", "ml") from err

#: Rows of training data kept per feature as the drift reference.
REFERENCE_ROWS: Final = 2000
_FLOOR: Final = 1e-4


class FeatureDrift(msgspec.Struct, frozen=True):
    """Drift of one feature: PSI, KS statistic and p-value, and the PSI level."""

    feature: str
    psi: float
    ks: float
    p_value: float
    level: str


def reference_sample(X: np.ndarray[Any, Any], features: Sequence[str], rows: int = REFERENCE_ROWS,
                     seed: int = 0) -> dict[str, list[float]]:
    """Up to ``rows`` training rows per feature (a seeded random subset), stored with a version.

    >>> reference_sample(np.array([[1.0, 2.0], [3.0, 4.0]]), ["a", "b"])
    {'a': [1.0, 3.0], 'b': [2.0, 4.0]}
    """
    if len(X) > rows:
        X = X[np.sort(np.random.default_rng(seed).choice(len(X), rows, replace=False))]
    return {name: X[:, j].astype(float).tolist() for j, name in enumerate(features)}


def psi(reference: Any, current: Any, bins: int = 10) -> float:
    """Population Stability Index of ``current`` against ``reference`` (decile bins)."""
    ref = np.asarray(reference, dtype=float)
    cur = np.asarray(current, dtype=float)
    if ref.size == 0 or cur.size == 0:
        raise ValidationError("drift needs reference and current values", field="rows")
    edges = np.unique(np.quantile(ref, np.linspace(0, 1, bins + 1)[1:-1]))
    r = np.bincount(np.searchsorted(edges, ref, side="right"), minlength=len(edges) + 1)
    c = np.bincount(np.searchsorted(edges, cur, side="right"), minlength=len(edges) + 1)
    rs = np.maximum(r / ref.size, _FLOOR)
    cs = np.maximum(c / cur.size, _FLOOR)
    return float(np.sum((cs - rs) * np.log(cs / rs)))


def level(value: float) -> str:
    """``stable`` (< 0.1), ``moderate`` (< 0.25) or ``major``.

    >>> level(0.05), level(0.2), level(0.3)
    ('stable', 'moderate', 'major')
    """
    return "stable" if value < 0.1 else "moderate" if value < 0.25 else "major"


def feature_drift(reference: Mapping[str, Sequence[float]],
                  current: Mapping[str, Any]) -> list[FeatureDrift]:
    """PSI and KS of every reference feature found in ``current`` (columns by name)."""
    missing = [name for name in reference if name not in current]
    if missing:
        raise ValidationError(f"columns: missing features {missing}", field="columns")
    out = []
    for name, ref in reference.items():
        cur = np.asarray(current[name], dtype=float)
        result = ks_2samp(np.asarray(ref, dtype=float), cur)
        value = psi(ref, cur)
        out.append(FeatureDrift(feature=name, psi=value, ks=float(result.statistic),
                                p_value=float(result.pvalue), level=level(value)))
    return out
