"""The registry: register, resolve, load, deploy and roll back with every move recorded."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from riskcast.bus.memory import MemoryBus
from riskcast.exceptions import ConflictError, NotFoundError, ValidationError
from riskcast.models.registry import ModelRegistry
from tests.models.conftest import classification_data, logistic, meta

T0 = 1_782_907_200_000_000


def registry(data_dir: Path, bus: MemoryBus | None = None) -> ModelRegistry:
    return ModelRegistry(data_dir, bus, clock=lambda: T0)


def fitted() -> object:
    ds = classification_data()
    return logistic().fit(ds.X, ds.y)


def test_register_stores_metadata_and_the_artifact_loads_back(data_dir: Path) -> None:
    reg = registry(data_dir)
    stored = reg.register(meta("m"), fitted())
    assert (stored.version, stored.created_at) == (1, "2026-07-01T12:00:00Z")
    reg.close()
    reg = registry(data_dir)  # a fresh process: nothing cached
    model = reg.load(reg.resolve("m", 1))
    X = classification_data().X[:5]
    assert model.predict_proba(X).shape == (5, 2)
    reg.close()


def test_resolve_prefers_production_then_latest(data_dir: Path) -> None:
    reg = registry(data_dir)
    for _ in range(3):
        reg.register(meta("m"), fitted())
    assert reg.resolve("m").version == 3
    with pytest.raises(NotFoundError, match="no production version"):
        reg.resolve("m", "production")
    with pytest.raises(ValidationError):
        reg.resolve("m", "newest")
    with pytest.raises(NotFoundError):
        reg.resolve("nope")
    reg.close()


@pytest.mark.anyio
async def test_deploy_and_rollback_move_aliases_and_publish(data_dir: Path) -> None:
    bus = MemoryBus()
    reg = registry(data_dir, bus)
    for _ in range(3):
        reg.register(meta("m"), fitted())
    await reg.deploy("m", 1, by="ann")
    await reg.deploy("m", 2, by="ann")
    await reg.deploy("m", 3, by="bob")
    await reg.deploy("m", 3, "staging", by="bob")
    back = await reg.rollback("m", by="cid")
    assert (back.from_version, back.to_version, back.kind, back.by) == (3, 2, "rollback", "cid")
    assert reg.resolve("m").version == 2
    await reg.rollback("m", by="cid")
    assert reg.aliases("m") == {"production": 1, "staging": 3}
    with pytest.raises(ConflictError, match="no earlier version"):
        await reg.rollback("m")
    with pytest.raises(ConflictError, match="already"):
        await reg.deploy("m", 1)
    with pytest.raises(ValidationError, match="unknown alias"):
        await reg.deploy("m", 2, "canary")
    with pytest.raises(NotFoundError):
        await reg.deploy("m", 9)
    history = await bus.history("models", 0)
    assert [(e.data["alias"], e.data["from_version"], e.data["to_version"]) for e in history] == [
        ("production", None, 1), ("production", 1, 2), ("production", 2, 3),
        ("staging", None, 3), ("production", 3, 2), ("production", 2, 1)]
    assert all(e.data["type"] == "alias" and e.data["at"] == "2026-07-01T12:00:00Z"
               for e in history)
    assert len(reg.moves("m")) == 6
    reg.close()


def test_loaded_models_are_cached(data_dir: Path) -> None:
    reg = registry(data_dir)
    stored = reg.register(meta("m"), fitted())
    assert reg.load(stored) is reg.load(stored)
    assert np.all(np.isfinite(reg.load(stored).coef_))
    reg.close()
