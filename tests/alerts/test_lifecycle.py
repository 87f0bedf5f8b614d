"""The lifecycle through the service, on a fake clock: every transition, ``for``,
acknowledgement, re-firing, the ``alerts`` channel, silences, escalation and repeats."""

from __future__ import annotations

from typing import Any

import pytest

from riskcast.alerts.records import STATES
from riskcast.alerts.service import AlertService
from riskcast.bus.memory import MemoryBus
from riskcast.exceptions import ConflictError, NotFoundError
from tests.alerts.conftest import (
    MINUTE,
    FakeClock,
    RecordingNotifier,
    ServiceFactory,
    readings,
)

pytestmark = pytest.mark.anyio

def state(svc: AlertService, aid: str) -> str:
    return svc.lifecycle.alerts[aid].state


HOT: dict[str, Any] = {
    "id": "hot", "name": "Hot", "severity": "critical",
    "condition": {"kind": "threshold", "series": "temp_c", "above": 40, "clear_below": 35},
    "labels": {"team": "fire"},
    "annotations": {"summary": "{variable} {value} at {site_name} ({site})"}}


async def test_every_transition_is_stored_with_who_and_when(
        make_service: ServiceFactory, clock: FakeClock, notifier: RecordingNotifier) -> None:
    bus = MemoryBus()
    events = bus.listen()
    svc = await make_service(rules=[{**HOT, "for": "5m"}], bus=bus)
    t0 = clock.now
    await svc.evaluate([readings("s1", {"temp_c": 41}, t0)])
    alert = svc.lifecycle.alerts["hot:s1"]
    assert alert.state == "pending"
    assert alert.annotations == {"summary": "temp_c 41 at North hill (s1)"}
    assert alert.labels == {"team": "fire", "rule": "hot", "site": "s1",
                            "severity": "critical", "pack": "generic"}
    await svc.tick(clock.advance(4 * 60))
    assert state(svc, "hot:s1") == "pending"
    await svc.tick(clock.advance(60))
    assert state(svc, "hot:s1") == "firing"
    await notifier.wait_messages(1)
    acked = await svc.acknowledge("hot:s1", by="ann", comment="crew on the way")
    assert (acked.state, acked.acknowledged_by) == ("acknowledged", "ann")
    clock.advance(60)
    await svc.evaluate([readings("s1", {"temp_c": 36}, clock.now)])  # hysteresis: holds
    assert state(svc, "hot:s1") == "acknowledged"
    await svc.evaluate([readings("s1", {"temp_c": 34}, clock.advance(60))])
    assert state(svc, "hot:s1") == "resolved"
    await svc.evaluate([readings("s1", {"temp_c": 45}, clock.advance(60))])
    again = svc.lifecycle.alerts["hot:s1"]
    assert (again.state, again.episodes, again.acknowledged_by) == ("pending", 2, None)

    stored, transitions = await svc.get_alert("hot:s1")
    assert stored == again
    assert [(t.from_state, t.to_state, t.by) for t in transitions] == [
        (None, "pending", "engine"), ("pending", "firing", "engine"),
        ("firing", "acknowledged", "ann"), ("acknowledged", "resolved", "engine"),
        ("resolved", "pending", "engine")]
    assert [t.at - t0 for t in transitions] == [0, 5 * MINUTE, 5 * MINUTE, 7 * MINUTE,
                                                8 * MINUTE]
    assert transitions[2].comment == "crew on the way"
    published = [(await anext(events)).data for _ in range(5)]
    assert [(e["from"], e["to"]) for e in published] == [
        (t.from_state, t.to_state) for t in transitions]
    assert {e["id"] for e in published} == {"hot:s1"}
    # firing and resolved were notified; the acknowledgement stops nothing that was sent
    await notifier.wait_messages(2)
    assert notifier.events() == [("log", "s1", "firing"), ("log", "s1", "resolved")]


async def test_pending_that_clears_before_for_resolves_without_notifying(
        make_service: ServiceFactory, clock: FakeClock, notifier: RecordingNotifier) -> None:
    svc = await make_service(rules=[{**HOT, "for": "10m"}])
    await svc.evaluate([readings("s1", {"temp_c": 50}, clock.now)])
    await svc.evaluate([readings("s1", {"temp_c": 20}, clock.advance(60))])
    await svc.tick(clock.advance(3600))
    assert state(svc, "hot:s1") == "resolved"
    await svc.outbox.drain()
    assert notifier.attempts == []


