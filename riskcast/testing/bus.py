"""The bus contract as runnable checks. Each check gets a fresh, started bus."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

from riskcast.bus.base import Bus
from riskcast.core.events import Event
from riskcast.exceptions import HistoryGapError, ValidationError

BusCheck = Callable[[Bus], Awaitable[None]]


async def _take(it: object, n: int) -> list[Event]:
    async def run() -> list[Event]:
        out = []
        async for event in it:  # type: ignore[attr-defined]
            out.append(event)
            if len(out) == n:
                break
        return out

    return await asyncio.wait_for(run(), 5.0)


async def seq_is_gapless_per_channel(bus: Bus) -> None:
    """seq counts 1, 2, 3... per channel, independently."""
    a = [await bus.publish("site.a", {"n": i}) for i in range(3)]
    b = await bus.publish("site.b", {"n": 0})
    assert [e.seq for e in a] == [1, 2, 3] and b.seq == 1
    assert await bus.last_seq("site.a") == 3 and await bus.last_seq("never") == 0


async def listen_gets_events_in_order(bus: Bus) -> None:
    """A listener created before publishing gets every event, in order per channel."""
    it = bus.listen()
    for i in range(50):
        await bus.publish("site.x" if i % 2 else "site.y", {"i": i})
    got = await _take(it, 50)
    for channel in ("site.x", "site.y"):
        seqs = [e.seq for e in got if e.channel == channel]
        assert seqs == list(range(1, 26))
    assert got[0].data == {"i": 0}
    assert Event.from_json(got[0].to_json()) == got[0]


async def history_after_seq(bus: Bus) -> None:
    """history(after) returns the retained events after ``after``."""
    for i in range(5):
        await bus.publish("alerts", {"i": i})
    assert [e.seq for e in await bus.history("alerts", 2)] == [3, 4, 5]
    assert await bus.history("alerts", 5) == []
    assert next(e.data for e in await bus.history("alerts", 0)) == {"i": 0}


async def history_gap_is_reported(bus: Bus) -> None:
    """Evicted history and a since beyond the last seq raise HistoryGapError."""
    size = getattr(bus, "history_size", 1000)
    for i in range(size + 5):
        await bus.publish("busy", i)
    try:
        await bus.history("busy", 1)
    except HistoryGapError as err:
        assert err.oldest > 2
    else:
        raise AssertionError("expected HistoryGapError for evicted history")
    try:
        await bus.history("busy", size + 100)
    except HistoryGapError:
        pass
    else:
        raise AssertionError("expected HistoryGapError for a since beyond the last seq")


async def bad_channel_refused(bus: Bus) -> None:
    """A malformed channel name is refused with ValidationError."""
    for bad in ("", "has space", "a..b", "x" * 300):
        try:
            await bus.publish(bad, 1)
        except ValidationError:
            continue
        raise AssertionError(f"channel {bad!r} was accepted")


BUS_CHECKS: list[BusCheck] = [
    seq_is_gapless_per_channel, listen_gets_events_in_order, history_after_seq,
    history_gap_is_reported, bad_channel_refused,
]


async def check_bus(make: Callable[[], Awaitable[Bus]]) -> None:
    """Run every bus check, each on a fresh bus from ``make()`` (started here)."""
    for check in BUS_CHECKS:
        bus = await make()
        await bus.start()
        try:
            await check(bus)
        finally:
            await bus.aclose()
