"""Split-conformal intervals: stored with a regressor at training, answered by predict."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from sklearn.linear_model import LinearRegression  # type: ignore[import-untyped]

from riskcast.exceptions import ValidationError
from riskcast.models.intervals import halfwidths, interval
from riskcast.models.records import DataRange
from riskcast.models.registry import ModelRegistry
from riskcast.models.service import ModelService
from riskcast.models.training import Dataset, TrainingPlan, fit_version

from .conftest import FEATURES, plan


def noisy_linear(rows: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(rows, 3))
    return X, X @ np.array([2.0, -1.0, 0.5]) + rng.normal(scale=1.0, size=rows)


def test_halfwidths_follow_the_split_conformal_rank() -> None:
    q = halfwidths(np.arange(1.0, 10.0))  # n = 9: level 0.9 takes rank ceil(10 * 0.9) = 9
    assert q["0.9"] == 9.0 and q["0.5"] == 5.0 and "0.95" not in q  # rank 10 > n
    with pytest.raises(ValidationError) as err:
        interval([1.0], q, 0.95)
    assert err.value.field == "level"


def test_regressor_interval_covers_about_its_level_on_new_data(tmp_path: Path) -> None:
    X, y = noisy_linear(2000, 0)
    ds = Dataset(X=X, y=y, features=FEATURES, target="y", task="regression",
                 data=DataRange(description="synthetic", rows=len(y)))
    registry = ModelRegistry(tmp_path)
    try:
        meta = fit_version(registry, "lin", TrainingPlan(
            dataset=ds, make_model=LinearRegression, algorithm="linear", n_splits=5))
    finally:
        registry.close()
    assert set(meta.conformal) == {"0.5", "0.8", "0.9", "0.95"}
    assert meta.conformal["0.9"] == pytest.approx(1.645, rel=0.1)  # N(0, 1) noise
    service = ModelService(tmp_path)
    try:
        X_new, y_new = noisy_linear(1000, 1)
        answer = service.predict("lin", X_new.tolist())
        band = answer["interval"]
        assert answer["version"] == 1 and band["level"] == 0.9
        inside = (np.array(band["lower"]) <= y_new) & (y_new <= np.array(band["upper"]))
        assert 0.86 <= inside.mean() <= 0.94
        wide = service.predict("lin", X_new[:5].tolist(), level=0.95)["interval"]
        assert np.all(np.array(wide["upper"]) > np.array(band["upper"][:5]))
    finally:
        service.registry.close()


def test_classifiers_answer_probabilities_and_no_interval(tmp_path: Path) -> None:
    registry = ModelRegistry(tmp_path)
    try:
        meta = fit_version(registry, "clf", plan())
    finally:
        registry.close()
    assert meta.conformal == {}
    service = ModelService(tmp_path)
    try:
        answer = service.predict("clf", [[0.1, 0.2, 0.3]])
        assert "interval" not in answer and 0.0 <= answer["probabilities"][0] <= 1.0
    finally:
        service.registry.close()
