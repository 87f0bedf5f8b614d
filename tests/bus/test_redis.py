"""Redis bus: the bus contract plus two buses (two processes) sharing one server, and a
lost subscription. Needs Redis (``RISKCAST_TEST_REDIS``, default ``redis://127.0.0.1:6379/0``);
each test uses its own key prefix, deleted afterwards.
"""

from __future__ import annotations

import asyncio
import os
import uuid
from collections.abc import AsyncIterator, Callable
from urllib.parse import urlsplit

import pytest

from riskcast.core.events import Event
from riskcast.exceptions import BusError, HistoryGapError
from riskcast.testing.bus import BUS_CHECKS, BusCheck
from tests.conftest import IN_CI, require_service

URL = os.environ.get("RISKCAST_TEST_REDIS", "redis://127.0.0.1:6379/0")

if not IN_CI:  # in CI a missing extra is an error, not a skip
    pytest.importorskip("redis", reason="the redis extra is not installed")
from riskcast.bus.redis import RedisBus  # noqa: E402


@pytest.fixture
async def prefix() -> AsyncIterator[str]:
    """A fresh key prefix for this test; its keys are deleted afterwards."""
    parts = urlsplit(URL)
    require_service("Redis", parts.hostname or "127.0.0.1", parts.port or 6379)
    name = f"rc_test_{uuid.uuid4().hex[:12]}"
    yield name
    import redis.asyncio as aioredis

    client = aioredis.from_url(URL)
    try:
        keys = [key async for key in client.scan_iter(match=f"{name}:*")]
        if keys:
            await client.delete(*keys)
    finally:
        await client.aclose()


@pytest.fixture
def make_bus(prefix: str) -> Callable[[], RedisBus]:
    return lambda: RedisBus(URL, history_size=50, prefix=prefix)


async def _take(it: AsyncIterator[Event], n: int) -> list[Event]:
    async def run() -> list[Event]:
        out: list[Event] = []
        async for event in it:
            out.append(event)
            if len(out) == n:
                break
        return out

    return await asyncio.wait_for(run(), 10.0)


@pytest.mark.anyio
@pytest.mark.parametrize("check", BUS_CHECKS, ids=lambda c: c.__name__)
async def test_redis_bus_contract(make_bus: Callable[[], RedisBus], check: BusCheck) -> None:
    bus = make_bus()
    await bus.start()
    try:
        await check(bus)
    finally:
        await bus.aclose()


@pytest.mark.anyio
async def test_two_buses_share_channels(make_bus: Callable[[], RedisBus]) -> None:
    """An event published through one process reaches a listener of another, in order;
    both see the same history and last seq."""
    a, b = make_bus(), make_bus()
    await a.start()
    await b.start()
    try:
        it = b.listen()
        sent = [await (a if i % 3 else b).publish("site.s1", {"i": i}) for i in range(30)]
        assert [e.seq for e in sent] == list(range(1, 31))
        got = await _take(it, 30)
        assert [(e.seq, e.data) for e in got] == [(e.seq, e.data) for e in sent]
        assert await a.last_seq("site.s1") == await b.last_seq("site.s1") == 30
        assert await a.history("site.s1", 25) == await b.history("site.s1", 25) == sent[25:]
    finally:
        await a.aclose()
        await b.aclose()


@pytest.mark.anyio
async def test_concurrent_publishers_get_gapless_seqs(make_bus: Callable[[], RedisBus]) -> None:
    buses = [make_bus() for _ in range(3)]
    for bus in buses:
        await bus.start()
    try:
        events = await asyncio.gather(*(buses[i % 3].publish("alerts", i) for i in range(60)))
        assert sorted(e.seq for e in events) == list(range(1, 61))
        assert [e.seq for e in await buses[0].history("alerts", 10)] == list(range(11, 61))
    finally:
        for bus in buses:
            await bus.aclose()


@pytest.mark.anyio
async def test_listener_catches_up_after_lost_subscription(
        make_bus: Callable[[], RedisBus], prefix: str, caplog: pytest.LogCaptureFixture) -> None:
    """The subscription's connection is killed: the listener still gets every event in order."""
    import redis.asyncio as aioredis

    bus, publisher = make_bus(), make_bus()
    await bus.start()
    await publisher.start()
    admin = aioredis.from_url(URL)
    try:
        it = bus.listen()
        await publisher.publish("site.k", 0)
        assert [e.seq for e in await _take(it, 1)] == [1]
        clients = await admin.client_list(_type="pubsub")
        ours = [c["id"] for c in clients if c.get("name") == f"{prefix}-bus"]
        assert len(ours) == 2
        await admin.client_kill_filter(_id=ours[0])
        await admin.client_kill_filter(_id=ours[1])
        for i in range(1, 6):
            await publisher.publish("site.k", i)
        got = await _take(it, 5)
        assert [(e.seq, e.data) for e in got] == [(i + 1, i) for i in range(1, 6)]
        assert "subscription lost" in caplog.text
    finally:
        await admin.aclose()
        await bus.aclose()
        await publisher.aclose()


@pytest.mark.anyio
async def test_reset_numbering_reaches_listeners(make_bus: Callable[[], RedisBus],
                                                 prefix: str) -> None:
    """Redis lost the channel's keys: numbering restarts at 1, listeners still hear it, and a
    resume point beyond the new last seq is a gap."""
    import redis.asyncio as aioredis

    bus = make_bus()
    await bus.start()
    admin = aioredis.from_url(URL)
    try:
        it = bus.listen()
        for i in range(3):
            await bus.publish("site.r", i)
        assert [e.seq for e in await _take(it, 3)] == [1, 2, 3]
        await admin.delete(f"{prefix}:seq:site.r", f"{prefix}:history:site.r")
        assert (await bus.publish("site.r", "again")).seq == 1
        assert [(e.seq, e.data) for e in await _take(it, 1)] == [(1, "again")]
        with pytest.raises(HistoryGapError):
            await bus.history("site.r", 3)
    finally:
        await admin.aclose()
        await bus.aclose()


@pytest.mark.anyio
async def test_closed_bus_refuses_and_ends_listeners(make_bus: Callable[[], RedisBus]) -> None:
    bus = make_bus()
    await bus.start()
    it = bus.listen()
    await bus.aclose()
    await bus.aclose()
    assert [e async for e in it] == []
    with pytest.raises(BusError):
        await bus.publish("alerts", 1)


@pytest.mark.anyio
async def test_unreachable_server_is_a_bus_error() -> None:
    bus = RedisBus("redis://127.0.0.1:1/0")
    with pytest.raises(BusError):
        await bus.start()
