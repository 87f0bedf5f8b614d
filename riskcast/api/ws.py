"""``GET /ws``: live events over WebSocket, a thin adapter over :class:`~riskcast.api.hub.Hub`.

Client to server (JSON text frames, at most 64 KiB; ``id`` is optional and echoed)::

    {"op": "subscribe", "channels": ["site.s1", "alerts"], "since": {"site.s1": 41}}
    {"op": "unsubscribe", "channels": ["alerts"]}
    {"op": "ping"}

Server to client: events as ``{"channel", "seq", "time", "data"}`` (``Event.to_json()``),
and ``{"op": "subscribed" | "unsubscribed" | "pong" | "error", ...}``. docs/streams.md
has the whole protocol.

Under uvicorn with :class:`~riskcast.api.wsfast.FastWebSocketProtocol`, frames are built
once per event and written straight to each transport; anywhere else (another server,
Starlette's TestClient) the same protocol runs over ``websocket.send_text`` with a
bounded queue and a sender task per connection.
"""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import Callable, Sequence
from typing import Annotated, Any

import msgspec
from fastapi import APIRouter, WebSocket, WebSocketDisconnect

from riskcast.api.hub import Authorize, Batch, Filters, Hub, Outbox, Subscription, filtered
from riskcast.api.wsfast import RAW_WS, RawWebSocket, text_frame
from riskcast.core.events import Event
from riskcast.exceptions import BusError

__all__ = ["MAX_MESSAGE_BYTES", "event_frame", "router"]

router = APIRouter()
log = logging.getLogger(__name__)

#: Largest client message accepted; a larger one gets an error frame ``too_large``.
MAX_MESSAGE_BYTES = 64 * 1024

_encode = msgspec.json.Encoder().encode
_decode = msgspec.json.Decoder().decode
_PATH = re.compile(r"at `\$\.([A-Za-z_]+)|missing required field `([A-Za-z_]+)`")
_Id = str | int | None


class _Subscribe(msgspec.Struct):
    channels: list[str]
    since: dict[str, Annotated[int, msgspec.Meta(ge=0)]] = {}
    id: _Id = None


class _Unsubscribe(msgspec.Struct):
    channels: list[str]
    id: _Id = None


class _Ping(msgspec.Struct):
    id: _Id = None


_OPS: dict[str, type[msgspec.Struct]] = {
    "subscribe": _Subscribe, "unsubscribe": _Unsubscribe, "ping": _Ping,
}


def event_frame(event: Event) -> bytes:
    """The WebSocket text frame of an event (the hub calls this once per event)."""
    return text_frame(event.to_json())


class _Problem(Exception):
    def __init__(self, code: str, message: str, **extra: Any) -> None:
        super().__init__(message)
        self.frame = {"op": "error", "code": code, "message": message, **extra}


class _FastConnection:
    """A subscriber writing pre-encoded frames through :class:`RawWebSocket`."""

    __slots__ = ("_raw", "_write", "authorize", "encoder", "filters")

    def __init__(self, raw: RawWebSocket, authorize: Authorize | None,
                 filters: Filters | None = None) -> None:
        self._raw = raw
        self._write = raw.write_frames
        self.authorize = authorize
        self.encoder = event_frame
        self.filters = filters

    def send(self, batches: Sequence[Batch]) -> int:
        if self.filters:
            batches = filtered(batches, self.filters)
            if not batches:
                return self._raw.buffer_size()
        if len(batches) == 1:
            return self._write(batches[0].joined)
        return self._write(b"".join([b.joined for b in batches]))

    def control(self, message: dict[str, Any]) -> None:
        self._write(text_frame(_encode(message)))

    def close(self, code: int, reason: str) -> None:
        self._raw.close(code, reason)


class _QueuedConnection:
    """The fallback: a bounded queue and a task sending with ``websocket.send_text``."""

    __slots__ = ("_websocket", "authorize", "encoder", "filters", "outbox")

    def __init__(self, websocket: WebSocket, authorize: Authorize | None,
                 filters: Filters | None = None) -> None:
        self._websocket = websocket
        self.authorize = authorize
        self.encoder = Event.to_json
        self.outbox = Outbox()
        self.filters = filters

    def send(self, batches: Sequence[Batch]) -> int:
        if self.filters:
            batches = filtered(batches, self.filters)
        size = self.outbox.size
        for batch in batches:
            for item in batch.items:
                size = self.outbox.put(item)
        return size

    def control(self, message: dict[str, Any]) -> None:
        self.outbox.put(_encode(message))

    def close(self, code: int, reason: str) -> None:
        self.outbox.close(code, reason)

    async def run(self) -> None:
        """Send what is queued until the hub or the handler closes the outbox."""
        outbox = self.outbox
        try:
            while True:
                chunks = await outbox.get()
                if outbox.closed is not None:
                    code, reason = outbox.closed
                    await self._websocket.close(code, reason)
                    return
                for chunk in chunks:
                    await self._websocket.send_text(chunk.decode())
        except (OSError, RuntimeError, WebSocketDisconnect):  # the client went away
            return


Connection = _FastConnection | _QueuedConnection


