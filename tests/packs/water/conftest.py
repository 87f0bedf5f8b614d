"""Shared data and a real pipeline (SQLite) for the water pack tests.

The reference data live in ``shared/data`` beside the repository (CI clones it there); see its
PROVENANCE.md.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from riskcast.bus.memory import MemoryBus
from riskcast.core.sites import Site
from riskcast.packs.registry import PackSet
from riskcast.pipeline import Pipeline
from riskcast.settings import Settings
from riskcast.storage.sqlite import SqliteStorage

SHARED_DATA = Path(__file__).resolve().parents[3] / ".." / "shared" / "data"


def shared_data(name: str) -> Path:
    """Path of ``name`` in the shared data directory; fails the test loudly if it is missing."""
    path = SHARED_DATA / name
    if not path.is_file():
        pytest.fail(f"{path} is missing: the shared data must sit beside the repository")
    return path


@pytest.fixture(scope="session")
def vectors() -> dict[str, Any]:
    """NSF, CCME and CPCB test vectors (water_quality_test_vectors.json)."""
    data: dict[str, Any] = json.loads(
        shared_data("water_quality_test_vectors.json").read_text(encoding="utf-8"))
    return data


@pytest.fixture(scope="session")
def india_csv() -> Path:
    """The 1,991-row CPCB/NWMP station-year data set, 2003-2014 (latin-1)."""
    return shared_data("india_water_quality_cpcb_2003_2014_raw.csv")


async def open_pipeline(path: Path) -> Pipeline:
    storage = SqliteStorage(path, synchronous="normal")
    await storage.open()
    pipeline = Pipeline(storage, MemoryBus(), PackSet.load(["generic", "water"]),
                        Settings(max_future_skew="1d"))
    await pipeline.start()
    return pipeline


async def close(pipeline: Pipeline) -> None:
    await pipeline.aclose()
    await pipeline.storage.aclose()


@pytest.fixture
async def pipeline(tmp_path: Path) -> AsyncIterator[Pipeline]:
    """A pipeline on SQLite with one water station, ``river``."""
    p = await open_pipeline(tmp_path / "water.db")
    await p.put_site(Site(id="river", pack="water", lat=25.3, lon=83.0))
    yield p
    await close(p)
