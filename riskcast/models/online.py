"""Online learners (River) that learn from each new labelled row.

:class:`RiverOnlineClassifier` is River's ``StandardScaler | LogisticRegression`` for a binary
target. Its state (running means and variances, weights, intercept, step count) is plain JSON, so
it is stored without pickle and restored exactly:

>>> model = RiverOnlineClassifier(("a", "b"))
>>> for i in range(50):
...     model.learn_one({"a": i % 7, "b": i % 3}, i % 2 == 0)
>>> copy = RiverOnlineClassifier.from_state(("a", "b"), model.state())
>>> copy.predict_proba_one({"a": 1, "b": 2}) == model.predict_proba_one({"a": 1, "b": 2})
True
>>> model.seen
50
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from riskcast.exceptions import MissingExtraError, ValidationError

try:
    from river import linear_model, preprocessing
except ImportError as err:  # pragma: no cover - optional
    raise MissingExtraError("river", "ml") from err


class RiverOnlineClassifier:
    """Scaled logistic regression learnt one row at a time; P(label is true) per row."""

    def __init__(self, features: Sequence[str]) -> None:
        self.features = tuple(features)
        self.seen = 0
        self._pipeline = preprocessing.StandardScaler() | linear_model.LogisticRegression()

    def _row(self, row: Mapping[str, Any], where: str) -> dict[str, float]:
        out = {}
        for name in self.features:
            value = row.get(name)
            if isinstance(value, bool) or not isinstance(value, int | float):
                raise ValidationError(f"{where}: feature {name!r} missing or not a number",
                                      field=f"{where}.{name}")
            out[name] = float(value)
        return out

    def learn_one(self, row: Mapping[str, Any], label: bool, where: str = "row") -> None:
        """Update the scaler and the weights with one labelled row."""
        self._pipeline.learn_one(self._row(row, where), bool(label))
        self.seen += 1

    def predict_proba_one(self, row: Mapping[str, Any], where: str = "row") -> float:
        """P(label is true) for one row (0.5 before any learning)."""
        proba = self._pipeline.predict_proba_one(self._row(row, where))
        return float(proba.get(True, 0.0))

    def state(self) -> dict[str, Any]:
        """The learnt state as JSON-ready values."""
        scaler = self._pipeline["StandardScaler"]
        logistic = self._pipeline["LogisticRegression"]
        return {"seen": self.seen, "counts": dict(scaler.counts), "means": dict(scaler.means),
                "vars": dict(scaler.vars), "weights": dict(logistic._weights),
                "intercept": float(logistic.intercept),
                "steps": int(logistic.optimizer.n_iterations)}

    @classmethod
    def from_state(cls, features: Sequence[str], state: Mapping[str, Any]
                   ) -> RiverOnlineClassifier:
        """A learner restored from :meth:`state`."""
        model = cls(features)
        scaler = model._pipeline["StandardScaler"]
        logistic = model._pipeline["LogisticRegression"]
        try:
            scaler.counts.update({k: int(v) for k, v in state["counts"].items()})
            scaler.means.update({k: float(v) for k, v in state["means"].items()})
            scaler.vars.update({k: float(v) for k, v in state["vars"].items()})
            for key, weight in state["weights"].items():
                logistic._weights[key] = float(weight)
            logistic.intercept = float(state["intercept"])
            logistic.optimizer.n_iterations = int(state["steps"])
            model.seen = int(state["seen"])
        except (KeyError, TypeError, ValueError, AttributeError) as err:
            raise ValidationError(f"online learner state unreadable: {err}",
                                  field="state") from err
        return model