@router.websocket("/ws")
async def stream(websocket: WebSocket) -> None:
    """Live events: subscribe, unsubscribe, ping; see the module docstring."""
    hub: Hub = websocket.app.state.hub
    await websocket.accept()
    raw = (websocket.scope.get("extensions") or {}).get(RAW_WS)
    authorize: Authorize | None = getattr(websocket.state, "authorize", None)
    filters: Filters | None = getattr(websocket.state, "filters", None)  # a scoped key's
    conn: Connection
    if isinstance(raw, RawWebSocket):
        conn = _FastConnection(raw, authorize, filters)
        hub.attach(conn)
        unwatch = _watch_key(websocket, conn)
        try:
            await _receive_loop(hub, websocket, conn)
        finally:
            hub.detach(conn)
            unwatch()
        return
    conn = _QueuedConnection(websocket, authorize, filters)
    hub.attach(conn)
    unwatch = _watch_key(websocket, conn)
    sender = asyncio.create_task(conn.run())
    receiver = asyncio.create_task(_receive_loop(hub, websocket, conn))
    try:
        await asyncio.wait({sender, receiver}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        hub.detach(conn)
        unwatch()
        sender.cancel()  # the client left, or the sender closed the connection: stop both
        receiver.cancel()
        await asyncio.gather(sender, receiver, return_exceptions=True)


def _watch_key(websocket: WebSocket, conn: Connection) -> Callable[[], None]:
    """Close with 4401 when the connection's API key is revoked (the auth middleware puts
    ``watch`` in the state); returns the call that stops watching."""
    watch = getattr(websocket.state, "watch", None)
    if watch is None:
        return lambda: None
    unwatch: Callable[[], None] = watch(lambda reason: conn.close(4401, reason))
    return unwatch


async def _receive_loop(hub: Hub, websocket: WebSocket, conn: Connection) -> None:
    while True:
        message = await websocket.receive()
        if message["type"] == "websocket.disconnect":
            return
        data: str | bytes | None = message.get("text")
        if data is None:
            data = message.get("bytes") or b""
        try:
            await _handle(hub, conn, data)
        except _Problem as problem:
            conn.control(problem.frame)
        except Exception:  # a bug must not end the connection; the log has it
            log.exception("ws: handling a client message failed")
            conn.control({"op": "error", "code": "internal_error",
                          "message": "the server failed to handle this message"})


async def _handle(hub: Hub, conn: Connection, data: str | bytes) -> None:
    if len(data) > MAX_MESSAGE_BYTES // 4 and len(
            data.encode() if isinstance(data, str) else data) > MAX_MESSAGE_BYTES:
        raise _Problem("too_large", f"messages are limited to {MAX_MESSAGE_BYTES} bytes",
                       limit=MAX_MESSAGE_BYTES)
    try:
        obj = _decode(data)
    except (msgspec.DecodeError, UnicodeDecodeError) as err:
        raise _Problem("bad_json", f"not valid JSON: {err}") from None
    if not isinstance(obj, dict):
        raise _Problem("bad_request", "a message is a JSON object with an op", field="op")
    extra: dict[str, Any] = {}
    if isinstance(obj.get("id"), str | int) and not isinstance(obj.get("id"), bool):
        extra["id"] = obj["id"]
    op = obj.get("op")
    if not isinstance(op, str):
        raise _Problem("bad_request", "missing op: one of subscribe, unsubscribe, ping",
                       field="op", **extra)
    kind = _OPS.get(op)
    if kind is None:
        raise _Problem("unknown_op", f"unknown op {op!r}: use subscribe, unsubscribe or ping",
                       field="op", **extra)
    try:
        request = msgspec.convert({k: v for k, v in obj.items() if k != "op"}, kind)
    except msgspec.ValidationError as err:
        found = _PATH.search(str(err))
        where = (found.group(1) or found.group(2)) if found else "op"
        raise _Problem("bad_request", str(err), field=where, **extra) from None
    if isinstance(request, _Ping):
        conn.control({"op": "pong", **extra})
    elif isinstance(request, _Unsubscribe):
        removed = hub.unsubscribe(conn, request.channels)
        conn.control({"op": "unsubscribed", "channels": removed, **extra})
    elif isinstance(request, _Subscribe):
        await _subscribe(hub, conn, request, extra)


async def _subscribe(hub: Hub, conn: Connection, request: _Subscribe,
                     extra: dict[str, Any]) -> None:
    stray = [c for c in request.since if c not in request.channels]
    if stray:
        raise _Problem("bad_request", f"since names channels not in channels: {stray}",
                       field="since", channels=stray, **extra)
    if len(request.channels) > hub.max_channels:
        raise _Problem("too_many_channels",
                       f"at most {hub.max_channels} channels per connection",
                       field="channels", limit=hub.max_channels, **extra)

    def ready(result: Subscription) -> None:
        conn.control({"op": "subscribed", "channels": list(result.seq), "seq": result.seq,
                      **extra})
        for code in ("bad_channel", "forbidden", "too_many_channels"):
            refused = [c for c, why in result.refused.items() if why == code]
            if refused:
                conn.control({"op": "error", "code": code, "message": _REFUSALS[code],
                              "field": "channels", "channels": refused, **extra})
        for gap in result.gaps:
            conn.control({"op": "error", "code": "history_gap", "message": str(gap),
                          "channel": gap.channel, "since": gap.since, "oldest": gap.oldest,
                          **extra})

    try:
        await hub.subscribe(conn, request.channels, request.since, on_ready=ready)
    except BusError as err:
        raise _Problem("unavailable", f"the bus failed: {err}; retry", **extra) from None


_REFUSALS = {
    "bad_channel": "not valid channel names: dotted words such as site.s1 or alerts",
    "forbidden": "not allowed to subscribe to these channels",
    "too_many_channels": "too many channels on this connection",
}
