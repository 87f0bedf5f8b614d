"""The publish queue: order per channel, merging while events wait, a history_gap past
the bound. The in-process bus with ``inline=False`` queues as a network bus does; what
happens across a real outage is in tests/scale/test_faults.py."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Any

from riskcast.bus.memory import MemoryBus
from riskcast.core.events import Event
from riskcast.pipeline.publishing import PublishQueue
from riskcast.types import ReadingRow

T0 = 1_700_000_000_000_000


def render(site: str, rows: Sequence[ReadingRow]) -> dict[str, Any]:
    return {"type": "readings", "site": site, "readings": [r[2] for r in rows]}


def rows(site: str, start: int, count: int) -> list[ReadingRow]:
    return [(site, "temp_c", T0 + k, float(k), 0, "api") for k in range(start, start + count)]


async def published(bus: MemoryBus, channel: str) -> list[Event]:
    return await bus.history(channel, 0)


def test_events_wait_and_go_out_in_order_per_channel_merged() -> None:
    async def scenario() -> None:
        bus = MemoryBus()
        queue = PublishQueue(bus, render, inline=False, merge_limit=25)
        for k in range(10):  # nothing yields: all ten wait together
            await queue.readings("a", rows("a", k * 10, 10))
            await queue.event("system", {"n": k})
        assert queue.queued == 110
        assert await queue.flush(5)
        times = [t for e in await published(bus, "site.a") for t in e.data["readings"]]
        assert times == [T0 + k for k in range(100)]
        sizes = [len(e.data["readings"]) for e in await published(bus, "site.a")]
        assert max(sizes) <= 25 and len(sizes) < 10  # merged, within the limit
        assert [e.data["n"] for e in await published(bus, "system")] == list(range(10))
        assert queue.stats()["queued"] == 0 and queue.failures == 0

    asyncio.run(scenario())


def test_past_the_bound_waiting_events_become_one_history_gap() -> None:
    async def scenario() -> None:
        bus = MemoryBus()
        queue = PublishQueue(bus, render, inline=False, max_queued=50)
        for k in range(12):
            await queue.readings("a", rows("a", k * 10, 10))
        await queue.readings("b", rows("b", 0, 3))
        assert queue.queued <= 50
        assert await queue.flush(5)
        events = await published(bus, "site.a")
        gap = events[0].data
        assert gap["type"] == "history_gap" and gap["site"] == "a"
        assert gap["readings"] + sum(len(e.data["readings"]) for e in events[1:]) == 120
        span = gap["variables"]["temp_c"]
        assert span["from"] == "2023-11-14T22:13:20Z"
        after = [t for e in events[1:] for t in e.data["readings"]]
        assert after == sorted(after) and after[0] == T0 + gap["readings"]  # order holds
        assert [len(e.data["readings"]) for e in await published(bus, "site.b")] == [3]
        assert queue.gaps == 1 and queue.gap_readings == gap["readings"]

    asyncio.run(scenario())


def test_the_in_process_bus_publishes_inline() -> None:
    async def scenario() -> None:
        bus = MemoryBus()
        queue = PublishQueue(bus, render)
        await queue.readings("a", rows("a", 0, 2))
        assert [e.data["readings"] for e in await published(bus, "site.a")] == [[T0, T0 + 1]]

    asyncio.run(scenario())
