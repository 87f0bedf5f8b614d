"""Live performance: labels arriving later scored per version and per day."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from riskcast.exceptions import ValidationError
from riskcast.models.performance import score_outcomes, summarize
from riskcast.models.service import ModelService
from tests.models.conftest import classification_data, lgbm_regressor, plan

DAY = 86_400_000_000
T0 = 1_782_907_200_000_000  # 2026-07-01T12:00:00Z


def test_multiclass_brier_sums_over_classes() -> None:
    answer = {"labels": ["a", "b"], "probabilities": [[0.5, 0.5, 0.0], [0.0, 1.0, 0.0]],
              "classes": ["a", "b", "c"]}
    tally = score_outcomes(answer, ["a", "b"])
    assert tally["correct"] == 2 and tally["brier_sum"] == pytest.approx(0.5)
    with pytest.raises(ValidationError, match="unknown classes"):
        score_outcomes(answer, ["a", "z"])


def test_regression_summary() -> None:
    tally = score_outcomes({"values": [1.0, 3.0]}, [2.0, 5.0])
    assert summarize("regression", tally) == {"n": 2, "mae": 1.5, "rmse": pytest.approx(1.5811,
                                                                                       1e-4)}


def test_outcomes_add_up_per_version_and_day(tmp_path: Path) -> None:
    now = [T0]
    service = ModelService(tmp_path, clock=lambda: now[0],
                           trainers={"s": lambda options, source: plan()})
    service.train_sync("s")
    ds = classification_data(seed=5)
    first = service.record_outcomes("s", ds.X[:40].tolist(), ds.y[:40].tolist())
    assert first["version"] == 1 and first["n"] == 40 and first["day"] == "2026-07-01"
    assert 0.6 < first["accuracy"] <= 1 and 0 <= first["brier"] < 0.25
    service.record_outcomes("s", ds.X[40:60].tolist(), ds.y[40:60].tolist())
    now[0] += DAY
    service.record_outcomes("s", ds.X[60:].tolist(), ds.y[60:].tolist())
    perf = service.performance("s")["versions"][0]
    assert [(d["day"], d["n"]) for d in perf["days"]] == [("2026-07-01", 60),
                                                          ("2026-07-02", 60)]
    assert perf["all"]["n"] == 120
    with pytest.raises(ValidationError, match="as many labels"):
        service.record_outcomes("s", ds.X[:2].tolist(), [1])
    service.registry.close()


def test_regression_outcomes(tmp_path: Path) -> None:
    ds = classification_data()
    service = ModelService(tmp_path, trainers={"r": lambda options, source: plan(
        lgbm_regressor, type(ds)(X=ds.X, y=ds.X[:, 0] * 2, features=ds.features, target="v",
                                 task="regression", data=ds.data))})
    service.train_sync("r")
    out = service.record_outcomes("r", ds.X[:10].tolist(), (ds.X[:10, 0] * 2).tolist())
    assert set(out) >= {"mae", "rmse"} and out["mae"] < 1.0
    assert np.isfinite(service.performance("r")["versions"][0]["all"]["rmse"])
    service.registry.close()
