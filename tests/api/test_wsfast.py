"""The fast WebSocket path: frames built once, raw writes, slow consumers, closing."""

from __future__ import annotations

import asyncio
import base64
import json
import os
import socket
import struct
from typing import Any

import pytest
from websockets.asyncio.client import connect

from riskcast.api import ws
from riskcast.api.hub import Hub
from riskcast.api.wsfast import text_frame
from riskcast.core.events import Event
from tests.api.conftest import StreamServer, serve

pytestmark = pytest.mark.anyio


def watch_detach(hub: Hub) -> asyncio.Event:
    """An event set when the hub forgets a connection."""
    detached = asyncio.Event()
    original = hub.detach

    def detach(sub: Any) -> None:
        original(sub)
        detached.set()

    hub.detach = detach  # type: ignore[method-assign]
    return detached


def masked(payload: bytes, opcode: int = 0x1) -> bytes:
    """A client frame (clients must mask)."""
    mask = os.urandom(4)
    body = bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
    size = len(payload)
    if size < 126:
        header = struct.pack("!BB", 0x80 | opcode, 0x80 | size)
    else:
        header = struct.pack("!BBH", 0x80 | opcode, 0x80 | 126, size)
    return header + mask + body


class RawClient:
    """A minimal WebSocket client on a socket with a tiny receive buffer."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader = reader
        self.writer = writer

    @classmethod
    async def open(cls, server: StreamServer) -> RawClient:
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        sock.setblocking(False)
        await asyncio.get_running_loop().sock_connect(sock, (server.host, server.port))
        reader, writer = await asyncio.open_connection(sock=sock, limit=4096)
        key = base64.b64encode(os.urandom(16)).decode()
        writer.write((f"GET /ws HTTP/1.1\r\nHost: {server.host}\r\nUpgrade: websocket\r\n"
                      f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\n"
                      "Sec-WebSocket-Version: 13\r\n\r\n").encode())
        head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 5)
        assert head.startswith(b"HTTP/1.1 101")
        return cls(reader, writer)

    async def send(self, message: dict[str, Any]) -> None:
        self.writer.write(masked(json.dumps(message).encode()))
        await self.writer.drain()

    async def frame(self) -> tuple[int, bytes]:
        b0, b1 = await self.reader.readexactly(2)
        size = b1 & 0x7F
        if size == 126:
            (size,) = struct.unpack("!H", await self.reader.readexactly(2))
        elif size == 127:
            (size,) = struct.unpack("!Q", await self.reader.readexactly(8))
        return b0 & 0x0F, await self.reader.readexactly(size)

    async def close(self) -> None:
        self.writer.close()
        try:
            await self.writer.wait_closed()
        except OSError:
            pass


def test_text_frame_lengths_use_the_three_header_forms() -> None:
    assert text_frame(b"a" * 125)[:2] == b"\x81\x7d"
    assert text_frame(b"a" * 126)[:4] == b"\x81\x7e\x00\x7e"
    assert text_frame(b"a" * 65536)[:10] == b"\x81\x7f" + (65536).to_bytes(8, "big")


async def test_fast_frames_of_every_size_reach_the_client(fast_server: StreamServer) -> None:
    async with connect(fast_server.ws_url, max_size=None) as client:
        await client.send(json.dumps({"op": "subscribe", "channels": ["site.s1"]}))
        await asyncio.wait_for(client.recv(), 5)
        sizes = [0, 90, 200, 70_000]
        published = [await fast_server.bus.publish("site.s1", "x" * n) for n in sizes]
        for event in published:
            assert await asyncio.wait_for(client.recv(), 5) == event.to_json().decode()


async def test_fast_protocol_never_negotiates_compression(fast_server: StreamServer) -> None:
    async with connect(fast_server.ws_url, compression="deflate") as client:
        assert client.protocol.extensions == []
        pong = await client.ping()
        await asyncio.wait_for(pong, 5)


async def test_fast_each_event_is_encoded_once_for_all_subscribers(
        fast_server: StreamServer, monkeypatch: pytest.MonkeyPatch) -> None:
    calls = 0
    original = ws.event_frame

    def counting(event: Event) -> bytes:
        nonlocal calls
        calls += 1
        return original(event)

    monkeypatch.setattr(ws, "event_frame", counting)
    clients = [await connect(fast_server.ws_url) for _ in range(20)]
    try:
        for client in clients:
            await client.send(json.dumps({"op": "subscribe", "channels": ["site.s1"]}))
            await asyncio.wait_for(client.recv(), 5)
        for i in range(10):
            await fast_server.bus.publish("site.s1", i)
        for client in clients:
            seqs = [json.loads(await asyncio.wait_for(client.recv(), 5))["seq"]
                    for _ in range(10)]
            assert seqs == list(range(1, 11))
        assert calls == 10
        assert fast_server.hub.stats()["delivered"] == 200
    finally:
        for client in clients:
            await client.close()


async def test_fast_pings_and_pongs_interleave_with_raw_frames(fast_server: StreamServer) -> None:
    async with connect(fast_server.ws_url, max_queue=None) as client:
        await client.send(json.dumps({"op": "subscribe", "channels": ["site.s1"]}))
        await asyncio.wait_for(client.recv(), 5)
        for round_ in range(20):
            for i in range(10):
                await fast_server.bus.publish("site.s1", {"round": round_, "i": i})
            pong = await client.ping()  # the protocol's own pong frame, among raw writes
            await client.send(json.dumps({"op": "ping"}))
            await asyncio.wait_for(pong, 5)
        got = [json.loads(await asyncio.wait_for(client.recv(), 5)) for _ in range(220)]
        seqs = [m["seq"] for m in got if "seq" in m]
        assert seqs == list(range(1, 201))
        assert sum(m == {"op": "pong"} for m in got) == 20


async def test_fast_client_close_handshake_detaches(fast_server: StreamServer) -> None:
    detached = watch_detach(fast_server.hub)
    async with connect(fast_server.ws_url) as client:
        await client.send(json.dumps({"op": "subscribe", "channels": ["site.s1"]}))
        await asyncio.wait_for(client.recv(), 5)
        await fast_server.bus.publish("site.s1", 1)
    assert client.close_code == 1000
    await asyncio.wait_for(detached.wait(), 5)
    assert fast_server.hub.stats()["subscribers"] == 0
    await fast_server.bus.publish("site.s1", 2)  # nobody left: nothing breaks


async def test_fast_connection_lost_while_buffered_detaches(fast_server: StreamServer) -> None:
    detached = watch_detach(fast_server.hub)
    raw = await RawClient.open(fast_server)
    await raw.send({"op": "subscribe", "channels": ["site.s1"]})
    assert (await raw.frame())[0] == 0x1
    for _ in range(50):
        await fast_server.bus.publish("site.s1", "x" * 10_000)
    # abort: RST with unread data on both sides
    raw.writer.transport.abort()
    await asyncio.wait_for(detached.wait(), 5)
    await fast_server.bus.publish("site.s1", "after")
    assert fast_server.hub.stats()["subscribers"] == 0


async def test_fast_slow_consumer_is_closed_4008_and_can_resume() -> None:
    async with serve(buffer_bytes=64 * 1024) as server:
        slow = await RawClient.open(server)
        await slow.send({"op": "subscribe", "channels": ["site.s1"]})
        opcode, ack = await slow.frame()
        assert json.loads(ack)["op"] == "subscribed"
        async with connect(server.ws_url) as quick:
            await quick.send(json.dumps({"op": "subscribe", "channels": ["site.s1"]}))
            await asyncio.wait_for(quick.recv(), 5)

            async def publish_until_dropped() -> int:
                count = 0
                while server.hub.stats()["dropped_slow"] == 0:
                    count += 1
                    event = await server.bus.publish("site.s1", {"pad": "x" * 16_000})
                    got = json.loads(await asyncio.wait_for(quick.recv(), 5))
                    assert got["seq"] == event.seq  # the quick one never waits
                return count

            published = await asyncio.wait_for(publish_until_dropped(), 60)
            for _ in range(5):  # the quick one goes on
                event = await server.bus.publish("site.s1", "more")
                assert json.loads(await asyncio.wait_for(quick.recv(), 5))["seq"] == event.seq

            # The slow one reads at last: events in order, then close 4008.
            seqs: list[int] = []
            while True:
                opcode, payload = await asyncio.wait_for(slow.frame(), 10)
                if opcode == 0x8:
                    break
                seqs.append(json.loads(payload)["seq"])
            code = struct.unpack("!H", payload[:2])[0]
            assert (code, payload[2:].decode()) == (4008, "slow consumer: resume with since")
            assert seqs == list(range(1, len(seqs) + 1))
            assert len(seqs) <= published  # nothing after the drop
            await slow.close()

            # ... and resumes from its last seq with nothing missing.
            async with connect(server.ws_url) as again:
                await again.send(json.dumps({"op": "subscribe", "channels": ["site.s1"],
                                             "since": {"site.s1": seqs[-1]}}))
                ack = json.loads(await asyncio.wait_for(again.recv(), 5))
                last = ack["seq"]["site.s1"]
                rest = [json.loads(await asyncio.wait_for(again.recv(), 5))["seq"]
                        for _ in range(last - seqs[-1])]
                assert rest == list(range(seqs[-1] + 1, last + 1))
                assert last == published + 5
