"""A uvicorn WebSocket protocol with a fast path for frames encoded once.

Frames from server to client are not masked, so the bytes of a frame (header and
payload) are the same for every subscriber: the hub builds each frame once and writes
the frames of one loop tick to each connection with one ``transport.write``, instead
of going through ``websocket.send_text`` once per message and subscriber.

:class:`FastWebSocketProtocol` is uvicorn's own sans-I/O protocol
(``websockets_sansio_impl``) with one addition: after the handshake it puts a
:class:`RawWebSocket` into ``scope["extensions"]["riskcast.raw_ws"]``. Everything else
(handshake, receiving, ping/pong, close handshake) is uvicorn's code. Pass it to uvicorn::

    uvicorn.Config(app, ws=FastWebSocketProtocol)

Why raw writes cannot corrupt the framing: the event loop is single-threaded, and every
write the protocol makes itself (handshake response, pong, keep-alive ping, close frame)
is one ``transport.write`` of whole frames, just like :meth:`RawWebSocket.write_frames`.
Raw writes stop as soon as a close frame is sent or received, the transport is closing,
or the connection is lost.

The protocol never negotiates permessage-deflate: fan-out frames are written
uncompressed anyway, and a deflate context costs about 40 KiB per connection.
"""

from __future__ import annotations

import asyncio
import struct
from typing import Any

from uvicorn.config import Config
from uvicorn.protocols.websockets.websockets_sansio_impl import WebSocketsSansIOProtocol
from uvicorn.server import ServerState
from websockets.exceptions import InvalidState
from websockets.http11 import Request

__all__ = ["RAW_WS", "FastWebSocketProtocol", "RawWebSocket", "text_frame"]

#: The key of the fast path in ``scope["extensions"]``.
RAW_WS = "riskcast.raw_ws"

_SHORT = struct.Struct("!BB")
_MEDIUM = struct.Struct("!BBH")
_LONG = struct.Struct("!BBQ")


def text_frame(payload: bytes) -> bytes:
    """One unmasked, final WebSocket text frame carrying ``payload`` (UTF-8).

    >>> text_frame(b'{"op":"pong"}')
    b'\\x81\\r{"op":"pong"}'
    >>> text_frame(b"x" * 200)[:4]
    b'\\x81~\\x00\\xc8'
    """
    size = len(payload)
    if size < 126:
        return _SHORT.pack(0x81, size) + payload
    if size < 65536:
        return _MEDIUM.pack(0x81, 126, size) + payload
    return _LONG.pack(0x81, 127, size) + payload


class RawWebSocket:
    """Writes pre-encoded frames straight to one connection's transport.

    Usable once the application has accepted the connection; every method is a no-op
    after the close handshake started or the connection was lost.
    """

    __slots__ = ("_protocol",)

    def __init__(self, protocol: FastWebSocketProtocol) -> None:
        self._protocol = protocol

    @property
    def open(self) -> bool:
        """Whether frames written now can still reach the client."""
        p = self._protocol
        return (p.handshake_complete and not p.close_sent and not p.disconnected
                and p.initial_response is None and not p.transport.is_closing())

    def write_frames(self, frames: bytes) -> int:
        """Write whole frames without waiting; return the bytes left in the write buffer.

        The buffer is unbounded here: the caller compares the result with its limit and
        closes a subscriber that falls behind. Returns 0 when the connection is not open.
        """
        p = self._protocol
        transport = p.transport
        if p.close_sent or p.disconnected or transport.is_closing() or not p.handshake_complete:
            return 0
        transport.write(frames)
        return transport.get_write_buffer_size()

    def buffer_size(self) -> int:
        """Bytes written but not yet handed to the kernel."""
        return self._protocol.transport.get_write_buffer_size()

    def close(self, code: int, reason: str = "") -> None:
        """Start the close handshake with ``code``, after the frames already written.

        The application's ``receive`` answers ``websocket.disconnect`` right away. A
        client that does not answer the close within the protocol's close timeout (it may
        have stopped reading, with the write buffer full) is cut off with
        ``transport.abort()``, so its buffer is freed.
        """
        p = self._protocol
        if not self.open:
            return
        try:
            p.conn.send_close(code, reason)
        except InvalidState:  # pragma: no cover - the peer's close is handled first
            return
        p.queue.put_nowait({"type": "websocket.disconnect", "code": code, "reason": reason})
        p.transport.write(b"".join(p.conn.data_to_send()))
        p.close_sent = True
        if p.read_paused:
            p.read_paused = False
            p.transport.resume_reading()
        p.close_timer = p.loop.call_later(p.close_timeout, p.transport.abort)


class FastWebSocketProtocol(WebSocketsSansIOProtocol):
    """uvicorn's sans-I/O WebSocket protocol plus the :class:`RawWebSocket` fast path."""

    def __init__(
        self,
        config: Config,
        server_state: ServerState,
        app_state: dict[str, Any],
        _loop: asyncio.AbstractEventLoop | None = None,
    ) -> None:
        super().__init__(config, server_state, app_state, _loop)
        self.conn.available_extensions = None  # never negotiate permessage-deflate

    lingering = False

    def data_received(self, data: bytes) -> None:
        if self.lingering:  # a refused frame's rest: read and drop it (see below)
            return
        super().data_received(data)

    def eof_received(self) -> None:
        if self.lingering:
            self.transport.close()

    def handle_parser_exception(self) -> None:
        """Close a client that broke the protocol (an oversized frame, say) with a lingering
        close: send the close frame and FIN, then read and drop what the client is still
        sending until it closes (or the close timeout). uvicorn closes the socket at once,
        and a socket closed with unread data answers with a TCP reset, which can destroy
        the close frame before the client reads it, so the client never learns why."""
        assert self.conn.close_sent is not None
        close = self.conn.close_sent
        self.queue.put_nowait({"type": "websocket.disconnect", "code": close.code,
                               "reason": close.reason})
        self.transport.write(b"".join(self.conn.data_to_send()))
        self.close_sent = True
        self.lingering = True
        if self.transport.can_write_eof():
            self.transport.write_eof()
        self.close_timer = self.loop.call_later(self.close_timeout, self.transport.abort)

    def handle_connect(self, event: Request) -> None:
        super().handle_connect(event)
        scope = getattr(self, "scope", None)
        if scope is not None and self.response.status_code == 101:
            scope["extensions"][RAW_WS] = RawWebSocket(self)
