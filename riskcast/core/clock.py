"""Time at the edges: RFC 3339 text in, integer microseconds inside."""

from __future__ import annotations

import re
import time
from datetime import UTC, datetime, timedelta

from riskcast.exceptions import ValidationError
from riskcast.types import Micros

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(us|ms|s|m|h|d|w)\s*$")
_UNIT_US = {"us": 1, "ms": 1_000, "s": 1_000_000, "m": 60_000_000, "h": 3_600_000_000,
            "d": 86_400_000_000, "w": 604_800_000_000}


def now_us() -> Micros:
    """The current time in microseconds since the epoch."""
    return time.time_ns() // 1_000


def to_us(dt: datetime) -> Micros:
    """A timezone-aware datetime as microseconds since the epoch.

    >>> to_us(datetime(2026, 7, 1, 12, tzinfo=UTC))
    1782907200000000
    """
    if dt.tzinfo is None:
        raise ValidationError("time has no timezone; use RFC 3339 with Z or an offset")
    delta = dt - _EPOCH
    return (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds


def from_us(us: Micros) -> datetime:
    """Microseconds since the epoch as an aware UTC datetime."""
    return _EPOCH + timedelta(microseconds=us)


def format_us(us: Micros) -> str:
    """RFC 3339 UTC text with a Z, microseconds only when present.

    >>> format_us(1782907200000000)
    '2026-07-01T12:00:00Z'
    >>> format_us(1782907200000001)
    '2026-07-01T12:00:00.000001Z'
    """
    dt = from_us(us)
    text = dt.strftime("%Y-%m-%dT%H:%M:%S")
    if dt.microsecond:
        text += f".{dt.microsecond:06d}"
    return text + "Z"


def parse_time(text: str, *, field: str = "time") -> Micros:
    """Parse RFC 3339 text (a timezone is required) to microseconds.

    >>> parse_time("2026-07-01T14:00:00+02:00")
    1782907200000000
    """
    try:
        dt = datetime.fromisoformat(text.replace("Z", "+00:00").replace("z", "+00:00"))
    except (ValueError, AttributeError) as err:
        raise ValidationError(f"{field}: not an RFC 3339 time: {text!r}", field=field) from err
    if dt.tzinfo is None:
        raise ValidationError(f"{field}: RFC 3339 time needs Z or an offset: {text!r}",
                              field=field)
    return to_us(dt)


def parse_duration(text: str, *, field: str = "duration") -> Micros:
    """Parse a duration such as ``90s``, ``15m``, ``1h``, ``7d`` to microseconds.

    >>> parse_duration("1h")
    3600000000
    >>> parse_duration("1.5d") == parse_duration("36h")
    True
    """
    match = _DURATION.match(str(text))
    if not match:
        raise ValidationError(
            f"{field}: not a duration: {text!r} (use a number and one of us, ms, s, m, h, d, w)",
            field=field,
        )
    return int(float(match.group(1)) * _UNIT_US[match.group(2)])
