"""The compiled tree path answers exactly like the booster, and is cached by checksum."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from riskcast.models import compiled
from riskcast.models.registry import ModelRegistry
from riskcast.models.service import ModelService
from riskcast.models.training import fit_version

from .conftest import classification_data, lgbm, plan

pytestmark = pytest.mark.skipif(not compiled.available(),
                                reason="treelite, tl2cgen or gcc missing (ml extra, apt gcc)")


def test_compiled_batch_equals_the_booster_and_is_reused(tmp_path: Path) -> None:
    registry = ModelRegistry(tmp_path)
    try:
        meta = fit_version(registry, "clf", plan(lgbm, classification_data(400)))
    finally:
        registry.close()
    service = ModelService(tmp_path)
    try:
        predictor = service.predictor("clf")
        X = np.random.default_rng(3).normal(size=(5000, 3))
        before = service.predict_batch("clf", rows=X.tolist())["probabilities"]
        assert service.compile(predictor) and predictor.compiled is not None
        libraries = list((tmp_path / "compiled").glob("*.so"))
        assert [p.name for p in libraries] == [f"{compiled.cache_key(meta.sha256)}-annotated.so"]
        after = service.predict_batch("clf", rows=X.tolist())["probabilities"]
        np.testing.assert_allclose(after, before, rtol=0, atol=1e-12)
        np.testing.assert_allclose(predictor.compiled.predict(X),
                                   predictor.booster.predict(X), rtol=0, atol=1e-12)
        mtime = libraries[0].stat().st_mtime_ns
        sample = np.column_stack([meta.reference[f] for f in meta.features])
        again = compiled.compile_booster(predictor.booster, tmp_path / "compiled", meta.sha256,
                                         sample)
        assert libraries[0].stat().st_mtime_ns == mtime  # loaded from the cache, not rebuilt
        np.testing.assert_allclose(again.predict(X[:10]), before[:10], rtol=0, atol=1e-12)
    finally:
        service.registry.close()
