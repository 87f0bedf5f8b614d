"""``GET /api/v1/models/{name}/status`` on a real server: aliases and when they moved, the
live counters, shadow and drift figures."""

from __future__ import annotations

import httpx

from riskcast.packs.wildfire.occurrence import load_algerian
from riskcast.testing.server import LiveServer

from ..conftest import SHARED_DATA
from .test_predictions_batch import server  # noqa: F401  (the fixture)
from .test_predictions_live import WEATHER, Events, hours, train, weather


def test_status_names_versions_counters_shadow_and_drift(server: LiveServer,  # noqa: F811
                                                         ) -> None:
    with httpx.Client(base_url=server.url, headers=server.headers, timeout=60) as c:
        r = c.get("/api/v1/models/wildfire-occurrence/status")
        assert r.status_code == 404 and r.json()["status"] == 404
        train(server, c, "wildfire-occurrence", {})
        train(server, c, "wildfire-occurrence", {"algorithm": "logistic regression"})
        before = c.get("/api/v1/models/wildfire-occurrence/status").json()
        assert before["production"] is None and before["predictions"]["predictions"] == 0
        assert before["predictions"]["last_time"] is None and before["drift"] is None
        c.post("/api/v1/models/wildfire-occurrence/deploy", json={"version": 1}).raise_for_status()
        c.post("/api/v1/models/wildfire-occurrence/deploy",
               json={"version": 2, "alias": "staging", "by": "ana"}).raise_for_status()
        c.post("/api/v1/sites", json={"id": "fire-s", "pack": "wildfire"}).raise_for_status()
        data = load_algerian(SHARED_DATA)
        X = data.matrix(tuple(WEATHER))[:30]
        with Events(c, "site.fire-s") as events:
            for minute, x in enumerate(X):  # 20 °C hotter than the training days
                row = dict(zip(WEATHER, map(float, x), strict=True))
                row["Temperature"] += 20
                time = hours(4, minute)
                c.post("/api/v1/readings",
                       json={"readings": weather("fire-s", time, row)}).raise_for_status()
                events.until(lambda d, t=time: d.get("type") == "prediction"
                             and d["time"] == t)
        status = c.get("/api/v1/models/wildfire-occurrence/status").json()
        assert status["latest"] == 2 and status["versions"] == 2
        assert status["production"]["version"] == 1
        assert status["production"]["deployed_at"].endswith("Z")
        assert status["staging"]["version"] == 2 and status["staging"]["deployed_by"] == "ana"
        live = status["predictions"]
        assert live["predictions"] == 30 and live["failures"] == 0
        assert live["last_time"] == hours(4, 29) and live["last_at"] is not None
        [comparison] = status["shadow"]["comparisons"]
        assert comparison["production"] == 1 and comparison["staging"] == 2
        assert comparison["rows"] == 30
        drift = status["drift"]
        assert drift["version"] == 1 and drift["rows"] == 30
        by_feature = {f["feature"]: f for f in drift["features"]}
        assert by_feature["Temperature"]["ks"] >= 0.6
        assert by_feature["Temperature"]["level"] == "major"
        assert by_feature["Rain"]["ks"] < by_feature["Temperature"]["ks"]
