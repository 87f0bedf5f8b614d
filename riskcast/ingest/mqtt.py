"""MQTT: readings from sensors through a broker (``riskcast serve --mqtt mqtt://host:1883``).

Topics, under the prefix ``riskcast`` by default:

- ``riskcast/<site>/<variable>``: the payload is a plain number (``21.5``); the time is the
  time of arrival.
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
exponential backoff and jitter, same client id, subscriptions renewed. A redelivered plain-number
message gets a new arrival time; JSON messages with a ``time`` are idempotent.
"""

from __future__ import annotations

import asyncio
import logging
import math
import random
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

import msgspec

from riskcast.core.clock import now_us
from riskcast.core.readings import ReadingIn
from riskcast.exceptions import ConfigError, MissingExtraError, OverloadedError, StorageError

log = logging.getLogger(__name__)
HEALTH_KEYS = {"battery": "battery", "signal": "signal", "rssi": "signal"}
IngestFn = Callable[[Sequence[ReadingIn | None], str], Awaitable[Any]]
_decode = msgspec.json.Decoder()


@dataclass
class SensorHealth:
    """What the subscriber knows of one site's sensor."""

    last_seen_us: int = 0
    messages: int = 0
    malformed: int = 0
    battery: float | None = None
    signal: float | None = None
    _window: list[float] = field(default_factory=list, repr=False)

    def seen(self, now: float) -> None:
        self.messages += 1
        self.last_seen_us = now_us()
        self._window.append(now)
        if len(self._window) > 256:
            del self._window[:128]

    def rate(self, now: float, span: float = 60.0) -> float:
        """Messages per second over the last ``span`` seconds (of the recent ones kept)."""
        recent = [t for t in self._window if now - t <= span]
        return len(recent) / span

    def describe(self, now: float) -> dict[str, Any]:
        from riskcast.core.clock import format_us

        return {"last_seen": format_us(self.last_seen_us) if self.last_seen_us else None,
                "messages": self.messages, "malformed": self.malformed,
                "rate_per_s": round(self.rate(now), 3), "battery": self.battery,
                "signal": self.signal}


class Malformed(ValueError):
    """A payload that cannot be read."""


def parse(topic: str, payload: bytes, prefix: str) -> tuple[str, list[ReadingIn], dict[str, float]]:
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
                 max_in_flight: int = 8, protocol: int = 4) -> None:
        try:
            import aiomqtt  # noqa: F401  (fail at start-up, not later in a task)
        except ImportError as err:
            raise MissingExtraError("aiomqtt", "mqtt") from err
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
        self.max_in_flight = max_in_flight
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

    def stats(self) -> dict[str, Any]:
        return {"broker": f"{self.host}:{self.port}", "connected": self.connected.is_set(),
                "messages": self.messages, "malformed": self.malformed,
                "readings": self.readings, "rejected": self.rejected,
                "reconnects": self.reconnects, "sites": len(self.health)}

    def sensors(self) -> dict[str, dict[str, Any]]:
        now = time.monotonic()
        return {site: h.describe(now) for site, h in sorted(self.health.items())}

    async def run(self) -> None:
        """Subscribe and ingest until cancelled, reconnecting with backoff."""
        try:
            import aiomqtt
        except ImportError as err:
            raise MissingExtraError("aiomqtt", "mqtt") from err
        delay = 0.5
        while True:
            client = self._client(aiomqtt)
            # Acknowledge after the commit, not on receipt (aiomqtt has no option for it).
            client._client.manual_ack_set(True)
            try:
                async with client:
                    await client.subscribe([(f"{self.prefix}/+", self.qos),
                                            (f"{self.prefix}/+/+", self.qos)])
                    self.connected.set()
                    delay = 0.5
                    log.info("mqtt: subscribed to %s/# on %s:%d", self.prefix, self.host,
                             self.port)
                    await self._consume(client)
            except aiomqtt.MqttError as err:
                log.warning("mqtt: %s; reconnecting in %.1f s", err, delay)
            except Exception:  # never let one failure end the subscriber
                log.exception("mqtt: subscriber failed; reconnecting in %.1f s", delay)
            self.connected.clear()
            self.reconnects += 1
            await asyncio.sleep(delay * random.uniform(0.8, 1.2))
            delay = min(delay * 2, self.max_backoff)

    def _client(self, aiomqtt: Any) -> Any:
        """MQTT 3.1.1 with a persistent session by default: paho builds a properties object
        for every MQTT 5 message, which costs more CPU than the rest of the path together."""
        common = {"username": self.username, "password": self.password,
                  "identifier": self.client_id, "keepalive": 30}
        if self.protocol == 5:
            from paho.mqtt.packettypes import PacketTypes
            from paho.mqtt.properties import Properties

            properties = Properties(PacketTypes.CONNECT)  # type: ignore[no-untyped-call]
            properties.SessionExpiryInterval = self.session_expiry
            return aiomqtt.Client(self.host, self.port, protocol=aiomqtt.ProtocolVersion.V5,
                                  clean_start=False, properties=properties, **common)
        return aiomqtt.Client(self.host, self.port, protocol=aiomqtt.ProtocolVersion.V311,
                              clean_session=False, **common)

    async def _consume(self, client: Any) -> None:
        # Several batches commit at once (the group commit merges them), so a subscriber that
        # keeps up with the broker does not pay one commit per message; acknowledgements still
        # go out in the order the messages came, each after its own commit.
        batch: list[Any] = []
        in_flight: set[asyncio.Task[None]] = set()
        previous: asyncio.Task[None] | None = None
        try:
            async for message in client.messages:
                batch.append(message)
                if len(batch) >= self.batch_max or len(client.messages) == 0:
                    if len(in_flight) >= self.max_in_flight:
                        await asyncio.wait(in_flight, return_when=asyncio.FIRST_COMPLETED)
                    previous = asyncio.create_task(self._flush(client, batch, previous))
                    in_flight.add(previous)
                    previous.add_done_callback(in_flight.discard)
                    batch = []
        finally:
            for task in in_flight:
                task.cancel()

    async def _flush(self, client: Any, messages: list[Any],
                     previous: asyncio.Task[None] | None = None) -> None:
        items: list[ReadingIn | None] = []
        now = time.monotonic()
        for message in messages:
            self.messages += 1
            topic = str(message.topic)
            payload = message.payload if isinstance(message.payload, bytes) else str(
                message.payload).encode()
            try:
                site, readings, health = parse(topic, payload, self.prefix)
            except Malformed as err:
                self.malformed += 1
                site = topic.split("/")[1] if topic.count("/") >= 1 else ""
                if site in self.health:
                    self.health[site].malformed += 1
                log.warning("mqtt: malformed message on %s: %s", topic, err)
                continue
            sensor = self.health.setdefault(site, SensorHealth())
            sensor.seen(now)
            for key, value in health.items():
                setattr(sensor, key, value)
            items.extend(readings)
        await self._ingest_until_done(items)
        if previous is not None:
            await asyncio.gather(previous, return_exceptions=True)  # acknowledge in order
        for message in messages:
            if message.qos > 0:
                client._client.ack(message.mid, message.qos)

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
