"""The service as wired: a bus listener beside ingest, pack defaults, rules from the store,
the SQLite default, the timer task."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest

from riskcast.alerts.files import parse_rule_text, store_rule_file
from riskcast.alerts.memory import MemoryAlertStore
from riskcast.alerts.service import AlertService
from riskcast.alerts.settings import AlertSettings
from riskcast.alerts.store import AlertStore
from riskcast.bus.memory import MemoryBus
from riskcast.core.readings import ReadingIn
from riskcast.core.sites import Site
from riskcast.exceptions import ConflictError, NotFoundError, ValidationError
from riskcast.packs.registry import PackSet
from riskcast.packs.wildfire import PACK as WILDFIRE
from riskcast.pipeline import Pipeline
from riskcast.settings import Settings
from riskcast.storage.memory import MemoryStorage
from tests.alerts.conftest import (
    FakeClock,
    RecordingNotifier,
    ServiceFactory,
    readings,
)

pytestmark = pytest.mark.anyio

HOT: dict[str, Any] = {"id": "hot", "condition": {"kind": "threshold", "series": "temp_c",
                                                  "above": 40}}


async def test_the_service_listens_to_readings_published_by_the_pipeline(
        clock: FakeClock, notifier: RecordingNotifier) -> None:
    bus = MemoryBus()
    storage = MemoryStorage()
    await storage.open()
    pipeline = Pipeline(storage, bus, PackSet.load(["generic"]), Settings(retention="0"))
    await pipeline.start()
    await pipeline.put_site(Site(id="s1", name="One"))
    svc = AlertService(bus=bus, sites=lambda: pipeline.sites, packs=[], data_dir=None,
                       clock=clock, notifiers={"log": notifier},
                       settings=AlertSettings(tick=0, group_wait="0s"))
    await svc.start()
    await svc.put_rule("hot", HOT)
    alerts = bus.listen()
    try:
        result = await pipeline.ingest([ReadingIn(site="s1", variable="temp_c", value=41.0)])
        assert result.accepted == 1
        event = await asyncio.wait_for(anext(alerts), 5)
        while event.channel != "alerts":
            event = await asyncio.wait_for(anext(alerts), 5)
        assert (event.data["id"], event.data["to"], event.data["value"]) == ("hot:s1",
                                                                            "firing", 41.0)
        [message] = await notifier.wait_messages(1)
        assert message.alerts[0]["site"] == "s1"
    finally:
        await svc.aclose()
        await pipeline.aclose()
        await storage.aclose()


async def test_notifications_never_block_publishing(
        make_service: ServiceFactory, clock: FakeClock) -> None:
    stuck = RecordingNotifier()
    stuck.block = asyncio.Event()  # every send hangs
    bus = MemoryBus()
    sites = {f"x{i}": Site(id=f"x{i}") for i in range(2000)}
    svc = await make_service(rules=[HOT], bus=bus, sites=sites, notifiers={"log": stuck})
    for i in range(2000):  # every reading fires an alert and queues a notification
        await bus.publish(f"site.x{i}", readings(f"x{i}", {"temp_c": 50}, clock.now))
    # every publish returned while the notification is stuck, and evaluation went on
    await svc.wait_evaluated(2000)
    await stuck.wait_attempts(1)
    assert svc.stats()["alerts"]["firing"] == 2000
    stuck.block.set()
    await stuck.wait_messages(1)


async def test_pack_defaults_load_and_never_overwrite_edits(
        make_service: ServiceFactory, clock: FakeClock) -> None:
    store = MemoryAlertStore()
    first = await make_service(packs=[WILDFIRE], store=store)
    assert sorted(r.rule.id for r in first.list_rules()) == [
        "wildfire-fwi-extreme", "wildfire-fwi-high", "wildfire-fwi-very-high"]
    assert {r.source for r in first.list_rules()} == {"pack"}
    edited = {**WILDFIRE.rules[0], "severity": "critical"}
    await first.put_rule("wildfire-fwi-high", edited)
    await first.delete_rule("wildfire-fwi-extreme")
    await first.aclose()

    second = await make_service(packs=[WILDFIRE], store=store)
    rules = {r.rule.id: r for r in second.list_rules()}
    assert sorted(rules) == ["wildfire-fwi-high", "wildfire-fwi-very-high"]
    assert rules["wildfire-fwi-high"].rule.severity == "critical"
    assert rules["wildfire-fwi-high"].source == "api"
    with pytest.raises(NotFoundError):
        second.rule_of("wildfire-fwi-extreme")
    # PUT brings a deleted default back
    _, created = await second.put_rule("wildfire-fwi-extreme", WILDFIRE.rules[2])
    assert created


async def test_wildfire_defaults_fire_on_the_danger_class(
        make_service: ServiceFactory, clock: FakeClock, notifier: RecordingNotifier) -> None:
    svc = await make_service(packs=[WILDFIRE])
    await svc.evaluate([readings("w1", {"danger_class": 4, "fwi": 40}, clock.now),
                        readings("s1", {"danger_class": 5}, clock.now)])  # s1 is not wildfire
    page, _ = await svc.list_alerts(state="firing")
    assert [(a.id, a.severity) for a in page] == [("wildfire-fwi-high:w1", "warning"),
                                                  ("wildfire-fwi-very-high:w1", "critical")]
    assert page[1].annotations == {
        "summary": "Fire danger at Fire tower: EFFIS class 4 (very high or above)"}


async def test_rule_crud_and_errors_naming_the_field(make_service: ServiceFactory,
                                                     clock: FakeClock) -> None:
    svc = await make_service()
    created = await svc.create_rule(HOT)
    assert created.source == "api"
    with pytest.raises(ConflictError):
        await svc.create_rule(HOT)
    with pytest.raises(ValidationError) as err:
        await svc.put_rule("hot", {**HOT, "condition": {"kind": "threshold",
                                                        "series": "temp_c", "above": "x"}})
    assert err.value.field == "condition.above"
    with pytest.raises(ValidationError) as err:
        await svc.put_rule("hot", {**HOT, "id": "other"})
    assert err.value.field == "id"
    with pytest.raises(ValidationError) as err:
        await svc.put_rule("hot", {**HOT, "routes": ["nowhere"]})
    assert err.value.field == "routes[0]"
    await svc.delete_rule("hot")
    with pytest.raises(NotFoundError):
        await svc.delete_rule("hot")


async def test_deleting_a_rule_resolves_its_alerts_quietly(
        make_service: ServiceFactory, clock: FakeClock, notifier: RecordingNotifier) -> None:
    svc = await make_service(rules=[HOT])
    await svc.evaluate([readings("s1", {"temp_c": 50}, clock.now)])
    await notifier.wait_messages(1)
    await svc.delete_rule("hot")
    alert, transitions = await svc.get_alert("hot:s1")
    assert alert.state == "resolved"
    assert (transitions[-1].by, transitions[-1].comment) == ("system", "rule removed")
    await svc.outbox.drain()
    assert len(notifier.messages) == 1


async def test_rules_loaded_into_the_store_are_picked_up_while_running(
        make_service: ServiceFactory, clock: FakeClock) -> None:
    store = MemoryAlertStore()
    svc = await make_service(store=store, rules_reload="10s")
    text = "rules:\n  - {id: cold, condition: {kind: threshold, series: temp_c, below: 0}}\n"
    await store_rule_file(store, parse_rule_text(text), clock.now)
    await svc.tick(clock.advance(11))
    assert [r.rule.id for r in svc.list_rules()] == ["cold"]
    await svc.evaluate([readings("s1", {"temp_c": -3}, clock.now)])
    assert svc.lifecycle.alerts["cold:s1"].state == "firing"


async def test_no_data_alerts_from_the_timer(make_service: ServiceFactory, clock: FakeClock,
                                             notifier: RecordingNotifier) -> None:
    rule = {"id": "quiet", "selector": {"sites": ["s1"]},
            "condition": {"kind": "no_data", "after": "30m"},
            "annotations": {"summary": "{site} silent for {value:.0f} s"}}
    svc = await make_service(rules=[rule])
    await svc.tick(clock.advance(29 * 60))
    assert "quiet:s1" not in svc.lifecycle.alerts
    await svc.tick(clock.advance(60))
    alert = svc.lifecycle.alerts["quiet:s1"]
    assert alert.state == "firing"
    assert alert.annotations == {"summary": "s1 silent for 1800 s"}
    await svc.evaluate([readings("s1", {"temp_c": 20}, clock.advance(5))])
    assert svc.lifecycle.alerts["quiet:s1"].state == "resolved"


async def test_sqlite_is_the_default_store_in_the_data_dir(
        tmp_path: Path, clock: FakeClock, notifier: RecordingNotifier) -> None:
    svc = AlertService(bus=MemoryBus(), sites=dict, packs=[WILDFIRE], data_dir=tmp_path,
                       clock=clock, notifiers={"log": notifier},
                       settings=AlertSettings(tick=0))
    await svc.start()
    await svc.aclose()
    assert (tmp_path / "alerts.db").exists()


async def test_the_timer_task_ticks_on_its_own(notifier: RecordingNotifier) -> None:
    svc = AlertService(bus=MemoryBus(), sites=lambda: {"s1": Site(id="s1")}, packs=[],
                       data_dir=None, notifiers={"log": notifier},
                       settings=AlertSettings(tick=0.01, group_wait="0s"))
    await svc.start()
    try:
        await svc.put_rule("quiet", {"id": "quiet",
                                     "condition": {"kind": "no_data", "after": "10ms"}})
        await notifier.wait_messages(1)
        assert svc.lifecycle.alerts["quiet:s1"].state == "firing"
    finally:
        await svc.aclose()


async def test_a_failed_store_write_is_retried_by_the_next_reading(
        make_service: ServiceFactory, clock: FakeClock) -> None:
    store: AlertStore = MemoryAlertStore()
    svc = await make_service(rules=[HOT], store=store)
    assert isinstance(store, MemoryAlertStore)
    store.fail_next_write = True
    await svc.evaluate([readings("s1", {"temp_c": 50}, clock.now)])
    assert "hot:s1" not in svc.lifecycle.alerts and svc.stats()["write_failures"] == 1
    await svc.evaluate([readings("s1", {"temp_c": 51}, clock.advance(1))])
    assert svc.lifecycle.alerts["hot:s1"].state == "firing"


async def test_an_overfull_queue_drops_the_oldest_events(
        make_service: ServiceFactory, clock: FakeClock) -> None:
    bus = MemoryBus()
    svc = await make_service(rules=[HOT], bus=bus, max_queued_events=3)
    for value in (50, 50, 10, 10, 50):  # published before the service gets a turn
        await bus.publish("site.s1", readings("s1", {"temp_c": value}, clock.advance(1)))
    await svc.wait_evaluated(5)
    assert svc.stats()["events"]["dropped"] == 2
    assert svc.lifecycle.alerts["hot:s1"].episodes == 1  # 10, 10, 50 were evaluated


async def test_deleting_a_site_resolves_its_alerts_and_stops_watching_it(
        make_service: ServiceFactory, clock: FakeClock, notifier: RecordingNotifier) -> None:
    table = {"s1": Site(id="s1"), "s2": Site(id="s2")}
    quiet = {"id": "quiet", "condition": {"kind": "no_data", "after": "10m"}}
    svc = await make_service(rules=[HOT, quiet], sites=table)
    await svc.evaluate([readings("s1", {"temp_c": 50}, clock.now)])
    del table["s1"]
    await svc.tick(clock.advance(60))
    alert, transitions = await svc.get_alert("hot:s1")
    assert alert.state == "resolved" and transitions[-1].comment == "site removed"
    await svc.tick(clock.advance(3600))
    assert "quiet:s1" not in svc.lifecycle.alerts  # a deleted site is not "silent"
    assert svc.lifecycle.alerts["quiet:s2"].state == "firing"
    table["s1"] = Site(id="s1")  # back again: watched again
    await svc.evaluate([readings("s1", {"temp_c": 55}, clock.advance(1))])
    assert svc.lifecycle.alerts["hot:s1"].state == "firing"
