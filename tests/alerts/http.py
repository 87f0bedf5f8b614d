"""An app with the alert routers, wired as the lead's ``create_app`` will: the service on
``app.state.runtime.alerts``, problem+json errors. Shared by the alerts and rules tests."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from types import SimpleNamespace

import httpx
from fastapi import FastAPI

from riskcast.alerts.service import AlertService
from riskcast.alerts.settings import AlertSettings
from riskcast.api import problems
from riskcast.api.routes import alerts, rules
from riskcast.bus.memory import MemoryBus
from riskcast.core.sites import Site
from riskcast.packs.wildfire import PACK as WILDFIRE
from tests.alerts.conftest import FakeClock, RecordingNotifier


@dataclass
class AlertsApi:
    client: httpx.AsyncClient
    service: AlertService
    clock: FakeClock
    notifier: RecordingNotifier


def make_app(service: AlertService) -> FastAPI:
    app = FastAPI()
    app.state.runtime = SimpleNamespace(alerts=service)
    problems.install(app)
    app.include_router(alerts.router)
    app.include_router(alerts.silences_router)
    app.include_router(alerts.notifications_router)
    app.include_router(rules.router)
    return app


@asynccontextmanager
async def alerts_api() -> AsyncIterator[AlertsApi]:
    clock, notifier = FakeClock(), RecordingNotifier()
    sites = {"s1": Site(id="s1", name="One"), "s2": Site(id="s2"),
             "w1": Site(id="w1", pack="wildfire")}
    service = AlertService(bus=MemoryBus(), sites=lambda: sites, packs=[WILDFIRE],
                           data_dir=None, clock=clock, notifiers={"log": notifier},
                           settings=AlertSettings(tick=0, group_wait="0s"))
    await service.start()
    transport = httpx.ASGITransport(app=make_app(service))
    try:
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            yield AlertsApi(client, service, clock, notifier)
    finally:
        await service.aclose()
