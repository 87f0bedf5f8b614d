"""Series queries over HTTP: raw pages, rollups, latest."""

from __future__ import annotations

import httpx

from riskcast.testing.server import LiveServer


def seed(server: LiveServer) -> None:
    readings = [{"site": "s1", "variable": "temp_c", "value": m / 10,
                 "time": f"2026-07-01T{m // 60:02d}:{m % 60:02d}:00Z"} for m in range(0, 180, 3)]
    readings.append({"site": "s1", "variable": "rh_pct", "value": 55.0,
                     "time": "2026-07-01T02:00:00Z"})
    r = httpx.post(f"{server.url}/api/v1/readings", json={"readings": readings})
    assert r.json()["accepted"] == 61


def test_raw_series_pages_by_cursor(server: LiveServer) -> None:
    seed(server)
    url = f"{server.url}/api/v1/sites/s1/series/temp_c"
    params = {"from": "2026-07-01T00:00:00Z", "to": "2026-07-01T03:00:00Z", "limit": 25}
    values, cursor = [], None
    while True:
        page = httpx.get(url, params={**params, **({"cursor": cursor} if cursor else {})}).json()
        values += [p["value"] for p in page["points"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert values == [m / 10 for m in range(0, 180, 3)]
    assert page["unit"] == "°C"


def test_rollups_per_hour(server: LiveServer) -> None:
    seed(server)
    page = httpx.get(f"{server.url}/api/v1/sites/s1/series/temp_c",
                     params={"from": "2026-07-01T00:00:00Z", "to": "2026-07-01T03:00:00Z",
                             "every": "1h"}).json()
    assert [(b["start"], b["count"], b["min"], b["max"]) for b in page["buckets"]] == [
        ("2026-07-01T00:00:00Z", 20, 0.0, 5.7), ("2026-07-01T01:00:00Z", 20, 6.0, 11.7),
        ("2026-07-01T02:00:00Z", 20, 12.0, 17.7)]
    assert abs(page["buckets"][0]["mean"] - sum(range(0, 60, 3)) / 200) < 1e-12


def test_latest_per_variable(server: LiveServer) -> None:
    seed(server)
    latest = httpx.get(f"{server.url}/api/v1/sites/s1/latest").json()["latest"]
    assert latest["temp_c"]["value"] == 17.7 and latest["temp_c"]["time"] == "2026-07-01T02:57:00Z"
    assert latest["rh_pct"] == {"time": "2026-07-01T02:00:00Z", "value": 55.0,
                                "quality": "good", "unit": "%"}


def test_bad_queries_name_the_parameter(server: LiveServer) -> None:
    url = f"{server.url}/api/v1/sites/s1/series/temp_c"
    for params, status, field in [({"from": "nope"}, 422, "from"),
                                  ({"every": "fortnight"}, 422, "every"),
                                  ({"every": "1ms"}, 422, "every"),
                                  ({"from": "2026-07-02T00:00:00Z",
                                    "to": "2026-07-01T00:00:00Z"}, 422, "from"),
                                  ({"cursor": "abc"}, 422, "cursor"),
                                  ({"limit": 0}, 422, "limit")]:
        r = httpx.get(url, params=params)
        assert r.status_code == status, (params, r.text)
        assert r.json()["field"] == field, (params, r.json())
    assert httpx.get(f"{server.url}/api/v1/sites/nope/series/temp_c").status_code == 404
    assert httpx.get(f"{server.url}/api/v1/sites/s1/series/nope").status_code == 404
