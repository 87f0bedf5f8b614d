"""Ingest over HTTP: answers, refusals, idempotency, limits."""

from __future__ import annotations

import concurrent.futures

import httpx

from riskcast.testing.server import LiveServer

WINDOW = {"from": "2026-07-01T00:00:00Z", "to": "2026-07-02T00:00:00Z"}


def reading(value: float, time: str = "2026-07-01T12:00:00Z", **kw: object) -> dict[str, object]:
    return {"site": "s1", "variable": "temp_c", "time": time, "value": value, **kw}


def test_batch_answer_names_refused_items(server: LiveServer) -> None:
    body = {"readings": [reading(20), reading(21, site="ghost"), reading(22, variable="nope"),
                         reading(99, time="2099-01-01T00:00:00Z"), reading("warm"),
                         reading(80, time="2026-07-01T12:05:00Z")]}
    r = httpx.post(f"{server.url}/api/v1/readings", json=body)
    assert r.status_code == 200
    answer = r.json()
    assert answer["accepted"] == 2
    assert [(x["index"], x["field"]) for x in answer["rejected"]] == [
        (1, "site"), (2, "variable"), (3, "time"), (4, "value")]
    points = httpx.get(f"{server.url}/api/v1/sites/s1/series/temp_c", params=WINDOW).json()
    assert [(p["value"], p["quality"]) for p in points["points"]] == [
        (20.0, "good"), (80.0, "bad")]


def test_malformed_body_is_problem_json(server: LiveServer) -> None:
    for content, field in [(b"{", "body"), (b'{"readings": {}}', "readings")]:
        r = httpx.post(f"{server.url}/api/v1/readings", content=content,
                       headers={"content-type": "application/json"})
        assert r.status_code == 422
        assert r.headers["content-type"] == "application/problem+json"
        assert r.json()["field"] == field


def test_too_many_items_and_too_large_body(server: LiveServer) -> None:
    many = {"readings": [reading(1, time=f"2026-07-01T10:{i // 60:02d}:{i % 60:02d}Z")
                         for i in range(server.settings.max_batch + 1)]}
    r = httpx.post(f"{server.url}/api/v1/readings", json=many)
    assert r.status_code == 422 and r.json()["field"] == "readings"
    huge = b'{"readings": [' + b" " * (server.settings.max_body_bytes + 1) + b"]}"
    r = httpx.post(f"{server.url}/api/v1/readings", content=huge)
    assert r.status_code == 413


def test_retries_are_idempotent(server: LiveServer) -> None:
    body = {"readings": [reading(float(i), time=f"2026-07-01T12:00:{i:02d}Z")
                         for i in range(30)]}
    for _ in range(3):
        assert httpx.post(f"{server.url}/api/v1/readings", json=body).json()["accepted"] == 30
    points = httpx.get(f"{server.url}/api/v1/sites/s1/series/temp_c", params=WINDOW).json()
    assert len(points["points"]) == 30


def test_concurrent_requests_all_committed(server: LiveServer) -> None:
    def post(k: int) -> int:
        body = {"readings": [reading(1.0, time=f"2026-07-01T{k:02d}:{i // 60:02d}:{i % 60:02d}Z")
                             for i in range(500)]}
        return int(httpx.post(f"{server.url}/api/v1/readings", json=body,
                              timeout=30).json()["accepted"])

    with concurrent.futures.ThreadPoolExecutor(8) as pool:
        assert sum(pool.map(post, range(16))) == 8000
    stats = httpx.get(f"{server.url}/api/v1/system").json()["ingest"]
    assert stats["committed"] == 8000
    assert stats["commits"] <= 16
