"""``/sse`` end to end over a real uvicorn, read with httpx streaming."""

from __future__ import annotations

import asyncio
import contextlib
import json
import socket
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from riskcast.api.sse import parse_positions
from riskcast.exceptions import ValidationError
from tests.api.conftest import StreamServer, serve

pytestmark = pytest.mark.anyio


class Stream:
    """Server-sent events parsed from an httpx streaming response."""

    def __init__(self, response: httpx.Response) -> None:
        self.response = response
        self._lines = response.aiter_lines()
        self.comments: list[str] = []

    async def next(self) -> dict[str, Any]:
        """The next event (``retry`` alone is skipped); comments are collected."""

        async def read() -> dict[str, Any]:
            fields: dict[str, Any] = {}
            async for line in self._lines:
                if not line:
                    if fields and set(fields) != {"retry"}:
                        return fields
                    fields = {}
                    continue
                if line.startswith(":"):
                    self.comments.append(line)
                    continue
                name, _, value = line.partition(": ")
                fields[name] = value
            raise EOFError

        fields = await asyncio.wait_for(read(), 5)
        if "data" in fields:
            fields["json"] = json.loads(fields["data"])
        return fields

    async def comment(self) -> str:
        """The next comment line (such as a keep-alive)."""

        async def read() -> str:
            async for line in self._lines:
                if line.startswith(":"):
                    return line
            raise EOFError

        return await asyncio.wait_for(read(), 5)

    async def events(self, count: int) -> list[dict[str, Any]]:
        return [await self.next() for _ in range(count)]


@contextlib.asynccontextmanager
async def sse(server: StreamServer, query: str,
              headers: dict[str, str] | None = None) -> AsyncIterator[Stream]:
    async with (httpx.AsyncClient(base_url=server.http_url, timeout=5) as client,
                client.stream("GET", "/sse?" + query, headers=headers) as response):
        assert response.status_code == 200
        assert response.headers["content-type"] == "text/event-stream; charset=utf-8"
        assert response.headers["cache-control"] == "no-cache"
        yield Stream(response)


async def test_sse_streams_events_with_channel_seq_ids(fast_server: StreamServer) -> None:
    async with sse(fast_server, "channels=site.s1") as stream:
        subscribed = await stream.next()
        assert subscribed["event"] == "subscribed"
        assert subscribed["id"] == "site.s1:0"
        assert subscribed["json"] == {"op": "subscribed", "channels": ["site.s1"],
                                      "seq": {"site.s1": 0}}
        published = [await fast_server.bus.publish("site.s1", {"i": i}) for i in range(3)]
        got = await stream.events(3)
    assert [e["id"] for e in got] == ["site.s1:1", "site.s1:2", "site.s1:3"]
    assert [e["data"].encode() for e in got] == [e.to_json() for e in published]
    assert all("event" not in e for e in got)


async def test_sse_resumes_from_last_event_id(fast_server: StreamServer) -> None:
    for i in range(5):
        await fast_server.bus.publish("site.s1", i)
    async with sse(fast_server, "channels=site.s1", {"Last-Event-ID": "site.s1:2"}) as stream:
        assert (await stream.next())["json"]["seq"] == {"site.s1": 5}
        assert [e["id"] for e in await stream.events(3)] == [
            "site.s1:3", "site.s1:4", "site.s1:5"]
        await fast_server.bus.publish("site.s1", "live")
        assert (await stream.next())["id"] == "site.s1:6"


