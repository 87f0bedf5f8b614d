"""Hostile WebSocket input against a real server with the fast protocol: binary garbage,
invalid JSON, unknown ops, oversized messages, a 2 MB frame and broken framing each get an
error frame or a clean close with a reason, and the server keeps serving everyone else."""

from __future__ import annotations

import json
import os
import socket
import struct
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from websockets.exceptions import ConnectionClosedError
from websockets.sync.client import ClientConnection, connect

from riskcast.api.ws import MAX_MESSAGE_BYTES
from riskcast.settings import Settings
from riskcast.testing.server import LiveServer, live_server


@pytest.fixture
def srv(tmp_path: Path) -> Iterator[LiveServer]:
    with live_server(Settings(data_dir=tmp_path, retention="0", auth=False)) as server:
        yield server


def answer(ws: ClientConnection) -> dict[str, Any]:
    reply: dict[str, Any] = json.loads(ws.recv(timeout=10))
    return reply


def test_malformed_messages_get_error_frames_and_the_connection_stays(
        srv: LiveServer) -> None:
    with connect(srv.ws_url, max_size=None) as ws:
        ws.send(os.urandom(512))  # binary garbage
        assert answer(ws)["code"] == "bad_json"
        ws.send("{not json")
        assert answer(ws)["code"] == "bad_json"
        ws.send(b"\xff\xfe\x00{")  # not UTF-8 either
        assert answer(ws)["code"] == "bad_json"
        ws.send('["subscribe"]')
        reply = answer(ws)
        assert (reply["code"], reply["field"]) == ("bad_request", "op")
        ws.send('{"op": "explode", "id": 7}')
        reply = answer(ws)
        assert (reply["code"], reply["field"], reply["id"]) == ("unknown_op", "op", 7)
        ws.send('{"op": "subscribe", "channels": "alerts"}')
        reply = answer(ws)
        assert (reply["code"], reply["field"]) == ("bad_request", "channels")
        ws.send(json.dumps({"op": "ping", "pad": "x" * (MAX_MESSAGE_BYTES + 10)}))
        assert answer(ws)["code"] == "too_large"
        ws.send('{"op": "ping", "id": "still here"}')
        assert answer(ws) == {"op": "pong", "id": "still here"}


def test_a_2mb_frame_is_closed_with_a_reason_and_others_keep_streaming(
        srv: LiveServer) -> None:
    with connect(srv.ws_url) as other:
        other.send('{"op": "subscribe", "channels": ["system"]}')
        assert answer(other)["op"] == "subscribed"
        with connect(srv.ws_url, max_size=None) as big:
            big.send("x" * (2 * 1024 * 1024))
            with pytest.raises(ConnectionClosedError) as closed:
                big.recv(timeout=10)
            assert closed.value.rcvd is not None
            assert closed.value.rcvd.code == 1009  # message too big
            assert closed.value.rcvd.reason
        httpx.post(f"{srv.url}/api/v1/sites", json={"id": "after"}).raise_for_status()
        event = answer(other)
        assert event["channel"] == "system" and event["data"]["site"] == "after"


def test_broken_framing_is_a_protocol_close_not_a_crash(srv: LiveServer) -> None:
    """A raw client that breaks the framing rules (an unmasked frame, then a reserved
    opcode) is closed with 1002; the server still answers a well-behaved client."""
    for frame in (struct.pack("!BB", 0x81, 5) + b"hello",  # clients must mask
                  struct.pack("!BB", 0x83, 0x80) + os.urandom(4)):  # reserved opcode 3
        with socket.create_connection(("127.0.0.1", srv.port), timeout=10) as sock:
            key = "dGhlIHNhbXBsZSBub25jZQ=="
            sock.sendall((f"GET /ws HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\n"
                          f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\n"
                          "Sec-WebSocket-Version: 13\r\n\r\n").encode())
            handshake = b""
            while b"\r\n\r\n" not in handshake:
                chunk = sock.recv(4096)
                assert chunk, "closed during the handshake"
                handshake += chunk
            assert handshake.startswith(b"HTTP/1.1 101")
            rest = handshake.split(b"\r\n\r\n", 1)[1]
            sock.sendall(frame)
            received = rest
            while len(received) < 4:
                chunk = sock.recv(4096)
                if not chunk:
                    break
                received += chunk
            assert received[0] == 0x88, received  # a close frame
            code = struct.unpack("!H", received[2:4])[0]
            assert code == 1002
    with connect(srv.ws_url) as ws:
        ws.send('{"op": "ping"}')
        assert answer(ws) == {"op": "pong"}
