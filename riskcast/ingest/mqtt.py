"""MQTT: readings from sensors through a broker (``riskcast serve --mqtt mqtt://host:1883``).

Topics, under the prefix ``riskcast`` by default:

- ``riskcast/<site>/<variable>``: the payload is a plain number (``21.5``); the time is the
  time of arrival (made unique per series: two messages of one series that arrive together are
  one microsecond apart, never stored over each other).
- ``riskcast/<site>``: a JSON object with an optional ``time`` (RFC 3339 or epoch seconds) and
  one number per variable, e.g. ``{"time": "2026-07-01T12:00:00Z", "do_mgl": 7.9, "ph": 7.2}``,
  or a JSON array of such objects (a batch: many times in one message).
  ``battery`` (volts) and ``signal`` (dBm, also ``rssi``) are sensor health, not readings.

Guarantees: QoS 1 with a persistent session (MQTT 3.1.1 with clean session off by default; MQTT
5 with clean start off and a session expiry when ``protocol=5``), so the broker keeps messages
while riskcast is away; a message is **acknowledged only after its
readings are committed**, so a crash in between makes the broker send it again rather than lose
it. Messages are taken in batches (whatever arrived while the last batch committed) and go
through the same validation and group commit as HTTP. A malformed payload is counted and logged
with its topic and acknowledged; it never stops the subscriber. Connection loss: reconnect with
exponential backoff and jitter, same client id, subscriptions renewed; messages received before
the loss are still committed. A redelivered plain-number message gets a new arrival time; JSON
messages with a ``time`` are idempotent.

The connection itself (paho on the event loop, buffered reads) is ``ingest/mqtt_client.py``.
"""

from __future__ import annotations

import asyncio
import logging
import math
import random
import time
from collections import deque
from collections.abc import Awaitable, Callable, Sequence
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import msgspec

from riskcast.core.clock import now_us
from riskcast.core.readings import ReadingIn
from riskcast.exceptions import ConfigError, MissingExtraError, OverloadedError, StorageError

if TYPE_CHECKING:
    import paho.mqtt.client as paho

    from riskcast.ingest.mqtt_client import MqttConnection

log = logging.getLogger(__name__)
HEALTH_KEYS = {"battery": "battery", "signal": "signal", "rssi": "signal"}
IngestFn = Callable[[Sequence[ReadingIn | None], str], Awaitable[Any]]
#: A received message: topic, payload, QoS, message id.
_Message = tuple[str, bytes | bytearray, int, int]
_decode = msgspec.json.Decoder()


class SensorHealth:
    """What the subscriber knows of one site's sensor."""

    __slots__ = ("_buckets", "battery", "last_seen_us", "malformed", "messages", "signal")

    def __init__(self) -> None:
        self.last_seen_us = 0
        self.messages = 0
        self.malformed = 0
        self.battery: float | None = None
        self.signal: float | None = None
        #: [second, messages in it] for the last minute, oldest first.
        self._buckets: deque[list[int]] = deque()

    def seen(self, now: float, count: int = 1) -> None:
        """``count`` messages arrived at ``now`` (monotonic seconds)."""
        self.messages += count
        self.last_seen_us = now_us()
        second = int(now)
        buckets = self._buckets
        if buckets and buckets[-1][0] == second:
            buckets[-1][1] += count
        else:
            buckets.append([second, count])
            while buckets[0][0] <= second - 60:
                buckets.popleft()

    def rate(self, now: float, span: float = 60.0) -> float:
        """Messages per second over the last ``span`` seconds (at most a minute).

        >>> h = SensorHealth()
        >>> h.seen(100.5, 30); h.seen(101.2, 30)
        >>> h.rate(101.9)
        1.0
        >>> h.seen(170.0); h.rate(170.5)
        0.016666666666666666
        """
        return sum(c for s, c in self._buckets if now - s < span) / span

    def describe(self, now: float) -> dict[str, Any]:
        from riskcast.core.clock import format_us

        return {"last_seen": format_us(self.last_seen_us) if self.last_seen_us else None,
                "messages": self.messages, "malformed": self.malformed,
                "rate_per_s": round(self.rate(now), 3), "battery": self.battery,
                "signal": self.signal}


class _Series:
    """One site and variable: its sensor and the last arrival time given to it."""

    __slots__ = ("last_us", "sensor", "site", "variable")

    def __init__(self, site: str, variable: str, sensor: SensorHealth) -> None:
        self.site, self.variable, self.sensor = site, variable, sensor
        self.last_us = 0


