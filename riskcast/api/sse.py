"""``GET /sse``: live events as Server-Sent Events, a thin adapter over the hub.

``GET /sse?channels=site.s1,alerts&since=site.s1:41`` answers ``text/event-stream``:

- each event is ``id: <positions>`` and ``data: <event JSON>`` (no ``event:`` line, so
  ``EventSource.onmessage`` gets it);
- ``<positions>`` is ``<channel>:<seq>`` for a one-channel stream, and the position of
  every channel of the stream, comma-separated, for a multi-channel stream
  (``site.s1:42,alerts:3``), so the ``Last-Event-ID`` a browser sends on reconnect
  resumes every channel;
- first comes ``event: subscribed`` (its ``id`` holds the starting positions), then
  ``event: history_gap`` for a resume point no longer retained, and ``event: close``
  before the server ends the stream (slow consumer 4008, shutdown 1001);
- a comment (``: keepalive``) every ``keepalive`` seconds of silence.

Resume points come from ``since`` and from the ``Last-Event-ID`` header (the header
wins per channel). The text of each event is built once and shared by every
one-channel subscriber of its channel; multi-channel subscribers share the ``data:``
part and add their own ``id:`` line.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Any

import msgspec
from fastapi import APIRouter, Request
from fastapi.responses import Response
from starlette.types import Receive, Scope, Send

from riskcast.api.hub import Authorize, Batch, Filters, Hub, Outbox, Subscription, filtered
from riskcast.api.problems import problem
from riskcast.core.events import Event, check_channel
from riskcast.exceptions import BusError, ValidationError

__all__ = ["parse_positions", "router", "sse_block", "sse_data"]

router = APIRouter()

_encode = msgspec.json.Encoder().encode
_KEEPALIVE = b": keepalive\n\n"
_RETRY = b"retry: 2000\n\n"


def sse_block(event: Event) -> bytes:
    r"""The SSE text of an event on a one-channel stream (built once per event).

    >>> sse_block(Event("alerts", 3, "2026-07-01T12:00:00Z", 1))
    b'id: alerts:3\ndata: {"channel":"alerts","seq":3,"time":"2026-07-01T12:00:00Z","data":1}\n\n'
    """
    return b"id: %s:%d\ndata: %s\n\n" % (event.channel.encode(), event.seq, event.to_json())


def sse_data(event: Event) -> bytes:
    """The ``data:`` part of an event on a multi-channel stream (built once per event)."""
    return b"data: " + event.to_json() + b"\n\n"


def parse_positions(text: str, *, field: str) -> dict[str, int]:
    """Parse ``channel:seq`` pairs, comma-separated, as in ``since`` and ``Last-Event-ID``.

    >>> parse_positions("site.s1:41,alerts:3", field="since")
    {'site.s1': 41, 'alerts': 3}
    """
    positions: dict[str, int] = {}
    for part in text.split(","):
        part = part.strip()
        if not part:
            continue
        channel, sep, seq = part.rpartition(":")
        if not sep or not seq.isdigit() or not seq.isascii():
            raise ValidationError(f"{field}: {part!r} is not <channel>:<seq>", field=field)
        positions[_check_in(channel, field)] = int(seq)
    return positions


def _check_in(channel: str, field: str) -> str:
    try:
        return check_channel(channel)
    except ValidationError:
        raise ValidationError(f"{field}: not a valid channel name: {channel!r}",
                              field=field) from None


@router.get(
    "/sse",
    response_class=Response,
    responses={200: {"content": {"text/event-stream": {}},
                     "description": "A stream of events; see docs/streams.md."},
               400: {"content": {"application/problem+json": {}}},
               403: {"content": {"application/problem+json": {}}}},
)
async def stream(request: Request) -> Response:
    """Live events of ``channels`` (comma-separated) as Server-Sent Events."""
    hub: Hub = request.app.state.hub
    channels = list(dict.fromkeys(
        c.strip() for value in request.query_params.getlist("channels")
        for c in value.split(",") if c.strip()))
    if not channels:
        return problem(400, "give one or more channel names, comma-separated: "
                             "?channels=site.s1,alerts", field="channels")
    if len(channels) > hub.max_channels:
        return problem(400, f"at most {hub.max_channels} channels per stream", field="channels")
    authorize: Authorize | None = getattr(request.state, "authorize", None)
    refused = hub.check_channels(channels)
    if refused:
        return problem(400, f"not valid channel names: {', '.join(refused)}", field="channels")
    refused = hub.check_channels(channels, authorize)
    if refused:
        return problem(403, f"not allowed: {', '.join(refused)}", field="channels")
    since: dict[str, int] = {}
    try:
        for value in request.query_params.getlist("since"):
            since.update(parse_positions(value, field="since"))
        stray = [c for c in since if c not in channels]
        if stray:
            raise ValidationError(f"since: channels not in channels: {', '.join(stray)}",
                                  field="since")
        last = request.headers.get("last-event-id")
        if last:
            resumed = parse_positions(last, field="Last-Event-ID")
            since.update({c: s for c, s in resumed.items() if c in channels})
    except ValidationError as err:
        return problem(400, str(err), field=err.field or "since")
    filters: Filters | None = getattr(request.state, "filters", None)  # a scoped key's
    return _EventStream(hub, _SSEConnection(channels, since, authorize, filters))


class _SSEConnection:
    """One stream's subscriber: chunks go to an :class:`Outbox` drained by the response."""

    __slots__ = ("_single", "authorize", "encoder", "filters", "outbox", "positions", "since")

    def __init__(self, channels: list[str], since: dict[str, int],
                 authorize: Authorize | None, filters: Filters | None = None) -> None:
        self.authorize = authorize
        self.filters = filters
        self.outbox = Outbox()
        self.positions = dict.fromkeys(channels, 0)
        self.since = since
        self._single = len(channels) == 1
        self.encoder = sse_block if self._single else sse_data

    @property
    def channels(self) -> list[str]:
        return list(self.positions)

    def _id(self) -> bytes:
        return ",".join(f"{c}:{s}" for c, s in self.positions.items()).encode()

    def send(self, batches: Sequence[Batch]) -> int:
        if self.filters:
            batches = filtered(batches, self.filters)
            if not batches:
                return self.outbox.size
        if self._single:
            size = 0
            for batch in batches:
                size = self.outbox.put(batch.joined)
            return size
        positions = self.positions
        parts: list[bytes] = []
        for batch in batches:
            for event, item in zip(batch.events, batch.items, strict=True):
                positions[event.channel] = event.seq
                parts.append(b"id: " + self._id() + b"\n" + item)
        return self.outbox.put(b"".join(parts))

    def announce(self, result: Subscription) -> None:
        """The ``subscribed`` event (and gaps), written before any history."""
        for channel, seq in result.seq.items():
            self.positions[channel] = self.since.get(channel, seq)
        body = _encode({"op": "subscribed", "channels": list(result.seq), "seq": result.seq})
        self.outbox.put(b"event: subscribed\nid: " + self._id() + b"\ndata: " + body + b"\n\n")
        for gap in result.gaps:
            body = _encode({"op": "error", "code": "history_gap", "message": str(gap),
                            "channel": gap.channel, "since": gap.since, "oldest": gap.oldest})
            self.outbox.put(b"event: history_gap\ndata: " + body + b"\n\n")

    def close(self, code: int, reason: str) -> None:
        self.outbox.close(code, reason)


