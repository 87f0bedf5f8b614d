"""NATS JetStream bus: the bus contract plus two buses (two processes) sharing one server.
Needs NATS with JetStream (``RISKCAST_TEST_NATS``, default ``nats://127.0.0.1:4222``); each
test uses its own stream and subjects, deleted afterwards.
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

URL = os.environ.get("RISKCAST_TEST_NATS", "nats://127.0.0.1:4222")

if not IN_CI:  # in CI a missing extra is an error, not a skip
    pytest.importorskip("nats", reason="the nats extra is not installed")
from riskcast.bus.nats import NatsBus  # noqa: E402


@pytest.fixture
async def stream() -> AsyncIterator[str]:
    """A fresh stream name for this test (subjects ``<name>.events.>``), deleted afterwards."""
    parts = urlsplit(URL)
    require_service("NATS", parts.hostname or "127.0.0.1", parts.port or 4222)
    name = f"rc_test_{uuid.uuid4().hex[:12]}"
    yield name
    import nats

    nc = await nats.connect(URL)
    try:
        await nc.jetstream().delete_stream(name)
    except nats.js.errors.NotFoundError:
        pass
    finally:
        await nc.close()


@pytest.fixture
def make_bus(stream: str) -> Callable[[], NatsBus]:
    return lambda: NatsBus(URL, history_size=50, stream=stream,
                           subject_prefix=f"{stream}.events")


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
async def test_nats_bus_contract(make_bus: Callable[[], NatsBus], check: BusCheck) -> None:
    bus = make_bus()
    await bus.start()
    try:
        await check(bus)
    finally:
        await bus.aclose()


@pytest.mark.anyio
async def test_two_buses_share_channels(make_bus: Callable[[], NatsBus]) -> None:
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
async def test_concurrent_publishers_get_gapless_seqs(make_bus: Callable[[], NatsBus]) -> None:
    """Three buses race on one channel: JetStream's expected last subject sequence makes
    every seq unique and gapless, and a listener hears them in seq order."""
    buses = [make_bus() for _ in range(3)]
    for bus in buses:
        await bus.start()
    try:
        it = buses[0].listen()
        events = await asyncio.gather(*(buses[i % 3].publish("alerts", i) for i in range(60)))
        assert sorted(e.seq for e in events) == list(range(1, 61))
        by_seq = {e.seq: e.data for e in events}
        got = await _take(it, 60)
        assert [(e.seq, e.data) for e in got] == sorted(by_seq.items())
        assert [e.seq for e in await buses[1].history("alerts", 10)] == list(range(11, 61))
        with pytest.raises(HistoryGapError):
            await buses[2].history("alerts", 5)
    finally:
        for bus in buses:
            await bus.aclose()


@pytest.mark.anyio
async def test_channels_with_dots_and_colons_stay_apart(make_bus: Callable[[], NatsBus]) -> None:
    bus = make_bus()
    await bus.start()
    try:
        await bus.publish("site.s1", 1)
        await bus.publish("site.s1.x", 2)
        await bus.publish("pack.a:b@c", 3)
        assert [e.data for e in await bus.history("site.s1", 0)] == [1]
        assert [e.channel for e in await bus.history("site.s1.x", 0)] == ["site.s1.x"]
        assert await bus.last_seq("pack.a:b@c") == 1
    finally:
        await bus.aclose()


@pytest.mark.anyio
async def test_changed_history_size_updates_the_stream(stream: str) -> None:
    small = NatsBus(URL, history_size=50, stream=stream, subject_prefix=f"{stream}.events")
    await small.start()
    try:
        for i in range(30):
            await small.publish("busy", i)
        smaller = NatsBus(URL, history_size=20, stream=stream,
                          subject_prefix=f"{stream}.events")
        await smaller.start()
        try:
            await smaller.publish("busy", 30)
            with pytest.raises(HistoryGapError) as gap:
                await smaller.history("busy", 0)
            assert gap.value.oldest == 12
            assert [e.seq for e in await small.history("busy", 11)] == list(range(12, 32))
        finally:
            await smaller.aclose()
    finally:
        await small.aclose()


@pytest.mark.anyio
async def test_closed_bus_refuses_and_ends_listeners(make_bus: Callable[[], NatsBus]) -> None:
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
    bus = NatsBus("nats://127.0.0.1:1", timeout=0.5)
    with pytest.raises(BusError):
        await bus.start()