async def test_for_zero_fires_at_once_and_notifies(
        make_service: ServiceFactory, clock: FakeClock, notifier: RecordingNotifier) -> None:
    svc = await make_service(rules=[HOT])
    await svc.evaluate([readings("s2", {"temp_c": 40}, clock.now)])
    assert svc.lifecycle.alerts["hot:s2"].state == "firing"
    [message] = await notifier.wait_messages(1)
    assert message.rule == "hot" and message.alerts[0]["annotations"]["summary"] == \
        "temp_c 40 at South vale (s2)"


async def test_repeats_fold_into_one_alert_per_rule_and_site(
        make_service: ServiceFactory, clock: FakeClock) -> None:
    svc = await make_service(rules=[HOT])
    for value in (50, 20, 50, 20, 50):
        await svc.evaluate([readings("s1", {"temp_c": value}, clock.advance(60))])
    page, _ = await svc.list_alerts()
    assert [(a.id, a.episodes, a.state) for a in page] == [("hot:s1", 3, "firing")]


async def test_acknowledge_only_firing_alerts(make_service: ServiceFactory,
                                              clock: FakeClock) -> None:
    svc = await make_service(rules=[{**HOT, "for": "1h"}])
    with pytest.raises(NotFoundError):
        await svc.acknowledge("hot:s1", by="ann")
    await svc.evaluate([readings("s1", {"temp_c": 50}, clock.now)])
    with pytest.raises(ConflictError):
        await svc.acknowledge("hot:s1", by="ann")
    await svc.tick(clock.advance(3600))
    first = await svc.acknowledge("hot:s1", by="ann")
    second = await svc.acknowledge("hot:s1", by="bob")
    assert first == second and second.acknowledged_by == "ann"


async def test_stats_count_alerts_by_state(make_service: ServiceFactory,
                                           clock: FakeClock) -> None:
    svc = await make_service(rules=[HOT])
    await svc.evaluate([readings(s, {"temp_c": 50}, clock.now) for s in ("s1", "s2")])
    await svc.evaluate([readings("s2", {"temp_c": 0}, clock.advance(1))])
    stats = svc.stats()
    assert set(stats["alerts"]) == set(STATES)
    assert stats["alerts"]["firing"] == 1 and stats["alerts"]["resolved"] == 1
    assert stats["evaluations"] == 3 and stats["rules"] == 1


# -- silences -------------------------------------------------------------------------------


async def test_silenced_alerts_are_recorded_but_not_notified(
        make_service: ServiceFactory, clock: FakeClock, notifier: RecordingNotifier) -> None:
    svc = await make_service(rules=[HOT])
    await svc.create_silence({"matchers": [{"label": "team", "value": "fire"}],
                              "sites": ["s1"], "duration": "1h", "comment": "maintenance",
                              "created_by": "ann"})
    await svc.evaluate([readings(s, {"temp_c": 50}, clock.now) for s in ("s1", "s2")])
    assert svc.lifecycle.alerts["hot:s1"].state == "firing"
    assert svc.lifecycle.alerts["hot:s1"].silenced
    _, transitions = await svc.get_alert("hot:s1")
    assert transitions[-1].silenced
    await notifier.wait_messages(1)
    await svc.tick(clock.advance(30 * 60))
    await svc.outbox.drain()
    assert notifier.events() == [("log", "s2", "firing")]
    # the silence ends while s1 still fires: now it is notified
    await svc.tick(clock.advance(30 * 60))
    await notifier.wait_messages(2)
    assert notifier.events()[-1] == ("log", "s1", "firing")


async def test_expired_silence_no_longer_mutes(make_service: ServiceFactory, clock: FakeClock,
                                               notifier: RecordingNotifier) -> None:
    svc = await make_service(rules=[HOT])
    silence = await svc.create_silence({"matchers": [{"label": "severity", "value": "crit.*",
                                                      "op": "=~"}], "duration": "1h"})
    clock.advance(60)
    await svc.expire_silence(silence.id)
    await svc.evaluate([readings("s1", {"temp_c": 50}, clock.advance(1))])
    await notifier.wait_messages(1)
    assert [s.id for s in await svc.list_silences()] == [silence.id]


async def test_silence_resolve_is_not_notified_either(
        make_service: ServiceFactory, clock: FakeClock, notifier: RecordingNotifier) -> None:
    svc = await make_service(rules=[HOT])
    await svc.evaluate([readings("s1", {"temp_c": 50}, clock.now)])
    await notifier.wait_messages(1)
    await svc.create_silence({"sites": ["s1"], "duration": "1h"})
    await svc.evaluate([readings("s1", {"temp_c": 0}, clock.advance(60))])
    await svc.tick(clock.advance(60))
    await svc.outbox.drain()
    assert notifier.events() == [("log", "s1", "firing")]


