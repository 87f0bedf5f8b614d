"""Drift per feature: PSI and KS against the training reference stored with a version."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from riskcast.exceptions import ValidationError
from riskcast.models.drift import feature_drift, psi, reference_sample
from riskcast.models.service import ModelService
from tests.models.conftest import plan


def test_psi_grows_with_the_shift() -> None:
    rng = np.random.default_rng(1)
    ref = rng.normal(size=4000)
    values = [psi(ref, rng.normal(shift, size=4000)) for shift in (0.0, 0.4, 1.0)]
    assert values == sorted(values)
    assert values[0] < 0.1 < values[1] < 0.25 < values[2]


def test_psi_stays_finite_for_constant_and_out_of_range_data() -> None:
    assert np.isfinite(psi(np.zeros(100), np.ones(100)))
    assert psi(np.arange(100.0), np.arange(100.0) + 1000) > 5
    with pytest.raises(ValidationError):
        psi([], [1.0])


def test_feature_drift_flags_only_the_shifted_feature() -> None:
    rng = np.random.default_rng(2)
    ref = reference_sample(rng.normal(size=(3000, 2)), ["a", "b"])
    assert len(ref["a"]) == 2000
    current = {"a": rng.normal(size=1000).tolist(), "b": rng.normal(2.0, size=1000).tolist()}
    drift = {d.feature: d for d in feature_drift(ref, current)}
    assert drift["a"].level == "stable" and drift["a"].p_value > 0.01
    assert drift["b"].level == "major" and drift["b"].ks > 0.5 and drift["b"].p_value < 1e-6
    with pytest.raises(ValidationError, match="missing features"):
        feature_drift(ref, {"a": [0.0]})


def test_service_compares_recent_columns_with_the_versions_reference(tmp_path: Path) -> None:
    service = ModelService(tmp_path, trainers={"s": lambda options, source: plan()})
    version = service.train_sync("s")
    assert len(version.reference["a"]) == 120 and "reference" not in version.to_dict()
    rng = np.random.default_rng(3)
    out = service.drift("s", {"a": rng.normal(3.0, size=200).tolist(),
                              "b": rng.normal(size=200).tolist(),
                              "c": rng.normal(size=200).tolist()})
    levels = {f["feature"]: f["level"] for f in out["features"]}
    assert out["version"] == 1 and levels["a"] == "major" and levels["b"] == "stable"
    service.registry.close()