async def test_sse_multi_channel_ids_carry_every_position(fast_server: StreamServer) -> None:
    await fast_server.bus.publish("alerts", "old")
    async with sse(fast_server, "channels=site.s1,alerts") as stream:
        subscribed = await stream.next()
        assert subscribed["id"] == "site.s1:0,alerts:1"
        await fast_server.bus.publish("site.s1", "a")
        await fast_server.bus.publish("alerts", "b")
        await fast_server.bus.publish("site.s1", "c")
        got = await stream.events(3)
    ids = [e["id"] for e in got]
    # in one loop tick events are grouped by channel; each id holds both positions
    assert ids == ["site.s1:1,alerts:1", "site.s1:2,alerts:1", "site.s1:2,alerts:2"]
    assert [e["json"]["seq"] for e in got] == [1, 2, 2]
    # what a browser sends after a drop resumes both channels
    await fast_server.bus.publish("alerts", "d")
    await fast_server.bus.publish("site.s1", "e")
    async with sse(fast_server, "channels=site.s1,alerts", {"Last-Event-ID": ids[-1]}) as stream:
        await stream.next()
        resumed = [(e["json"]["channel"], e["json"]["seq"]) for e in await stream.events(2)]
    assert sorted(resumed) == [("alerts", 3), ("site.s1", 3)]


async def test_sse_resumes_several_channels_from_since(fast_server: StreamServer) -> None:
    for i in range(3):
        await fast_server.bus.publish("site.s1", i)
        await fast_server.bus.publish("alerts", i)
    async with sse(fast_server, "channels=site.s1,alerts&since=site.s1:1,alerts:2") as stream:
        subscribed = await stream.next()
        assert subscribed["id"] == "site.s1:1,alerts:2"
        got = [(e["json"]["channel"], e["json"]["seq"]) for e in await stream.events(3)]
    assert got == [("site.s1", 2), ("site.s1", 3), ("alerts", 3)]


async def test_sse_last_event_id_wins_over_since(fast_server: StreamServer) -> None:
    for i in range(4):
        await fast_server.bus.publish("site.s1", i)
    async with sse(fast_server, "channels=site.s1&since=site.s1:0",
                   {"Last-Event-ID": "site.s1:3"}) as stream:
        await stream.next()
        assert (await stream.next())["id"] == "site.s1:4"


async def test_sse_reports_history_gap() -> None:
    async with serve(history_size=3) as server:
        for i in range(6):
            await server.bus.publish("site.s1", i)
        async with sse(server, "channels=site.s1&since=site.s1:1") as stream:
            await stream.next()
            gap = await stream.next()
            assert gap["event"] == "history_gap"
            assert gap["json"]["code"] == "history_gap"
            assert (gap["json"]["since"], gap["json"]["oldest"]) == (1, 4)
            assert [e["id"] for e in await stream.events(3)] == [
                "site.s1:4", "site.s1:5", "site.s1:6"]


async def test_sse_sends_keepalive_comments() -> None:
    async with serve(keepalive=0.05) as server, sse(server, "channels=alerts") as stream:
        await stream.next()
        assert await stream.comment() == ": keepalive"
        assert await stream.comment() == ": keepalive"
        await server.bus.publish("alerts", 1)
        assert (await stream.next())["id"] == "alerts:1"


BAD = [
    pytest.param("", "channels", id="missing"),
    pytest.param("channels=", "channels", id="empty"),
    pytest.param("channels=site.s1,bad%20name", "channels", id="bad-name"),
    pytest.param("channels=" + ",".join(f"c{i}" for i in range(300)), "channels",
                 id="too-many"),
    pytest.param("channels=site.s1&since=site.s1", "since", id="since-no-seq"),
    pytest.param("channels=site.s1&since=site.s1:-1", "since", id="since-negative"),
    pytest.param("channels=site.s1&since=alerts:1", "since", id="since-other-channel"),
]


@pytest.mark.parametrize(("query", "field"), BAD)
async def test_sse_bad_request_is_a_problem_naming_the_field(fast_server: StreamServer, query: str,
                                                             field: str) -> None:
    async with httpx.AsyncClient(base_url=fast_server.http_url) as client:
        response = await client.get("/sse?" + query)
    assert response.status_code == 400
    assert response.headers["content-type"] == "application/problem+json"
    problem = response.json()
    assert problem["status"] == 400 and problem["title"]
    assert problem["field"] == field and problem["detail"] and problem["type"]


