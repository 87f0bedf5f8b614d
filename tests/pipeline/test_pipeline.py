"""Ingest through the pipeline: group commit, overload, failures, publishing, draining."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

import pytest

from riskcast.core.readings import ReadingIn
from riskcast.exceptions import OverloadedError, StorageError
from riskcast.ingest.writer import GroupCommitter
from riskcast.pipeline import Pipeline
from riskcast.storage.memory import MemoryStorage
from riskcast.types import ReadingRow

pytestmark = pytest.mark.anyio
T0 = 1_782_907_200.0


def batch(n: int, *, site: str = "s1", start: float = T0, variable: str = "temp_c"
          ) -> list[ReadingIn | None]:
    return [ReadingIn(site=site, variable=variable, value=float(i % 40), time=start + i)
            for i in range(n)]


async def stored(p: Pipeline, site: str = "s1", variable: str = "temp_c") -> int:
    return len(await p.storage.read_series(site, variable, 0, 2**62, limit=10**7))


async def test_concurrent_batches_share_commits(pipeline: Pipeline) -> None:
    results = await asyncio.gather(*(
        pipeline.ingest(batch(100, start=T0 + k * 1000)) for k in range(50)))
    assert all(r.accepted == 100 and r.rejected == [] for r in results)
    assert await stored(pipeline) == 5000
    # Fifty requests, far fewer transactions: they were grouped.
    assert pipeline.committer.commits < 10


async def test_retry_is_idempotent(pipeline: Pipeline) -> None:
    await pipeline.ingest(batch(10))
    await pipeline.ingest(batch(10))
    assert await stored(pipeline) == 10


async def test_commit_publishes_one_event_per_site(pipeline: Pipeline) -> None:
    listener = pipeline.bus.listen()
    await pipeline.ingest(batch(3, site="s1") + batch(2, site="s2"))
    events = []
    async for event in listener:
        if event.channel.startswith("site."):
            events.append(event)
        if len(events) == 2:
            break
    by_channel = {e.channel: e.data for e in events}
    assert len(by_channel["site.s1"]["readings"]) == 3
    assert by_channel["site.s2"]["readings"][1] == {
        "variable": "temp_c", "time": "2026-07-01T12:00:01Z", "value": 1.0, "quality": "good"}


async def test_site_created_elsewhere_is_found(pipeline: Pipeline) -> None:
    from riskcast.core.sites import Site

    await pipeline.storage.put_site(Site(id="late"))  # as another process would
    result = await pipeline.ingest(batch(2, site="late"))
    assert result.accepted == 2


class GatedStorage(MemoryStorage):
    """Memory storage whose writes wait for a gate, or fail on demand."""

    def __init__(self) -> None:
        super().__init__()
        self.gate = asyncio.Event()
        self.entered = asyncio.Event()
        self.fail = False

    async def write_readings(self, rows: Sequence[ReadingRow]) -> None:
        self.entered.set()
        await self.gate.wait()
        if self.fail:
            raise StorageError("disk on fire")
        await super().write_readings(rows)


def rows(n: int, start: int = 0) -> list[ReadingRow]:
    return [("s", "v", start + i, 1.0, 0, None) for i in range(n)]


async def test_overload_refuses_past_the_bound_and_loses_nothing() -> None:
    storage = GatedStorage()
    committer = GroupCommitter(storage, max_pending=150)
    await committer.start()
    first = asyncio.create_task(committer.submit(rows(100)))
    await storage.entered.wait()
    # Tasks start in creation order: the second queues, the third finds 140 pending.
    second = asyncio.create_task(committer.submit(rows(40, 1000)))
    third = asyncio.create_task(committer.submit(rows(20, 2000)))
    with pytest.raises(OverloadedError) as err:
        await third
    assert err.value.retry_after > 0
    storage.gate.set()
    await asyncio.gather(first, second)
    await committer.aclose()
    assert len(await storage.read_series("s", "v", 0, 10**6, limit=1000)) == 140


async def test_failed_commit_fails_every_caller_of_the_group() -> None:
    storage = GatedStorage()
    storage.fail = True
    committer = GroupCommitter(storage)
    await committer.start()
    calls = [asyncio.create_task(committer.submit(rows(5, k * 10))) for k in range(3)]
    await storage.entered.wait()
    storage.gate.set()
    outcomes = await asyncio.gather(*calls, return_exceptions=True)
    assert all(isinstance(o, StorageError) for o in outcomes)
    storage.fail = False
    await committer.submit(rows(5))  # the committer survives a failed commit
    await committer.aclose()
    assert len(await storage.read_series("s", "v", 0, 10**6, limit=1000)) == 5


async def test_aclose_commits_everything_queued() -> None:
    storage = GatedStorage()
    committer = GroupCommitter(storage)
    await committer.start()
    calls = [asyncio.create_task(committer.submit(rows(10, k * 100))) for k in range(10)]
    await storage.entered.wait()
    closing = asyncio.create_task(committer.aclose())
    storage.gate.set()
    await asyncio.gather(*calls, closing)
    assert len(await storage.read_series("s", "v", 0, 10**6, limit=1000)) == 100
    with pytest.raises(OverloadedError):
        await committer.submit(rows(1))