class _EventStream(Response):
    """The ``text/event-stream`` response; runs the subscriber until either side ends."""

    media_type = "text/event-stream"

    def __init__(self, hub: Hub, conn: _SSEConnection) -> None:
        self.status_code = 200
        self.background = None
        self.init_headers({"cache-control": "no-cache", "x-accel-buffering": "no"})
        self._hub = hub
        self._conn = conn

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        hub, conn = self._hub, self._conn
        outbox = conn.outbox
        gone = asyncio.Event()
        watcher = asyncio.create_task(_watch_disconnect(receive, outbox, gone))
        hub.attach(conn)
        watch = scope.get("state", {}).get("watch")  # the auth middleware's: key revoked
        unwatch = watch(lambda reason: conn.close(4401, reason)) if watch else None
        try:
            await send({"type": "http.response.start", "status": 200,
                        "headers": self.raw_headers})
            await send({"type": "http.response.body", "body": _RETRY, "more_body": True})
            try:
                await hub.subscribe(conn, conn.channels, conn.since, on_ready=conn.announce)
            except BusError as err:
                conn.close(1011, f"the bus failed: {err}; retry")
            while not gone.is_set():
                chunks = await outbox.get(hub.keepalive)
                if outbox.closed is not None:
                    break
                body = b"".join(chunks) if chunks else _KEEPALIVE
                await send({"type": "http.response.body", "body": body, "more_body": True})
            if not gone.is_set() and outbox.closed is not None:
                code, reason = outbox.closed
                if code != 1000:
                    data: dict[str, Any] = {"op": "close", "code": code, "reason": reason}
                    await send({"type": "http.response.body", "more_body": True,
                                "body": b"event: close\ndata: " + _encode(data) + b"\n\n"})
            await send({"type": "http.response.body", "body": b"", "more_body": False})
        except OSError:  # the client went away while we were sending
            pass
        finally:
            hub.detach(conn)
            if unwatch is not None:
                unwatch()
            watcher.cancel()
            await asyncio.gather(watcher, return_exceptions=True)


async def _watch_disconnect(receive: Receive, outbox: Outbox, gone: asyncio.Event) -> None:
    while (await receive())["type"] != "http.disconnect":
        pass
    gone.set()
    outbox.close(1000, "client left")
