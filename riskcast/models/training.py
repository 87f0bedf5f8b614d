"""Training: cross-validate a model beside its baseline, fit it on all rows, register it.

Evaluation splits (scikit-learn):

* time series (a :class:`Dataset` with ``time_ordered=True``, rows oldest first):
  ``TimeSeriesSplit``, each fold trained on the past only;
* otherwise ``StratifiedKFold`` (classification) or ``KFold`` (regression), shuffled with a seed.

Baselines, scored on the same folds: the majority class (classification), persistence, i.e. the
previous row's target (time-ordered regression), or the training mean (other regression).
Metrics: accuracy, F1, ROC AUC and Brier score for binary classification (accuracy and macro F1
for more classes); MAE and RMSE for regression. Each is the mean and standard deviation over folds.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from riskcast.exceptions import MissingExtraError, ValidationError
from riskcast.models.drift import reference_sample
from riskcast.models.intervals import halfwidths
from riskcast.models.records import DataRange, ModelVersion, Task
from riskcast.models.registry import ModelRegistry

try:
    from sklearn.dummy import DummyClassifier, DummyRegressor  # type: ignore[import-untyped]
    from sklearn.metrics import (  # type: ignore[import-untyped]
        accuracy_score,
        brier_score_loss,
        f1_score,
        mean_absolute_error,
        roc_auc_score,
    )
    from sklearn.model_selection import (  # type: ignore[import-untyped]
        KFold,
        StratifiedKFold,
        TimeSeriesSplit,
    )
except ImportError as err:  # pragma: no cover - the ml extra is part of dev
    raise MissingExtraError("scikit-learn", "ml") from err

#: Called with (step done, steps in total); a step is one fitted fold or the final fit.
Progress = Callable[[int, int], None]


@dataclass(frozen=True)
class Dataset:
    """Training rows: ``X`` (rows x features, float), ``y``, and what they are."""

    X: np.ndarray[Any, Any]
    y: np.ndarray[Any, Any]
    features: tuple[str, ...]
    target: str
    task: Task
    data: DataRange
    time_ordered: bool = False

    def __post_init__(self) -> None:
        if self.X.ndim != 2 or self.X.shape[1] != len(self.features):
            raise ValidationError(f"X has shape {self.X.shape}, expected (rows, "
                                  f"{len(self.features)})", field="features")
        if len(self.y) != len(self.X):
            raise ValidationError("X and y differ in length", field="target")


@dataclass(frozen=True)
class TrainingPlan:
    """What to train: the data, a factory of fresh unfitted models, and how to describe it."""

    dataset: Dataset
    make_model: Callable[[], Any]
    algorithm: str
    description: str = ""
    n_splits: int = 5
    seed: int = 0
    extra: dict[str, Any] = field(default_factory=dict)
    #: The variable each feature is read from when served live (see ``ModelVersion.sources``).
    sources: dict[str, str] = field(default_factory=dict)


#: A model that is not fitted by cross-validation here (an online forecaster evaluated
#: prequentially): given the registry, name, creator and progress, it registers its version.
CustomFit = Callable[[ModelRegistry, str, str, "Progress | None"], ModelVersion]


@dataclass(frozen=True)
class CustomPlan:
    """What a trainer returns for a model it fits and registers itself."""

    fit: CustomFit


def jsonable(params: dict[str, Any]) -> dict[str, Any]:
    """``params`` with values JSON cannot hold replaced by their ``repr``.

    >>> jsonable({"a": 1, "b": None, "c": object})
    {'a': 1, 'b': None, 'c': "<class 'object'>"}
    """
    out = {}
    for key, value in params.items():
        try:
            json.dumps(value)
            out[key] = value
        except (TypeError, ValueError):
            out[key] = repr(value)
    return out


def splits(ds: Dataset, n_splits: int, seed: int = 0) -> Iterator[tuple[Any, Any]]:
    """The (train, test) index pairs for ``ds``: time-ordered, stratified or plain k-fold."""
    rows_only = np.zeros((len(ds.y), 1))  # the splitters only count rows
    if ds.time_ordered:
        return iter(TimeSeriesSplit(n_splits=n_splits).split(rows_only))
    if ds.task == "classification":
        return iter(StratifiedKFold(n_splits=n_splits, shuffle=True, random_state=seed)
                    .split(rows_only, ds.y))
    return iter(KFold(n_splits=n_splits, shuffle=True, random_state=seed).split(rows_only))


def _baseline(ds: Dataset) -> tuple[str, Callable[[], Any] | None]:
    if ds.task == "classification":
        return "majority class", lambda: DummyClassifier(strategy="most_frequent")
    if ds.time_ordered:
        return "persistence (previous target)", None
    return "training mean", lambda: DummyRegressor(strategy="mean")


def _scores(ds: Dataset, model: Any, X: Any, y: Any) -> dict[str, float]:
    if ds.task == "regression":
        pred = np.asarray(model.predict(X), dtype=float)
        return {"mae": float(mean_absolute_error(y, pred)),
                "rmse": float(np.sqrt(np.mean((pred - y) ** 2)))}
    pred = np.asarray(model.predict(X))
    out = {"accuracy": float(accuracy_score(y, pred))}
    classes = list(model.classes_)
    if len(classes) == 2:
        p1 = np.asarray(model.predict_proba(X), dtype=float)[:, 1]
        positive = (np.asarray(y) == classes[1]).astype(int)
        out["f1"] = float(f1_score(positive, (pred == classes[1]).astype(int),
                                   zero_division=0.0))
        out["brier"] = float(brier_score_loss(positive, p1))
        out["roc_auc"] = (float(roc_auc_score(positive, p1)) if len(np.unique(positive)) == 2
                          else float("nan"))
    else:
        out["f1_macro"] = float(f1_score(y, pred, average="macro", zero_division=0.0))
    return out


def _persistence_scores(y_train: Any, y_test: Any) -> dict[str, float]:
    pred = np.concatenate([[y_train[-1]], y_test[:-1]]).astype(float)
    return {"mae": float(np.mean(np.abs(pred - y_test))),
            "rmse": float(np.sqrt(np.mean((pred - y_test) ** 2)))}


def _summary(folds: list[dict[str, float]]) -> dict[str, dict[str, float | int | None]]:
    out: dict[str, dict[str, float | int | None]] = {}
    for key in folds[0]:
        values = np.array([f[key] for f in folds], dtype=float)
        values = values[np.isfinite(values)]
        out[key] = {"mean": float(values.mean()) if values.size else None,
                    "std": float(values.std()) if values.size else None, "n": int(values.size)}
    return out


def cross_validate(plan: TrainingPlan, progress: Progress | None = None,
                   total: int | None = None) -> dict[str, Any]:
    """Cross-validated scores of the plan's model and of its baseline on the same folds."""
    return _cross_validate(plan, progress, total)[0]


