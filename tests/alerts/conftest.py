"""Fixtures for the alert tests: a fake clock, a recording notifier, a service factory."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from pathlib import Path
from typing import Any

import pytest

from riskcast.alerts.memory import MemoryAlertStore
from riskcast.alerts.notifiers.base import DeliveryError, Message, Notifier
from riskcast.alerts.routes import Route
from riskcast.alerts.service import AlertService
from riskcast.alerts.settings import AlertSettings
from riskcast.alerts.sqlite import SqliteAlertStore
from riskcast.alerts.store import AlertStore
from riskcast.bus.memory import MemoryBus
from riskcast.core.clock import format_us
from riskcast.core.sites import Site
from riskcast.packs.base import Pack

T0 = 1_782_907_200_000_000  # 2026-07-01T12:00:00Z
SECOND = 1_000_000
MINUTE = 60 * SECOND


class FakeClock:
    """A clock the test moves by hand (microseconds)."""

    def __init__(self, start: int = T0) -> None:
        self.now = start

    def __call__(self) -> int:
        return self.now

    def advance(self, seconds: float) -> int:
        self.now += int(seconds * SECOND)
        return self.now


class RecordingNotifier(Notifier):
    """Records every message; fails the first ``fail`` attempts; ``block`` holds sends."""

    def __init__(self, kind: str = "log", *, fail: int = 0, retryable: bool = True) -> None:
        self.type = kind  # type: ignore[misc]
        self.fail = fail
        self.retryable = retryable
        self.attempts: list[tuple[str, Message, int]] = []
        self.messages: list[Message] = []
        self.block: asyncio.Event | None = None
        self._changed = asyncio.Condition()

    async def send(self, route: Route, message: Message, *, attempt: int) -> None:
        async with self._changed:
            self.attempts.append((message.route, message, attempt))
            self._changed.notify_all()
        if self.block is not None:
            await self.block.wait()
        if self.fail > 0:
            self.fail -= 1
            raise DeliveryError("receiver down (test)", retryable=self.retryable)
        async with self._changed:
            self.messages.append(message)
            self._changed.notify_all()

    async def wait_messages(self, count: int, within: float = 5.0) -> list[Message]:
        async def done() -> None:
            async with self._changed:
                await self._changed.wait_for(lambda: len(self.messages) >= count)
        await asyncio.wait_for(done(), within)
        return self.messages

    async def wait_attempts(self, count: int, within: float = 5.0) -> None:
        async def done() -> None:
            async with self._changed:
                await self._changed.wait_for(lambda: len(self.attempts) >= count)
        await asyncio.wait_for(done(), within)

    def events(self) -> list[tuple[str, str, str]]:
        """(route, site, event) of every alert event delivered, in order."""
        return [(m.route, a["site"], a["event"]) for m in self.messages for a in m.alerts]


def readings(site: str, values: Mapping[str, float], t: int,
             quality: str = "good") -> dict[str, Any]:
    """A ``readings`` event payload as the pipeline publishes it."""
    return {"type": "readings", "site": site, "readings": [
        {"variable": k, "time": format_us(t), "value": float(v), "quality": quality}
        for k, v in values.items()]}


SITES = {
    "s1": Site(id="s1", name="North hill", pack="generic", tags={"region": "north"}),
    "s2": Site(id="s2", name="South vale", pack="generic", tags={"region": "south"}),
    "w1": Site(id="w1", name="Fire tower", pack="wildfire"),
}


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def notifier() -> RecordingNotifier:
    return RecordingNotifier("log")


@pytest.fixture(params=["memory", "sqlite"])
def store_factory(request: pytest.FixtureRequest, tmp_path: Path) -> Callable[[], AlertStore]:
    """Makes stores that share state: a second one sees the first one's data (restarts)."""
    if request.param == "memory":
        shared = MemoryAlertStore()
        return lambda: shared
    return lambda: SqliteAlertStore(tmp_path / "alerts.db")


ServiceFactory = Callable[..., Awaitable[AlertService]]


@pytest.fixture
async def make_service(clock: FakeClock, notifier: RecordingNotifier
                       ) -> AsyncIterator[ServiceFactory]:
    """Start services (closed at the end); rules given as dicts are PUT through the API
    methods. Timers are off: tests call ``tick``."""
    started: list[AlertService] = []

    async def make(*, rules: list[dict[str, Any]] = (), store: AlertStore | None = None,  # type: ignore[assignment]
                   packs: list[Pack] = (), sites: dict[str, Site] | None = None,  # type: ignore[assignment]
                   bus: MemoryBus | None = None, notifiers: dict[str, Notifier] | None = None,
                   **settings: Any) -> AlertService:
        options = {"tick": 0, "group_wait": "0s", "outbox_poll": 60.0, **settings}
        table = SITES if sites is None else sites
        service = AlertService(
            bus=bus or MemoryBus(), sites=lambda: table, packs=list(packs), data_dir=None,
            clock=clock, store=store or MemoryAlertStore(),
            notifiers=notifiers or {"log": notifier},
            settings=AlertSettings(**options))
        await service.start()
        started.append(service)
        for rule in rules:
            await service.put_rule(rule["id"], rule)
        return service

    yield make
    for service in started:
        await service.aclose()