# -- escalation and repeats -------------------------------------------------------------------


ESCALATING = {**HOT, "routes": [{"type": "log"}, {"type": "log", "level": "error"},
                                {"type": "log", "level": "error"}],
              "escalate_after": "10m"}


async def test_unacknowledged_alert_escalates_to_the_next_route_each_period(
        make_service: ServiceFactory, clock: FakeClock, notifier: RecordingNotifier) -> None:
    svc = await make_service(rules=[ESCALATING])
    await svc.evaluate([readings("s1", {"temp_c": 50}, clock.now)])
    await notifier.wait_messages(1)
    await svc.tick(clock.advance(9 * 60 + 59))
    await svc.outbox.drain()
    assert len(notifier.messages) == 1
    await svc.tick(clock.advance(1))
    await notifier.wait_messages(2)
    await svc.tick(clock.advance(10 * 60))
    await notifier.wait_messages(3)
    await svc.tick(clock.advance(60 * 60))
    await svc.outbox.drain()
    assert notifier.events() == [("hot#0", "s1", "firing"), ("hot#1", "s1", "escalated"),
                                 ("hot#2", "s1", "escalated")]
    assert svc.lifecycle.alerts["hot:s1"].level == 2
    _, transitions = await svc.get_alert("hot:s1")
    assert [t.comment for t in transitions[-2:]] == ["escalated to hot#1",
                                                     "escalated to hot#2"]
    # resolving tells every route that was told
    await svc.evaluate([readings("s1", {"temp_c": 0}, clock.advance(60))])
    await notifier.wait_messages(6)
    assert sorted(notifier.events()[3:]) == [("hot#0", "s1", "resolved"),
                                             ("hot#1", "s1", "resolved"),
                                             ("hot#2", "s1", "resolved")]


async def test_acknowledgement_stops_escalation(
        make_service: ServiceFactory, clock: FakeClock, notifier: RecordingNotifier) -> None:
    svc = await make_service(rules=[ESCALATING])
    await svc.evaluate([readings("s1", {"temp_c": 50}, clock.now)])
    await notifier.wait_messages(1)
    await svc.acknowledge("hot:s1", by="ann")
    await svc.tick(clock.advance(3600))
    await svc.outbox.drain()
    assert notifier.events() == [("hot#0", "s1", "firing")]


async def test_repeat_interval_for_alerts_still_firing(
        make_service: ServiceFactory, clock: FakeClock, notifier: RecordingNotifier) -> None:
    svc = await make_service(rules=[{**HOT, "repeat_interval": "1h"}])
    await svc.evaluate([readings("s1", {"temp_c": 50}, clock.now)])
    await notifier.wait_messages(1)
    await svc.tick(clock.advance(59 * 60))
    await svc.outbox.drain()
    assert len(notifier.messages) == 1
    await svc.tick(clock.advance(60))
    await notifier.wait_messages(2)
    await svc.tick(clock.advance(30 * 60))
    await svc.tick(clock.advance(30 * 60))
    await notifier.wait_messages(3)
    await svc.acknowledge("hot:s1", by="ann")
    await svc.tick(clock.advance(5 * 3600))
    await svc.outbox.drain()
    assert [e for _, _, e in notifier.events()] == ["firing", "repeat", "repeat"]


async def test_notifications_of_one_rule_within_the_window_go_out_as_one_message(
        make_service: ServiceFactory, clock: FakeClock, notifier: RecordingNotifier) -> None:
    svc = await make_service(rules=[HOT, {**HOT, "id": "other"}], group_wait="30s")
    await svc.evaluate([readings("s1", {"temp_c": 50}, clock.now)])
    await svc.evaluate([readings("s2", {"temp_c": 50}, clock.advance(10))])
    await svc.evaluate([readings("w1", {"temp_c": 50}, clock.advance(10))])
    await svc.tick(clock.advance(9))
    await svc.outbox.drain()
    assert notifier.messages == []
    await svc.tick(clock.advance(1))
    messages = await notifier.wait_messages(2)
    by_rule = {m.rule: sorted(a["site"] for a in m.alerts) for m in messages}
    assert by_rule == {"hot": ["s1", "s2", "w1"], "other": ["s1", "s2", "w1"]}
    assert all(m.title().startswith("[FIRING] Hot (critical): s1, s2, w1") for m in messages)
