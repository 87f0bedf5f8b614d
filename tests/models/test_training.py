"""Training: time-ordered and stratified CV, metrics beside a baseline, registered versions."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from riskcast.exceptions import ValidationError
from riskcast.models.records import DataRange
from riskcast.models.registry import ModelRegistry
from riskcast.models.trainers import wildfire_occurrence
from riskcast.models.training import Dataset, cross_validate, fit_version, splits
from tests.conftest import SHARED_DATA
from tests.models.conftest import classification_data, lgbm_regressor, plan, regression_series


def test_time_series_folds_train_on_the_past_only() -> None:
    ds = regression_series()
    folds = list(splits(ds, 4))
    assert len(folds) == 4
    for train, test in folds:
        assert train.max() < test.min()


def test_classification_folds_are_stratified() -> None:
    ds = classification_data()
    share = ds.y.mean()
    for _, test in splits(ds, 4):
        assert abs(ds.y[test].mean() - share) < 0.05


def test_classification_metrics_sit_beside_the_majority_baseline() -> None:
    progress: list[tuple[int, int]] = []
    metrics = cross_validate(plan(), lambda d, t: progress.append((d, t)))
    assert metrics["protocol"] == "stratified 3-fold CV"
    assert metrics["baseline_name"] == "majority class"
    assert set(metrics["model"]) == {"accuracy", "f1", "brier", "roc_auc"}
    assert metrics["baseline"]["roc_auc"]["mean"] == 0.5
    assert metrics["model"]["roc_auc"]["mean"] > 0.8
    assert progress == [(1, 3), (2, 3), (3, 3)]


def test_time_series_regression_is_compared_with_persistence() -> None:
    metrics = cross_validate(plan(lgbm_regressor, regression_series()))
    assert metrics["protocol"] == "time-ordered 3-fold CV"
    assert metrics["baseline_name"] == "persistence (previous target)"
    assert set(metrics["baseline"]) == {"mae", "rmse"}
    assert metrics["baseline"]["mae"]["n"] == 3


def test_dataset_shape_is_checked() -> None:
    with pytest.raises(ValidationError, match="shape"):
        Dataset(X=np.zeros((3, 2)), y=np.zeros(3), features=("a",), target="y",
                task="regression", data=DataRange(description="", rows=3))


def test_fit_version_registers_everything_about_the_version(data_dir: Path) -> None:
    reg = ModelRegistry(data_dir)
    steps: list[int] = []
    version = fit_version(reg, "m", plan(), by="ann", progress=lambda d, t: steps.append(d))
    assert steps == [1, 2, 3, 4]
    assert (version.version, version.created_by, version.algorithm) == (1, "ann", "LightGBM")
    assert version.features == ("a", "b", "c") and version.classes == (0, 1)
    assert version.hyperparameters["n_estimators"] == 20
    assert version.metrics["model"]["accuracy"]["n"] == 3
    assert version.data.rows == 120
    reg.close()


@pytest.mark.skipif(not SHARED_DATA.is_dir(), reason="shared/data is not beside the repository")
def test_wildfire_trainer_defaults_to_weather_and_names_the_leak() -> None:
    p = wildfire_occurrence({}, SHARED_DATA)
    assert p.dataset.features == ("Temperature", "RH", "Ws", "Rain")
    assert p.algorithm == "LightGBM" and p.dataset.data.rows == 244
    assert "leak" in p.description.lower()
    fwi = wildfire_occurrence({"features": "weather+FWI"}, SHARED_DATA)
    assert "FFMC" in fwi.dataset.features and "WARNING" in fwi.description
    with pytest.raises(ValidationError, match="features"):
        wildfire_occurrence({"features": "all"}, SHARED_DATA)
    with pytest.raises(ValidationError, match="unknown options"):
        wildfire_occurrence({"colour": "red"}, SHARED_DATA)
