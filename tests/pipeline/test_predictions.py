"""Online predictions in a pipeline on SQLite: feature rows, coalescing, restarts."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import numpy as np
import pytest

from riskcast.bus.memory import MemoryBus
from riskcast.core.readings import ReadingIn
from riskcast.core.sites import Site
from riskcast.models.service import ModelService
from riskcast.packs.registry import PackSet
from riskcast.pipeline import Pipeline
from riskcast.settings import Settings
from riskcast.storage.sqlite import SqliteStorage

from ..conftest import SHARED_DATA

pytestmark = pytest.mark.anyio
T0 = 1_782_907_200.0  # 2026-07-01 12:00 UTC
WEATHER = {"temp_c": 35.0, "rh_pct": 40.0, "wind_kmh": 17.0, "rain_mm": 0.0}


@pytest.fixture
async def served(tmp_path: Path) -> AsyncIterator[Pipeline]:
    storage = SqliteStorage(tmp_path / "p.db", synchronous="normal")
    await storage.open()
    pipeline = Pipeline(storage, MemoryBus(), PackSet.load(["generic", "wildfire"]),
                        Settings(data_dir=tmp_path))
    models = ModelService(tmp_path, source_dir=SHARED_DATA)
    models.train_sync("wildfire-occurrence")
    await models.deploy("wildfire-occurrence", 1)
    pipeline.predictions.attach(models)
    await pipeline.start()
    await pipeline.put_site(Site(id="f1", pack="wildfire"))
    await pipeline.put_site(Site(id="g1"))  # generic: serves no model
    yield pipeline
    await pipeline.aclose()
    await models.aclose()
    await storage.aclose()


def weather(dt: float, site: str = "f1", **changes: float) -> list[ReadingIn]:
    return [ReadingIn(site=site, variable=k, value=changes.get(k, v), time=T0 + dt)
            for k, v in WEATHER.items()]


async def predictions(p: Pipeline, site: str = "f1") -> list[tuple[int, float]]:
    await p.derive.drained()
    await p.predictions.drained()
    points = await p.storage.read_series(site, "pred_wildfire_occurrence", 0, 2**62, limit=100)
    return [(pt.time, pt.value) for pt in points]


async def test_one_prediction_per_site_and_run_from_the_newest_values(served: Pipeline) -> None:
    assert served.predictions.models is not None
    await served.ingest([*weather(0), *weather(60, temp_c=20.0)])  # one batch, two times
    expected = served.predictions.models.predict(
        "wildfire-occurrence", [{"Temperature": 20.0, "RH": 40.0, "Ws": 17.0, "Rain": 0.0}])
    assert await predictions(served) == [
        (int((T0 + 60) * 1e6), pytest.approx(expected["probabilities"][0], abs=1e-12))]
    await served.ingest(weather(0, site="g1"))
    assert await predictions(served, "g1") == []


async def test_features_come_from_storage_after_a_restart(served: Pipeline) -> None:
    await served.ingest(weather(0))
    first = await predictions(served)
    served.predictions._latest.clear()  # what a new process knows: nothing
    await served.ingest([ReadingIn(site="f1", variable="temp_c", value=35.0, time=T0 + 60)])
    second = await predictions(served)
    assert len(second) == 2 and second[1][1] == pytest.approx(first[0][1], abs=1e-12)


async def test_a_missing_feature_counts_as_incomplete(served: Pipeline) -> None:
    await served.ingest([ReadingIn(site="f1", variable="temp_c", value=30.0, time=T0)])
    assert await predictions(served) == []
    assert served.predictions.incomplete == 1 and served.predictions.failures == 0
    before = served.predictions.incomplete
    # A day later the old values are too old to use.
    await served.ingest(weather(0))
    await served.ingest([ReadingIn(site="f1", variable="temp_c", value=30.0, time=T0 + 90_000)])
    assert len(await predictions(served)) == 1
    assert served.predictions.incomplete == before + 1
    rows = served.predictions.recent_rows("wildfire-occurrence", "f1", 10**12)
    assert rows is not None and rows[0] == 1
    np.testing.assert_array_equal(rows[1], [[35.0, 40.0, 17.0, 0.0]])


async def test_the_wqi_forecaster_follows_the_derived_index(tmp_path: Path) -> None:
    storage = SqliteStorage(tmp_path / "w.db", synchronous="normal")
    await storage.open()
    pipeline = Pipeline(storage, MemoryBus(), PackSet.load(["water"]), Settings(data_dir=tmp_path))
    models = ModelService(tmp_path)
    models.train_sync("water-wqi-forecast", {"days": 2})
    await models.deploy("water-wqi-forecast", 1)
    pipeline.predictions.attach(models)
    await pipeline.start()
    try:
        await pipeline.put_site(Site(id="water-1", pack="water"))
        for hour, do in enumerate([95.0, 90.0, 70.0, 85.0]):
            await pipeline.ingest([
                ReadingIn(site="water-1", variable=k, value=v, time=T0 + hour * 3600)
                for k, v in {"do_sat_pct": do, "ph": 7.2, "bod_mgl": 2.0,
                             "turbidity_ntu": 5.0}.items()])
            await pipeline.derive.drained()
            await pipeline.predictions.drained()
        wqi = await storage.read_series("water-1", "wqi", 0, 2**62, limit=10)
        forecasts = await storage.read_series("water-1", "pred_water_wqi_forecast", 0, 2**62,
                                              limit=10)
        assert len(wqi) == 4 and [p.time for p in forecasts] == [p.time for p in wqi]
        assert {p.source for p in forecasts} == {"model:water-wqi-forecast@1"}
        assert pipeline.predictions.failures == 0
    finally:
        await pipeline.aclose()
        await models.aclose()
        await storage.aclose()
