"""Alerts over HTTP: list, show, acknowledge, feedback, silences, dead letters."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest

from tests.alerts.conftest import readings
from tests.alerts.http import AlertsApi, alerts_api

pytestmark = pytest.mark.anyio
HOT: dict[str, Any] = {"id": "hot", "condition": {"kind": "threshold", "series": "temp_c",
                                                  "above": 40},
                       "annotations": {"summary": "{value} at {site}"}}


@pytest.fixture
async def api() -> AsyncIterator[AlertsApi]:
    async with alerts_api() as a:
        await a.client.put("/api/v1/rules/hot", json=HOT)
        yield a


async def fire(api: AlertsApi, *sites: str, value: float = 50) -> None:
    await api.service.evaluate([readings(s, {"temp_c": value}, api.clock.now) for s in sites])


async def test_list_filter_and_page_alerts(api: AlertsApi) -> None:
    await fire(api, "s1", "s2", "w1")
    await api.service.evaluate([readings("s2", {"temp_c": 0}, api.clock.advance(1))])
    r = await api.client.get("/api/v1/alerts", params={"state": "firing"})
    assert r.status_code == 200
    assert [a["id"] for a in r.json()["alerts"]] == ["hot:s1", "hot:w1"]
    seen, cursor = [], None
    while True:
        params: dict[str, Any] = {"limit": 1, "rule": "hot"}
        if cursor:
            params["cursor"] = cursor
        page = (await api.client.get("/api/v1/alerts", params=params)).json()
        seen += [a["id"] for a in page["alerts"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert seen == ["hot:s1", "hot:s2", "hot:w1"]
    r = await api.client.get("/api/v1/alerts", params={"site": "s2"})
    assert [a["state"] for a in r.json()["alerts"]] == ["resolved"]
    r = await api.client.get("/api/v1/alerts", params={"state": "sleeping"})
    assert r.status_code == 422 and r.json()["field"] == "state"


async def test_get_an_alert_with_its_transitions(api: AlertsApi) -> None:
    await fire(api, "s1", value=42)
    r = await api.client.get("/api/v1/alerts/hot:s1")
    assert r.status_code == 200
    body = r.json()
    assert (body["state"], body["value"], body["annotations"]) == ("firing", 42.0,
                                                                   {"summary": "42 at s1"})
    assert body["started_at"] == "2026-07-01T12:00:00Z"
    assert body["current"] == {"value": 42.0, "time": "2026-07-01T12:00:00Z"}
    assert [(t["from"], t["to"], t["by"]) for t in body["transitions"]] == [
        (None, "firing", "engine")]
    r = await api.client.get("/api/v1/alerts/hot:nowhere")
    assert r.status_code == 404
    assert r.headers["content-type"] == "application/problem+json"


async def test_acknowledge(api: AlertsApi) -> None:
    await fire(api, "s1")
    r = await api.client.post("/api/v1/alerts/hot:s1/ack",
                              json={"by": "ann", "comment": "on it"})
    assert r.status_code == 200
    assert (r.json()["state"], r.json()["acknowledged_by"]) == ("acknowledged", "ann")
    transitions = (await api.client.get("/api/v1/alerts/hot:s1")).json()["transitions"]
    assert transitions[-1] | {"at": None} == {
        "alert": "hot:s1", "seq": 2, "from": "firing", "to": "acknowledged", "at": None,
        "by": "ann", "comment": "on it", "value": 50.0, "silenced": False}
    for body, field in [({}, "by"), ({"by": " "}, "by"), ({"by": "x", "extra": 1}, "extra"),
                        ({"by": 3}, "by")]:
        r = await api.client.post("/api/v1/alerts/hot:s1/ack", json=body)
        assert r.status_code == 422 and r.json()["field"] == field, body
    await api.service.evaluate([readings("s1", {"temp_c": 0}, api.clock.advance(1))])
    r = await api.client.post("/api/v1/alerts/hot:s1/ack", json={"by": "ann"})
    assert r.status_code == 409


async def test_feedback(api: AlertsApi) -> None:
    await fire(api, "s1")
    r = await api.client.post("/api/v1/alerts/hot:s1/feedback",
                              json={"verdict": "false_positive", "comment": "sensor in sun",
                                    "by": "ann"})
    assert r.status_code == 201
    body = r.json()
    assert (body["rule"], body["verdict"], body["episode"], body["at"]) == (
        "hot", "false_positive", 1, "2026-07-01T12:00:00Z")
    r = await api.client.post("/api/v1/alerts/hot:s1/feedback", json={"verdict": "maybe"})
    assert r.status_code == 422 and r.json()["field"] == "verdict"
    r = await api.client.post("/api/v1/alerts/hot:zz/feedback",
                              json={"verdict": "unsure"})
    assert r.status_code == 404
    r = await api.client.post("/api/v1/alerts/hot:s1/feedback", content=b"{nope")
    assert r.status_code == 422


async def test_silences_crud_and_effect(api: AlertsApi) -> None:
    r = await api.client.post("/api/v1/silences", json={
        "matchers": [{"label": "rule", "value": "hot"}], "sites": ["s1"], "duration": "2h",
        "comment": "calibration", "created_by": "ann"})
    assert r.status_code == 201
    silence = r.json()
    assert (silence["status"], silence["starts_at"], silence["ends_at"]) == (
        "active", "2026-07-01T12:00:00Z", "2026-07-01T14:00:00Z")
    await fire(api, "s1", "s2")
    await api.notifier.wait_messages(1)
    await api.service.outbox.drain()
    assert [a["site"] for m in api.notifier.messages for a in m.alerts] == ["s2"]
    sid = silence["id"]
    assert (await api.client.get(f"/api/v1/silences/{sid}")).json()["comment"] == "calibration"
    r = await api.client.put(f"/api/v1/silences/{sid}", json={
        "sites": ["s1", "s2"], "ends_at": "2026-07-01T13:00:00Z"})
    assert r.status_code == 200 and r.json()["sites"] == ["s1", "s2"]
    assert (await api.client.delete(f"/api/v1/silences/{sid}")).status_code == 204
    listed = (await api.client.get("/api/v1/silences", params={"status": "expired"})).json()
    assert [s["id"] for s in listed["silences"]] == [sid]
    assert (await api.client.get("/api/v1/silences/nope")).status_code == 404
    for body, field in [({"duration": "1h"}, "matchers"), ({"sites": ["s1"]}, "ends_at"),
                        ({"sites": ["s1"], "duration": "soon"}, "duration"),
                        ({"sites": ["s1"], "ends_at": "yesterday"}, "ends_at"),
                        ({"matchers": [{"label": "x"}], "duration": "1h"}, "matchers[0].value")]:
        r = await api.client.post("/api/v1/silences", json=body)
        assert r.status_code == 422 and r.json()["field"] == field, (body, r.json())


async def test_dead_letters_are_listed_and_can_be_retried(api: AlertsApi) -> None:
    await api.client.put("/api/v1/rules/hot", json={
        **HOT, "routes": [{"type": "log", "attempts": 1}]})
    api.notifier.fail = 1
    await fire(api, "s1")
    await api.notifier.wait_attempts(1)
    await api.service.outbox.drain()
    r = await api.client.get("/api/v1/notifications/dead")
    [dead] = r.json()["messages"]
    assert (dead["rule"], dead["route"], dead["type"], dead["attempts"]) == (
        "hot", "hot#0", "log", 1)
    assert dead["events"] == [{"alert": "hot:s1", "event": "firing"}]
    r = await api.client.post(f"/api/v1/notifications/dead/{dead['id']}/retry")
    assert r.status_code == 202
    await api.notifier.wait_messages(1)
    await api.service.outbox.drain()
    assert (await api.client.get("/api/v1/notifications/dead")).json() == {"messages": []}
    r = await api.client.post("/api/v1/notifications/dead/nope/retry")
    assert r.status_code == 404
