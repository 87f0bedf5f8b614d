"""Rules over HTTP: CRUD with errors naming the field, and effectiveness from feedback
matching the statistics vectors."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from riskcast.feedback.effectiveness import WEEK_US
from tests.alerts.conftest import readings
from tests.alerts.http import AlertsApi, alerts_api

pytestmark = pytest.mark.anyio
DATA = Path(__file__).resolve().parents[3] / ".." / "shared" / "data"
VECTORS: dict[str, Any] = json.loads((DATA / "rec_stats_test_vectors.json").read_text())
HOT: dict[str, Any] = {"id": "hot", "condition": {"kind": "threshold", "series": "temp_c",
                                                  "above": 40}}


@pytest.fixture
async def api() -> AsyncIterator[AlertsApi]:
    async with alerts_api() as a:
        yield a


async def test_rules_crud(api: AlertsApi) -> None:
    c = api.client
    listed = (await c.get("/api/v1/rules")).json()["rules"]
    assert {r["source"] for r in listed} == {"pack"} and len(listed) == 3
    r = await c.post("/api/v1/rules", json={
        **HOT, "routes": [{"type": "webhook", "url": "http://h.example/x", "secret": "k"}]})
    assert r.status_code == 201
    body = r.json()
    assert body["source"] == "api" and body["for"] == "0s"
    assert body["routes"][0]["secret"] == "***"
    assert (await c.post("/api/v1/rules", json=HOT)).status_code == 409
    body["name"] = "Hot"
    r = await c.put("/api/v1/rules/hot", json=body)  # read, edit, write back
    assert r.status_code == 200 and r.json()["name"] == "Hot"
    stored = api.service.rule_of("hot").rule.routes[0]
    assert stored.secret == "k"  # type: ignore[union-attr]
    assert (await c.get("/api/v1/rules/hot")).json()["name"] == "Hot"
    assert [x["id"] for x in (await c.get("/api/v1/rules",
                                          params={"source": "api"})).json()["rules"]] == ["hot"]
    assert (await c.delete("/api/v1/rules/hot")).status_code == 204
    assert (await c.get("/api/v1/rules/hot")).status_code == 404
    assert (await c.put("/api/v1/rules/hot", json=HOT)).status_code == 201


async def test_invalid_rules_answer_422_naming_the_field(api: AlertsApi) -> None:
    cases = [
        ({**HOT, "condition": {"kind": "threshold", "series": "temp_c", "above": "hot"}},
         "condition.above"),
        ({**HOT, "condition": {"kind": "sometimes"}}, "condition.kind"),
        ({**HOT, "severity": "meh"}, "severity"),
        ({**HOT, "for": "later"}, "for"),
        ({**HOT, "routes": [{"type": "webhook"}]}, "routes[0].url"),
        ({**HOT, "selector": {"pack": "unknown"}}, "selector.pack"),
        ({"condition": HOT["condition"]}, "id"),
    ]
    for body, field in cases:
        r = await api.client.post("/api/v1/rules", json=body)
        assert r.status_code == 422, body
        assert r.headers["content-type"] == "application/problem+json"
        assert r.json()["field"] == field, r.json()
    r = await api.client.put("/api/v1/rules/hot", json={**HOT, "id": "cold"})
    assert r.status_code == 422 and r.json()["field"] == "id"
    r = await api.client.post("/api/v1/rules", content=b"[1, 2")
    assert r.status_code == 422


async def test_effectiveness_counts_precision_and_wilson(api: AlertsApi) -> None:
    await api.client.put("/api/v1/rules/hot", json=HOT)
    await api.service.evaluate([readings("s1", {"temp_c": 50}, api.clock.now)])
    for verdict in ["true_positive"] * 9 + ["false_positive", "unsure"]:
        r = await api.client.post("/api/v1/alerts/hot:s1/feedback", json={"verdict": verdict})
        assert r.status_code == 201
    r = await api.client.get("/api/v1/rules/hot/effectiveness")
    assert r.status_code == 200
    body = r.json()
    assert body["counts"] == {"true_positive": 9, "false_positive": 1, "unsure": 1,
                              "total": 11}
    assert body["precision"] == pytest.approx(0.9)
    assert body["wilson_lower_bound"] == pytest.approx(0.59585, abs=1e-6)  # the 9/10 vector
    assert body["posterior_mean"] == pytest.approx(10 / 12)
    assert body["trend"] is None  # one week only
    assert (await api.client.get("/api/v1/rules/nope/effectiveness")).status_code == 404


async def test_effectiveness_trend_over_weeks_matches_mann_kendall_vectors(
        api: AlertsApi) -> None:
    await api.client.put("/api/v1/rules/hot", json=HOT)
    await api.service.evaluate([readings("s1", {"temp_c": 50}, api.clock.now)])
    vector = VECTORS["mann_kendall"]["with_ties"]
    for x in vector["x"]:  # one week per value: precision x/10
        for verdict in ["true_positive"] * int(x) + ["false_positive"] * (10 - int(x)):
            await api.client.post("/api/v1/alerts/hot:s1/feedback", json={"verdict": verdict})
        api.clock.advance(WEEK_US / 1e6)
    body = (await api.client.get("/api/v1/rules/hot/effectiveness")).json()
    assert [w["precision"] for w in body["weeks"]] == [x / 10 for x in vector["x"]]
    trend = body["trend"]
    assert (trend["n"], trend["s"], trend["trend"]) == (15, vector["S"], "increasing")
    assert trend["var_s"] == pytest.approx(vector["varS"])
    assert trend["z"] == pytest.approx(vector["z"])
    assert trend["p"] == pytest.approx(vector["p"])
    assert trend["tau"] == pytest.approx(vector["tau"])
    assert trend["sens_slope"] == pytest.approx(vector["sen_slope"] / 10)
    recent = (await api.client.get("/api/v1/rules/hot/effectiveness",
                                   params={"weeks": 4})).json()
    assert len(recent["weeks"]) == 4 and recent["counts"]["total"] == 150
