"""The hub on its own, with in-memory subscribers: ordering, resume, gaps, slow consumers."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Sequence
from typing import Any

import pytest

from riskcast.api.hub import SLOW_CONSUMER, Batch, Hub, Outbox, Subscription
from riskcast.bus.memory import MemoryBus
from riskcast.core.events import Event

pytestmark = pytest.mark.anyio


class FakeSub:
    """Records what the hub sends; ``size`` is what it claims to have undelivered."""

    def __init__(self, authorize: Any = None, size: int = 0) -> None:
        self.authorize = authorize
        self.encoder = self.encode
        self.encoded = 0
        self.sends: list[Sequence[Batch]] = []
        self.events: list[Event] = []
        self.closed: tuple[int, str] | None = None
        self.size = size
        self._changed = asyncio.Event()

    def encode(self, event: Event) -> bytes:
        self.encoded += 1
        return event.to_json()

    def send(self, batches: Sequence[Batch]) -> int:
        self.sends.append(batches)
        for batch in batches:
            self.events.extend(batch.events)
        self._changed.set()
        return self.size

    def close(self, code: int, reason: str) -> None:
        self.closed = (code, reason)
        self._changed.set()

    def seqs(self, channel: str | None = None) -> list[int]:
        return [e.seq for e in self.events if channel is None or e.channel == channel]

    async def wait_for(self, count: int) -> None:
        async def until() -> None:
            while len(self.events) < count and self.closed is None:
                self._changed.clear()
                await self._changed.wait()
        await asyncio.wait_for(until(), 5)


@pytest.fixture
async def bus() -> AsyncIterator[MemoryBus]:
    bus = MemoryBus(history_size=5)
    await bus.start()
    yield bus
    await bus.aclose()


@pytest.fixture
async def hub(bus: MemoryBus) -> AsyncIterator[Hub]:
    hub = Hub(bus, buffer_bytes=1000)
    await hub.start()
    yield hub
    await hub.aclose()


async def publish(bus: MemoryBus, channel: str, count: int) -> None:
    for i in range(count):
        await bus.publish(channel, {"i": i})


async def test_hub_delivers_in_order_to_every_subscriber(bus: MemoryBus, hub: Hub) -> None:
    subs = [FakeSub() for _ in range(3)]
    for sub in subs:
        result = await hub.subscribe(sub, ["site.s1"])
        assert result.seq == {"site.s1": 0}
    await publish(bus, "site.s1", 4)
    for sub in subs:
        await sub.wait_for(4)
        assert sub.seqs() == [1, 2, 3, 4]
    assert hub.stats() == {"subscribers": 3, "channels": 1, "events": 4, "delivered": 12,
                           "dropped_slow": 0}


async def test_hub_encodes_each_event_once_for_many_subscribers(bus: MemoryBus,
                                                                hub: Hub) -> None:
    calls = 0

    def encode(event: Event) -> bytes:
        nonlocal calls
        calls += 1
        return event.to_json()

    subs = [FakeSub() for _ in range(50)]
    for sub in subs:
        sub.encoder = encode
        await hub.subscribe(sub, ["site.s1"])
    await publish(bus, "site.s1", 10)
    for sub in subs:
        await sub.wait_for(10)
    assert calls == 10
    # the joined bytes of one tick are one shared object
    assert len({id(sub.sends[0][0].joined) for sub in subs}) == 1


async def test_hub_sends_one_batch_list_per_tick_to_a_multi_channel_subscriber(
        bus: MemoryBus, hub: Hub) -> None:
    sub = FakeSub()
    await hub.subscribe(sub, ["site.s1", "alerts"])
    await bus.publish("site.s1", 1)
    await bus.publish("alerts", 2)
    await bus.publish("site.s1", 3)
    await sub.wait_for(3)
    assert len(sub.sends) == 1
    assert [b.events[0].channel for b in sub.sends[0]] == ["site.s1", "alerts"]
    assert sub.seqs("site.s1") == [1, 2]


async def test_hub_unsubscribe_stops_delivery(bus: MemoryBus, hub: Hub) -> None:
    sub = FakeSub()
    await hub.subscribe(sub, ["site.s1", "alerts"])
    assert hub.unsubscribe(sub, ["alerts", "other"]) == ["alerts"]
    await bus.publish("alerts", 1)
    await bus.publish("site.s1", 1)
    await sub.wait_for(1)
    assert [e.channel for e in sub.events] == ["site.s1"]
    assert hub.stats()["channels"] == 1


class GatedBus(MemoryBus):
    """A MemoryBus whose history() waits for a gate, so events arrive meanwhile."""

    def __init__(self) -> None:
        super().__init__(history_size=100)
        self.entered = asyncio.Event()
        self.gate = asyncio.Event()

    async def history(self, channel: str, after: int) -> list[Event]:
        events = await super().history(channel, after)
        self.entered.set()
        await self.gate.wait()
        return events


async def test_hub_resume_merges_history_and_live_without_gap_or_duplicate() -> None:
    bus = GatedBus()
    hub = Hub(bus)
    await hub.start()
    await publish(bus, "site.s1", 10)
    sub = FakeSub()
    acks: list[Subscription] = []
    task = asyncio.create_task(hub.subscribe(sub, ["site.s1"], {"site.s1": 3},
                                             on_ready=acks.append))
    await asyncio.wait_for(bus.entered.wait(), 5)
    await publish(bus, "site.s1", 5)  # 11..15 arrive while the history (4..10) is read
    await asyncio.sleep(0)  # let the hub read and buffer them (a yield, not a wait)
    bus.gate.set()
    result = await asyncio.wait_for(task, 5)
    await publish(bus, "site.s1", 2)
    await sub.wait_for(14)
    assert sub.seqs() == list(range(4, 18))
    assert acks == [result]
    assert result.seq == {"site.s1": 15}
    await hub.aclose()


class LaggingBus(MemoryBus):
    """A MemoryBus whose listeners only see events once ``release`` is set."""

    def __init__(self) -> None:
        super().__init__()
        self.release = asyncio.Event()

    def listen(self) -> AsyncIterator[Event]:
        inner = super().listen()

        async def lagging() -> AsyncIterator[Event]:
            await self.release.wait()
            async for event in inner:
                yield event
        return lagging()


async def test_hub_resume_skips_live_events_already_sent_as_history() -> None:
    bus = LaggingBus()
    hub = Hub(bus)
    await hub.start()
    await publish(bus, "site.s1", 3)  # in the history, not yet read by the hub
    sub = FakeSub()
    result = await hub.subscribe(sub, ["site.s1"], {"site.s1": 0})
    assert result.seq == {"site.s1": 3}
    bus.release.set()
    await publish(bus, "site.s1", 2)
    await sub.wait_for(5)
    assert sub.seqs() == [1, 2, 3, 4, 5]
    await hub.aclose()


async def test_hub_reports_gap_and_sends_what_is_retained(bus: MemoryBus, hub: Hub) -> None:
    await publish(bus, "site.s1", 10)  # history_size 5: 6..10 retained
    sub = FakeSub()
    result = await hub.subscribe(sub, ["site.s1"], {"site.s1": 2})
    [gap] = result.gaps
    assert (gap.channel, gap.since, gap.oldest) == ("site.s1", 2, 6)
    assert sub.seqs() == [6, 7, 8, 9, 10]
    assert result.seq == {"site.s1": 10}


async def test_hub_reports_reset_numbering_and_sends_whole_history(bus: MemoryBus,
                                                                    hub: Hub) -> None:
    await publish(bus, "site.s1", 3)
    sub = FakeSub()
    result = await hub.subscribe(sub, ["site.s1"], {"site.s1": 40})
    [gap] = result.gaps
    assert (gap.since, gap.oldest) == (40, 4)
    assert sub.seqs() == [1, 2, 3]
    await bus.publish("site.s1", "next")
    await sub.wait_for(4)
    assert sub.seqs() == [1, 2, 3, 4]


async def test_hub_drops_slow_subscriber_and_keeps_the_others(bus: MemoryBus,
                                                              hub: Hub) -> None:
    slow, fast = FakeSub(size=5000), FakeSub()
    await hub.subscribe(slow, ["site.s1"])
    await hub.subscribe(fast, ["site.s1"])
    await publish(bus, "site.s1", 3)
    await fast.wait_for(3)
    assert slow.closed == (SLOW_CONSUMER, "slow consumer: resume with since")
    await publish(bus, "site.s1", 2)
    await fast.wait_for(5)
    assert slow.seqs() == [1, 2, 3]
    assert fast.seqs() == [1, 2, 3, 4, 5]
    assert hub.stats()["dropped_slow"] == 1
    assert hub.stats()["subscribers"] == 1


async def test_hub_refuses_bad_forbidden_and_surplus_channels(bus: MemoryBus) -> None:
    hub = Hub(bus, max_channels=2)
    sub = FakeSub(authorize=lambda channel: channel != "secret")
    result = await hub.subscribe(sub, ["site.s1", "bad name", "secret", "alerts", "pack.x"])
    assert result.refused == {"bad name": "bad_channel", "secret": "forbidden",
                              "pack.x": "too_many_channels"}
    assert list(result.seq) == ["site.s1", "alerts"]
    again = await hub.subscribe(sub, ["site.s1"], {"site.s1": 0})
    assert again.unchanged == ["site.s1"] and again.seq == {}


async def test_hub_aclose_closes_everyone_with_going_away(bus: MemoryBus) -> None:
    hub = Hub(bus)
    await hub.start()
    subs = [FakeSub() for _ in range(3)]
    for sub in subs:
        await hub.subscribe(sub, ["alerts"])
    await hub.aclose()
    assert [s.closed for s in subs] == [(1001, "going away")] * 3
    assert hub.stats()["subscribers"] == 0
    await hub.aclose()


async def test_hub_closes_subscribers_when_the_bus_ends(bus: MemoryBus, hub: Hub) -> None:
    sub = FakeSub()
    await hub.subscribe(sub, ["alerts"])
    await bus.aclose()
    await sub.wait_for(1)
    assert sub.closed == (1001, "going away")


async def test_outbox_returns_empty_on_timeout_and_stops_on_close() -> None:
    outbox = Outbox()
    assert await outbox.get(0.01) == []
    assert outbox.put(b"abc") == 3
    assert outbox.put(b"de") == 5
    assert await outbox.get(1) == [b"abc", b"de"]
    assert outbox.size == 0
    outbox.put(b"x")
    outbox.close(4008, "slow")
    assert await outbox.get(1) == []
    assert outbox.closed == (4008, "slow")
    assert outbox.put(b"y") == 0
