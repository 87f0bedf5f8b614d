"""Keys limited to some sites get the alerts and silences of their sites, on a real server:
REST lists filtered, other sites' alerts and silences 404, the ``alerts`` channel filtered;
rules stay refused."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from websockets.asyncio.client import ClientConnection, connect

from riskcast.settings import Settings
from riskcast.testing.server import LiveServer, live_server

pytestmark = pytest.mark.anyio
HOT = {"id": "hot", "condition": {"kind": "threshold", "series": "temp_c", "above": 40}}


@pytest.fixture
def srv(tmp_path: Path) -> Iterator[LiveServer]:
    settings = Settings(data_dir=tmp_path / "data", sqlite_synchronous="normal",
                        retention="0", auth=True, max_future_skew="1h")
    with live_server(settings) as server:
        for site in ("s1", "s2"):
            httpx.post(f"{server.url}/api/v1/sites", json={"id": site},
                       headers=server.headers).raise_for_status()
        httpx.put(f"{server.url}/api/v1/rules/hot", json=HOT,
                  headers=server.headers).raise_for_status()
        yield server


def scoped_key(srv: LiveServer) -> dict[str, str]:
    r = httpx.post(f"{srv.url}/api/v1/keys", json={"role": "operator", "sites": ["s1"]},
                   headers=srv.headers)
    r.raise_for_status()
    return {"X-API-Key": r.json()["key"]}


async def subscribed(ws: ClientConnection) -> None:
    await ws.send(json.dumps({"op": "subscribe", "channels": ["alerts"]}))
    reply = json.loads(await asyncio.wait_for(ws.recv(), 10))
    assert reply["op"] == "subscribed" and reply["channels"] == ["alerts"], reply


async def next_alert_site(ws: ClientConnection) -> str:
    while True:
        frame = json.loads(await asyncio.wait_for(ws.recv(), 10))
        if frame.get("channel") == "alerts":
            site: str = frame["data"]["site"]
            return site


async def hot(client: httpx.AsyncClient, srv: LiveServer, site: str) -> None:
    r = await client.post(f"{srv.url}/api/v1/readings", headers=srv.headers, json={
        "readings": [{"site": site, "variable": "temp_c", "value": 50,
                      "time": "2026-12-05T12:00:00Z"}]})
    assert r.json()["accepted"] == 1, r.text


async def test_a_site_limited_key_sees_its_sites_alerts_only(srv: LiveServer) -> None:
    mine = scoped_key(srv)
    async with (connect(srv.ws_url, additional_headers=srv.headers) as admin,
                connect(srv.ws_url, additional_headers=mine) as scoped,
                httpx.AsyncClient(base_url=srv.url, timeout=10) as client):
        await subscribed(admin)
        await subscribed(scoped)  # allowed now, filtered
        await hot(client, srv, "s2")
        assert await next_alert_site(admin) == "s2"
        await hot(client, srv, "s1")
        assert await next_alert_site(admin) == "s1"
        # s2's event went out first on the same ordered channel: the scoped stream skipped it
        assert await next_alert_site(scoped) == "s1"

        listed = (await client.get("/api/v1/alerts", headers=mine)).json()
        assert [a["id"] for a in listed["alerts"]] == ["hot:s1"]
        assert listed["next_cursor"] is None
        everything = (await client.get("/api/v1/alerts", headers=srv.headers)).json()
        assert [a["id"] for a in everything["alerts"]] == ["hot:s1", "hot:s2"]
        page = (await client.get("/api/v1/alerts", params={"limit": 1},
                                 headers=mine)).json()
        assert [a["id"] for a in page["alerts"]] == ["hot:s1"]
        r = await client.get("/api/v1/alerts", params={"site": "s2"}, headers=mine)
        assert r.status_code == 403 and r.json()["field"] == "site"
        assert (await client.get("/api/v1/alerts/hot:s1", headers=mine)).status_code == 200
        assert (await client.get("/api/v1/alerts/hot:s2", headers=mine)).status_code == 404
        ack: dict[str, Any] = {"by": "field team"}
        r = await client.post("/api/v1/alerts/hot:s2/ack", json=ack, headers=mine)
        assert r.status_code == 404
        r = await client.post("/api/v1/alerts/hot:s1/ack", json=ack, headers=mine)
        assert r.status_code == 200 and r.json()["state"] == "acknowledged"
        # rules span every site: still refused
        assert (await client.get("/api/v1/rules", headers=mine)).status_code == 403


async def test_a_site_limited_key_silences_only_its_sites(srv: LiveServer) -> None:
    mine = scoped_key(srv)
    async with httpx.AsyncClient(base_url=srv.url, timeout=10) as client:
        for sites in ([], ["s2"], ["s1", "s2"]):
            r = await client.post("/api/v1/silences", headers=mine,
                                  json={"sites": sites, "duration": "1h"})
            assert r.status_code == 403 and r.json()["field"] == "sites", sites
        r = await client.post("/api/v1/silences", headers=mine,
                              json={"sites": ["s1"], "duration": "1h"})
        assert r.status_code == 201, r.text
        own = r.json()["id"]
        every_site = {"duration": "1h", "matchers": [{"label": "rule", "value": "hot"}]}
        r = await client.post("/api/v1/silences", headers=srv.headers, json=every_site)
        assert r.status_code == 201, r.text
        every = r.json()["id"]
        listed = (await client.get("/api/v1/silences", headers=mine)).json()["silences"]
        assert [s["id"] for s in listed] == [own]
        assert (await client.get(f"/api/v1/silences/{every}", headers=mine)).status_code == 404
        r = await client.put(f"/api/v1/silences/{every}", headers=mine,
                             json={"sites": ["s1"], "duration": "2h"})
        assert r.status_code == 404
        r = await client.put(f"/api/v1/silences/{own}", headers=mine,
                             json={"sites": ["s2"], "duration": "2h"})
        assert r.status_code == 403 and r.json()["field"] == "sites"
        assert (await client.delete(f"/api/v1/silences/{every}",
                                    headers=mine)).status_code == 404
        assert (await client.delete(f"/api/v1/silences/{own}",
                                    headers=mine)).status_code == 204
        admin = (await client.get("/api/v1/silences", headers=srv.headers)).json()
        assert {s["id"] for s in admin["silences"]} == {own, every}


async def test_sse_alerts_channel_is_served_filtered(srv: LiveServer) -> None:
    mine = scoped_key(srv)
    async with (connect(srv.ws_url, additional_headers=srv.headers) as admin,
                httpx.AsyncClient(base_url=srv.url, timeout=10) as client,
                client.stream("GET", "/sse?channels=alerts", headers=mine) as sse):
        assert sse.status_code == 200
        lines = sse.aiter_lines()
        while not (await asyncio.wait_for(anext(lines), 10)).startswith("event: subscribed"):
            pass
        await subscribed(admin)
        await hot(client, srv, "s2")
        assert await next_alert_site(admin) == "s2"
        await hot(client, srv, "s1")
        assert await next_alert_site(admin) == "s1"
        while not (line := await asyncio.wait_for(anext(lines), 10)).startswith(
                'data: {"channel":"alerts"'):
            pass
        assert json.loads(line.removeprefix("data: "))["data"]["site"] == "s1"
