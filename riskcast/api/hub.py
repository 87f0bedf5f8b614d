"""The live-stream hub: one fan-out from the bus to every WebSocket and SSE subscriber.

The hub reads :meth:`Bus.listen` in one task and knows nothing about transports: a
subscriber is any object with an ``encoder``, ``send`` and ``close``
(:class:`Subscriber`); ``api/ws.py`` and ``api/sse.py`` provide them.

How an event travels:

1. The listen task appends it to the current loop tick's list for its channel and
   schedules one flush with ``loop.call_soon``.
2. The flush encodes the tick's events of each channel once per encoder in use
   (:class:`Batch`: one WebSocket frame or one SSE block per event, joined once) and
   hands the same bytes to every live subscriber of the channel: one ``send`` per
   subscriber and tick.
3. ``send`` never blocks. It answers how many bytes the subscriber has not yet
   delivered; above ``buffer_bytes`` the hub closes it with :data:`SLOW_CONSUMER`
   (4008) and it can resume with ``since``. Nobody waits for the slowest.

Subscribing with ``since`` first registers for live events (buffered), then reads the
history, then merges the two by ``seq``: no gap and no duplicate.
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from collections.abc import AsyncIterator, Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Protocol

from riskcast.bus.base import Bus
from riskcast.core.events import Event, check_channel
from riskcast.exceptions import HistoryGapError, ValidationError

__all__ = [
    "GOING_AWAY",
    "SLOW_CONSUMER",
    "SLOW_CONSUMER_REASON",
    "Batch",
    "Encoder",
    "Filters",
    "Hub",
    "Outbox",
    "Subscriber",
    "Subscription",
    "filtered",
]

log = logging.getLogger(__name__)

#: Close code when the hub shuts down.
GOING_AWAY = 1001
#: Close code for a subscriber that fell more than ``buffer_bytes`` behind.
SLOW_CONSUMER = 4008
SLOW_CONSUMER_REASON = "slow consumer: resume with since"
_INTERNAL_ERROR = 1011

#: Encodes one event for one transport (a WebSocket frame, an SSE block).
Encoder = Callable[[Event], bytes]
#: Per-connection channel check: ``True`` lets the connection subscribe.
Authorize = Callable[[str], bool]


class Batch:
    """The events of one channel from one loop tick, encoded once for one transport.

    ``items`` holds one encoded event each; ``joined`` is all of them as one ``bytes``,
    joined once and shared by every subscriber.
    """

    __slots__ = ("events", "items", "joined")

    def __init__(self, events: Sequence[Event], items: list[bytes]) -> None:
        self.events = events
        self.items = items
        self.joined = items[0] if len(items) == 1 else b"".join(items)

    def only(self, keep: Callable[[Event], bool]) -> Batch | None:
        """The events ``keep`` passes, their encodings reused (``None`` when none is)."""
        picked = [i for i, event in enumerate(self.events) if keep(event)]
        if len(picked) == len(self.events):
            return self
        if not picked:
            return None
        return Batch([self.events[i] for i in picked], [self.items[i] for i in picked])


#: Per channel, which events one connection keeps (a key limited to some sites keeps only
#: theirs on ``alerts``); the adapters apply it to what the hub hands them.
Filters = Mapping[str, Callable[[Event], bool]]


def filtered(batches: Sequence[Batch], filters: Filters) -> list[Batch]:
    """``batches`` with each channel's filter applied, empty batches left out."""
    out: list[Batch] = []
    for batch in batches:
        keep = filters.get(batch.events[0].channel) if batch.events else None
        kept = batch.only(keep) if keep is not None else batch
        if kept is not None:
            out.append(kept)
    return out


class Subscriber(Protocol):
    """What a transport gives the hub for one connection."""

    @property
    def encoder(self) -> Encoder:
        """How this transport encodes an event; the hub calls it once per event, not
        once per subscriber, for all subscribers sharing the same encoder."""
        ...

    @property
    def authorize(self) -> Authorize | None:
        """Which channels this connection may subscribe to; ``None`` allows all."""
        ...

    def send(self, batches: Sequence[Batch]) -> int:
        """Queue or write the batches without blocking; return the bytes not yet delivered."""
        ...

    def close(self, code: int, reason: str) -> None:
        """Close the connection (after what is already written); must not block."""
        ...


