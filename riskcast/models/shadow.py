"""Shadow mode: ``staging`` scored beside ``production`` on the same live rows, compared.

The live pipeline predicts each feature row with both versions when ``staging`` is set (and
differs from ``production``) and hands both answers to :meth:`ShadowTally.record`; only
production's is stored and published. Per (production, staging) pair this keeps the rows
compared, how often the two agree (classification: the same label; regression: not defined),
and the mean and largest absolute difference of their scores (P(positive class), the class
probabilities' largest difference, or the values). Kept in memory: a restart starts over.

>>> t = ShadowTally()
>>> t.record("m", 1, 2, "classification", np.array([0.9, 0.2]), np.array([0.7, 0.6]), "now")
>>> t.report("m")[0]["agreement"], round(t.report("m")[0]["mean_abs_difference"], 3)
(0.5, 0.3)
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np


@dataclass
class _Pair:
    production: int
    staging: int
    rows: int = 0
    agree: int = 0
    diff_sum: float = 0.0
    diff_max: float = 0.0
    since: str = ""
    last: str = ""


class ShadowTally:
    """Comparisons of production and staging per model name."""

    def __init__(self) -> None:
        self._pairs: dict[tuple[str, int, int], _Pair] = {}

    def record(self, name: str, production: int, staging: int, task: str,
               prod: np.ndarray[Any, Any], stage: np.ndarray[Any, Any], at: str) -> None:
        """Add rows scored by both versions (``prod`` and ``stage``: the scores of
        ``Predictor.scores`` or forecast values, same shape)."""
        pair = self._pairs.get((name, production, staging))
        if pair is None:
            pair = self._pairs[(name, production, staging)] = _Pair(production, staging,
                                                                    since=at)
        a, b = np.asarray(prod, dtype=float), np.asarray(stage, dtype=float)
        if a.ndim == 2:
            diff = np.abs(a - b).max(axis=1)
            agree = int((a.argmax(axis=1) == b.argmax(axis=1)).sum())
        else:
            diff = np.abs(a - b)
            agree = int(((a > 0.5) == (b > 0.5)).sum()) if task == "classification" else 0
        pair.rows += len(diff)
        pair.agree += agree
        pair.diff_sum += float(diff.sum())
        pair.diff_max = max(pair.diff_max, float(diff.max(initial=0.0)))
        pair.last = at

    def report(self, name: str, task: str = "classification") -> list[dict[str, Any]]:
        """Every comparison of ``name``, oldest pair first."""
        out = []
        for (model, _, _), p in self._pairs.items():
            if model != name or not p.rows:
                continue
            out.append({"production": p.production, "staging": p.staging, "rows": p.rows,
                        "agreement": p.agree / p.rows if task == "classification" else None,
                        "mean_abs_difference": p.diff_sum / p.rows,
                        "max_abs_difference": p.diff_max, "since": p.since, "last": p.last})
        return out
