"""Webhooks against a real local HTTP server: body, signature, idempotency key, retries
with backoff, dead letter after the last try."""

from __future__ import annotations

import hashlib
import hmac
from typing import Any

import msgspec
import pytest

from riskcast.alerts.notifiers.base import DeliveryError, Message
from riskcast.alerts.notifiers.webhook import WebhookNotifier
from riskcast.alerts.routes import WebhookRoute
from tests.alerts.conftest import FakeClock, ServiceFactory, readings
from tests.alerts.notifiers.conftest import Receiver

pytestmark = pytest.mark.anyio


def hook_rule(url: str, **route: Any) -> dict[str, Any]:
    return {"id": "hot", "name": "Hot", "severity": "critical",
            "condition": {"kind": "threshold", "series": "temp_c", "above": 40},
            "annotations": {"summary": "{value} at {site}"},
            "routes": [{"type": "webhook", "url": url, "secret": "s3cret", **route}]}


async def test_webhook_body_is_signed_with_the_route_secret(
        make_service: ServiceFactory, clock: FakeClock, receiver: Receiver) -> None:
    svc = await make_service(rules=[hook_rule(receiver.url, headers={"X-Team": "fire"})],
                             notifiers={})
    await svc.evaluate([readings("s1", {"temp_c": 42.5}, clock.now)])
    [request] = await receiver.wait(1)
    body = request.body
    expected = "sha256=" + hmac.new(b"s3cret", body, hashlib.sha256).hexdigest()
    assert hmac.compare_digest(request.headers["x-riskcast-signature"], expected)
    assert request.headers["content-type"] == "application/json"
    assert request.headers["x-team"] == "fire"
    assert request.headers["x-riskcast-attempt"] == "1"
    doc = msgspec.json.decode(body)
    assert doc["id"] == request.headers["idempotency-key"]
    assert doc["status"] == "firing" and doc["rule"] == {"id": "hot", "name": "Hot",
                                                         "severity": "critical"}
    [alert] = doc["alerts"]
    assert (alert["site"], alert["value"], alert["state"], alert["event"]) == (
        "s1", 42.5, "firing", "firing")
    assert alert["annotations"] == {"summary": "42.5 at s1"}
    await svc.outbox.drain()
    assert svc.stats()["notifications"]["sent"] == 1


async def test_webhook_retries_with_backoff_then_delivers(
        make_service: ServiceFactory, clock: FakeClock, receiver: Receiver) -> None:
    receiver.fail = 2
    svc = await make_service(rules=[hook_rule(receiver.url, backoff="5s", attempts=5)],
                             notifiers={})
    await svc.evaluate([readings("s1", {"temp_c": 50}, clock.now)])
    await receiver.wait(1)
    await svc.outbox.drain()
    await svc.tick(clock.advance(2))  # the first backoff is 2.5-5 s: not yet
    await svc.outbox.drain()
    assert len(receiver.requests) == 1
    await svc.tick(clock.advance(3))
    await receiver.wait(2)
    await svc.outbox.drain()
    await svc.tick(clock.advance(10))
    requests = await receiver.wait(3)
    await svc.outbox.drain()
    assert [r.headers["x-riskcast-attempt"] for r in requests] == ["1", "2", "3"]
    assert len({r.headers["idempotency-key"] for r in requests}) == 1
    assert len({r.body for r in requests}) == 1  # same body, same signature
    assert len({r.headers["x-riskcast-signature"] for r in requests}) == 1
    assert svc.stats()["notifications"] == {"sent": 1, "failed": 2, "dead": 0}


async def test_webhook_dead_letter_after_the_last_try(
        make_service: ServiceFactory, clock: FakeClock, receiver: Receiver) -> None:
    receiver.fail = 99
    svc = await make_service(rules=[hook_rule(receiver.url, backoff="1s", attempts=3)],
                             notifiers={})
    await svc.evaluate([readings("s1", {"temp_c": 50}, clock.now)])
    for n in (1, 2, 3):
        await receiver.wait(n)
        await svc.outbox.drain()
        await svc.tick(clock.advance(60))
    await svc.outbox.drain()
    assert len(receiver.requests) == 3
    [dead] = await svc.dead_letters()
    assert dead["type"] == "webhook" and dead["attempts"] == 3
    assert dead["error"].startswith("HTTP 503")


async def test_client_errors_are_final_and_retry_after_is_honoured(
        receiver: Receiver) -> None:
    notifier = WebhookNotifier()
    await notifier.start()
    message = Message(key="k1", rule="r", rule_name="R", severity="info", route="x",
                      alerts=[{"site": "s1", "event": "firing"}])
    try:
        receiver.fail, receiver.fail_status = 1, 400
        with pytest.raises(DeliveryError) as err:
            await notifier.send(WebhookRoute(url=receiver.url), message, attempt=1)
        assert not err.value.retryable
        receiver.fail, receiver.fail_status, receiver.retry_after = 1, 429, "120"
        with pytest.raises(DeliveryError) as err:
            await notifier.send(WebhookRoute(url=receiver.url), message, attempt=1)
        assert err.value.retryable and err.value.retry_after == 120
        await notifier.send(WebhookRoute(url=receiver.url), message, attempt=2)
        assert "x-riskcast-signature" not in receiver.requests[-1].headers  # no secret
    finally:
        await notifier.aclose()


async def test_unreachable_receiver_is_worth_retrying() -> None:
    notifier = WebhookNotifier()
    message = Message(key="k", rule="r", rule_name="R", severity="info", route="x", alerts=[])
    try:
        with pytest.raises(DeliveryError) as err:
            await notifier.send(WebhookRoute(url="http://127.0.0.1:9/none", timeout="2s"),
                                message, attempt=1)
        assert err.value.retryable
    finally:
        await notifier.aclose()


async def test_secret_from_the_environment(monkeypatch: pytest.MonkeyPatch,
                                           receiver: Receiver) -> None:
    monkeypatch.setenv("HOOK_SECRET", "from-env")
    notifier = WebhookNotifier()
    message = Message(key="k", rule="r", rule_name="R", severity="info", route="x", alerts=[])
    try:
        await notifier.send(WebhookRoute(url=receiver.url, secret_env="HOOK_SECRET"), message,
                            attempt=1)
    finally:
        await notifier.aclose()
    [request] = receiver.requests
    expected = "sha256=" + hmac.new(b"from-env", request.body, hashlib.sha256).hexdigest()
    assert request.headers["x-riskcast-signature"] == expected
