"""Live performance: predictions scored against the labels that arrive later.

For each labelled row the version's prediction is compared with the truth and added to a daily
(UTC) tally per version: count, correct labels and the Brier score sum (classification), or the
absolute and squared error sums (regression). Brier score: Brier 1950, *Verification of forecasts
expressed in terms of probability*, Monthly Weather Review 78(1), summed over classes for more
than two.

>>> score_outcomes({"labels": [1, 0], "probabilities": [0.8, 0.4], "positive_class": 1}, [1, 1])
{'n': 2, 'correct': 1, 'brier_sum': 0.4, 'abs_error_sum': 0.0, 'sq_error_sum': 0.0}
>>> score_outcomes({"values": [2.0, 5.0]}, [1.0, 5.0])
{'n': 2, 'correct': 0, 'brier_sum': 0.0, 'abs_error_sum': 1.0, 'sq_error_sum': 1.0}
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from riskcast.exceptions import ValidationError


def score_outcomes(answer: Mapping[str, Any], truth: Sequence[Any]) -> dict[str, Any]:
    """The tally of one prediction answer (:meth:`Predictor.predict`) against ``truth``."""
    n = len(truth)
    out: dict[str, Any] = {"n": n, "correct": 0, "brier_sum": 0.0, "abs_error_sum": 0.0,
                           "sq_error_sum": 0.0}
    if "values" in answer:
        try:
            y = np.asarray(truth, dtype=float)
        except (TypeError, ValueError) as err:
            raise ValidationError(f"labels: not numbers: {err}", field="labels") from err
        err_ = np.asarray(answer["values"], dtype=float) - y
        out["abs_error_sum"] = round(float(np.abs(err_).sum()), 12)
        out["sq_error_sum"] = round(float((err_ ** 2).sum()), 12)
        return out
    out["correct"] = int(sum(p == t for p, t in zip(answer["labels"], truth, strict=True)))
    proba = np.asarray(answer["probabilities"], dtype=float)
    if proba.ndim == 1:
        hit = np.array([t == answer["positive_class"] for t in truth], dtype=float)
        brier = (proba - hit) ** 2
    else:
        classes = list(answer["classes"])
        unknown = [t for t in truth if t not in classes]
        if unknown:
            raise ValidationError(f"labels: unknown classes {unknown[:5]}", field="labels")
        onehot = np.zeros_like(proba)
        onehot[np.arange(n), [classes.index(t) for t in truth]] = 1.0
        brier = ((proba - onehot) ** 2).sum(axis=1)
    out["brier_sum"] = round(float(brier.sum()), 12)
    return out


def summarize(task: str, tally: Mapping[str, Any]) -> dict[str, Any]:
    """Metrics from a tally: accuracy and Brier score, or MAE and RMSE.

    >>> summarize("classification", {"n": 4, "correct": 3, "brier_sum": 0.4})
    {'n': 4, 'accuracy': 0.75, 'brier': 0.1}
    """
    n = int(tally["n"])
    if n == 0:
        return {"n": 0}
    if task == "regression":
        return {"n": n, "mae": tally["abs_error_sum"] / n,
                "rmse": float(np.sqrt(tally["sq_error_sum"] / n))}
    return {"n": n, "accuracy": tally["correct"] / n, "brier": tally["brier_sum"] / n}
