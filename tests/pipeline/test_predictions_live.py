"""Online predictions through a real server on SQLite: train, deploy, post readings, see the
prediction series and the ``site.<id>`` events; shadow mode; a drift rule firing."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pytest

from riskcast.core.clock import parse_time
from riskcast.settings import Settings
from riskcast.testing.server import LiveServer, live_server

from ..conftest import SHARED_DATA

WEATHER = {"Temperature": "temp_c", "RH": "rh_pct", "Ws": "wind_kmh", "Rain": "rain_mm"}


@pytest.fixture
def server(tmp_path: Path) -> Iterator[LiveServer]:
    settings = Settings(data_dir=tmp_path / "data", sqlite_synchronous="normal",
                        retention="0", auth=False, keepalive="1s")
    with live_server(settings) as srv:
        srv.runtime.models.source_dir = SHARED_DATA  # type: ignore[union-attr]
        yield srv


def client(server: LiveServer) -> httpx.Client:
    return httpx.Client(base_url=server.url, headers=server.headers, timeout=60)


def train(server: LiveServer, c: httpx.Client, name: str, options: dict[str, Any]) -> int:
    r = c.post(f"/api/v1/models/{name}/train", json={"options": options})
    assert r.status_code == 202, r.text
    job = server.runtime.models.job(r.json()["id"])  # type: ignore[union-attr]
    assert server.loop is not None
    asyncio.run_coroutine_threadsafe(asyncio.wait_for(job.finished.wait(), 120),
                                     server.loop).result()
    assert job.state == "succeeded", job.error
    assert job.version is not None
    return job.version


class Events:
    """An SSE stream of some channels, read line by line until a matching event."""

    def __init__(self, c: httpx.Client, channels: str) -> None:
        self._cm = c.stream("GET", "/sse", params={"channels": channels})
        self._lines: Iterator[str] | None = None
        #: Events read but not matched yet (a later ``until`` looks here first).
        self.unmatched: list[dict[str, Any]] = []

    def __enter__(self) -> Events:
        self._lines = self._cm.__enter__().iter_lines()
        return self

    def __exit__(self, *exc: object) -> None:
        self._cm.__exit__(None, None, None)

    def until(self, match: Any, within: float = 30.0) -> dict[str, Any]:
        """The first event matching; fails after ``within`` seconds (keepalives keep the
        stream talking, so the deadline is checked on every line)."""
        assert self._lines is not None
        for i, data in enumerate(self.unmatched):
            if match(data):
                return self.unmatched.pop(i)
        deadline = time.monotonic() + within
        for line in self._lines:
            if time.monotonic() > deadline:
                raise AssertionError(f"no matching event within {within} s")
            if line.startswith("data:"):
                event = json.loads(line[5:])
                data = event.get("data", event)
                if match(data):
                    return dict(data)
                self.unmatched.append(data)
        raise AssertionError("stream ended")


def hours(h: int, minute: int = 0) -> str:
    return f"2026-07-01T{h:02d}:{minute:02d}:00Z"


def weather(site: str, time: str, row: dict[str, float]) -> list[dict[str, Any]]:
    return [{"site": site, "variable": var, "time": time, "value": row[f]}
            for f, var in WEATHER.items()]


def test_wildfire_occurrence_is_served_live(server: LiveServer) -> None:
    with client(server) as c:
        assert train(server, c, "wildfire-occurrence", {}) == 1
        c.post("/api/v1/models/wildfire-occurrence/deploy", json={"version": 1}).raise_for_status()
        c.post("/api/v1/sites", json={"id": "fire-x", "pack": "wildfire", "lat": 36.7,
                                      "lon": 3.1}).raise_for_status()
        row = {"Temperature": 35.0, "RH": 40.0, "Ws": 17.0, "Rain": 0.0}
        with Events(c, "site.fire-x") as events:
            r = c.post("/api/v1/readings", json={"readings": weather("fire-x", hours(12), row)})
            assert r.json()["accepted"] == 4
            event = events.until(lambda d: d.get("type") == "prediction")
        expected = c.post("/api/v1/models/wildfire-occurrence/predict",
                          json={"rows": [row]}).json()
        assert event["model"] == "wildfire-occurrence" and event["version"] == 1
        assert event["variable"] == "pred_wildfire_occurrence"
        assert event["time"] == hours(12)
        assert event["value"] == pytest.approx(expected["probabilities"][0], abs=1e-12)
        series = c.get("/api/v1/sites/fire-x/series/pred_wildfire_occurrence",
                       params={"from": hours(0), "to": hours(23)}).json()
        assert [(p["time"], p["value"]) for p in series["points"]] == [
            (hours(12), pytest.approx(event["value"], abs=1e-12))]
        variables = {v["name"] for v in c.get("/api/v1/variables").json()["variables"]}
        assert {"pred_wildfire_occurrence", "pred_water_do_forecast"} <= variables
        assert server.runtime.pipeline.predictions.failures == 0


def test_a_broken_model_is_counted_not_fatal(server: LiveServer) -> None:
    with client(server) as c:
        train(server, c, "wildfire-occurrence", {})
        c.post("/api/v1/models/wildfire-occurrence/deploy", json={"version": 1}).raise_for_status()
        c.post("/api/v1/sites", json={"id": "fire-y", "pack": "wildfire"}).raise_for_status()
        predictor = server.runtime.models.predictor("wildfire-occurrence")  # type: ignore
        predictor.booster = None  # the served estimator now raises on every prediction
        predictor.model = None
        row = {"Temperature": 30.0, "RH": 50.0, "Ws": 10.0, "Rain": 0.0}
        r = c.post("/api/v1/readings", json={"readings": weather("fire-y", hours(1), row)})
        assert r.json()["accepted"] == 4
        assert server.loop is not None
        asyncio.run_coroutine_threadsafe(server.runtime.pipeline.predictions.drained(),
                                         server.loop).result(10)
        assert server.runtime.pipeline.predictions.failures >= 1
        r = c.post("/api/v1/readings", json={"readings": [
            {"site": "fire-y", "variable": "temp_c", "time": hours(2), "value": 31.0}]})
        assert r.status_code == 200 and r.json()["accepted"] == 1


def forecast_replica(server: LiveServer, values: list[float], times: list[int]) -> list[float]:
    servable = server.runtime.models.servable("water-do-forecast", 1)  # type: ignore
    learner = servable.station("water-1")
    out = []
    last: int | None = None
    for t, y in zip(times, values, strict=True):
        gap = 0 if last is None else t - last
        learner.learn_one(t, y)
        out.append(learner.predict_one(t + gap))
        last = t
    return out


def test_water_do_forecast_served_live_with_shadow(server: LiveServer) -> None:
    with client(server) as c:
        assert train(server, c, "water-do-forecast", {"days": 3}) == 1
        assert train(server, c, "water-do-forecast", {"days": 4, "seed": 2}) == 2
        c.post("/api/v1/models/water-do-forecast/deploy", json={"version": 1}).raise_for_status()
        c.post("/api/v1/sites", json={"id": "water-1", "pack": "water"}).raise_for_status()
        values = [7.9, 8.3, 8.8, 9.1, 8.7, 8.0, 7.2, 6.9]
        readings = [{"site": "water-1", "variable": "do_mgl", "time": hours(h), "value": v}
                    for h, v in enumerate(values[:4])]
        with Events(c, "site.water-1") as events:
            c.post("/api/v1/readings", json={"readings": readings}).raise_for_status()
            event = events.until(lambda d: d.get("type") == "prediction")
        assert event["model"] == "water-do-forecast" and event["version"] == 1
        assert event["variable"] == "pred_water_do_forecast"
        c.post("/api/v1/models/water-do-forecast/deploy",
               json={"version": 2, "alias": "staging"}).raise_for_status()
        readings = [{"site": "water-1", "variable": "do_mgl", "time": hours(h), "value": v}
                    for h, v in enumerate(values) if h >= 4]
        with Events(c, "site.water-1") as events:
            c.post("/api/v1/readings", json={"readings": readings}).raise_for_status()
            event = events.until(lambda d: d.get("type") == "prediction")
        assert event["version"] == 1  # staging is never published
        points = c.get("/api/v1/sites/water-1/series/pred_water_do_forecast",
                       params={"from": hours(0), "to": hours(23)}).json()["points"]
        times = [parse_time(hours(h)) for h in range(len(values))]
        expected = forecast_replica(server, values, times)
        assert [p["time"] for p in points] == [hours(h) for h in range(len(values))]
        assert [p["value"] for p in points] == pytest.approx(expected, abs=1e-9)
        assert {p["source"] for p in points} == {"model:water-do-forecast@1"}
        shadow = c.get("/api/v1/models/water-do-forecast/shadow").json()
        assert shadow["production"] == 1 and shadow["staging"] == 2
        [comparison] = shadow["comparisons"]
        assert comparison["production"] == 1 and comparison["staging"] == 2
        assert comparison["rows"] == 4 and comparison["agreement"] is None
        assert comparison["mean_abs_difference"] > 0
        # Each reading scores the forecast made at the one before: live MAE per version.
        live = shadow["live"]
        assert live["production"]["version"] == 1 and live["production"]["n"] == 7
        errors = np.abs(np.array(expected[:-1]) - np.array(values[1:]))
        assert live["production"]["mae"] == pytest.approx(errors.mean(), abs=1e-9)
        assert live["staging"]["version"] == 2 and live["staging"]["n"] == 4


def test_a_drift_rule_fires_when_a_feature_shifts(server: LiveServer) -> None:
    from riskcast.packs.wildfire.occurrence import load_algerian

    data = load_algerian(SHARED_DATA)
    X = data.matrix(tuple(WEATHER))
    rows = [dict(zip(WEATHER, map(float, x), strict=True))
            for x in X[np.random.default_rng(0).choice(len(X), 30, replace=False)]]
    rule = {"id": "temp-drift", "selector": {"pack": "wildfire"}, "severity": "warning",
            "condition": {"kind": "drift", "model": "wildfire-occurrence",
                          "feature": "Temperature", "statistic": "ks", "threshold": 0.6,
                          "window": "25m", "min_rows": 20},
            "annotations": {"summary": "Temperature drift KS {value:.2f} at {site}"}}
    with client(server) as c:
        train(server, c, "wildfire-occurrence", {})
        c.post("/api/v1/models/wildfire-occurrence/deploy", json={"version": 1}).raise_for_status()
        bad = c.put("/api/v1/rules/temp-drift", json={**rule, "condition": {
            **rule["condition"], "statistic": "chi2"}})
        assert bad.status_code == 422 and bad.json()["field"] == "condition.statistic"
        c.put("/api/v1/rules/temp-drift", json=rule).raise_for_status()
        c.post("/api/v1/sites", json={"id": "fire-d", "pack": "wildfire"}).raise_for_status()

        def post_and_wait(events: Events, minute: int, row: dict[str, float]) -> None:
            time = hours(12 + minute // 60, minute % 60)
            c.post("/api/v1/readings", json={"readings": weather("fire-d", time, row)})
            events.until(lambda d: d.get("type") == "prediction" and d["time"] == time)

        with Events(c, "site.fire-d,alerts") as events:
            for minute, row in enumerate(rows):  # as in training: no alert
                post_and_wait(events, minute, row)
            assert server.loop is not None
            asyncio.run_coroutine_threadsafe(
                server.runtime.alerts.wait_evaluated(server.runtime.alerts.received),
                server.loop).result(10)
            firing = c.get("/api/v1/alerts", params={"state": "firing"}).json()
            assert [a for a in firing["alerts"] if a["rule"] == "temp-drift"] == []
            for minute, row in enumerate(rows, start=len(rows)):  # 20 °C hotter
                post_and_wait(events, minute, {**row, "Temperature": row["Temperature"] + 20})
            alert = events.until(lambda d: d.get("type") == "alert.transition"
                                 and d["rule"] == "temp-drift" and d["to"] == "firing")
        assert alert["site"] == "fire-d" and alert["value"] >= 0.6
        assert alert["annotations"]["summary"].startswith("Temperature drift KS")


def test_staging_classifier_is_shadowed_not_published(server: LiveServer) -> None:
    with client(server) as c:
        train(server, c, "wildfire-occurrence", {})
        train(server, c, "wildfire-occurrence", {"algorithm": "logistic regression"})
        c.post("/api/v1/models/wildfire-occurrence/deploy", json={"version": 1}).raise_for_status()
        c.post("/api/v1/models/wildfire-occurrence/deploy",
               json={"version": 2, "alias": "staging"}).raise_for_status()
        c.post("/api/v1/sites", json={"id": "fire-s", "pack": "wildfire"}).raise_for_status()
        rows = [{"Temperature": 36.0, "RH": 35.0, "Ws": 17.0, "Rain": 0.0},
                {"Temperature": 24.0, "RH": 80.0, "Ws": 12.0, "Rain": 3.0}]
        with Events(c, "site.fire-s") as events:
            for h, row in enumerate(rows):
                c.post("/api/v1/readings", json={"readings": weather("fire-s", hours(h), row)})
                event = events.until(lambda d, h=h: d.get("type") == "prediction"
                                     and d["time"] == hours(h))
                assert event["version"] == 1
        p1 = np.array(c.post("/api/v1/models/wildfire-occurrence/predict", params={"version": 1},
                             json={"rows": rows}).json()["probabilities"])
        p2 = np.array(c.post("/api/v1/models/wildfire-occurrence/predict", params={"version": 2},
                             json={"rows": rows}).json()["probabilities"])
        for version in (1, 2):
            c.post("/api/v1/models/wildfire-occurrence/outcomes", params={"version": version},
                   json={"rows": rows, "labels": [1, 0]}).raise_for_status()
        shadow = c.get("/api/v1/models/wildfire-occurrence/shadow").json()
        [comparison] = shadow["comparisons"]
        assert (comparison["production"], comparison["staging"], comparison["rows"]) == (1, 2, 2)
        assert comparison["agreement"] == pytest.approx(np.mean((p1 > 0.5) == (p2 > 0.5)))
        assert comparison["mean_abs_difference"] == pytest.approx(np.abs(p1 - p2).mean())
        assert comparison["max_abs_difference"] == pytest.approx(np.abs(p1 - p2).max())
        live = shadow["live"]
        assert live["production"]["version"] == 1 and live["staging"]["version"] == 2
        assert live["production"]["n"] == live["staging"]["n"] == 2
        assert {"accuracy", "brier"} <= live["staging"].keys()
        sources = {p["source"] for p in c.get(
            "/api/v1/sites/fire-s/series/pred_wildfire_occurrence",
            params={"from": hours(0), "to": hours(23)}).json()["points"]}
        assert sources == {"model:wildfire-occurrence@1"}
