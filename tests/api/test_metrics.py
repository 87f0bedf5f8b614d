"""``/metrics``: the runtime's counters, histograms and process figures, one registry each."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families
from websockets.sync.client import connect

from riskcast.api.runtime import Runtime
from riskcast.settings import Settings
from riskcast.testing.server import LiveServer, live_server


@pytest.fixture
def srv(tmp_path: Path):  # type: ignore[no-untyped-def]
    settings = Settings(data_dir=tmp_path, sqlite_synchronous="normal", retention="0",
                        auth=False)
    with live_server(settings) as server:
        yield server


@pytest.fixture
def client(srv: LiveServer):  # type: ignore[no-untyped-def]
    """The one place request headers are set (an API key once auth is on)."""
    with httpx.Client(base_url=srv.url, headers={}, timeout=30) as c:
        yield c


def scrape(client: httpx.Client) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    answer = client.get("/metrics")
    assert answer.status_code == 200
    assert answer.headers["content-type"].startswith("text/plain")
    samples = {}
    for family in text_string_to_metric_families(answer.text):
        for s in family.samples:
            samples[(s.name, tuple(sorted(s.labels.items())))] = s.value
    return samples


def test_metrics_count_ingest_commits_and_connections(srv: LiveServer,
                                                       client: httpx.Client) -> None:
    client.post("/api/v1/sites", json={"id": "s1"}).raise_for_status()
    body = {"readings": [{"site": "s1", "variable": "temp_c", "value": 1.0, "time": 1e9 + i}
                         for i in range(5)]
            + [{"site": "nowhere", "variable": "temp_c", "value": 1.0}]}
    answer = client.post("/api/v1/readings", json=body)
    assert answer.json()["accepted"] == 5
    with connect(srv.ws_url) as ws:
        ws.send('{"op": "ping"}')
        assert "pong" in ws.recv(timeout=10)
        during = scrape(client)
    assert during[("riskcast_readings_accepted_total", ())] == 5
    assert during[("riskcast_readings_refused_total", ())] == 1
    assert during[("riskcast_stream_connections", (("transport", "ws"),))] == 1
    assert during[("riskcast_commit_group_size_readings_count", ())] >= 1
    assert during[("riskcast_commit_group_size_readings_sum", ())] >= 5
    assert during[("riskcast_pending_readings", ())] == 0
    labels = (("method", "POST"), ("route", "/api/v1/readings"), ("status", "200"))
    assert during[("riskcast_http_request_duration_seconds_count", labels)] == 1
    assert ("riskcast_alerts", (("state", "firing"),)) in during
    assert ("process_resident_memory_bytes", ()) in during


def test_unknown_paths_share_one_label(client: httpx.Client) -> None:
    for path in ("/nope/1", "/nope/2", "/api/v1/sites/x/y/z"):
        client.get(path)
    samples = scrape(client)
    routes = {dict(labels).get("route") for (name, labels) in samples
              if name == "riskcast_http_request_duration_seconds_count"}
    assert "unmatched" in routes
    assert not any(r and r.startswith("/nope") for r in routes)


def test_each_runtime_has_its_own_registry(tmp_path: Path) -> None:
    one = Runtime(Settings(data_dir=tmp_path / "a", storage="memory"))
    two = Runtime(Settings(data_dir=tmp_path / "b", storage="memory"))
    assert one.metrics.registry is not two.metrics.registry
    one.metrics.observe_commit(10, 0.01)
    text_one = one.metrics.exposition().decode()
    text_two = two.metrics.exposition().decode()
    assert "riskcast_commit_group_size_readings_sum 10.0" in text_one
    assert "riskcast_commit_group_size_readings_sum 0.0" in text_two
