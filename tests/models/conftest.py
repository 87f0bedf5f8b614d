"""Small synthetic data sets and models for the model tests."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest
from lightgbm import LGBMClassifier, LGBMRegressor
from sklearn.linear_model import LogisticRegression  # type: ignore[import-untyped]

from riskcast.models.records import DataRange, ModelVersion
from riskcast.models.training import Dataset, TrainingPlan

FEATURES = ("a", "b", "c")


def classification_data(rows: int = 120, seed: int = 0) -> Dataset:
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(rows, 3))
    y = (X[:, 0] + 0.5 * X[:, 1] + rng.normal(scale=0.5, size=rows) > 0).astype(np.int64)
    return Dataset(X=X, y=y, features=FEATURES, target="y", task="classification",
                   data=DataRange(description="synthetic", rows=rows))


def regression_series(rows: int = 120, seed: int = 0) -> Dataset:
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(rows, 3))
    y = np.cumsum(rng.normal(size=rows)) + X[:, 0]
    return Dataset(X=X, y=y, features=FEATURES, target="level", task="regression",
                   data=DataRange(description="synthetic series", rows=rows,
                                  start="2026-01-01T00:00:00Z", end="2026-01-05T23:00:00Z"),
                   time_ordered=True)


def lgbm(**extra: Any) -> LGBMClassifier:
    return LGBMClassifier(n_estimators=20, num_leaves=7, min_child_samples=5, verbose=-1,
                          n_jobs=1, random_state=0, **extra)


def lgbm_regressor() -> LGBMRegressor:
    return LGBMRegressor(n_estimators=20, num_leaves=7, min_child_samples=5, verbose=-1,
                         n_jobs=1, random_state=0)


def logistic() -> LogisticRegression:
    return LogisticRegression(max_iter=200)


def plan(make_model: Any = lgbm, dataset: Dataset | None = None, n_splits: int = 3,
         ) -> TrainingPlan:
    return TrainingPlan(dataset=dataset or classification_data(), make_model=make_model,
                        algorithm="LightGBM", description="test", n_splits=n_splits)


def meta(name: str = "m") -> ModelVersion:
    return ModelVersion(name=name, version=0, task="classification", algorithm="logistic",
                        features=FEATURES, target="y",
                        data=DataRange(description="synthetic", rows=120))


@pytest.fixture
def fitted_lgbm() -> LGBMClassifier:
    ds = classification_data()
    return lgbm().fit(ds.X, ds.y)


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    return tmp_path / "data"
