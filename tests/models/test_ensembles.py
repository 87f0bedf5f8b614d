"""Ensembles: a weighted vote of registered versions is itself a version."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from riskcast.exceptions import ValidationError
from riskcast.models.service import ModelService
from riskcast.models.training import TrainingPlan
from tests.models.conftest import classification_data, lgbm, logistic, plan


def service(tmp_path: Path) -> ModelService:
    return ModelService(tmp_path, trainers={
        "lgbm": lambda options, source: plan(lgbm),
        "lr": lambda options, source: plan(logistic)})


def test_weighted_vote_is_a_version_and_matches_the_weighted_mean(tmp_path: Path) -> None:
    svc = service(tmp_path)
    svc.train_sync("lgbm")
    svc.train_sync("lr")
    version = svc.ensemble("vote", [("lgbm", 1, 1.0), ("lr", 1, 3.0)], by="ann")
    assert (version.name, version.version, version.algorithm) == ("vote", 1, "weighted soft vote")
    assert version.hyperparameters["members"][1] == {"model": "lr", "version": 1, "weight": 3.0}
    assert "Not cross-validated" in version.description
    X = classification_data(seed=9).X[:6]
    expected = (np.asarray(svc.predict("lgbm", X.tolist())["probabilities"])
                + 3 * np.asarray(svc.predict("lr", X.tolist())["probabilities"])) / 4
    svc.registry.close()
    fresh = service(tmp_path)  # loads the stored file: it passes the allow-list
    np.testing.assert_allclose(fresh.predict("vote", X.tolist())["probabilities"], expected)
    fresh.registry.close()


def test_members_must_agree(tmp_path: Path) -> None:
    svc = service(tmp_path)
    svc.train_sync("lgbm")
    other = classification_data()
    svc.trainers["other"] = lambda options, source: TrainingPlan(
        dataset=type(other)(
            X=other.X[:, :2], y=other.y, features=("a", "b"), target="y",
            task="classification", data=other.data),
        make_model=logistic, algorithm="lr", n_splits=3)
    svc.train_sync("other")
    with pytest.raises(ValidationError, match="features differs"):
        svc.ensemble("vote", [("lgbm", 1, 1.0), ("other", 1, 1.0)])
    with pytest.raises(ValidationError, match="at least two"):
        svc.ensemble("vote", [("lgbm", 1, 1.0)])
    with pytest.raises(ValidationError, match="weight"):
        svc.ensemble("vote", [("lgbm", 1, 1.0), ("lgbm", 1, 0.0)])
    svc.registry.close()
