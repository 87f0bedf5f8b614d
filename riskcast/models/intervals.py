"""Prediction intervals for regressors: split-conformal half-widths from out-of-fold residuals.

At training, every row's absolute out-of-fold residual ``|y - ŷ|`` from cross-validation is
kept; the half-width for coverage ``1 - a`` is the ``⌈(n + 1)(1 - a)⌉``-th smallest of the
``n`` residuals, the split-conformal rule (Lei, G'Sell, Rinaldo, Tibshirani & Wasserman 2018,
*Distribution-free predictive inference for regression*, JASA 113(523)). The interval of a
new prediction ``ŷ`` is ``ŷ ± q``. With residuals from K-fold CV of models fitted on part of
the data and the final model fitted on all of it, this is the CV variant: coverage is about
``1 - a`` (Barber, Candès, Ramdas & Tibshirani 2021, *Predictive inference with the
jackknife+*, Ann. Statist. 49(1), guarantee at least ``1 - 2a`` for CV+), and it holds on
average over rows, not for each row: the width is the same everywhere.

>>> q = halfwidths(np.arange(1.0, 100.0))
>>> q["0.9"], q["0.5"]
(90.0, 50.0)
>>> answer = interval([10.0], q, 0.9)
>>> answer["level"], answer["lower"], answer["upper"]
(0.9, [-80.0], [100.0])
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any, Final

import numpy as np

from riskcast.exceptions import ValidationError

#: Coverages stored with a version.
LEVELS: Final = (0.5, 0.8, 0.9, 0.95)
DEFAULT_LEVEL: Final = 0.9
METHOD: Final = "split-conformal (cross-validation residuals)"


def halfwidths(residuals: Any, levels: Sequence[float] = LEVELS) -> dict[str, float]:
    """Half-widths by coverage (keys like ``"0.9"``) from absolute residuals; a coverage the
    residuals are too few for is left out."""
    r = np.sort(np.abs(np.asarray(residuals, dtype=float)))
    r = r[np.isfinite(r)]
    out: dict[str, float] = {}
    for level in levels:
        k = math.ceil((r.size + 1) * level)
        if 1 <= k <= r.size:
            out[f"{level:g}"] = float(r[k - 1])
    return out


def interval(values: Sequence[float], conformal: Mapping[str, float],
             level: float = DEFAULT_LEVEL) -> dict[str, Any]:
    """The interval at ``level`` around each value; :class:`ValidationError` for a level the
    version has no half-width for."""
    key = f"{level:g}"
    q = conformal.get(key)
    if q is None:
        raise ValidationError(f"no {key} interval for this version; stored levels: "
                              f"{', '.join(sorted(conformal)) or 'none'}", field="level")
    v = np.asarray(values, dtype=float)
    return {"level": float(key), "method": METHOD, "lower": (v - q).tolist(),
            "upper": (v + q).tolist()}
