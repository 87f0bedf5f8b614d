"""Every bus passes the same contract; a new bus is one more parameter."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from riskcast.bus.base import Bus
from riskcast.bus.memory import MemoryBus
from riskcast.testing.bus import BUS_CHECKS, BusCheck

BACKENDS: dict[str, Callable[[], Bus]] = {
    "memory": lambda: MemoryBus(history_size=50),
}


@pytest.mark.anyio
@pytest.mark.parametrize("backend", list(BACKENDS))
@pytest.mark.parametrize("check", BUS_CHECKS, ids=lambda c: c.__name__)
async def test_bus_contract(backend: str, check: BusCheck) -> None:
    bus = BACKENDS[backend]()
    await bus.start()
    try:
        await check(bus)
    finally:
        await bus.aclose()


@pytest.mark.anyio
async def test_listen_ends_when_bus_closes() -> None:
    bus = MemoryBus()
    it = bus.listen()
    await bus.aclose()
    assert [e async for e in it] == []
