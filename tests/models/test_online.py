"""Online learning with River: learn from each labelled row, state kept as JSON in SQLite."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from riskcast.exceptions import NotFoundError, ValidationError
from riskcast.models.online import RiverOnlineClassifier
from riskcast.models.service import ModelService


def rows(n: int, seed: int = 0) -> tuple[list[dict[str, float]], list[bool]]:
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, 2))
    return ([{"x": float(a), "z": float(b)} for a, b in X], (X[:, 0] > 0).tolist())


def test_learner_learns_the_sign_of_x() -> None:
    model = RiverOnlineClassifier(("x", "z"))
    assert model.predict_proba_one({"x": 1.0, "z": 0.0}) == 0.5
    xs, ys = rows(500)
    for x, y in zip(xs, ys, strict=True):
        model.learn_one(x, y)
    assert model.predict_proba_one({"x": 2.0, "z": 0.0}) > 0.9
    assert model.predict_proba_one({"x": -2.0, "z": 0.0}) < 0.1


def test_missing_feature_names_the_field() -> None:
    with pytest.raises(ValidationError) as info:
        RiverOnlineClassifier(("x",)).learn_one({"y": 1.0}, True, where="rows[3]")
    assert info.value.field == "rows[3].x"


def test_bad_state_is_refused() -> None:
    with pytest.raises(ValidationError, match="state"):
        RiverOnlineClassifier.from_state(("x",), {"counts": {}})


def test_service_keeps_learning_across_restarts(tmp_path: Path) -> None:
    service = ModelService(tmp_path)
    with pytest.raises(NotFoundError):
        service.predict_online("live", [{"x": 1.0, "z": 0.0}])
    xs, ys = rows(300)
    out = service.learn("live", xs[:200], ys[:200])
    assert out == {"name": "live", "learned": 200, "seen": 200, "features": ["x", "z"]}
    before = service.predict_online("live", [{"x": 1.5, "z": 0.0}])["probabilities"]
    service.registry.close()
    service = ModelService(tmp_path)
    assert service.predict_online("live", [{"x": 1.5, "z": 0.0}])["probabilities"] == before
    assert service.learn("live", xs[200:], ys[200:])["seen"] == 300
    with pytest.raises(ValidationError, match="as many labels"):
        service.learn("live", xs[:2], ys[:1])
    service.registry.close()
