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
#: The times RFC 3339 in UTC can write: 0001-01-01T00:00:00Z to 9999-12-31T23:59:59.999999Z.
MIN_US: Micros = -62_135_596_800_000_000
MAX_US: Micros = 253_402_300_799_999_999
#: The longest duration accepted: 1000 years (far inside 64-bit microseconds).
MAX_DURATION_US: Micros = 1000 * 365 * 86_400_000_000


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
    text = (f"{dt.year:04d}-{dt.month:02d}-{dt.day:02d}T"
            f"{dt.hour:02d}:{dt.minute:02d}:{dt.second:02d}")
    if dt.microsecond:
        text += f".{dt.microsecond:06d}"
    return text + "Z"


def parse_time(text: str, *, field: str = "time") -> Micros:
    """Parse RFC 3339 text (a timezone is required) to microseconds.

    >>> parse_time("2026-07-01T14:00:00+02:00")
    1782907200000000
    >>> parse_time("0001-01-01T00:00:00+14:00", field="from")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    riskcast.exceptions.ValidationError: from: outside years 1 to 9999 in UTC: ...
    """
    try:
        dt = datetime.fromisoformat(text.replace("Z", "+00:00").replace("z", "+00:00"))
    except (ValueError, AttributeError) as err:
        raise ValidationError(f"{field}: not an RFC 3339 time: {text!r}", field=field) from err
    if dt.tzinfo is None:
        raise ValidationError(f"{field}: RFC 3339 time needs Z or an offset: {text!r}",
                              field=field)
    us = to_us(dt)
    if not MIN_US <= us <= MAX_US:
        raise ValidationError(f"{field}: outside years 1 to 9999 in UTC: {text!r}", field=field)
    return us


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
    us = float(match.group(1)) * _UNIT_US[match.group(2)]
    if not us <= MAX_DURATION_US:  # also refuses inf
        raise ValidationError(f"{field}: longer than 1000 years: {text!r}", field=field)
    return int(us)
