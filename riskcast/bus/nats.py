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
processes. A publish whose acknowledgement is lost raises ``BusError``; it may have been
stored, and retrying it publishes the data again under a new seq.

Listeners hear the stream through one ordered push consumer per bus (only stored messages,
in stream order, resumed by the client after a reconnect); history reads the channel's
retained messages through a short-lived pull consumer filtered on its subject.
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
                 subject_prefix: str = "riskcast.events", timeout: float = 5.0) -> None:
        if history_size < 1:
            raise BusError("nats bus: history_size must be at least 1")
        self.url = url
        self.history_size = history_size
        self.stream = stream
        self.subject_prefix = subject_prefix
        self.timeout = timeout
        self._nc: Any = None
        self._js: Any = None
        self._sub: Any = None
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
                error_cb=self._on_error), self.timeout)
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
            self._sub = await self._js.subscribe(
                f"{self.subject_prefix}.>", stream=self.stream, cb=self._on_msg,
                ordered_consumer=True, deliver_policy=api.DeliverPolicy.NEW)
        except (NatsError, OSError) as err:
            await self._nc.close()
            raise BusError(f"nats: {err}") from err

    async def _on_error(self, err: Exception) -> None:
        log.warning("nats bus: %s", err)

    async def aclose(self) -> None:
        if self._closed:
            return
        self._closed = True
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
        try:
            msg = await self._jetstream().get_last_msg(self.stream, self._subject(channel))
        except NatsNotFoundError:
            return 0, 0
        headers = msg.headers or {}
        return int(msg.seq), int(headers.get(_SEQ_HEADER, 0))

    async def publish(self, channel: str, data: Any) -> Event:
        check_channel(channel)
        js = self._jetstream()
        subject = self._subject(channel)
        time = format_us(now_us())
        head = b'{"channel":' + _encode(channel) + b',"seq":'
        tail = b',"time":' + _encode(time) + b',"data":' + _encode(data) + b"}"
        lock = self._locks.setdefault(channel, asyncio.Lock())
        try:
            async with lock:
                last = self._last.get(channel)
                for _ in range(_MAX_ATTEMPTS):
                    if last is None:
                        last = await self._fetch_last(channel)
                    stream_seq, seq = last[0], last[1] + 1
                    payload = head + str(seq).encode() + tail
                    try:
                        ack = await js.publish(subject, payload, stream=self.stream, headers={
                            _SEQ_HEADER: str(seq),
                            "Nats-Expected-Last-Subject-Sequence": str(stream_seq)})
                    except APIError as err:
                        if err.err_code != _WRONG_LAST_SEQUENCE:
                            raise
                        last = None  # another process published first: read and retry
                        continue
                    self._last[channel] = (int(ack.seq), seq)
                    return Event(channel, seq, time, data, json=payload)
                raise BusError(f"nats: publish on {channel!r}: too many concurrent writers")
        except (NatsError, OSError) as err:
            self._last.pop(channel, None)
            raise BusError(f"nats: publish on {channel!r}: {err}") from err

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
            event = Event.from_json(msg.data)
        except (msgspec.DecodeError, KeyError, TypeError):
            log.warning("nats bus: dropped a malformed message on %s", msg.subject)
            return
        self._listeners.deliver(event)

    def listen(self) -> AsyncIterator[Event]:
        return self._listeners.add()
