"""Redis bus: a stream per channel for history, one pub/sub channel for live events.

Keys, for a channel ``site.s1`` and the default prefix ``riskcast``:

- ``riskcast:seq:site.s1``: the channel's last seq (``INCR``);
- ``riskcast:history:site.s1``: a stream of the channel's events, entry id ``<seq>-0``,
  trimmed to exactly ``history_size`` entries;
- ``riskcast:events``: the pub/sub channel every event of every channel is published on.

A publish is one Lua script: ``INCR``, ``XADD``, ``PUBLISH``. Scripts run atomically, so seq
is gapless per channel, the event is in the history before publish returns, and pub/sub
delivers the events of a channel in seq order. Each bus holds one subscription, opened in
:meth:`RedisBus.start`, and fans events out to its listeners in this process.

The bus sets no TTLs: run Redis with a policy that does not evict these keys. If they are
lost anyway, the channel's numbering restarts at 1 (``history`` then reports the gap).

When the subscription's connection drops, the bus reconnects and fetches from the streams
what its listeners missed on the channels it has seen, so they still get every retained event
in order.

A publish that meets a connection error (Redis restarting, a connection cut) is tried again
for up to ``retry_for`` seconds. Before each new attempt the bus looks for the event in the
channel's last history entries (its bytes, including the time to the microsecond, are
unique): if the script ran and only the reply was lost, the stored event is returned, so a
retried publish is never stored twice. After ``retry_for`` the publish raises ``BusError``.
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
    import redis.asyncio as aioredis
    from redis.asyncio.retry import Retry
    from redis.backoff import NoBackoff
    from redis.exceptions import ConnectionError as RedisConnectionError
    from redis.exceptions import RedisError
    from redis.exceptions import TimeoutError as RedisTimeoutError
except ImportError as err:  # pragma: no cover - exercised only without the extra
    raise MissingExtraError("redis", "redis") from err

log = logging.getLogger(__name__)
_encode = msgspec.json.Encoder().encode

#: History entries searched for an event whose publish reply was lost.
_LOOKBACK = 100

_PUBLISH = """
local seq = redis.call('INCR', KEYS[1])
local text = string.format('%d', seq)
local event = ARGV[1] .. text .. ARGV[2]
redis.call('XADD', KEYS[2], 'MAXLEN', ARGV[3], text .. '-0', 'e', event)
redis.call('PUBLISH', ARGV[4], event)
return seq
"""


class RedisBus(Bus):
    """A bus on the Redis at ``url`` (``redis://host:6379/0``), keys under ``prefix``.

    Several processes with the same URL and prefix share channels, seqs and history.
    """

    def __init__(self, url: str, *, history_size: int = 1000, prefix: str = "riskcast",
                 reconnect_delay: float = 0.2, retry_for: float = 5.0) -> None:
        if history_size < 1:
            raise BusError("redis bus: history_size must be at least 1")
        self.url = url
        self.history_size = history_size
        self.prefix = prefix
        self.reconnect_delay = reconnect_delay
        self.retry_for = retry_for
        self._events = f"{prefix}:events"
        self._client: aioredis.Redis | None = None
        self._sub_client: aioredis.Redis | None = None
        self._pubsub: Any = None
        self._script: Any = None
        self._reader: asyncio.Task[None] | None = None
        self._listeners = Listeners()
        self._seen: dict[str, int] = {}
        self._closed = False

    # -- plumbing ---------------------------------------------------------------------

    def _keys(self, channel: str) -> tuple[str, str]:
        return f"{self.prefix}:seq:{channel}", f"{self.prefix}:history:{channel}"

    def _redis(self) -> aioredis.Redis:
        if self._client is None or self._closed:
            raise BusError("redis bus is not started" if not self._closed
                           else "redis bus is closed")
        return self._client

    async def _subscribe(self) -> None:
        """Open the subscription and wait until Redis confirms it."""
        self._redis()
        if self._sub_client is None:
            raise BusError("redis bus is not started")
        pubsub: Any = self._sub_client.pubsub()
        try:
            await pubsub.subscribe(self._events)
            while True:
                message = await pubsub.get_message(timeout=5.0)
                if message is None:
                    raise BusError("redis bus: no subscribe confirmation within 5 s")
                if message["type"] == "subscribe":
                    break
        except BaseException:
            await pubsub.aclose()
            raise
        self._pubsub = pubsub

    # -- lifecycle --------------------------------------------------------------------

    async def start(self) -> None:
        name = f"{self.prefix}-bus"
        # No retries inside redis-py: publish retries itself, after checking whether the
        # script ran (a blind retry could store the event twice).
        self._client = aioredis.from_url(self.url, client_name=name,
                                         retry=Retry(NoBackoff(), 0))
        # The subscription's client does not retry by itself: a lost connection surfaces
        # in _read, which resubscribes and then fetches what was missed.
        self._sub_client = aioredis.from_url(self.url, client_name=name,
                                             retry=Retry(NoBackoff(), 0),
                                             health_check_interval=10)
        try:
            self._script = self._client.register_script(_PUBLISH)
            await self._subscribe()
        except (RedisError, OSError) as err:
            await self._close_clients()
            raise BusError(f"redis: {err}") from err
        self._reader = asyncio.create_task(self._read(), name="riskcast-redis-bus")

    async def aclose(self) -> None:
        if self._closed:
            return
        self._closed = True
        if self._reader is not None:
            self._reader.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._reader
            self._reader = None
        if self._pubsub is not None:
            with contextlib.suppress(RedisError, OSError):
                await self._pubsub.aclose()
            self._pubsub = None
        await self._close_clients()
        self._listeners.close()

    async def _close_clients(self) -> None:
        for client in (self._client, self._sub_client):
            if client is not None:
                with contextlib.suppress(RedisError, OSError):
                    await client.aclose()
        self._client = self._sub_client = None

    async def ping(self) -> None:
        try:
            await self._redis().ping()
        except RedisError as err:
            raise BusError(f"redis: {err}") from err

    # -- publishing and history ---------------------------------------------------------

    async def publish(self, channel: str, data: Any, *, retry_for: float | None = None) -> Event:
        check_channel(channel)
        time = format_us(now_us())
        head = b'{"channel":' + _encode(channel) + b',"seq":'
        tail = b',"time":' + _encode(time) + b',"data":' + _encode(data) + b"}"
        client = self._redis()
        loop = asyncio.get_running_loop()
        deadline = loop.time() + (self.retry_for if retry_for is None else retry_for)
        delay = 0.05
        attempt = 0
        while True:
            try:
                seq = await self._stored_seq(channel, head, tail) if attempt else None
                if seq is None:
                    seq = int(await self._script(
                        keys=self._keys(channel),
                        args=[head, tail, self.history_size, self._events], client=client))
                return Event(channel, seq, time, data, json=head + str(seq).encode() + tail)
            except (RedisConnectionError, RedisTimeoutError, OSError) as err:
                if self._closed or loop.time() + delay > deadline:
                    raise BusError(f"redis: publish on {channel!r}: {err}") from err
                log.debug("redis bus: publish on %r: %s; trying again", channel, err)
            except RedisError as err:
                raise BusError(f"redis: publish on {channel!r}: {err}") from err
            attempt += 1
            await asyncio.sleep(delay)
            delay = min(delay * 2, 0.5)

    async def _stored_seq(self, channel: str, head: bytes, tail: bytes) -> int | None:
        """The seq of this exact event if an earlier attempt stored it, else None."""
        entries: Any = await self._redis().xrevrange(self._keys(channel)[1], count=_LOOKBACK)
        for entry_id, fields in entries or ():
            seq = bytes(entry_id).split(b"-", 1)[0]
            if fields and fields.get(b"e") == head + seq + tail:
                return int(seq)
        return None

    async def history(self, channel: str, after: int) -> list[Event]:
        check_channel(channel)
        seq_key, stream_key = self._keys(channel)
        try:
            async with self._redis().pipeline(transaction=True) as pipe:
                pipe.get(seq_key)
                pipe.xrange(stream_key, min=f"{max(after, 0) + 1}-0", max="+")
                raw_last, entries = await pipe.execute()
        except RedisError as err:
            raise BusError(f"redis: history of {channel!r}: {err}") from err
        last = int(raw_last or 0)
        if after >= last:
            if after > last:
                raise HistoryGapError(channel, after, last + 1)
            return []
        if not entries:
            raise HistoryGapError(channel, after, last + 1)
        oldest = int(entries[0][0].split(b"-", 1)[0])
        if oldest > after + 1:
            raise HistoryGapError(channel, after, oldest)
        return [Event.from_json(fields[b"e"]) for _, fields in entries]

    async def last_seq(self, channel: str) -> int:
        check_channel(channel)
        try:
            value = await self._redis().get(self._keys(channel)[0])
        except RedisError as err:
            raise BusError(f"redis: last_seq of {channel!r}: {err}") from err
        return int(value or 0)

    # -- listening ----------------------------------------------------------------------

    def listen(self) -> AsyncIterator[Event]:
        return self._listeners.add()

    def _fan_out(self, event: Event) -> None:
        self._seen[event.channel] = event.seq
        self._listeners.deliver(event)

    async def _deliver(self, event: Event) -> None:
        seen = self._seen.get(event.channel)
        if seen is not None and event.seq != 1:
            # (seq 1 of a channel already heard from: its numbering was reset; deliver it.)
            if event.seq <= seen:
                return  # already delivered while catching up after a reconnect
            if event.seq > seen + 1:
                await self._catch_up(event.channel, seen, before=event.seq)
        self._fan_out(event)

    async def _catch_up(self, channel: str, seen: int, before: int | None = None) -> None:
        """Deliver the retained events of ``channel`` after ``seen`` (and before ``before``)."""
        try:
            events = await self.history(channel, seen)
        except HistoryGapError as gap:
            if gap.oldest > await self.last_seq(channel):
                # The numbering was reset (Redis lost its data): start over.
                self._seen.pop(channel, None)
                return
            log.warning("redis bus: events %d..%d of %r are gone", seen + 1, gap.oldest - 1,
                        channel)
            events = await self.history(channel, gap.oldest - 1)
        for event in events:
            if before is not None and event.seq >= before:
                break
            self._fan_out(event)

    async def _read(self) -> None:
        """Read the subscription until closed; on a connection error, resubscribe and catch up."""
        delay = self.reconnect_delay
        while True:
            try:
                if self._pubsub is None:
                    await self._subscribe()
                    for channel, seen in list(self._seen.items()):
                        await self._catch_up(channel, seen)
                    delay = self.reconnect_delay
                # A timeout lets get_message send its health-check PING on idle links.
                message = await self._pubsub.get_message(ignore_subscribe_messages=True,
                                                         timeout=10.0)
                if message is not None and message["type"] == "message":
                    await self._deliver(Event.from_json(message["data"]))
            except (RedisError, OSError, BusError) as err:
                log.warning("redis bus: subscription lost (%s); reconnecting in %.1f s",
                            err, delay)
                pubsub, self._pubsub = self._pubsub, None
                if pubsub is not None:
                    with contextlib.suppress(RedisError, OSError):
                        await pubsub.aclose()
                await asyncio.sleep(delay)
                delay = min(delay * 2, 5.0)
