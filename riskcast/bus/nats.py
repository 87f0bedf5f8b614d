"""NATS JetStream bus: one stream holds every channel; a subject per channel.

A channel ``site.s1`` is the subject ``riskcast.events.site.s1``. Channel names
(``riskcast.core.events.CHANNEL_PATTERN``) never hold ``*``, ``>``, whitespace or empty
tokens, so each one is a valid literal subject as it is, and the channel is the subject
without the prefix: no encoding needed. The stream (``RISKCAST``, subjects
``riskcast.events.>``) keeps ``history_size`` messages per subject.

Seq: each message carries its channel seq in the ``Riskcast-Seq`` header (and in its JSON).
A publish sends seq ``n + 1`` with ``Nats-Expected-Last-Subject-Sequence`` set to the stream
sequence of the channel's last message, so JetStream stores it only if no other writer got
there first; on a conflict the bus reads the channel's last message and tries again.
Publishes of one channel are serialized within a process, so conflicts only happen between
processes. A publish that meets no answer (the server restarting, JetStream not ready, a
lost acknowledgement) is tried again for up to ``retry_for`` seconds; before each new
attempt the bus reads the channel's last message, and if it is this very event (an earlier
attempt was stored, only its acknowledgement was lost) returns it instead of storing it
again. After ``retry_for`` the publish raises ``BusError``.

Listeners hear the stream through one ordered push consumer per bus (only stored messages,
in stream order). After every reconnect the bus makes a new one starting after the last
stream sequence it delivered (a restarted server has forgotten the old one, and nats-py
would not notice), and drops what it already delivered, so listeners miss nothing and hear
nothing twice. History reads the channel's retained messages through a short-lived pull
consumer filtered on its subject.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from typing import Any

import msgspec

from riskcast.bus.base import Bus, Listeners
from riskcast.core.clock import format_us, now_us
from riskcast.core.events import Event, check_channel
from riskcast.exceptions import BusError, HistoryGapError, MissingExtraError

try:
    from nats.aio.client import Client as NATS
    from nats.errors import Error as NatsError
    from nats.js import api
    from nats.js.errors import APIError, BadRequestError
    from nats.js.errors import NotFoundError as NatsNotFoundError
except ImportError as err:  # pragma: no cover - exercised only without the extra
    raise MissingExtraError("nats-py", "nats") from err

log = logging.getLogger(__name__)
_encode = msgspec.json.Encoder().encode
_SEQ_HEADER = "Riskcast-Seq"
_WRONG_LAST_SEQUENCE = 10071
_MAX_ATTEMPTS = 50


class NatsBus(Bus):
    """A bus on the NATS server at ``url`` (``nats://host:4222``) with JetStream enabled.

    Several processes with the same URL, stream and subject prefix share channels, seqs and
    history.
    """

    def __init__(self, url: str, *, history_size: int = 1000, stream: str = "RISKCAST",
                 subject_prefix: str = "riskcast.events", timeout: float = 5.0,
                 retry_for: float = 10.0) -> None:
        if history_size < 1:
            raise BusError("nats bus: history_size must be at least 1")
        self.url = url
        self.history_size = history_size
        self.stream = stream
        self.subject_prefix = subject_prefix
        self.timeout = timeout
        self.retry_for = retry_for
        self._nc: Any = None
        self._js: Any = None
        self._sub: Any = None
        #: Stream sequence of the last message handed to listeners.
        self._delivered = 0
        self._resubscribing: asyncio.Task[None] | None = None
        self._listeners = Listeners()
        self._last: dict[str, tuple[int, int]] = {}  # channel -> (stream seq, channel seq)
        self._locks: dict[str, asyncio.Lock] = {}
        self._closed = False

    # -- plumbing ---------------------------------------------------------------------

    def _subject(self, channel: str) -> str:
        return f"{self.subject_prefix}.{channel}"

    def _jetstream(self) -> Any:
        if self._closed:
            raise BusError("nats bus is closed")
        if self._js is None:
            raise BusError("nats bus is not started")
        return self._js

    # -- lifecycle --------------------------------------------------------------------

    async def start(self) -> None:
        # Reconnects never give up once connected; the first connect gives up after
        # ``timeout`` seconds (nats-py would otherwise retry an absent server forever).
        self._nc = NATS()
        try:
            await asyncio.wait_for(self._nc.connect(
                self.url, name=f"riskcast-{self.stream}", connect_timeout=self.timeout,
                allow_reconnect=True, max_reconnect_attempts=-1,
                error_cb=self._on_error, reconnected_cb=self._on_reconnect), self.timeout)
        except (NatsError, OSError) as err:
            with contextlib.suppress(NatsError, OSError):
                await self._nc.close()
            raise BusError(f"nats: cannot connect to {self.url}: {err}") from err
        self._js = self._nc.jetstream(timeout=self.timeout)
        config = api.StreamConfig(
            name=self.stream, subjects=[f"{self.subject_prefix}.>"],
            max_msgs_per_subject=self.history_size, discard=api.DiscardPolicy.OLD,
            storage=api.StorageType.FILE)
        try:
            try:
                await self._js.add_stream(config)
            except BadRequestError:
                # The stream exists with another configuration (say, another history size).
                await self._js.update_stream(config)
            info = await self._js.stream_info(self.stream)
            self._delivered = int(info.state.last_seq or 0)
            await self._subscribe()
        except (NatsError, OSError) as err:
            await self._nc.close()
            raise BusError(f"nats: {err}") from err

    async def _subscribe(self) -> None:
        """An ordered consumer of every channel, from the message after ``_delivered``."""
        self._sub = await self._js.subscribe(
            f"{self.subject_prefix}.>", stream=self.stream, cb=self._on_msg,
            ordered_consumer=True, deliver_policy=api.DeliverPolicy.BY_START_SEQUENCE,
            config=api.ConsumerConfig(opt_start_seq=self._delivered + 1))

    async def _on_error(self, err: Exception) -> None:
        log.warning("nats bus: %s", err)

    async def _on_reconnect(self) -> None:
        if self._closed or self._js is None:
            return
        if self._resubscribing is None or self._resubscribing.done():
            self._resubscribing = asyncio.create_task(self._resubscribe(),
                                                      name="riskcast-nats-resubscribe")

    async def _resubscribe(self) -> None:
        """Replace the consumer after a reconnect, retrying until JetStream answers."""
        old, self._sub = self._sub, None
        if old is not None:
            with contextlib.suppress(NatsError, OSError):
                await old.unsubscribe()
        delay = 0.1
        while not self._closed:
            try:
                await self._subscribe()
                log.info("nats bus: listening again from stream sequence %d",
                         self._delivered + 1)
                return
            except (NatsError, OSError) as err:
                log.warning("nats bus: cannot resubscribe (%s); trying again", err)
                await asyncio.sleep(delay)
                delay = min(delay * 2, 2.0)

    async def aclose(self) -> None:
        if self._closed:
            return
        self._closed = True
        if self._resubscribing is not None:
            self._resubscribing.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._resubscribing
        if self._nc is not None:
            with contextlib.suppress(NatsError, OSError):
                if self._sub is not None:
                    await self._sub.unsubscribe()
            with contextlib.suppress(NatsError, OSError):
                await self._nc.close()
        self._sub = self._js = None
        self._listeners.close()

    async def ping(self) -> None:
        js = self._jetstream()
        try:
            await js.stream_info(self.stream)
        except (NatsError, OSError) as err:
            raise BusError(f"nats: {err}") from err

    # -- publishing and history ---------------------------------------------------------

    async def _fetch_last(self, channel: str) -> tuple[int, int]:
        """(stream seq, channel seq) of the channel's last message; (0, 0) when none."""
        return (await self._fetch_last_msg(channel))[:2]

    async def _fetch_last_msg(self, channel: str) -> tuple[int, int, bytes]:
        """(stream seq, channel seq, payload) of the channel's last message."""
        try:
            msg = await self._jetstream().get_last_msg(self.stream, self._subject(channel))
        except NatsNotFoundError:
            return 0, 0, b""
        headers = msg.headers or {}
        return int(msg.seq), int(headers.get(_SEQ_HEADER, 0)), bytes(msg.data or b"")

    async def publish(self, channel: str, data: Any, *, retry_for: float | None = None) -> Event:
        check_channel(channel)
        js = self._jetstream()
        subject = self._subject(channel)
        time = format_us(now_us())
        head = b'{"channel":' + _encode(channel) + b',"seq":'
        tail = b',"time":' + _encode(time) + b',"data":' + _encode(data) + b"}"
        lock = self._locks.setdefault(channel, asyncio.Lock())
        loop = asyncio.get_running_loop()
        deadline = loop.time() + (self.retry_for if retry_for is None else retry_for)
        delay = 0.05
        sent: bytes | None = None  # the payload of an attempt whose outcome is unknown
        conflicts = 0
        async with lock:
            last: tuple[int, int] | None = self._last.get(channel)
            while True:
                try:
                    if last is None:
                        stream_seq, seq, stored = await self._fetch_last_msg(channel)
                        if sent is not None and stored == sent:
                            # An earlier attempt was stored; only its answer was lost.
                            self._last[channel] = (stream_seq, seq)
                            return Event(channel, seq, time, data, json=sent)
                        last = (stream_seq, seq)
                    stream_seq, seq = last[0], last[1] + 1
                    payload = head + str(seq).encode() + tail
                    try:
                        ack = await js.publish(subject, payload, stream=self.stream, headers={
                            _SEQ_HEADER: str(seq),
                            "Nats-Expected-Last-Subject-Sequence": str(stream_seq)})
                    except APIError as err:
                        if err.err_code != _WRONG_LAST_SEQUENCE:
                            raise
                        # Another process published first (or our earlier attempt was
                        # stored): read and retry.
                        conflicts += 1
                        if conflicts > _MAX_ATTEMPTS:
                            raise BusError(f"nats: publish on {channel!r}: too many "
                                           "concurrent writers") from err
                        last = None
                        continue
                    self._last[channel] = (int(ack.seq), seq)
                    return Event(channel, seq, time, data, json=payload)
                except (BadRequestError, NatsNotFoundError) as err:
                    self._last.pop(channel, None)
                    raise BusError(f"nats: publish on {channel!r}: {err}") from err
                except (NatsError, OSError) as err:
                    self._last.pop(channel, None)
                    if self._closed or loop.time() + delay > deadline:
                        raise BusError(f"nats: publish on {channel!r}: {err}") from err
                    log.debug("nats bus: publish on %r: %s; trying again", channel, err)
                    if last is not None:
                        sent = head + str(last[1] + 1).encode() + tail
                    last = None
                await asyncio.sleep(delay)
                delay = min(delay * 2, 0.5)

    async def history(self, channel: str, after: int) -> list[Event]:
        check_channel(channel)
        last = await self.last_seq(channel)
        if after >= last:
            if after > last:
                raise HistoryGapError(channel, after, last + 1)
            return []
        events = await self._retained(channel)  # a consumer only when there is something
        if not events or events[0].seq > after + 1:
            raise HistoryGapError(channel, after, events[0].seq if events else last + 1)
        return [e for e in events if e.seq > after]

    async def _retained(self, channel: str) -> list[Event]:
        """Every retained event of the channel, oldest first, read with a pull consumer."""
        js = self._jetstream()
        config = api.ConsumerConfig(
            deliver_policy=api.DeliverPolicy.ALL, ack_policy=api.AckPolicy.NONE,
            filter_subject=self._subject(channel), inactive_threshold=60.0, mem_storage=True)
        try:
            psub = await js.pull_subscribe(self._subject(channel), stream=self.stream,
                                           config=config)
            info = None
            try:
                info = await psub.consumer_info()
                pending = int(info.num_pending or 0)
                events: list[Event] = []
                while len(events) < pending:
                    batch = min(pending - len(events), 500)
                    msgs = await psub.fetch(batch=batch, timeout=self.timeout)
                    events.extend(Event.from_json(m.data) for m in msgs)
            finally:
                if info is not None:
                    with contextlib.suppress(NatsError, OSError):
                        await js.delete_consumer(self.stream, info.name)
                with contextlib.suppress(NatsError, OSError):
                    await psub.unsubscribe()
        except (NatsError, OSError) as err:
            raise BusError(f"nats: history of {channel!r}: {err}") from err
        return events

    async def last_seq(self, channel: str) -> int:
        check_channel(channel)
        try:
            return (await self._fetch_last(channel))[1]
        except (NatsError, OSError) as err:
            raise BusError(f"nats: last_seq of {channel!r}: {err}") from err

    # -- listening ----------------------------------------------------------------------

    async def _on_msg(self, msg: Any) -> None:
        try:
            position = int(msg.metadata.sequence.stream)
        except (NatsError, AttributeError, ValueError, TypeError):
            position = 0
        if position:
            if position <= self._delivered:
                return  # delivered already, by the consumer this one replaced
            self._delivered = position
        try:
            event = Event.from_json(msg.data)
        except (msgspec.DecodeError, KeyError, TypeError):
            log.warning("nats bus: dropped a malformed message on %s", msg.subject)
            return
        self._listeners.deliver(event)

    def listen(self) -> AsyncIterator[Event]:
        return self._listeners.add()