def _cross_validate(plan: TrainingPlan, progress: Progress | None, total: int | None,
                    ) -> tuple[dict[str, Any], np.ndarray[Any, Any] | None]:
    """The scores, and the model's out-of-fold residuals (regression) or ``None``."""
    ds = plan.dataset
    baseline_name, make_baseline = _baseline(ds)
    model_folds, baseline_folds = [], []
    residuals: list[Any] = []
    folds = list(splits(ds, plan.n_splits, plan.seed))
    steps = total if total is not None else len(folds)
    fit_seconds = 0.0
    for done, (train, test) in enumerate(folds, start=1):
        X_train, y_train, X_test, y_test = ds.X[train], ds.y[train], ds.X[test], ds.y[test]
        model = plan.make_model()
        start = time.perf_counter()
        model.fit(X_train, y_train)
        fit_seconds += time.perf_counter() - start
        model_folds.append(_scores(ds, model, X_test, y_test))
        if ds.task == "regression":
            residuals.append(np.asarray(model.predict(X_test), dtype=float) - y_test)
        if make_baseline is None:
            baseline_folds.append(_persistence_scores(y_train, y_test))
        else:
            base = make_baseline().fit(X_train, y_train)
            baseline_folds.append(_scores(ds, base, X_test, y_test))
        if progress is not None:
            progress(done, steps)
    kind = ("time-ordered" if ds.time_ordered else
            "stratified" if ds.task == "classification" else "shuffled")
    return {"protocol": f"{kind} {plan.n_splits}-fold CV", "model": _summary(model_folds),
            "baseline_name": baseline_name, "baseline": _summary(baseline_folds),
            "fit_seconds": round(fit_seconds, 3)}, (np.concatenate(residuals) if residuals
                                                     else None)


def fit_version(registry: ModelRegistry, name: str, plan: TrainingPlan | CustomPlan, *,
                by: str = "", progress: Progress | None = None) -> ModelVersion:
    """Cross-validate ``plan``, fit it on every row, and register the result as a new version.

    ``progress`` is called after each fold and after the final fit (``n_splits + 1`` steps).
    Regressors get split-conformal half-widths from their out-of-fold residuals
    (:mod:`riskcast.models.intervals`). A :class:`CustomPlan` fits and registers itself.
    Blocking: run it in a thread from async code (:mod:`riskcast.models.jobs` does).
    """
    if isinstance(plan, CustomPlan):
        return plan.fit(registry, name, by, progress)
    ds = plan.dataset
    total = plan.n_splits + 1
    metrics, residuals = _cross_validate(plan, progress, total)
    model = plan.make_model()
    model.fit(ds.X, ds.y)
    if progress is not None:
        progress(total, total)
    get_params = getattr(model, "get_params", None)
    params = jsonable(get_params(deep=False)) if get_params is not None else {}
    classes = getattr(model, "classes_", None)
    meta = ModelVersion(
        name=name, version=0, task=ds.task, algorithm=plan.algorithm, features=ds.features,
        target=ds.target, data=ds.data, description=plan.description, hyperparameters=params,
        metrics=metrics, created_by=by, reference=reference_sample(ds.X, ds.features),
        classes=None if classes is None else tuple(np.asarray(classes).tolist()),
        sources=dict(plan.sources),
        conformal=halfwidths(residuals) if residuals is not None else {})
    return registry.register(meta, model)
