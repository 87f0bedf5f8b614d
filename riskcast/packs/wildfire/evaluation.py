"""Evaluation protocols and metrics shared by the wildfire models: data files, splits, scores.

A protocol is a named list of (train, test) index pairs. :func:`evaluate_splits` fits a fresh model
on each training part only, scores the held-out part, and pools the out-of-fold scores for ROC
curves. Nothing is fitted on the whole data set, so thresholds, scalers and trees never see the
rows they are scored on.

Protocols used by the pack:

* :func:`repeated_stratified_splits`: k-fold stratified cross-validation repeated with fixed seeds
  (Kohavi 1995, *A study of cross-validation and bootstrap for accuracy estimation*, IJCAI), as in
  Zaidi 2023 (Heliyon, doi 10.1016/j.heliyon.2023.e18064) for the Algerian data.
* :func:`cross_region_splits`: train on one region, test on another (both directions), the
  distribution-shift check.

Scores are the mean and the population standard deviation (``ddof=0``) over folds::

    >>> s = Score.of([0.5, 0.7, 0.9])
    >>> round(s.mean, 3), round(s.std, 3), s.n
    (0.7, 0.163, 3)
    >>> str(Score.of([0.5, 0.7, 0.9]))
    '0.700 ± 0.163'
"""

from __future__ import annotations

import importlib.metadata
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import numpy as np
import numpy.typing as npt

import riskcast
from riskcast.exceptions import MissingExtraError, NotFoundError

try:
    from sklearn.metrics import (  # type: ignore[import-untyped]
        accuracy_score,
        f1_score,
        roc_auc_score,
        roc_curve,
    )
    from sklearn.model_selection import RepeatedStratifiedKFold  # type: ignore[import-untyped]
except ImportError as err:  # pragma: no cover - the ml extra is part of dev
    raise MissingExtraError("scikit-learn", "ml") from err

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]
IndexArray = npt.NDArray[np.intp]
Split = tuple[IndexArray, IndexArray]
#: Called after each fitted fold with (folds done, folds in total).
ProgressCallback = Callable[[int, int], None]


class Classifier(Protocol):
    """What :func:`evaluate_splits` needs: scikit-learn's fit / predict / predict_proba."""

    def fit(self, X: FloatArray, y: IntArray) -> Any: ...

    def predict(self, X: FloatArray) -> Any: ...

    def predict_proba(self, X: FloatArray) -> Any: ...


def versions() -> dict[str, str | None]:
    """Versions of the libraries that produced a result (``None``: not installed)."""
    found: dict[str, str | None] = {}
    for package in ("riskcast", "numpy", "scikit-learn", "lightgbm", "matplotlib", "pennylane"):
        try:
            found[package] = importlib.metadata.version(package)
        except importlib.metadata.PackageNotFoundError:
            found[package] = None
    return found


#: The CC BY 4.0 data sets shipped in the package (see data/README.md there).
PACKAGED_DATA = Path(__file__).resolve().parent / "data"


def default_data_dir() -> Path | None:
    """``shared/data`` beside the repository (``../shared/data``) if it exists, else ``None``."""
    candidate = Path(riskcast.__file__).resolve().parents[2] / "shared" / "data"
    return candidate if candidate.is_dir() else None


def data_file(name: str, data_dir: Path | None = None) -> Path:
    """The path of data file ``name`` in ``data_dir`` (default :func:`default_data_dir`).

    Raises :class:`~riskcast.exceptions.NotFoundError` naming the file and the ``--data`` option
    when it is not there.
    """
    directory = data_dir if data_dir is not None else default_data_dir()
    if directory is None and (PACKAGED_DATA / name).is_file():
        directory = PACKAGED_DATA  # an installed package, without the repository beside it
    if directory is None:
        raise NotFoundError(
            f"{name} not found: no --data DIR given and no shared/data folder beside the "
            f"repository; pass --data DIR, the folder holding {name}")
    path = Path(directory) / name
    if not path.is_file():
        raise NotFoundError(
            f"{path} not found: pass --data DIR, the folder holding {name} "
            "(the project's shared/data, see its PROVENANCE.md)")
    return path


@dataclass(frozen=True)
class Score:
    """Mean and population standard deviation of a metric over ``n`` folds (or runs)."""

    mean: float
    std: float
    n: int

    @classmethod
    def of(cls, values: Sequence[float]) -> Score:
        """The score of a list of per-fold values; NaN (undefined) values are left out."""
        arr = np.asarray(values, dtype=float)
        arr = arr[np.isfinite(arr)]
        if arr.size == 0:
            return cls(mean=float("nan"), std=float("nan"), n=0)
        return cls(mean=float(arr.mean()), std=float(arr.std()), n=int(arr.size))

    def __str__(self) -> str:
        if self.n == 0:
            return "undefined"
        if self.n < 2:
            return f"{self.mean:.3f}"
        return f"{self.mean:.3f} ± {self.std:.3f}"

    def to_dict(self) -> dict[str, float | int | None]:
        """A JSON-ready dict (``None`` for an undefined mean or std)."""
        return {"mean": self.mean if self.n else None, "std": self.std if self.n else None,
                "n": self.n}


