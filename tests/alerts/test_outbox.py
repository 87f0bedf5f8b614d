"""The outbox: at least once across crashes, one idempotency key per message, retries
with backoff, dead letters after the last attempt, no duplicates after a restart."""

from __future__ import annotations

import asyncio
import random
from collections.abc import Callable
from typing import Any

import pytest

from riskcast.alerts.outbox import backoff_us, message_key
from riskcast.alerts.store import AlertStore
from tests.alerts.conftest import (
    SECOND,
    FakeClock,
    RecordingNotifier,
    ServiceFactory,
    readings,
)

pytestmark = pytest.mark.anyio

HOT: dict[str, Any] = {"id": "hot", "condition": {"kind": "threshold", "series": "temp_c",
                                                  "above": 40}}


async def test_crash_before_sending_sends_once_after_restart(
        make_service: ServiceFactory, clock: FakeClock,
        store_factory: Callable[[], AlertStore]) -> None:
    down = RecordingNotifier()
    first = await make_service(rules=[HOT], store=store_factory(), group_wait="1m",
                               notifiers={"log": down})
    await first.evaluate([readings("s1", {"temp_c": 50}, clock.now)])
    [row] = await first.store.outbox({"pending"})
    await first.aclose()  # the process dies: state and outbox row are committed, nothing sent
    assert down.attempts == []

    clock.advance(60)
    up = RecordingNotifier()
    second = await make_service(store=store_factory(), notifiers={"log": up})
    [message] = await up.wait_messages(1)
    assert message.key == message_key([row.id])
    assert [(a["site"], a["event"]) for a in message.alerts] == [("s1", "firing")]
    await second.tick(clock.advance(3600))
    await second.outbox.drain()
    assert len(up.attempts) == 1
    [sent] = await second.store.outbox({"sent"})
    assert sent.id == row.id and sent.message == message.key


async def test_crash_during_sending_resends_with_the_same_key(
        make_service: ServiceFactory, clock: FakeClock,
        store_factory: Callable[[], AlertStore]) -> None:
    hung = RecordingNotifier()
    hung.block = asyncio.Event()  # the receiver got it, the answer never comes back
    first = await make_service(rules=[HOT], store=store_factory(), notifiers={"log": hung})
    await first.evaluate([readings("s1", {"temp_c": 50}, clock.now)])
    await hung.wait_attempts(1)
    await first.aclose()
    key = hung.attempts[0][1].key

    up = RecordingNotifier()
    await make_service(store=store_factory(), notifiers={"log": up})
    [again] = await up.wait_messages(1)
    assert again.key == key and again.body() == hung.attempts[0][1].body()


async def test_restart_does_not_notify_again_and_resolves_once(
        make_service: ServiceFactory, clock: FakeClock,
        store_factory: Callable[[], AlertStore]) -> None:
    rule = {**HOT, "repeat_interval": "1h"}
    before = RecordingNotifier()
    first = await make_service(rules=[rule], store=store_factory(), notifiers={"log": before})
    await first.evaluate([readings("s1", {"temp_c": 50}, clock.now)])
    await before.wait_messages(1)
    await first.outbox.drain()
    await first.aclose()

    after = RecordingNotifier()
    second = await make_service(store=store_factory(), notifiers={"log": after})
    assert second.lifecycle.alerts["hot:s1"].state == "firing"
    for _ in range(3):  # the condition still holds: nothing new
        await second.evaluate([readings("s1", {"temp_c": 55}, clock.advance(60))])
    await second.tick()
    await second.outbox.drain()
    assert after.attempts == []
    await second.tick(clock.advance(3600))  # the repeat timer survived the restart
    await after.wait_messages(1)
    await second.evaluate([readings("s1", {"temp_c": 10}, clock.advance(60))])
    await after.wait_messages(2)
    await second.tick(clock.advance(3600))
    await second.outbox.drain()
    assert [e for _, _, e in after.events()] == ["repeat", "resolved"]
    _, transitions = await second.get_alert("hot:s1")
    assert [t.to_state for t in transitions] == ["firing", "resolved"]