@dataclass
class Subscription:
    """What :meth:`Hub.subscribe` did."""

    #: Newly subscribed channels and their seq at subscription: replayed history ends
    #: at this seq, live events follow it.
    seq: dict[str, int] = field(default_factory=dict)
    #: Resume points no longer (or not yet) in the history; see :meth:`Hub.subscribe`.
    gaps: list[HistoryGapError] = field(default_factory=list)
    #: Channels refused, with a code: ``bad_channel``, ``forbidden``, ``too_many_channels``.
    refused: dict[str, str] = field(default_factory=dict)
    #: Channels that were subscribed already and were left as they are.
    unchanged: list[str] = field(default_factory=list)


class Outbox:
    """A FIFO of encoded chunks for a transport that sends with ``await``.

    Used by SSE and by the WebSocket fallback: :meth:`put` never blocks and returns the
    bytes queued, which the hub compares with its limit.
    """

    __slots__ = ("_chunks", "_wakeup", "closed", "size")

    def __init__(self) -> None:
        self._chunks: deque[bytes] = deque()
        self._wakeup = asyncio.Event()
        self.size = 0
        #: ``(code, reason)`` once closed; queued chunks are then dropped.
        self.closed: tuple[int, str] | None = None

    def put(self, chunk: bytes) -> int:
        """Queue ``chunk``; return the bytes queued."""
        if self.closed is not None:
            return 0
        self._chunks.append(chunk)
        self.size += len(chunk)
        self._wakeup.set()
        return self.size

    def close(self, code: int, reason: str) -> None:
        """Drop what is queued and wake the sender, which should then close."""
        if self.closed is None:
            self.closed = (code, reason)
            self._chunks.clear()
            self.size = 0
            self._wakeup.set()

    async def get(self, within: float | None = None) -> list[bytes]:
        """Everything queued, waiting up to ``within`` seconds; ``[]`` on timeout or close."""
        if not self._chunks and self.closed is None:
            self._wakeup.clear()
            try:
                async with asyncio.timeout(within):
                    await self._wakeup.wait()
            except TimeoutError:
                return []
        chunks = list(self._chunks)
        self._chunks.clear()
        self.size = 0
        return chunks


class _Conn:
    __slots__ = ("channels", "live")

    def __init__(self) -> None:
        self.channels: dict[str, None] = {}  # subscribed, live or resuming; in order
        self.live: set[str] = set()


class _Resume:
    """A channel of one subscriber between registration and live delivery."""

    __slots__ = ("buffer", "floor", "size")

    def __init__(self) -> None:
        self.buffer: list[Event] = []  # live events seen while the history is read
        self.size = 0
        self.floor: int | None = None  # set once the history went out: skip seq <= floor


