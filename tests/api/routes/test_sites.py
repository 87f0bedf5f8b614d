"""Sites over HTTP."""

from __future__ import annotations

import httpx

from riskcast.testing.server import LiveServer


def test_create_replace_get_list_delete(server: LiveServer) -> None:
    api = f"{server.url}/api/v1/sites"
    site = {"id": "w1", "name": "Wind hill", "pack": "generic", "lat": 41.2, "lon": -8.1,
            "tags": {"region": "north"}}
    r = httpx.post(api, json=site)
    assert r.status_code == 201 and r.json() == site
    r = httpx.post(api, json={**site, "name": "Windy hill"})
    assert r.status_code == 200 and r.json()["name"] == "Windy hill"
    assert httpx.get(f"{api}/w1").json()["tags"] == {"region": "north"}
    assert [s["id"] for s in httpx.get(api).json()["sites"]] == ["s1", "w1"]
    assert httpx.delete(f"{api}/w1").status_code == 204
    r = httpx.get(f"{api}/w1")
    assert r.status_code == 404
    assert r.headers["content-type"] == "application/problem+json"
    assert httpx.delete(f"{api}/w1").status_code == 404


def test_list_pages_by_cursor(server: LiveServer) -> None:
    api = f"{server.url}/api/v1/sites"
    for i in range(5):
        httpx.post(api, json={"id": f"p{i}"}).raise_for_status()
    seen, cursor = [], None
    while True:
        params = {"limit": 2, **({"cursor": cursor} if cursor else {})}
        page = httpx.get(api, params=params).json()
        seen += [s["id"] for s in page["sites"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert seen == ["p0", "p1", "p2", "p3", "p4", "s1"]


def test_invalid_site_names_the_field(server: LiveServer) -> None:
    api = f"{server.url}/api/v1/sites"
    for body, field in [({"id": "bad id"}, "id"), ({"id": "x", "lat": 91, "lon": 0}, "lat"),
                        ({"id": "x", "pack": "nope"}, "pack"), ({"name": "no id"}, "id"),
                        ({"id": "x", "lat": 10}, "lat")]:
        r = httpx.post(api, json=body)
        assert r.status_code == 422, body
        assert r.headers["content-type"] == "application/problem+json"
        assert r.json()["field"] == field, r.json()


def test_delete_keeps_data_unless_purged(server: LiveServer) -> None:
    api = server.url + "/api/v1"
    reading = {"readings": [{"site": "s1", "variable": "temp_c", "value": 20,
                             "time": "2026-07-01T12:00:00Z"}]}
    assert httpx.post(f"{api}/readings", json=reading).json()["accepted"] == 1
    httpx.delete(f"{api}/sites/s1").raise_for_status()
    httpx.post(f"{api}/sites", json={"id": "s1"}).raise_for_status()
    series = httpx.get(f"{api}/sites/s1/series/temp_c",
                       params={"from": "2026-07-01T00:00:00Z", "to": "2026-07-02T00:00:00Z"})
    assert len(series.json()["points"]) == 1
    httpx.delete(f"{api}/sites/s1", params={"purge": "true"}).raise_for_status()
    httpx.post(f"{api}/sites", json={"id": "s1"}).raise_for_status()
    series = httpx.get(f"{api}/sites/s1/series/temp_c",
                       params={"from": "2026-07-01T00:00:00Z", "to": "2026-07-02T00:00:00Z"})
    assert series.json()["points"] == []
