"""The retention job deletes what is past its variable's period, and nothing else."""

from __future__ import annotations

import pytest

from riskcast.pipeline.retention import RetentionJob
from riskcast.settings import Settings
from riskcast.storage.memory import MemoryStorage

pytestmark = pytest.mark.anyio
DAY = 86_400_000_000
NOW = 1_782_907_200_000_000


async def test_global_and_per_variable_periods() -> None:
    storage = MemoryStorage()
    await storage.write_readings([("s", v, NOW - d * DAY, 1.0, 0, None)
                                  for v in ("temp_c", "rain_mm", "rh_pct") for d in range(100)])
    job = RetentionJob(storage, Settings(retention="30d",
                                         retention_by_variable={"rain_mm": "60d", "rh_pct": "0"}))
    deleted = await job.run_once(NOW)

    async def days(v: str) -> int:
        return len(await storage.read_series("s", v, 0, NOW + 1, limit=1000))

    assert await days("temp_c") == 31  # day 0..30 kept: time >= now - 30d
    assert await days("rain_mm") == 61
    assert await days("rh_pct") == 100  # "0" keeps forever
    assert deleted == 69 + 39
    assert job.runs == 1 and job.deleted == deleted
    assert await job.run_once(NOW) == 0


async def test_retention_zero_keeps_everything() -> None:
    storage = MemoryStorage()
    await storage.write_readings([("s", "x", NOW - 1000 * DAY, 1.0, 0, None)])
    assert await RetentionJob(storage, Settings(retention="0")).run_once(NOW) == 0