class Hub:
    """Fans events out from one bus to many subscribers; see the module docstring."""

    def __init__(self, bus: Bus, *, buffer_bytes: int = 4 * 1024 * 1024,
                 keepalive: float = 15.0, max_channels: int = 256) -> None:
        self.bus = bus
        #: Bytes a subscriber may have undelivered before it is closed as too slow.
        self.buffer_bytes = buffer_bytes
        #: Seconds between keep-alives on a quiet stream (used by the adapters).
        self.keepalive = keepalive
        #: Most channels one connection may subscribe to.
        self.max_channels = max_channels
        self._conns: dict[Subscriber, _Conn] = {}
        # Live subscribers in subscription order (dicts as ordered sets): those with one
        # live channel by channel and encoder, those with several by channel.
        self._single: dict[str, dict[Encoder, dict[Subscriber, None]]] = {}
        self._multi: dict[str, dict[Subscriber, None]] = {}
        self._pending: dict[str, dict[Subscriber, _Resume]] = {}
        self._members: dict[str, int] = {}
        self._last_seen: dict[str, int] = {}  # last seq flushed per channel
        self._tick: dict[str, list[Event]] = {}
        self._flush_handle: asyncio.Handle | None = None
        self._task: asyncio.Task[None] | None = None
        self._delivered = 0
        self._events = 0
        self._dropped_slow = 0

    # lifecycle

    async def start(self) -> None:
        """Start reading the bus; events published after this returns reach subscribers."""
        if self._task is not None:
            return
        events = self.bus.listen()
        self._task = asyncio.get_running_loop().create_task(self._run(events),
                                                            name="riskcast-hub")

    async def aclose(self) -> None:
        """Deliver what was read, close every subscriber with 1001, stop reading. Idempotent."""
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            try:
                await task
            except asyncio.CancelledError:
                pass
        self._flush()
        self._close_all(GOING_AWAY, "going away")

    def stats(self) -> dict[str, int]:
        """Counts for metrics: subscribers, channels, events, delivered, dropped_slow."""
        return {
            "subscribers": len(self._conns),
            "channels": len(self._members),
            "events": self._events,
            "delivered": self._delivered,
            "dropped_slow": self._dropped_slow,
        }

    def transports(self) -> dict[str, int]:
        """Connections by the module of their adapter (``ws``, ``sse``), for metrics."""
        counts: dict[str, int] = {}
        for sub in self._conns:
            kind = type(sub).__module__.rpartition(".")[2]
            counts[kind] = counts.get(kind, 0) + 1
        return counts

    # connections

    def attach(self, sub: Subscriber) -> None:
        """Register a connection (counted, and closed by :meth:`aclose`)."""
        if sub not in self._conns:
            self._conns[sub] = _Conn()

    def detach(self, sub: Subscriber) -> None:
        """Forget a connection and all its subscriptions. Safe to call twice."""
        conn = self._conns.pop(sub, None)
        if conn is not None:
            for channel in list(conn.channels):
                self._remove(sub, conn, channel)

    def check_channels(self, channels: Iterable[str],
                       authorize: Authorize | None = None) -> dict[str, str]:
        """The channels that would be refused, with ``bad_channel`` or ``forbidden``."""
        refused: dict[str, str] = {}
        for channel in channels:
            try:
                check_channel(channel)
            except ValidationError:
                refused[channel] = "bad_channel"
                continue
            if authorize is not None and not authorize(channel):
                refused[channel] = "forbidden"
        return refused

    async def subscribe(self, sub: Subscriber, channels: Iterable[str],
                        since: Mapping[str, int] | None = None, *,
                        on_ready: Callable[[Subscription], None] | None = None,
                        ) -> Subscription:
        """Subscribe ``sub`` to ``channels``; ``since`` maps channels to resume points.

        With a resume point the subscriber gets every retained event after it, then the
        live events, in ``seq`` order without gap or duplicate. When events after it
        were evicted, the gap is reported in :attr:`Subscription.gaps` and the retained
        history from the oldest event on is sent; when it is beyond the channel's last
        seq (the numbering was reset), the gap is reported and the whole retained
        history is sent. Without a resume point only live events are sent.

        ``on_ready`` is called with the result just before the history goes out, so an
        acknowledgement written there precedes it. Raises ``BusError`` if the bus fails.
        """
        self.attach(sub)
        conn = self._conns[sub]
        since = dict(since or {})
        result = Subscription()
        new: list[str] = []
        wanted = list(dict.fromkeys(channels))
        refused = self.check_channels(wanted, sub.authorize)
        for channel in wanted:
            if channel in refused:
                result.refused[channel] = refused[channel]
            elif channel in conn.channels:
                result.unchanged.append(channel)
            elif len(conn.channels) >= self.max_channels:
                result.refused[channel] = "too_many_channels"
            else:
                conn.channels[channel] = None
                self._members[channel] = self._members.get(channel, 0) + 1
                self._pending.setdefault(channel, {})[sub] = _Resume()
                new.append(channel)

        starts: dict[str, tuple[int, list[Event]]] = {}
        try:
            for channel in new:
                if channel in since:
                    starts[channel] = await self._replay(channel, since[channel], result.gaps)
                else:
                    starts[channel] = (await self.bus.last_seq(channel), [])
        except BaseException:
            if self._conns.get(sub) is conn:
                for channel in new:
                    self._remove(sub, conn, channel)
            raise

        # From here on nothing awaits: the acknowledgement, the history and the switch
        # to live delivery happen in one go.
        outgoing: dict[str, list[Event]] = {}
        for channel in new:
            state = self._pending.get(channel, {}).get(sub)
            if state is None:  # detached or dropped while the history was read
                continue
            start, history = starts[channel]
            floor = history[-1].seq if history else start
            out = history + [e for e in state.buffer if e.seq > floor]
            outgoing[channel] = out
            result.seq[channel] = out[-1].seq if out else floor
        try:
            if on_ready is not None:
                on_ready(result)
        finally:
            for channel, out in outgoing.items():
                self._go_live(sub, conn, channel, out, result.seq[channel])
        return result

    def unsubscribe(self, sub: Subscriber, channels: Iterable[str]) -> list[str]:
        """Stop sending ``channels`` to ``sub``; return those it was subscribed to."""
        conn = self._conns.get(sub)
        if conn is None:
            return []
        removed = [c for c in dict.fromkeys(channels) if c in conn.channels]
        for channel in removed:
            self._remove(sub, conn, channel)
        return removed

    # internals: subscription state

    async def _replay(self, channel: str, since: int,
                      gaps: list[HistoryGapError]) -> tuple[int, list[Event]]:
        after = since
        for _ in range(4):
            try:
                return after, await self.bus.history(channel, after)
            except HistoryGapError as err:
                if not gaps or gaps[-1].channel != channel:
                    gaps.append(err)
                # Evicted: continue from the oldest retained. Reset: from the start.
                after = err.oldest - 1 if err.oldest > after else 0
        return await self.bus.last_seq(channel), []

    def _go_live(self, sub: Subscriber, conn: _Conn, channel: str, out: list[Event],
                 floor: int) -> None:
        pending = self._pending.get(channel)
        if pending is None or sub not in pending:
            return
        if out:
            encoder = sub.encoder
            self._deliver(sub, (Batch(out, [encoder(e) for e in out]),), len(out))
            if sub not in pending:  # dropped
                return
        if self._last_seen.get(channel, 0) >= floor:
            del pending[sub]
            if not pending:
                del self._pending[channel]
            conn.live.add(channel)
            self._place(sub, conn)
        else:  # the bus's history is ahead of what this hub has read: skip <= floor
            state = pending[sub]
            state.buffer = []
            state.size = 0
            state.floor = floor

    def _remove(self, sub: Subscriber, conn: _Conn, channel: str) -> None:
        if channel not in conn.channels:
            return
        del conn.channels[channel]
        count = self._members[channel] - 1
        if count:
            self._members[channel] = count
        else:
            del self._members[channel]
        pending = self._pending.get(channel)
        if pending is not None and pending.pop(sub, None) is not None and not pending:
            del self._pending[channel]
        if channel in conn.live:
            self._unplace(sub, channel)
            conn.live.discard(channel)
            self._place(sub, conn)

    def _unplace(self, sub: Subscriber, channel: str) -> None:
        by_encoder = self._single.get(channel)
        if by_encoder is not None:
            subs = by_encoder.get(sub.encoder)
            if subs is not None:
                subs.pop(sub, None)
                if not subs:
                    del by_encoder[sub.encoder]
                    if not by_encoder:
                        del self._single[channel]
        multi = self._multi.get(channel)
        if multi is not None:
            multi.pop(sub, None)
            if not multi:
                del self._multi[channel]

    def _place(self, sub: Subscriber, conn: _Conn) -> None:
        """File the live channels of ``sub`` under single- or multi-channel delivery."""
        single = len(conn.live) == 1
        for channel in conn.live:
            self._unplace(sub, channel)
            if single:
                self._single.setdefault(channel, {}).setdefault(sub.encoder, {})[sub] = None
            else:
                self._multi.setdefault(channel, {})[sub] = None

    # internals: delivery

    async def _run(self, events: AsyncIterator[Event]) -> None:
        loop = asyncio.get_running_loop()
        try:
            async for event in events:
                tick = self._tick
                pending = tick.get(event.channel)
                if pending is None:
                    tick[event.channel] = [event]
                else:
                    pending.append(event)
                if self._flush_handle is None:
                    self._flush_handle = loop.call_soon(self._flush)
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("hub: reading the bus failed; closing all subscribers")
            self._flush()
            self._close_all(_INTERNAL_ERROR, "bus failed: reconnect and resume with since")
            return
        self._flush()
        self._close_all(GOING_AWAY, "going away")

    def _deliver(self, sub: Subscriber, batches: Sequence[Batch], count: int) -> None:
        try:
            size = sub.send(batches)
        except Exception:
            log.exception("hub: subscriber %r failed", sub)
            self._drop(sub, _INTERNAL_ERROR, "internal error")
            return
        self._delivered += count
        if size > self.buffer_bytes:
            self._drop(sub, SLOW_CONSUMER, SLOW_CONSUMER_REASON)

    def _flush(self) -> None:
        """Send this tick's events: encoded once per encoder, one send per subscriber."""
        self._flush_handle = None
        if not self._tick:
            return
        tick = self._tick
        self._tick = {}
        limit = self.buffer_bytes
        slow: list[Subscriber] = []
        several: dict[Subscriber, list[Batch]] = {}
        for channel, events in tick.items():
            self._events += len(events)
            self._last_seen[channel] = events[-1].seq
            batches: dict[Encoder, Batch] = {}
            by_encoder = self._single.get(channel)
            if by_encoder is not None:
                for encoder, subs in by_encoder.items():
                    batch = batches[encoder] = Batch(events, [encoder(e) for e in events])
                    one = (batch,)
                    for sub in subs:
                        try:
                            if sub.send(one) > limit:
                                slow.append(sub)
                        except Exception:
                            log.exception("hub: subscriber %r failed", sub)
                            slow.append(sub)
                    self._delivered += len(events) * len(subs)
            multi = self._multi.get(channel)
            if multi is not None:
                for sub in multi:
                    encoder = sub.encoder
                    batch = batches.get(encoder) or batches.setdefault(
                        encoder, Batch(events, [encoder(e) for e in events]))
                    several.setdefault(sub, []).append(batch)
            pending = self._pending.get(channel)
            if pending is not None:
                self._flush_pending(channel, events, batches, pending)
        for sub, subs_batches in several.items():
            if sub in self._conns:
                self._deliver(sub, subs_batches,
                              sum(len(b.events) for b in subs_batches))
        for sub in slow:
            self._drop(sub, SLOW_CONSUMER, SLOW_CONSUMER_REASON)

    def _flush_pending(self, channel: str, events: list[Event], batches: dict[Encoder, Batch],
                       pending: dict[Subscriber, _Resume]) -> None:
        for sub, state in list(pending.items()):
            if state.floor is None:  # reading the history: buffer
                state.buffer.extend(events)
                state.size += sum(len(e.to_json()) for e in events)
                if state.size > self.buffer_bytes:
                    self._drop(sub, SLOW_CONSUMER, SLOW_CONSUMER_REASON)
                continue
            first = next((i for i, e in enumerate(events) if e.seq > state.floor), None)
            if first is None:
                continue
            encoder = sub.encoder
            batch = batches.get(encoder) or batches.setdefault(
                encoder, Batch(events, [encoder(e) for e in events]))
            if first:
                batch = Batch(events[first:], batch.items[first:])
            conn = self._conns.get(sub)
            if conn is None:
                continue
            self._deliver(sub, (batch,), len(batch.events))
            if sub in pending:
                del pending[sub]
                conn.live.add(channel)
                self._place(sub, conn)
        if not pending:
            self._pending.pop(channel, None)

    def _drop(self, sub: Subscriber, code: int, reason: str) -> None:
        if sub not in self._conns:
            return
        self.detach(sub)
        if code == SLOW_CONSUMER:
            self._dropped_slow += 1
        try:
            sub.close(code, reason)
        except Exception:
            log.exception("hub: closing subscriber %r failed", sub)

    def _close_all(self, code: int, reason: str) -> None:
        for sub in list(self._conns):
            self.detach(sub)
            try:
                sub.close(code, reason)
            except Exception:
                log.exception("hub: closing subscriber %r failed", sub)
