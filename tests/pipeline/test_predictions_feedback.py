"""Operator feedback on stored predictions feeds the version's live metrics, with the actor
recorded (auth on), beside the labels posted to ``/outcomes``."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from riskcast.settings import Settings
from riskcast.testing.server import LiveServer, live_server

from ..conftest import SHARED_DATA
from .test_predictions_live import Events, hours, train, weather


@pytest.fixture
def server(tmp_path: Path) -> Iterator[LiveServer]:
    settings = Settings(data_dir=tmp_path / "data", sqlite_synchronous="normal",
                        retention="0", auth=True, keepalive="1s")
    with live_server(settings) as srv:
        srv.runtime.models.source_dir = SHARED_DATA  # type: ignore[union-attr]
        yield srv


ROWS = [{"Temperature": 38.0, "RH": 30.0, "Ws": 18.0, "Rain": 0.0},
        {"Temperature": 22.0, "RH": 85.0, "Ws": 10.0, "Rain": 4.0},
        {"Temperature": 33.0, "RH": 50.0, "Ws": 15.0, "Rain": 0.0}]


def test_feedback_scores_stored_predictions_with_the_actor(server: LiveServer) -> None:
    with httpx.Client(base_url=server.url, headers=server.headers, timeout=60) as admin:
        train(server, admin, "wildfire-occurrence", {})
        admin.post("/api/v1/models/wildfire-occurrence/deploy",
                   json={"version": 1}).raise_for_status()
        admin.post("/api/v1/sites", json={"id": "fire-f", "pack": "wildfire"}).raise_for_status()
        keys = {role: admin.post("/api/v1/keys", json={"name": f"{role}-1", "role": role}
                                 ).json()["key"] for role in ("operator", "viewer")}
        stored = []
        with Events(admin, "site.fire-f") as events:
            for h, row in enumerate(ROWS):
                admin.post("/api/v1/readings",
                           json={"readings": weather("fire-f", hours(h), row)}).raise_for_status()
                stored.append(events.until(lambda d, h=h: d.get("type") == "prediction"
                                           and d["time"] == hours(h))["value"])
    url = "/api/v1/models/wildfire-occurrence/feedback"
    with httpx.Client(base_url=server.url, timeout=60,
                      headers={"Authorization": f"Bearer {keys['viewer']}"}) as viewer:
        r = viewer.post(url, json={"site": "fire-f", "time": hours(0), "label": 1})
        assert r.status_code == 403
    with httpx.Client(base_url=server.url, timeout=60,
                      headers={"Authorization": f"Bearer {keys['operator']}"}) as op:
        # A fire that happened, a quiet day confirmed, and one "incorrect" verdict.
        a = op.post(url, json={"site": "fire-f", "time": hours(0), "label": 1,
                               "by": "someone else"})
        assert a.status_code == 200, a.text
        assert a.json()["by"] == "operator-1" and a.json()["version"] == 1
        assert a.json()["predicted"] == pytest.approx(stored[0], abs=1e-12)
        b = op.post(url, json={"site": "fire-f", "time": hours(1), "label": 0}).json()
        c = op.post(url, json={"site": "fire-f", "time": hours(2), "verdict": "incorrect"}).json()
        said = 1 if stored[2] > 0.5 else 0
        assert c["truth"] == 1 - said
        truths = [1, 0, 1 - said]
        expected_brier = sum((p - t) ** 2 for p, t in zip(stored, truths, strict=True)) / 3
        expected_acc = sum((p > 0.5) == bool(t) for p, t in zip(stored, truths, strict=True)) / 3
        assert c["live"]["n"] == 3
        assert c["live"]["brier"] == pytest.approx(expected_brier, abs=1e-9)
        assert c["live"]["accuracy"] == pytest.approx(expected_acc)
        assert b["live"]["n"] == 2
        # Once per prediction; none where nothing was predicted; the field named.
        again = op.post(url, json={"site": "fire-f", "time": hours(0), "label": 0})
        assert again.status_code == 409
        missing = op.post(url, json={"site": "fire-f", "time": hours(9), "label": 0})
        assert missing.status_code == 404
        for body, field in [({"time": hours(0), "site": "fire-f", "label": 7}, "label"),
                            ({"time": hours(0), "site": "fire-f"}, "label"),
                            ({"time": "noon", "site": "fire-f", "label": 1}, "time"),
                            ({"time": hours(0), "site": "fire-f", "value": 0.3}, "label")]:
            r = op.post(url, json=body)
            assert r.status_code == 422 and r.json()["field"] == field, (body, r.text)
    with httpx.Client(base_url=server.url, headers=server.headers, timeout=60) as admin:
        # Labels posted to /outcomes add to the same live metrics.
        admin.post("/api/v1/models/wildfire-occurrence/outcomes",
                   json={"rows": [ROWS[0]], "labels": [1]}).raise_for_status()
        perf = admin.get("/api/v1/models/wildfire-occurrence/performance").json()
        assert perf["versions"][0]["all"]["n"] == 4
        status = admin.get("/api/v1/models/wildfire-occurrence/status").json()
        assert status["production"]["live"]["n"] == 4
        listed = admin.get("/api/v1/models/wildfire-occurrence/feedback").json()["feedback"]
        assert [f["time"] for f in listed] == [hours(2), hours(1), hours(0)]
        assert {f["by"] for f in listed} == {"operator-1"}
        assert server.loop is not None
        asyncio.run_coroutine_threadsafe(server.runtime.security.audit.flush(),
                                         server.loop).result(10)
        records = admin.get("/api/v1/audit", params={"action": "model.feedback"}).json()
        ok = [r for r in records["records"] if r["result"] == "ok"]
        assert len(ok) == 3 and {r["actor"]["name"] for r in ok} == {"operator-1"}
        assert {r["target"] for r in ok} == {"wildfire-occurrence"}
