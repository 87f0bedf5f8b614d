"""Events: everything that happens, on a named channel, with a per-channel sequence number."""

from __future__ import annotations

import re
from typing import Any

import msgspec

from riskcast.exceptions import ValidationError

#: Channel names: dotted words such as ``site.s1``, ``pack.wildfire``, ``alerts``.
CHANNEL_PATTERN = re.compile(r"^[A-Za-z0-9_-]+(\.[A-Za-z0-9_:@-]+)*$")
_encoder = msgspec.json.Encoder()
_decoder = msgspec.json.Decoder()


def check_channel(name: str) -> str:
    """Return ``name`` if it is a valid channel name, else raise ValidationError."""
    if not isinstance(name, str) or len(name) > 200 or not CHANNEL_PATTERN.match(name):
        raise ValidationError(f"not a valid channel name: {name!r}", field="channel")
    return name


class Event:
    """One event: ``{channel, seq, time, data}``.

    The JSON form is encoded once, on first use, and cached: a hub sending an event to
    many subscribers pays for encoding once ("encode once, send many").
    """

    __slots__ = ("_json", "channel", "data", "seq", "time")

    def __init__(self, channel: str, seq: int, time: str, data: Any,
                 json: bytes | None = None) -> None:
        self.channel = channel
        self.seq = seq
        self.time = time
        self.data = data
        self._json = json

    def to_json(self) -> bytes:
        """The event as compact JSON bytes (cached)."""
        if self._json is None:
            self._json = _encoder.encode(
                {"channel": self.channel, "seq": self.seq, "time": self.time, "data": self.data}
            )
        return self._json

    @classmethod
    def from_json(cls, raw: bytes) -> Event:
        """Decode an event, keeping ``raw`` as its cached encoding."""
        obj = _decoder.decode(raw)
        return cls(obj["channel"], obj["seq"], obj["time"], obj["data"], json=bytes(raw))

    def __repr__(self) -> str:
        return f"Event({self.channel!r}, seq={self.seq}, time={self.time!r})"

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Event):
            return NotImplemented
        return (self.channel, self.seq, self.time, self.data) == (
            other.channel, other.seq, other.time, other.data)

    __hash__ = None  # type: ignore[assignment]
