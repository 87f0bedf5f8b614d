"""Keys and tokens on the live streams: /ws and /sse of a real server with auth on."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

from riskcast.security import tokens
from riskcast.security.keys import Principal, Role
from riskcast.settings import Settings
from riskcast.testing.server import LiveServer, live_server

pytestmark = pytest.mark.anyio


@pytest.fixture
def srv(tmp_path: Path) -> Iterator[LiveServer]:
    settings = Settings(data_dir=tmp_path / "data", sqlite_synchronous="normal",
                        retention="0", auth=True)
    with live_server(settings) as server:
        for site in ("s1", "s2"):
            httpx.post(f"{server.url}/api/v1/sites", json={"id": site},
                       headers=server.headers).raise_for_status()
        yield server


def key_for(srv: LiveServer, role: str = "viewer", **scope: Any) -> str:
    r = httpx.post(f"{srv.url}/api/v1/keys", json={"role": role, **scope},
                   headers=srv.headers)
    r.raise_for_status()
    key: str = r.json()["key"]
    return key


def token_for(srv: LiveServer, key: str) -> str:
    r = httpx.post(f"{srv.url}/api/v1/auth/token", headers={"X-API-Key": key})
    r.raise_for_status()
    token: str = r.json()["token"]
    return token


async def recv(ws: ClientConnection) -> dict[str, Any]:
    message: dict[str, Any] = json.loads(await asyncio.wait_for(ws.recv(), 10))
    return message


async def closed_with(url: str, **kwargs: Any) -> tuple[int, str]:
    async with connect(url, **kwargs) as ws:
        with pytest.raises(ConnectionClosed) as info:
            await asyncio.wait_for(ws.recv(), 10)
    frame = info.value.rcvd
    assert frame is not None
    return frame.code, frame.reason


async def test_ws_without_credentials_is_closed_4401(srv: LiveServer) -> None:
    code, reason = await closed_with(srv.ws_url)
    assert code == 4401 and "API key" in reason


async def test_ws_with_token_subscribes(srv: LiveServer) -> None:
    token = token_for(srv, key_for(srv))
    async with connect(f"{srv.ws_url}?token={token}") as ws:
        await ws.send(json.dumps({"op": "subscribe", "channels": ["site.s1", "alerts"]}))
        reply = await recv(ws)
        assert reply["op"] == "subscribed" and reply["channels"] == ["site.s1", "alerts"]


async def test_ws_with_key_header_for_programs(srv: LiveServer) -> None:
    key = key_for(srv)
    async with connect(srv.ws_url, additional_headers={"X-API-Key": key}) as ws:
        await ws.send(json.dumps({"op": "ping"}))
        assert (await recv(ws))["op"] == "pong"


async def test_ws_expired_token_is_closed_with_reason(srv: LiveServer) -> None:
    key = key_for(srv)
    key_id = key.split("_")[1]
    secret = srv.runtime.security._secret
    expired, _ = tokens.issue(secret, Principal(key_id, "k", Role.viewer), 60,
                              now=time.time() - 3600)
    code, reason = await closed_with(f"{srv.ws_url}?token={expired}")
    assert code == 4401 and "expired" in reason


async def test_ws_forged_token_is_closed(srv: LiveServer) -> None:
    key_id = key_for(srv).split("_")[1]
    forged, _ = tokens.issue("not-the-secret" * 4, Principal(key_id, "k", Role.admin), 60)
    code, reason = await closed_with(f"{srv.ws_url}?token={forged}")
    assert code == 4401 and "invalid token" in reason


async def test_ws_token_of_a_revoked_key_is_refused(srv: LiveServer) -> None:
    key = key_for(srv)
    token = token_for(srv, key)
    async with httpx.AsyncClient() as client:
        r = await client.delete(f"{srv.url}/api/v1/keys/{key.split('_')[1]}",
                                headers=srv.headers)
        r.raise_for_status()
    code, reason = await closed_with(f"{srv.ws_url}?token={token}")
    assert code == 4401 and "revoked" in reason


async def test_ws_site_limited_key_cannot_subscribe_to_another_site(srv: LiveServer) -> None:
    token = token_for(srv, key_for(srv, sites=["s1"]))
    async with connect(f"{srv.ws_url}?token={token}") as ws:
        await ws.send(json.dumps({"op": "subscribe",
                                  "channels": ["site.s1", "site.s2", "system"]}))
        ok, refused = await recv(ws), await recv(ws)
        assert ok["op"] == "subscribed" and ok["channels"] == ["site.s1"]
        assert refused["op"] == "error" and refused["code"] == "forbidden"
        assert refused["channels"] == ["site.s2", "system"]
        # and it does get its own site's events
        async with httpx.AsyncClient() as client:
            r = await client.post(f"{srv.url}/api/v1/readings", headers=srv.headers, json={
                "readings": [
                    {"site": "s2", "variable": "temp_c", "time": "2026-07-01T00:00:00Z",
                     "value": 1},
                    {"site": "s1", "variable": "temp_c", "time": "2026-07-01T00:00:00Z",
                     "value": 2}]})
            r.raise_for_status()
        event = await recv(ws)
        assert event["channel"] == "site.s1"


async def test_sse_token_and_scope(srv: LiveServer) -> None:
    token = token_for(srv, key_for(srv, sites=["s1"]))
    async with httpx.AsyncClient(base_url=srv.url, timeout=10) as client:
        r = await client.get(f"/sse?channels=site.s2&token={token}")
        assert r.status_code == 403
        assert r.headers["content-type"] == "application/problem+json"
        assert "site.s2" in r.json()["detail"]
        r = await client.get("/sse?channels=site.s1")
        assert r.status_code == 401
        async with client.stream("GET", f"/sse?channels=site.s1&token={token}") as stream:
            assert stream.status_code == 200
            lines = stream.aiter_lines()
            seen: list[str] = []
            while not any(line.startswith("event: subscribed") for line in seen):
                seen.append(await asyncio.wait_for(anext(lines), 10))


async def test_sse_expired_token_is_401_naming_the_reason(srv: LiveServer) -> None:
    key_id = key_for(srv).split("_")[1]
    expired, _ = tokens.issue(srv.runtime.security._secret,
                              Principal(key_id, "k", Role.viewer), 60, now=time.time() - 3600)
    async with httpx.AsyncClient(base_url=srv.url, timeout=10) as client:
        r = await client.get(f"/sse?channels=site.s1&token={expired}")
    assert r.status_code == 401 and "expired" in r.json()["detail"]


async def test_revoking_a_key_closes_its_open_streams(srv: LiveServer) -> None:
    key = key_for(srv)
    key_id = key.split("_")[1]
    token = token_for(srv, key)
    async with (connect(f"{srv.ws_url}?token={token}") as ws,
                httpx.AsyncClient(base_url=srv.url, timeout=10) as client,
                client.stream("GET", f"/sse?channels=site.s1&token={token}") as sse):
        await ws.send(json.dumps({"op": "subscribe", "channels": ["site.s1"]}))
        assert (await recv(ws))["op"] == "subscribed"
        lines = sse.aiter_lines()
        while not (await asyncio.wait_for(anext(lines), 10)).startswith("event: subscribed"):
            pass
        r = await client.delete(f"/api/v1/keys/{key_id}", headers=srv.headers)
        r.raise_for_status()
        with pytest.raises(ConnectionClosed) as info:
            await asyncio.wait_for(ws.recv(), 10)
        assert info.value.rcvd is not None
        assert (info.value.rcvd.code, info.value.rcvd.reason) == (4401, "API key revoked")
        seen: list[str] = []
        async for line in lines:
            seen.append(line)
        assert "event: close" in seen
        assert any('"code":4401' in line and "revoked" in line for line in seen)


async def test_a_key_revoked_by_another_process_closes_streams_here(tmp_path: Path) -> None:
    from riskcast.security.sqlite import SqliteKeyStore

    settings = Settings(data_dir=tmp_path / "data", retention="0", auth=True,
                        key_cache_ttl="1s")
    with live_server(settings) as srv:
        key = key_for(srv)
        async with connect(srv.ws_url, additional_headers={"X-API-Key": key}) as ws:
            await ws.send(json.dumps({"op": "ping"}))
            assert (await recv(ws))["op"] == "pong"
            other = SqliteKeyStore(tmp_path / "data" / "auth.db")  # riskcast keys revoke
            await other.open()
            assert await other.revoke_key(key.split("_")[1], 1)
            await other.aclose()
            with pytest.raises(ConnectionClosed) as info:
                await asyncio.wait_for(ws.recv(), 15)
            assert info.value.rcvd is not None and info.value.rcvd.code == 4401


@pytest.fixture
def short(tmp_path: Path) -> Iterator[LiveServer]:
    """A server whose stream tokens live two seconds."""
    settings = Settings(data_dir=tmp_path / "data", sqlite_synchronous="normal",
                        retention="0", auth=True, token_ttl="2s")
    with live_server(settings) as server:
        httpx.post(f"{server.url}/api/v1/sites", json={"id": "s1"},
                   headers=server.headers).raise_for_status()
        yield server


async def test_ws_is_closed_4401_when_its_token_expires(short: LiveServer) -> None:
    token = token_for(short, key_for(short))
    async with connect(f"{short.ws_url}?token={token}") as ws:
        await ws.send(json.dumps({"op": "subscribe", "channels": ["site.s1"]}))
        assert (await recv(ws))["op"] == "subscribed"  # open and serving until then
        with pytest.raises(ConnectionClosed) as info:
            while True:
                await asyncio.wait_for(ws.recv(), 10)
    assert info.value.rcvd is not None
    assert (info.value.rcvd.code, info.value.rcvd.reason) == (4401, "token expired")
    # the stream's timer and watch are gone with it
    assert short.call(_streams_open(short)) == 0


async def _streams_open(srv: LiveServer) -> int:
    return sum(len(c) for c in srv.runtime.security._streams.values())


async def test_sse_ends_with_a_close_event_when_its_token_expires(short: LiveServer) -> None:
    token = token_for(short, key_for(short))
    async with (httpx.AsyncClient(base_url=short.url, timeout=10) as client,
                client.stream("GET", f"/sse?channels=site.s1&token={token}") as sse):
        assert sse.status_code == 200
        seen = [line async for line in sse.aiter_lines()]  # ends when the server ends it
    assert "event: close" in seen
    close = json.loads(seen[seen.index("event: close") + 1].removeprefix("data: "))
    assert close == {"op": "close", "code": 4401, "reason": "token expired"}


async def test_a_stream_opened_with_a_key_header_has_no_expiry(short: LiveServer) -> None:
    key = key_for(short)
    token = token_for(short, key)
    async with (connect(short.ws_url, additional_headers={"X-API-Key": key}) as keyed,
                connect(f"{short.ws_url}?token={token}") as tokened):
        with pytest.raises(ConnectionClosed):
            await asyncio.wait_for(tokened.recv(), 10)  # the token's stream ends ...
        await keyed.send(json.dumps({"op": "ping"}))  # ... the key's is still served
        assert (await recv(keyed))["op"] == "pong"