async def test_failures_are_retried_with_backoff_then_delivered(
        make_service: ServiceFactory, clock: FakeClock) -> None:
    flaky = RecordingNotifier(fail=2)
    rule = {**HOT, "routes": [{"type": "log", "attempts": 4, "backoff": "10s"}]}
    svc = await make_service(rules=[rule], notifiers={"log": flaky})
    await svc.evaluate([readings("s1", {"temp_c": 50}, clock.now)])
    await flaky.wait_attempts(1)
    await svc.outbox.drain()
    [row] = await svc.store.outbox({"claimed"})
    assert row.attempts == 1 and 5 * SECOND <= row.due_at - clock.now <= 10 * SECOND
    await svc.tick(clock.advance(4))  # not yet due
    await svc.outbox.drain()
    assert len(flaky.attempts) == 1
    await svc.tick(clock.advance(6))
    await flaky.wait_attempts(2)
    await svc.outbox.drain()
    [row] = await svc.store.outbox({"claimed"})
    assert 10 * SECOND <= row.due_at - clock.now <= 20 * SECOND
    await svc.tick(clock.advance(20))
    await flaky.wait_messages(1)
    assert [a for _, _, a in flaky.attempts] == [1, 2, 3]
    assert len({m.key for _, m, _ in flaky.attempts}) == 1
    assert svc.stats()["notifications"] == {"sent": 1, "failed": 2, "dead": 0}


async def test_after_the_last_attempt_the_message_is_a_dead_letter(
        make_service: ServiceFactory, clock: FakeClock) -> None:
    down = RecordingNotifier(fail=99)
    rule = {**HOT, "routes": [{"type": "log", "attempts": 3, "backoff": "1s"}]}
    svc = await make_service(rules=[rule], notifiers={"log": down})
    await svc.evaluate([readings("s1", {"temp_c": 50}, clock.now)])
    for n in range(1, 4):
        await down.wait_attempts(n)
        await svc.outbox.drain()
        await svc.tick(clock.advance(60))
    await svc.outbox.drain()
    assert len(down.attempts) == 3
    [dead] = await svc.dead_letters()
    assert dead["attempts"] == 3 and dead["route"] == "hot#0"
    assert "receiver down" in dead["error"]
    assert dead["events"] == [{"alert": "hot:s1", "event": "firing"}]
    assert svc.stats()["notifications"]["dead"] == 1
    # an operator sends it again once the receiver is back
    down.fail = 0
    await svc.retry_dead(dead["id"])
    await down.wait_messages(1)
    assert down.messages[0].key == dead["id"]
    await svc.outbox.drain()
    assert await svc.dead_letters() == []


async def test_final_failures_go_to_dead_letters_at_once(
        make_service: ServiceFactory, clock: FakeClock) -> None:
    refused = RecordingNotifier(fail=1, retryable=False)
    svc = await make_service(rules=[HOT], notifiers={"log": refused})
    await svc.evaluate([readings("s1", {"temp_c": 50}, clock.now)])
    await refused.wait_attempts(1)
    await svc.outbox.drain()
    assert [d["attempts"] for d in await svc.dead_letters()] == [1]


async def test_a_blocked_receiver_does_not_hold_up_other_routes(
        make_service: ServiceFactory, clock: FakeClock) -> None:
    stuck, fine = RecordingNotifier("webhook"), RecordingNotifier("log")
    stuck.block = asyncio.Event()
    rule = {**HOT, "routes": [{"type": "webhook", "url": "http://127.0.0.1:9/", "timeout": "1h"}]}
    svc = await make_service(rules=[rule, {**HOT, "id": "other"}],
                             notifiers={"webhook": stuck, "log": fine})
    await svc.evaluate([readings("s1", {"temp_c": 50}, clock.now)])
    await stuck.wait_attempts(1)
    await fine.wait_messages(1)
    stuck.block.set()
    await stuck.wait_messages(1)


def test_backoff_doubles_up_to_the_cap_with_jitter() -> None:
    rng = random.Random(1)
    for attempt in range(1, 12):
        delay = min(60, 2 ** (attempt - 1)) * SECOND
        got = backoff_us(attempt, SECOND, 60 * SECOND, rng)
        assert delay // 2 <= got <= delay
    spread = {backoff_us(5, SECOND, 60 * SECOND, rng) for _ in range(20)}
    assert len(spread) > 10  # jittered, not in lockstep