class Malformed(ValueError):
    """A payload that cannot be read."""


def parse(topic: str, payload: bytes | bytearray,
          prefix: str) -> tuple[str, list[ReadingIn], dict[str, float]]:
    """The site, readings and health values of one message; ``Malformed`` when unreadable.

    >>> site, items, health = parse("riskcast/s1/temp_c", b"21.5", "riskcast")
    >>> site, items[0].variable, items[0].value
    ('s1', 'temp_c', 21.5)
    >>> parse("riskcast/s1", b'{"time": 1782907200, "ph": 7.1, "battery": 3.6}', "riskcast")[2]
    {'battery': 3.6}
    """
    parts = topic.split("/")
    if parts[0] != prefix or len(parts) not in (2, 3) or not all(parts[1:]):
        raise Malformed(f"topic {topic!r} is not {prefix}/<site> or {prefix}/<site>/<variable>")
    site = parts[1]
    if len(parts) == 3:
        try:
            value = float(payload.decode().strip())
        except (UnicodeDecodeError, ValueError) as err:
            raise Malformed(f"payload {payload[:40]!r} is not a number") from err
        if not math.isfinite(value):
            raise Malformed(f"payload {payload[:40]!r} is not a finite number")
        return site, [ReadingIn(site=site, variable=parts[2], value=value)], {}
    try:
        doc = _decode.decode(payload)
    except msgspec.DecodeError as err:
        raise Malformed(f"payload is not JSON: {err}") from err
    objects = doc if isinstance(doc, list) else [doc]
    items: list[ReadingIn] = []
    health: dict[str, float] = {}
    for obj in objects:
        if not isinstance(obj, dict):
            raise Malformed("payload is not a JSON object or an array of objects")
        _read_object(site, obj, items, health)
    return site, items, health


def _read_object(site: str, obj: dict[str, Any], items: list[ReadingIn],
                 health: dict[str, float]) -> None:
    stamp = obj.pop("time", None)
    if stamp is not None and not isinstance(stamp, (str, int, float)):
        raise Malformed("time is neither RFC 3339 text nor epoch seconds")
    when: Any = stamp
    if isinstance(stamp, str):
        from riskcast.core.clock import from_us, parse_time

        try:
            when = from_us(parse_time(stamp))
        except Exception as err:
            raise Malformed(str(err)) from err
    for key, value in obj.items():
        if not isinstance(value, (int, float)) or isinstance(value, bool):
            raise Malformed(f"{key}: {value!r} is not a number")
        if key in HEALTH_KEYS:
            health[HEALTH_KEYS[key]] = float(value)
        else:
            items.append(ReadingIn(site=site, variable=key, value=float(value), time=when))


