"""Ensembles of registered versions: a weighted soft vote (or weighted mean) that is itself a
version, like seed 000's LR+RF+LightGBM vote or seed 004's weighted three-part score.

The members are wrapped in scikit-learn's ``FrozenEstimator`` (never refitted) inside a
``VotingClassifier(voting="soft")`` or ``VotingRegressor``, so the artifact is an ordinary skops
file. ``fit`` is only called to set up the class labels, on one reference row per class.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from riskcast.exceptions import MissingExtraError, ValidationError
from riskcast.models.records import DataRange, ModelVersion

try:
    from sklearn.ensemble import VotingClassifier, VotingRegressor  # type: ignore[import-untyped]
    from sklearn.frozen import FrozenEstimator  # type: ignore[import-untyped]
except ImportError as err:  # pragma: no cover - the ml extra is part of dev
    raise MissingExtraError("scikit-learn>=1.6", "ml") from err


@dataclass(frozen=True)
class Member:
    """One registered version in an ensemble, its loaded model and its weight."""

    meta: ModelVersion
    model: Any
    weight: float = 1.0


def build(name: str, members: Sequence[Member], by: str = "") -> tuple[ModelVersion, Any]:
    """The ensemble's version record (unnumbered) and its estimator.

    Members must share task, features (in order), target and, for classification, classes.
    """
    if len(members) < 2:
        raise ValidationError("an ensemble needs at least two members", field="members")
    first = members[0].meta
    for i, m in enumerate(members):
        if m.weight <= 0 or not np.isfinite(m.weight):
            raise ValidationError(f"members[{i}]: weight must be positive",
                                  field=f"members[{i}].weight")
        for key in ("task", "features", "target", "classes"):
            if getattr(m.meta, key) != getattr(first, key):
                raise ValidationError(
                    f"members[{i}] ({m.meta.name} v{m.meta.version}): {key} differs from "
                    f"{first.name} v{first.version}", field=f"members[{i}]")
    estimators = [(f"{m.meta.name}-v{m.meta.version}", FrozenEstimator(m.model))
                  for m in members]
    weights = [m.weight for m in members]
    X_ref = np.column_stack([np.asarray(first.reference.get(f, [0.0]), dtype=float)
                             for f in first.features])
    if first.task == "classification":
        classes = np.asarray(first.classes if first.classes is not None else [])
        if len(classes) < 2 or len(X_ref) < len(classes):
            raise ValidationError(f"{first.name} v{first.version} has no classes or reference",
                                  field="members[0]")
        model = VotingClassifier(estimators, voting="soft", weights=weights)
        model.fit(X_ref[: len(classes)], classes)
    else:
        model = VotingRegressor(estimators, weights=weights)
        model.fit(X_ref[:2], np.zeros(len(X_ref[:2])))
    parts = ", ".join(f"{m.meta.name} v{m.meta.version} (weight {m.weight:g})" for m in members)
    meta = ModelVersion(
        name=name, version=0, task=first.task,
        algorithm="weighted soft vote" if first.task == "classification" else "weighted mean",
        features=first.features, target=first.target,
        data=DataRange(description=f"members' training data; first: {first.data.description}",
                       rows=first.data.rows, start=first.data.start, end=first.data.end),
        description=f"Ensemble of {parts}. Not cross-validated: its members were fitted on all "
                    "their rows; see the members' metrics and measure it live (outcomes).",
        hyperparameters={"members": [{"model": m.meta.name, "version": m.meta.version,
                                      "weight": m.weight} for m in members]},
        metrics={"protocol": "none (ensemble of fitted versions)",
                 "members": {f"{m.meta.name} v{m.meta.version}": m.meta.metrics.get("model")
                             for m in members}},
        created_by=by, classes=first.classes, reference=first.reference)
    return meta, model
