"""The model service end to end: train the wildfire model, deploy, predict."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from riskcast.bus.memory import MemoryBus
from riskcast.exceptions import NotFoundError, ValidationError
from riskcast.models.service import ModelService
from tests.conftest import SHARED_DATA
from tests.models.conftest import plan

ROW = {"Temperature": 36.0, "RH": 35.0, "Ws": 17.0, "Rain": 0.0}
needs_data = pytest.mark.skipif(not SHARED_DATA.is_dir(),
                                reason="shared/data is not beside the repository")


@needs_data
@pytest.mark.anyio
async def test_train_wildfire_in_the_background_then_predict(data_dir: Path) -> None:
    bus = MemoryBus()
    service = ModelService(data_dir, bus, source_dir=SHARED_DATA)
    await service.start()
    job = await service.train("wildfire-occurrence", {"n_splits": 3}, by="ann")
    await asyncio.wait_for(job.finished.wait(), 30)
    assert job.state == "succeeded", job.error
    version = service.version("wildfire-occurrence")
    assert version.created_by == "ann" and version.metrics["baseline_name"] == "majority class"
    metrics = service.metrics("wildfire-occurrence", 1)
    assert metrics["model"]["accuracy"]["mean"] > metrics["baseline"]["accuracy"]["mean"]
    answer = service.predict("wildfire-occurrence", [ROW, [20.0, 80.0, 10.0, 5.0]])
    assert answer["version"] == 1 and len(answer["probabilities"]) == 2
    with pytest.raises(ValidationError, match="seed"):
        await service.train("wildfire-occurrence", {"seed": "x"})
    await service.deploy("wildfire-occurrence", 1)
    listed = {m["name"]: m for m in service.list()}
    assert listed["wildfire-occurrence"]["aliases"] == {"production": 1}
    await service.aclose()


@pytest.mark.anyio
async def test_custom_trainer_and_batch_by_columns(data_dir: Path) -> None:
    service = ModelService(data_dir, trainers={"synthetic": lambda options, source: plan()})
    version = service.train_sync("synthetic")
    assert version.version == 1
    out = service.predict_batch("synthetic", columns={"a": [0.0] * 5, "b": [1.0] * 5,
                                                      "c": [2.0] * 5})
    assert out["count"] == 5
    with pytest.raises(ValidationError):
        service.predict("synthetic", [[1.0, 2.0]])
    with pytest.raises(NotFoundError, match="no trainer"):
        await service.train("unknown")
    await service.aclose()


@pytest.mark.anyio
async def test_a_deploy_by_another_process_is_seen(data_dir: Path,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("riskcast.models.service.RECHECK_SECONDS", 0.0)
    server = ModelService(data_dir, trainers={"s": lambda options, source: plan()})
    cli = ModelService(data_dir, trainers={"s": lambda options, source: plan()})
    server.train_sync("s")
    assert server.predict("s", [[0.0, 0.0, 0.0]])["version"] == 1
    cli.train_sync("s")
    await cli.deploy("s", 2)
    assert server.predict("s", [[0.0, 0.0, 0.0]])["version"] == 2
    await cli.deploy("s", 1)
    assert server.predict("s", [[0.0, 0.0, 0.0]])["version"] == 1
    await server.aclose()
    await cli.aclose()
