"""A bus whose server restarts while events are being published: publishes wait for it
(up to the bus's retry window) instead of failing, nothing is stored twice, and listeners
get every event of the channel in order."""

from __future__ import annotations

import asyncio
import math
from collections.abc import AsyncIterator

import pytest

from riskcast.bus.base import Bus
from riskcast.core.events import Event
from tests.scale.services import Daemon

pytestmark = pytest.mark.anyio


@pytest.fixture
async def bus(bus_server: tuple[str, Daemon]) -> AsyncIterator[Bus]:
    from riskcast.bus import open_bus

    url, _ = bus_server
    b = open_bus(url, history_size=10_000)
    await b.start()
    yield b
    await b.aclose()


async def test_publishes_ride_through_a_restart(bus: Bus, bus_server: tuple[str, Daemon]
                                                ) -> None:
    _, daemon = bus_server
    listener = bus.listen()
    published: list[Event] = []
    restarted = asyncio.Event()
    twenty = asyncio.Event()

    async def publish_until_restarted() -> None:
        k = 0
        while not restarted.is_set() or k < 20:
            published.append(await bus.publish("site.r", {"k": k}))
            k += 1
            if k == 20:
                twenty.set()

    async def restart() -> None:
        await twenty.wait()
        await asyncio.to_thread(daemon.stop)
        await asyncio.to_thread(daemon.start)
        restarted.set()

    await asyncio.gather(publish_until_restarted(), restart())
    more = [await bus.publish("site.r", {"k": len(published) + i}) for i in range(5)]
    published += more
    assert [e.seq for e in published] == list(range(1, len(published) + 1))
    assert [e.data["k"] for e in published] == list(range(len(published)))
    history = await bus.history("site.r", 0)
    assert [e.seq for e in history] == [e.seq for e in published]  # none stored twice
    heard: list[Event] = []
    async with asyncio.timeout(30):
        while len(heard) < len(published):
            heard.append(await anext(listener))
    assert [e.seq for e in heard] == [e.seq for e in published]


async def test_a_publish_without_limit_outlasts_the_retry_window(
        bus_server: tuple[str, Daemon]) -> None:
    """``retry_for=math.inf`` (what the publish queue asks for) waits out an outage longer
    than the bus's own window: a publish with the default window fails meanwhile, the other
    is stored once when the server is back."""
    from riskcast.bus.nats import NatsBus
    from riskcast.bus.redis import RedisBus
    from riskcast.exceptions import BusError

    url, daemon = bus_server
    bus: Bus = (RedisBus(url, retry_for=0.3) if url.startswith("redis")
                else NatsBus(url, retry_for=0.3, timeout=0.5))
    await bus.start()
    try:
        await bus.publish("site.w", {"k": 0})
        await asyncio.to_thread(daemon.stop)
        waiting = asyncio.create_task(bus.publish("site.w", {"k": 1}, retry_for=math.inf))
        with pytest.raises(BusError):
            await bus.publish("site.other", {"k": 9})  # its window passes: the outage is longer
        assert not waiting.done()
        await asyncio.to_thread(daemon.start)
        async with asyncio.timeout(60):
            event = await waiting
        assert event.seq == 2
        assert [e.data["k"] for e in await bus.history("site.w", 0)] == [0, 1]
    finally:
        await bus.aclose()