@dataclass(frozen=True)
class RocCurve:
    """An ROC curve of out-of-fold scores pooled over every fold and repeat, with its AUC.

    Empty, with a NaN AUC, when the pooled labels hold one class only.
    """

    fpr: FloatArray
    tpr: FloatArray
    auc: float


@dataclass(frozen=True)
class FoldResults:
    """Per-fold metrics of one model under one protocol, and its pooled out-of-fold scores."""

    accuracy: Score
    f1: Score
    roc_auc: Score
    roc: RocCurve
    fit_seconds: float


@dataclass(frozen=True)
class EvalProtocol:
    """A named evaluation protocol: its (train, test) index pairs and a one-line description."""

    name: str
    splits: tuple[Split, ...]
    description: str


def repeated_stratified_splits(y: IntArray, n_splits: int = 10, repeats: int = 5,
                               seed: int = 0) -> EvalProtocol:
    """``n_splits``-fold stratified CV repeated ``repeats`` times, shuffled with ``seed``.

    >>> y = np.array([0, 1] * 10)
    >>> p = repeated_stratified_splits(y, n_splits=5, repeats=2)
    >>> len(p.splits), p.name
    (10, 'stratified 5-fold CV x 2')
    """
    rskf = RepeatedStratifiedKFold(n_splits=n_splits, n_repeats=repeats, random_state=seed)
    splits = tuple((np.asarray(tr, dtype=np.intp), np.asarray(te, dtype=np.intp))
                   for tr, te in rskf.split(np.zeros((len(y), 1)), y))
    return EvalProtocol(
        name=f"stratified {n_splits}-fold CV x {repeats}", splits=splits,
        description=f"stratified {n_splits}-fold cross-validation, {repeats} repeats, "
                    f"seeds from {seed}")


def cross_region_splits(region: npt.NDArray[np.str_]) -> list[EvalProtocol]:
    """One protocol per ordered pair of regions: fit on all of one, test on all of the other.

    >>> [p.name for p in cross_region_splits(np.array(["a", "b", "a"]))]
    ['a -> b', 'b -> a']
    """
    names = sorted(set(region.tolist()))
    protocols = []
    for train in names:
        for test in names:
            if train != test:
                split = (np.flatnonzero(region == train).astype(np.intp),
                         np.flatnonzero(region == test).astype(np.intp))
                protocols.append(EvalProtocol(
                    name=f"{train} -> {test}", splits=(split,),
                    description=f"train on every {train} day, test on every {test} day"))
    return protocols


def roc_auc(y: IntArray, score: FloatArray) -> float:
    """ROC AUC of ``score`` for ``y``; NaN when ``y`` holds one class only (AUC undefined).

    >>> roc_auc(np.array([0, 0, 1]), np.array([0.1, 0.4, 0.3])), roc_auc(np.array([1, 1]), np.array([0.2, 0.9]))
    (0.5, nan)
    """  # noqa: E501
    if len(np.unique(y)) < 2:
        return float("nan")
    return float(roc_auc_score(y, score))


def positive_scores(model: Classifier, X: FloatArray) -> FloatArray:
    """The model's probability of class 1 for each row of ``X``."""
    proba = np.asarray(model.predict_proba(X), dtype=float)
    return proba[:, 1] if proba.ndim == 2 else proba


def evaluate_splits(make_model: Callable[[], Classifier], X: FloatArray, y: IntArray,
                    splits: Sequence[Split], advance: Callable[[], None] | None = None,
                    ) -> FoldResults:
    """Fit ``make_model()`` on each training part alone and score it on its test part.

    Accuracy and F1 (fire = 1 is the positive class) come from ``predict``; ROC AUC from the
    probability of class 1. The pooled ROC curve concatenates every fold's out-of-fold scores.
    ``advance`` is called after each fold. ``fit_seconds`` is the total time spent in ``fit``.
    """
    accuracy, f1, auc = [], [], []
    pooled_y, pooled_score = [], []
    fit_seconds = 0.0
    for train, test in splits:
        model = make_model()
        start = time.perf_counter()
        model.fit(X[train], y[train])
        fit_seconds += time.perf_counter() - start
        predicted = np.asarray(model.predict(X[test])).astype(np.int64)
        score = positive_scores(model, X[test])
        accuracy.append(float(accuracy_score(y[test], predicted)))
        f1.append(float(f1_score(y[test], predicted, zero_division=0.0)))
        auc.append(roc_auc(y[test], score))
        pooled_y.append(y[test])
        pooled_score.append(score)
        if advance is not None:
            advance()
    all_y, all_score = np.concatenate(pooled_y), np.concatenate(pooled_score)
    if len(np.unique(all_y)) < 2:
        roc = RocCurve(fpr=np.zeros(0), tpr=np.zeros(0), auc=float("nan"))
    else:
        fpr, tpr, _ = roc_curve(all_y, all_score)
        roc = RocCurve(fpr=np.asarray(fpr, dtype=float), tpr=np.asarray(tpr, dtype=float),
                       auc=roc_auc(all_y, all_score))
    return FoldResults(accuracy=Score.of(accuracy), f1=Score.of(f1), roc_auc=Score.of(auc),
                       roc=roc, fit_seconds=fit_seconds)
