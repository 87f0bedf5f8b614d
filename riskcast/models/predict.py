"""Predicting with a registered version: feature rows in, probabilities or values out.

Rows come as dicts by feature name, as lists in the version's feature order, or as columns.
LightGBM models are served through their booster (``clf.booster_.predict``), which costs tens
of microseconds for one row where the scikit-learn wrapper costs about a millisecond.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any, Final

import numpy as np

from riskcast.exceptions import ValidationError
from riskcast.models.intervals import DEFAULT_LEVEL, interval
from riskcast.models.records import ModelVersion

if TYPE_CHECKING:
    from riskcast.models.compiled import CompiledTrees

#: Most rows in one online request and in one batch.
MAX_ROWS: Final = 1_000
MAX_BATCH_ROWS: Final = 100_000
#: Rows from which a batch goes through the compiled library (below, the booster is as fast).
_COMPILED_MIN_ROWS: Final = 1_000


def to_matrix(features: Sequence[str], rows: Sequence[Any] | None = None,
              columns: Mapping[str, Sequence[float]] | None = None,
              limit: int = MAX_BATCH_ROWS) -> np.ndarray[Any, np.dtype[np.float64]]:
    """A (rows x features) float array from ``rows`` (dicts or lists) or ``columns``.

    Refused with :class:`ValidationError` naming the row and feature at fault.

    >>> to_matrix(["a", "b"], rows=[{"a": 1, "b": 2}, [3, 4]]).tolist()
    [[1.0, 2.0], [3.0, 4.0]]
    >>> to_matrix(["a"], rows=[{"b": 1}])
    Traceback (most recent call last):
    ...
    riskcast.exceptions.ValidationError: rows[0]: missing feature 'a'
    """
    if (rows is None) == (columns is None):
        raise ValidationError("give either rows or columns", field="rows")
    if columns is not None:
        missing = [f for f in features if f not in columns]
        if missing:
            raise ValidationError(f"columns: missing features {missing}", field="columns")
        try:
            X = np.column_stack([np.asarray(columns[f], dtype=float) for f in features])
        except (ValueError, TypeError) as err:
            raise ValidationError(f"columns: {err}", field="columns") from err
    else:
        assert rows is not None
        out = np.empty((len(rows), len(features)), dtype=float)
        for i, row in enumerate(rows):
            if isinstance(row, Mapping):
                for j, name in enumerate(features):
                    if name not in row:
                        raise ValidationError(f"rows[{i}]: missing feature {name!r}",
                                              field=f"rows[{i}].{name}")
                    out[i, j] = _number(row[name], f"rows[{i}].{name}")
            else:
                if len(row) != len(features):
                    raise ValidationError(f"rows[{i}]: {len(row)} values for "
                                          f"{len(features)} features", field=f"rows[{i}]")
                for j, value in enumerate(row):
                    out[i, j] = _number(value, f"rows[{i}][{j}]")
        X = out
    if len(X) == 0:
        raise ValidationError("no rows", field="rows")
    if len(X) > limit:
        raise ValidationError(f"{len(X)} rows; at most {limit} per request", field="rows")
    return X


def series_values(scores: np.ndarray[Any, Any]) -> np.ndarray[Any, Any]:
    """What a served model writes to its derived series for :meth:`Predictor.scores`:
    P(positive class) for binary classifiers, the most likely class index for more classes,
    the value for regressors.

    >>> series_values(np.array([[0.2, 0.5, 0.3]])).tolist(), series_values(np.array([0.7]))
    ([1.0], array([0.7]))
    """
    return np.argmax(scores, axis=1).astype(float) if scores.ndim == 2 else scores


def _number(value: Any, where: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValidationError(f"{where}: not a number: {value!r}", field=where)
    return float(value)


class Predictor:
    """One loaded version, ready to answer: :meth:`predict` takes a float matrix."""

    def __init__(self, meta: ModelVersion, model: Any) -> None:
        self.meta = meta
        self.model = model
        is_lightgbm = type(model).__module__.startswith("lightgbm")
        self.booster = model.booster_ if is_lightgbm else None
        classes = getattr(model, "classes_", None)
        self.classes = None if classes is None else np.asarray(classes)
        #: The compiled library of a LightGBM model, once built (batches use it).
        self.compiled: CompiledTrees | None = None

    def _raw(self, X: np.ndarray[Any, Any]) -> Any:
        if len(X) >= _COMPILED_MIN_ROWS:
            if self.compiled is not None:
                return self.compiled.predict(X)
            assert self.booster is not None
            return self.booster.predict(X)
        assert self.booster is not None
        # A few rows on one thread: OpenMP's barrier costs nothing on an idle machine but
        # milliseconds at the p99 on a busy one (measured: 10-20 ms against 0.1-0.9 ms).
        return self.booster.predict(X, num_threads=1)

    def scores(self, X: np.ndarray[Any, Any]) -> np.ndarray[Any, Any]:
        """P(class) per row (classification: ``(rows,)`` for binary, ``(rows, k)`` otherwise)
        or the predicted value (regression)."""
        if self.meta.task == "regression":
            raw = self._raw(X) if self.booster is not None else self.model.predict(X)
            return np.asarray(raw, dtype=float)
        if self.booster is not None:
            proba = np.asarray(self._raw(X), dtype=float)
        else:
            proba = np.asarray(self.model.predict_proba(X), dtype=float)
            if proba.ndim == 2 and proba.shape[1] == 2:
                proba = proba[:, 1]
        return proba

    def predict(self, X: np.ndarray[Any, Any], level: float | None = None) -> dict[str, Any]:
        """The answer: ``values`` (regression, with an ``interval`` at ``level`` when the
        version has conformal half-widths) or ``probabilities`` and ``labels``.

        For binary classification ``probabilities`` are P(``classes[1]``).
        """
        out: dict[str, Any] = {"name": self.meta.name, "version": self.meta.version,
                               "count": len(X)}
        scores = self.scores(X)
        if self.meta.task == "regression":
            out["values"] = scores.tolist()
            if self.meta.conformal:
                out["interval"] = interval(out["values"], self.meta.conformal,
                                           DEFAULT_LEVEL if level is None else level)
            elif level is not None:
                raise ValidationError(f"{self.meta.name} version {self.meta.version} has no "
                                      "intervals", field="level")
            return out
        assert self.classes is not None
        if scores.ndim == 1:
            labels = self.classes[(scores > 0.5).astype(int)]
            out["positive_class"] = self.classes[1].item()
        else:
            labels = self.classes[np.argmax(scores, axis=1)]
            out["classes"] = self.classes.tolist()
        out["probabilities"] = scores.tolist()
        out["labels"] = labels.tolist()
        return out