async def test_sse_bad_last_event_id_is_a_problem(fast_server: StreamServer) -> None:
    async with httpx.AsyncClient(base_url=fast_server.http_url) as client:
        response = await client.get("/sse?channels=a", headers={"Last-Event-ID": "nonsense"})
    assert response.status_code == 400
    assert response.json()["field"] == "Last-Event-ID"


async def test_sse_forbidden_channels_are_403() -> None:
    async with (serve(authorize=lambda ch: ch != "secret") as server,
                httpx.AsyncClient(base_url=server.http_url) as client):
        response = await client.get("/sse?channels=alerts,secret")
    assert response.status_code == 403
    assert response.json()["field"] == "channels"


async def test_sse_hub_aclose_ends_stream_with_close_event(fast_server: StreamServer) -> None:
    async with sse(fast_server, "channels=alerts") as stream:
        await stream.next()
        await fast_server.hub.aclose()
        closing = await stream.next()
        assert closing["event"] == "close"
        assert closing["json"] == {"op": "close", "code": 1001, "reason": "going away"}
        with pytest.raises(EOFError):
            await stream.next()


async def test_sse_client_leaving_detaches(fast_server: StreamServer) -> None:
    async with sse(fast_server, "channels=alerts") as stream:
        await stream.next()
        assert fast_server.hub.stats()["subscribers"] == 1
    detached = asyncio.Event()
    original = fast_server.hub.detach

    def detach(sub: Any) -> None:
        original(sub)
        detached.set()

    fast_server.hub.detach = detach  # type: ignore[method-assign]
    if fast_server.hub.stats()["subscribers"]:
        await asyncio.wait_for(detached.wait(), 5)
    assert fast_server.hub.stats()["subscribers"] == 0


async def test_sse_slow_consumer_gets_close_4008() -> None:
    async with serve(buffer_bytes=32 * 1024) as server:
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        sock.setblocking(False)
        await asyncio.get_running_loop().sock_connect(sock, (server.host, server.port))
        reader, writer = await asyncio.open_connection(sock=sock, limit=4096)
        writer.write(b"GET /sse?channels=site.s1 HTTP/1.1\r\nHost: x\r\n"
                     b"Connection: close\r\n\r\n")
        await asyncio.wait_for(reader.readuntil(b"event: subscribed"), 5)

        async def publish_until_dropped() -> None:
            while server.hub.stats()["dropped_slow"] == 0:
                await server.bus.publish("site.s1", {"pad": "x" * 16_000})
                await asyncio.sleep(0)  # a yield: the response task sends meanwhile

        await asyncio.wait_for(publish_until_dropped(), 60)
        rest = await asyncio.wait_for(reader.read(), 10)  # to the end of the response
        assert rest.endswith(b"\r\n0\r\n\r\n")  # the last chunk: the response ended
        assert (b'event: close\ndata: {"op":"close","code":4008,'
                b'"reason":"slow consumer: resume with since"}\n\n') in rest
        writer.close()
        await writer.wait_closed()


def test_parse_positions_refuses_bad_parts() -> None:
    assert parse_positions("a:1, b.c:2 ,", field="since") == {"a": 1, "b.c": 2}
    assert parse_positions("pack.x:y:3", field="since") == {"pack.x:y": 3}
    for bad in ("a", "a:", ":3", "a:1.5", "bad name:1", "a:٣"):
        with pytest.raises(ValidationError):
            parse_positions(bad, field="since")


async def test_server_shutdown_ends_open_streams_promptly() -> None:
    """With the hub closed first on shutdown, open SSE and WebSocket streams end with a
    close (1001) instead of holding uvicorn's graceful shutdown."""
    from websockets.asyncio.client import connect

    async with serve() as server:
        async with (sse(server, "channels=alerts") as stream,
                    connect(server.ws_url) as client):
            await stream.next()
            await client.send('{"op": "subscribe", "channels": ["alerts"]}')
            await asyncio.wait_for(client.recv(), 5)
            server.server.should_exit = True
            closing = await stream.next()
            assert closing["json"]["code"] == 1001
            await asyncio.wait_for(client.wait_closed(), 5)
            assert client.close_code == 1001
