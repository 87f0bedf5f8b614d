"""Batch predictions over a stored range through a real server on SQLite: a background job
with progress on ``models``, results stored as the model's series, idempotent when re-run."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from riskcast.core.clock import parse_time
from riskcast.settings import Settings
from riskcast.testing.server import LiveServer, live_server

from ..conftest import SHARED_DATA
from .test_predictions_live import Events, hours, train, weather


@pytest.fixture
def server(tmp_path: Path) -> Iterator[LiveServer]:
    settings = Settings(data_dir=tmp_path / "data", sqlite_synchronous="normal",
                        retention="0", auth=False, keepalive="1s")
    with live_server(settings) as srv:
        srv.runtime.models.source_dir = SHARED_DATA  # type: ignore[union-attr]
        yield srv


def wait_job(server: LiveServer, job_id: str) -> dict[str, Any]:
    job = server.runtime.models.job(job_id)  # type: ignore[union-attr]
    assert server.loop is not None
    asyncio.run_coroutine_threadsafe(asyncio.wait_for(job.finished.wait(), 60),
                                     server.loop).result()
    return job.to_dict()


ROWS = [{"Temperature": 20.0 + h, "RH": 80.0 - 2 * h, "Ws": 10.0 + h % 5, "Rain": h % 3 * 0.5}
        for h in range(12)]


def test_a_stored_range_is_predicted_and_stored_as_a_series(server: LiveServer) -> None:
    with httpx.Client(base_url=server.url, headers=server.headers, timeout=60) as c:
        assert train(server, c, "wildfire-occurrence", {}) == 1  # not deployed: nothing live
        for site in ("fire-a", "fire-b"):
            c.post("/api/v1/sites", json={"id": site, "pack": "wildfire"}).raise_for_status()
        readings = [r for h, row in enumerate(ROWS) for r in weather("fire-a", hours(h), row)]
        # fire-b lacks wind before 06:00: those hours are incomplete, not guessed.
        readings += [r for h, row in enumerate(ROWS) for r in weather("fire-b", hours(h), row)
                     if h >= 6 or r["variable"] != "wind_kmh"]
        c.post("/api/v1/readings", json={"readings": readings}).raise_for_status()
        body = {"sites": ["fire-a", "fire-b"], "from": hours(2), "to": hours(9), "version": 1}
        with Events(c, "models") as events:
            r = c.post("/api/v1/models/wildfire-occurrence/predict/batch", json=body)
            assert r.status_code == 202, r.text
            job_id = r.json()["id"]
            assert r.json()["kind"] == "predict"
            last = events.until(lambda d: d.get("type") == "job" and d["job"]["id"] == job_id
                                and d["job"]["state"] == "succeeded")
        assert last["job"]["done"] == last["job"]["total"] == 2000  # thousandths per site
        job = c.get(f"/api/v1/models/jobs/{job_id}").json()
        assert job["result"]["sites"] == {"fire-a": 8, "fire-b": 4}
        assert job["result"]["incomplete"] == 4
        expected = c.post("/api/v1/models/wildfire-occurrence/predict",
                          params={"version": 1}, json={"rows": ROWS}).json()["probabilities"]

        def series(site: str) -> list[tuple[str, float, str]]:
            points = c.get(f"/api/v1/sites/{site}/series/pred_wildfire_occurrence",
                           params={"from": hours(0), "to": hours(23)}).json()["points"]
            return [(p["time"], p["value"], p["source"]) for p in points]

        a = series("fire-a")
        assert [t for t, _, _ in a] == [hours(h) for h in range(2, 10)]
        assert [v for _, v, _ in a] == pytest.approx(expected[2:10], abs=1e-9)
        assert {s for _, _, s in a} == {"model:wildfire-occurrence@1"}
        assert [t for t, _, _ in series("fire-b")] == [hours(h) for h in range(6, 10)]
        # Run again: the same rows, no duplicates.
        r = c.post("/api/v1/models/wildfire-occurrence/predict/batch", json=body)
        assert wait_job(server, r.json()["id"])["state"] == "succeeded"
        assert series("fire-a") == a
        # A pack instead of sites, nothing written outside the range.
        r = c.post("/api/v1/models/wildfire-occurrence/predict/batch",
                   json={"pack": "wildfire", "from": hours(10), "to": hours(10), "version": 1})
        assert wait_job(server, r.json()["id"])["result"]["sites"] == {"fire-a": 1, "fire-b": 1}
        assert [t for t, _, _ in series("fire-a")] == [hours(h) for h in range(2, 11)]


@pytest.mark.parametrize(("body", "field"), [
    ({"sites": ["nowhere"], "from": hours(0), "to": hours(1)}, "sites[0]"),
    ({"pack": "no-such-pack", "from": hours(0), "to": hours(1)}, "pack"),
    ({"sites": ["fire-a"], "from": hours(2), "to": hours(1)}, "to"),
    ({"sites": ["fire-a"], "to": hours(1)}, "from"),
    ({"sites": ["fire-a"], "from": "yesterday", "to": hours(1)}, "from"),
    ({"sites": ["fire-a"], "from": hours(0), "to": hours(1), "rows": [[1, 2, 3, 4]]}, "rows"),
])
def test_a_bad_range_is_refused_naming_the_field(server: LiveServer, body: dict[str, object],
                                                 field: str) -> None:
    with httpx.Client(base_url=server.url, headers=server.headers, timeout=60) as c:
        train(server, c, "wildfire-occurrence", {})
        c.post("/api/v1/sites", json={"id": "fire-a", "pack": "wildfire"}).raise_for_status()
        r = c.post("/api/v1/models/wildfire-occurrence/predict/batch", json=body)
        assert r.status_code == 422, r.text
        assert r.headers["content-type"].startswith("application/problem+json")
        assert r.json()["field"] == field


def test_a_forecaster_forecasts_each_stored_reading_of_the_range(server: LiveServer) -> None:
    from .test_predictions_live import forecast_replica

    with httpx.Client(base_url=server.url, headers=server.headers, timeout=60) as c:
        assert train(server, c, "water-do-forecast", {"days": 3}) == 1  # not deployed
        c.post("/api/v1/sites", json={"id": "water-1", "pack": "water"}).raise_for_status()
        values = [7.9, 8.3, 8.8, 9.1, 8.7, 8.0, 7.2, 6.9]
        c.post("/api/v1/readings", json={"readings": [
            {"site": "water-1", "variable": "do_mgl", "time": hours(h), "value": v}
            for h, v in enumerate(values)]}).raise_for_status()
        r = c.post("/api/v1/models/water-do-forecast/predict/batch",
                   json={"sites": ["water-1"], "from": hours(2), "to": hours(7), "version": 1})
        assert r.status_code == 202, r.text
        job = wait_job(server, r.json()["id"])
        assert job["state"] == "succeeded" and job["result"]["sites"] == {"water-1": 6}
        points = c.get("/api/v1/sites/water-1/series/pred_water_do_forecast",
                       params={"from": hours(0), "to": hours(23)}).json()["points"]
        # The learner caught up on 00:00 and 01:00, then forecast from each reading.
        times = [parse_time(hours(h)) for h in range(len(values))]
        expected = forecast_replica(server, values, times)
        assert [p["time"] for p in points] == [hours(h) for h in range(2, 8)]
        assert [p["value"] for p in points] == pytest.approx(expected[2:], abs=1e-9)
        assert {p["source"] for p in points} == {"model:water-do-forecast@1"}
