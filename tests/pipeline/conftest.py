"""A pipeline over real SQLite and the in-process bus."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from riskcast.bus.memory import MemoryBus
from riskcast.core.sites import Site
from riskcast.packs.registry import PackSet
from riskcast.pipeline import Pipeline
from riskcast.settings import Settings
from riskcast.storage.sqlite import SqliteStorage


@pytest.fixture
async def pipeline(tmp_path: Path) -> AsyncIterator[Pipeline]:
    storage = SqliteStorage(tmp_path / "p.db", synchronous="normal")
    bus = MemoryBus()
    await storage.open()
    p = Pipeline(storage, bus, PackSet.load(["generic"]), Settings(data_dir=tmp_path))
    await p.start()
    await p.put_site(Site(id="s1"))
    await p.put_site(Site(id="s2"))
    yield p
    await p.aclose()
    await storage.aclose()