class MqttSource:
    """Subscribes to the broker at ``url`` and feeds readings to ``ingest``."""

    def __init__(self, url: str, ingest: IngestFn, *, prefix: str = "riskcast", qos: int = 1,
                 client_id: str = "riskcast", session_expiry: int = 86_400,
                 batch_max: int = 5_000, max_backoff: float = 30.0,
                 max_in_flight: int = 8, protocol: int = 4,
                 max_buffered: int = 50_000, batch_bytes: int = 131_072) -> None:
        try:
            import paho.mqtt.client as _paho  # noqa: F401  (fail at start-up, not in a task)
        except ImportError as err:
            raise MissingExtraError("paho-mqtt", "mqtt") from err
        parts = urlsplit(url)
        if parts.scheme not in ("mqtt", "tcp") or not parts.hostname:
            raise ConfigError(f"mqtt: {url!r} is not mqtt://host[:port]")
        self.host = parts.hostname
        self.port = parts.port or 1883
        self.username = parts.username
        self.password = parts.password
        self.ingest = ingest
        self.prefix = prefix
        self.qos = qos
        self.client_id = client_id
        self.session_expiry = session_expiry
        self.batch_max = batch_max
        self.batch_bytes = batch_bytes
        self.max_in_flight = max_in_flight
        #: Messages received and not yet handed to a batch; past it, reading pauses.
        self.max_buffered = max_buffered
        if protocol not in (4, 5):
            raise ConfigError(f"mqtt: protocol {protocol} (use 4 for 3.1.1 or 5)")
        self.protocol = protocol
        self.max_backoff = max_backoff
        self.health: dict[str, SensorHealth] = {}
        self.connected = asyncio.Event()
        self.messages = 0
        self.malformed = 0
        self.readings = 0
        self.rejected = 0
        self.reconnects = 0
        #: Set while reading from the broker is paused: ``max_buffered`` messages wait for
        #: batches that wait for commits. The broker holds the rest (QoS 0 beyond its queue
        #: limit is dropped by the broker, as QoS 0 may be).
        self.paused = asyncio.Event()
        self.pauses = 0
        self._series: dict[tuple[str, str], _Series] = {}
        self._topics: dict[str, _Series] = {}  # riskcast/<site>/<variable> seen well-formed
        self._pending: list[_Message] = []
        self._wake = asyncio.Event()
        self._flushes: set[asyncio.Task[None]] = set()

    def stats(self) -> dict[str, Any]:
        return {"broker": f"{self.host}:{self.port}", "connected": self.connected.is_set(),
                "messages": self.messages, "malformed": self.malformed,
                "readings": self.readings, "rejected": self.rejected,
                "reconnects": self.reconnects, "sites": len(self.health),
                "buffered": len(self._pending), "paused": self.paused.is_set(),
                "pauses": self.pauses}

    def sensors(self) -> dict[str, dict[str, Any]]:
        now = time.monotonic()
        return {site: h.describe(now) for site, h in sorted(self.health.items())}

    async def run(self) -> None:
        """Subscribe and ingest until cancelled, reconnecting with backoff."""
        delay = 0.5
        try:
            while True:
                try:
                    await self._session()
                except (ConnectionError, OSError) as err:
                    log.warning("mqtt: %s; reconnecting in %.1f s", err, delay)
                except Exception:  # never let one failure end the subscriber
                    log.exception("mqtt: subscriber failed; reconnecting in %.1f s", delay)
                if self.connected.is_set():  # it had subscribed: start the backoff over
                    delay = 0.5
                self.connected.clear()
                self.reconnects += 1
                await asyncio.sleep(delay * random.uniform(0.8, 1.2))
                delay = min(delay * 2, self.max_backoff)
        finally:
            for task in self._flushes:
                task.cancel()

    async def _session(self) -> None:
        """One connection: subscribe, then hand what arrives to batches until it is lost.
        Batches already started still commit (and acknowledge on the old connection, which
        goes nowhere: the broker sends those QoS 1 messages again)."""
        from riskcast.ingest.mqtt_client import MqttConnection

        conn = MqttConnection(self.host, self.port, client_id=self.client_id,
                              on_message=self._on_message, protocol=self.protocol,
                              username=self.username, password=self.password,
                              session_expiry=self.session_expiry)
        self._conn = conn
        self._pending = []
        try:
            await conn.open([(f"{self.prefix}/+", self.qos), (f"{self.prefix}/+/+", self.qos)])
            self.connected.set()
            log.info("mqtt: subscribed to %s/# on %s:%d", self.prefix, self.host, self.port)
            conn.lost.add_done_callback(lambda _: self._wake.set())
            previous: asyncio.Task[None] | None = None
            while True:
                await self._wake.wait()
                self._wake.clear()
                while self._pending:
                    if len(self._flushes) >= self.max_in_flight:
                        await asyncio.wait(self._flushes, return_when=asyncio.FIRST_COMPLETED)
                    batch = self._take()
                    if self.paused.is_set() and len(self._pending) <= self.max_buffered // 2:
                        self.paused.clear()
                        conn.resume_reading()
                    previous = asyncio.create_task(self._flush(conn, batch, previous))
                    self._flushes.add(previous)
                    previous.add_done_callback(self._flushes.discard)
                if conn.lost.done():
                    conn.lost.result()  # raises why
        finally:
            conn.close()
            self.paused.clear()

    def _take(self) -> list[_Message]:
        """The next batch: at most ``batch_max`` messages and about ``batch_bytes`` of
        payload (JSON batch messages carry hundreds of readings each)."""
        pending = self._pending
        count = min(len(pending), self.batch_max)
        size = 0
        for index in range(count):
            size += len(pending[index][1])
            if size > self.batch_bytes:
                count = index + 1
                break
        batch = pending[:count]
        del pending[:count]
        return batch

    def _on_message(self, client: Any, userdata: Any, message: paho.MQTTMessage) -> None:
        # Called by paho for every message: keep it to an append, and keep only the fields.
        # paho's message object holds a lock and a condition: kept until the commit, millions
        # of them reached the old GC generation and made full collections the largest cost.
        try:
            topic = message.topic
        except UnicodeDecodeError:  # brokers refuse such topics; refused here too
            topic = f"{message._topic!r} (not UTF-8)"
        pending = self._pending
        pending.append((topic, message.payload, message.qos, message.mid))
        if len(pending) == 1:
            self._wake.set()
        elif len(pending) >= self.max_buffered and not self.paused.is_set():
            self._conn.pause_reading()
            self.pauses += 1
            self.paused.set()

    def _readings(self, messages: list[_Message]) -> list[ReadingIn | None]:
        """The readings of a batch; malformed messages counted and logged. Plain-number topics
        are parsed once and then only looked up."""
        items: list[ReadingIn | None] = []
        append = items.append
        seen: dict[SensorHealth, int] = {}
        topics = self._topics
        now = now_us()
        isfinite = math.isfinite
        for topic, payload, _, _ in messages:
            series = topics.get(topic)
            if series is None:
                self._read_new(topic, payload, items, seen, now)
                continue
            try:
                value = float(payload)
            except ValueError:
                self._malformed(topic, Malformed(f"payload {payload[:40]!r} is not a number"),
                                series.sensor)
                continue
            if not isfinite(value):
                self._malformed(topic, Malformed(f"payload {payload[:40]!r} is not a finite "
                                                 "number"), series.sensor)
                continue
            t = series.last_us = now if now > series.last_us else series.last_us + 1
            append(ReadingIn(series.site, series.variable, value, t / 1e6))
            seen[series.sensor] = seen.get(series.sensor, 0) + 1
        self.messages += len(messages)
        mono = time.monotonic()
        for sensor, count in seen.items():
            sensor.seen(mono, count)
        return items

    def _read_new(self, topic: str, payload: bytes | bytearray, items: list[ReadingIn | None],
                  seen: dict[SensorHealth, int], now: int) -> None:
        """A message on a topic not seen well-formed before, or a JSON message."""
        try:
            site, readings, health = parse(topic, payload, self.prefix)
        except Malformed as err:
            parts = topic.split("/")
            self._malformed(topic, err, self.health.get(parts[1]) if len(parts) > 1 else None)
            return
        sensor = self.health.get(site)
        if sensor is None:
            sensor = self.health[site] = SensorHealth()
        for key, value in health.items():
            setattr(sensor, key, value)
        seen[sensor] = seen.get(sensor, 0) + 1
        for item in readings:
            if item.time is None:  # the time of arrival, unique in its series
                series = self._series_of(site, item.variable, sensor)
                t = series.last_us = now if now > series.last_us else series.last_us + 1
                item.time = t / 1e6
            items.append(item)
        if topic.count("/") == 2 and len(self._topics) < 100_000:
            self._topics[topic] = self._series_of(site, readings[0].variable, sensor)

    def _series_of(self, site: str, variable: str, sensor: SensorHealth) -> _Series:
        series = self._series.get((site, variable))
        if series is None:
            if len(self._series) >= 100_000:  # bounded: forget, then learn again
                self._series.clear()
                self._topics.clear()
            series = self._series[(site, variable)] = _Series(site, variable, sensor)
        return series

    def _malformed(self, topic: str, err: Malformed, sensor: SensorHealth | None = None) -> None:
        self.malformed += 1
        if sensor is not None:
            sensor.malformed += 1
        log.warning("mqtt: malformed message on %s: %s", topic, err)

    async def _flush(self, conn: MqttConnection, messages: list[_Message],
                     previous: asyncio.Task[None] | None) -> None:
        await self._ingest_until_done(self._readings(messages))
        if previous is not None and not previous.done():
            await asyncio.gather(previous, return_exceptions=True)  # acknowledge in order
        for _, _, qos, mid in messages:
            if qos:
                conn.ack(mid, qos)

    async def _ingest_until_done(self, items: list[ReadingIn | None]) -> None:
        """Ingest, retrying while storage is overloaded or down: nothing is acknowledged to
        the broker until this returns."""
        delay = 0.1
        while True:
            try:
                result = await self.ingest(items, "mqtt")
            except (OverloadedError, StorageError) as err:
                log.warning("mqtt: ingest deferred (%s); retrying in %.1f s", err, delay)
                await asyncio.sleep(delay)
                delay = min(delay * 2, 5.0)
                continue
            self.readings += getattr(result, "accepted", 0)
            rejected = getattr(result, "rejected", [])
            self.rejected += len(rejected)
            for r in rejected[:3]:
                log.warning("mqtt: reading refused: %s", r.error)
            return
