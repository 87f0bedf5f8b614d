"""One MQTT connection driven by the running asyncio loop: paho speaks the protocol, the loop's
reader and writer callbacks do the I/O.

Why not aiomqtt: it hands each message to an ``asyncio.Queue`` and its iterator creates a task
and an ``asyncio.wait`` per message, which doubled the CPU per message here (33 µs against 15 µs
for paho alone). Here a message costs paho's decoding and one ``on_message`` call; the caller
batches what one read brought.

paho reads each packet with three ``recv`` calls (type, length, rest) and one packet per
``loop_read``; :class:`_Client` reads the socket in 64 KiB chunks and serves paho's small
reads from memory, and the reader callback runs ``loop_read`` until the chunk is used up, so a
burst of messages costs one system call and one event-loop wake-up per chunk instead of four
per message. Per message, then: paho's decoding (about 8 µs here) and one ``on_message``.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable, Sequence
from typing import Any

import paho.mqtt.client as paho
from paho.mqtt.enums import CallbackAPIVersion, MQTTErrorCode, MQTTProtocolVersion
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties
from paho.mqtt.reasoncodes import ReasonCode

_CHUNK = 65_536
OnMessage = Callable[[paho.Client, Any, paho.MQTTMessage], None]


class _Client(paho.Client):
    """paho's client with two of its paho 2.x internals replaced:

    - ``_sock_recv``, the one place paho reads its socket: reads 64 KiB at once and serves
      paho's small reads from memory;
    - ``_handle_on_message``: calls ``on_message`` directly. paho first walks its
      per-topic callback tree (``message_callback_add``, which riskcast does not use) under a
      lock for every message: a quarter of the CPU per message here.
    """

    _rbuf = b""
    _rpos = 0

    def _sock_recv(self, bufsize: int) -> bytes:
        buf, pos = self._rbuf, self._rpos
        if pos >= len(buf):
            buf = super()._sock_recv(_CHUNK)  # BlockingIOError when there is nothing more
            if not buf:
                return buf  # end of stream: paho reports the connection lost
            self._rbuf, pos = buf, 0
        self._rpos = pos + bufsize
        return buf[pos:pos + bufsize]

    def _handle_on_message(self, message: paho.MQTTMessage) -> None:
        on_message = self.on_message
        if on_message is not None:
            on_message(self, None, message)

    def buffered(self) -> bool:
        """Bytes read from the socket that paho has not taken yet."""
        if self._rpos < len(self._rbuf):
            return True
        pending = getattr(self._sock, "pending", None)  # TLS: decrypted bytes kept inside
        return bool(pending is not None and pending() > 0)


class MqttConnection:
    """A connected, subscribed MQTT client whose I/O runs on the event loop.

    ``lost`` completes (with a ``ConnectionError``) when the connection ends; messages go to
    ``on_message`` in the order the broker sent them, from the loop's thread.
    """

    def __init__(self, host: str, port: int, *, client_id: str, on_message: OnMessage,
                 protocol: int = 4, username: str | None = None, password: str | None = None,
                 session_expiry: int = 86_400, keepalive: int = 30,
                 connect_timeout: float = 10.0) -> None:
        self.host, self.port, self.keepalive = host, port, keepalive
        self.connect_timeout = connect_timeout
        self.protocol = protocol
        self.session_expiry = session_expiry
        self.loop = asyncio.get_running_loop()
        self.lost: asyncio.Future[None] = self.loop.create_future()
        self.paused = False
        self._closed = False
        self._thread = threading.get_ident()
        self._fd = -1
        self._acks: asyncio.Future[Any] | None = None
        self._misc: asyncio.Task[None] | None = None
        version = MQTTProtocolVersion.MQTTv5 if protocol == 5 else MQTTProtocolVersion.MQTTv311
        self.client = _Client(
            CallbackAPIVersion.VERSION2, client_id=client_id, protocol=version,
            clean_session=None if protocol == 5 else False)
        # Acknowledge after the commit, not on receipt.
        self.client.manual_ack_set(True)
        if username is not None:
            self.client.username_pw_set(username, password)
        self.client.on_message = on_message
        self.client.on_connect = self._on_connect
        self.client.on_subscribe = self._on_subscribe
        self.client.on_disconnect = self._on_disconnect
        self.client.on_socket_open = self._on_socket_open
        self.client.on_socket_close = self._on_socket_close
        self.client.on_socket_register_write = self._on_register_write
        self.client.on_socket_unregister_write = self._on_unregister_write

    async def open(self, subscriptions: Sequence[tuple[str, int]]) -> None:
        """Connect and subscribe within ``connect_timeout``; ``ConnectionError`` (or
        ``OSError``, ``TimeoutError``) when that fails."""
        async with asyncio.timeout(self.connect_timeout):
            self._acks = self.loop.create_future()
            extra: dict[str, Any] = {}
            if self.protocol == 5:
                properties = Properties(PacketTypes.CONNECT)  # type: ignore[no-untyped-call]
                properties.SessionExpiryInterval = self.session_expiry
                extra = {"clean_start": False, "properties": properties}
            # connect() resolves and opens the socket, blocking: off the loop.
            await asyncio.to_thread(self.client.connect, self.host, self.port, self.keepalive,
                                    **extra)
            if self._closed:  # cancelled while connecting
                raise ConnectionError("closed")
            self._misc = self.loop.create_task(self._keepalive(), name="mqtt-keepalive")
            await self._until(self._acks)
            self._acks = self.loop.create_future()
            result, _ = self.client.subscribe(list(subscriptions))
            if result != MQTTErrorCode.MQTT_ERR_SUCCESS:
                raise ConnectionError(f"subscribe failed: {paho.error_string(result)}")
            await self._until(self._acks)

    async def _until(self, future: asyncio.Future[Any]) -> None:
        """Wait for the broker's answer, or for the connection's end."""
        await asyncio.wait({future, self.lost}, return_when=asyncio.FIRST_COMPLETED)
        if self.lost.done():
            self.lost.result()
        future.result()

    def ack(self, mid: int, qos: int) -> None:
        self.client.ack(mid, qos)

    def pause_reading(self) -> None:
        """Stop reading: the broker's messages wait in TCP buffers, then in the broker."""
        if not self.paused:
            self.paused = True
            if self._fd >= 0:
                self.loop.remove_reader(self._fd)

    def resume_reading(self) -> None:
        if self.paused:
            self.paused = False
            if self._fd >= 0:
                self.loop.add_reader(self._fd, self._on_readable)
                if self.client.buffered():
                    self.loop.call_soon(self._on_readable)

    def close(self) -> None:
        """Disconnect (idempotent); messages already handed over are the caller's."""
        self._closed = True
        if self._misc is not None:
            self._misc.cancel()
        if self._fd >= 0:
            self.client.disconnect()
            self.client.loop_write()
            sock = self.client.socket()
            if sock is not None:
                sock.close()
            self._on_socket_close(self.client, None, None)
        if not self.lost.done():
            self.lost.set_exception(ConnectionError("closed"))
        if not self.lost.cancelled():
            self.lost.exception()  # retrieved: whoever closes knows it is over

    # -- paho's callbacks ---------------------------------------------------------------

    def _on_readable(self) -> None:
        client = self.client
        try:
            while not self.paused:
                if client.loop_read() != MQTTErrorCode.MQTT_ERR_SUCCESS or not client.buffered():
                    return
        except Exception as err:  # a broken socket: the connection is over
            self._fail(ConnectionError(f"read failed: {err!r}"))

    def _on_writable(self) -> None:
        try:
            self.client.loop_write()
        except Exception as err:
            self._fail(ConnectionError(f"write failed: {err!r}"))

    async def _keepalive(self) -> None:
        # paho's periodic duties (pings, keepalive timeout): work on a clock, not a wait.
        while self.client.loop_misc() == MQTTErrorCode.MQTT_ERR_SUCCESS:  # noqa: ASYNC110
            await asyncio.sleep(1)

    def _call(self, fn: Callable[..., Any], *args: Any) -> None:
        """paho calls some callbacks from the thread that runs ``connect``."""
        if threading.get_ident() == self._thread:
            fn(*args)
        else:
            self.loop.call_soon_threadsafe(fn, *args)

    def _on_socket_open(self, client: paho.Client, userdata: Any, sock: Any) -> None:
        def register() -> None:
            if self._closed:  # closed while connecting
                sock.close()
                return
            self._fd = sock.fileno()
            if not self.paused:
                self.loop.add_reader(self._fd, self._on_readable)

        self._call(register)

    def _on_socket_close(self, client: paho.Client, userdata: Any, sock: Any) -> None:
        def unregister() -> None:
            if self._fd >= 0:
                self.loop.remove_reader(self._fd)
                self.loop.remove_writer(self._fd)
                self._fd = -1

        self._call(unregister)

    def _on_register_write(self, client: paho.Client, userdata: Any, sock: Any) -> None:
        def register() -> None:
            if self._fd >= 0:  # not when closed while connecting
                self.loop.add_writer(self._fd, self._on_writable)

        self._call(register)

    def _on_unregister_write(self, client: paho.Client, userdata: Any, sock: Any) -> None:
        def unregister() -> None:
            if self._fd >= 0:
                self.loop.remove_writer(self._fd)

        self._call(unregister)

    def _on_connect(self, client: paho.Client, userdata: Any, flags: Any,
                    reason: ReasonCode, properties: Any) -> None:
        if self._acks is None or self._acks.done():
            return
        if reason.is_failure:
            self._acks.set_exception(ConnectionError(f"broker refused: {reason}"))
        else:
            self._acks.set_result(None)

    def _on_subscribe(self, client: paho.Client, userdata: Any, mid: int,
                      reasons: list[ReasonCode], properties: Any) -> None:
        if self._acks is None or self._acks.done():
            return
        refused = [str(r) for r in reasons if r.is_failure]
        if refused:
            self._acks.set_exception(ConnectionError(f"subscription refused: {refused}"))
        else:
            self._acks.set_result(None)

    def _on_disconnect(self, client: paho.Client, userdata: Any, flags: Any,
                       reason: ReasonCode, properties: Any) -> None:
        self._fail(ConnectionError(f"disconnected: {reason}"))

    def _fail(self, err: ConnectionError) -> None:
        if not self.lost.done():
            self.lost.set_exception(err)
