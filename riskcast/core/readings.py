"""Readings in: decoding a batch and refusing bad items alone.

A batch is decoded in one typed pass (msgspec); only when that fails is it decoded item by
item, so a malformed item is refused with its reason and the rest are kept.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime, timedelta
from typing import Annotated, Literal

import msgspec

from riskcast.core.clock import MAX_US, MIN_US
from riskcast.core.variables import QUALITY_CODES, Variable
from riskcast.exceptions import ValidationError
from riskcast.types import ReadingRow

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_ONE_US = timedelta(microseconds=1)
#: The earliest and latest times a reading may carry (what RFC 3339 in UTC can write).
_MIN_US = MIN_US
_MAX_S = MAX_US // 1_000_000

AwareDatetime = Annotated[datetime, msgspec.Meta(tz=True)]


class ReadingIn(msgspec.Struct):
    """One reading as sent: time is RFC 3339 with a timezone, or seconds since the epoch.

    Without a time, the time of arrival is used.
    """

    site: str
    variable: str
    value: float
    time: AwareDatetime | float | None = None
    quality: Literal["good", "suspect", "bad"] | None = None
    source: str | None = None


class ReadingsBody(msgspec.Struct):
    readings: list[ReadingIn]


class _LooseBody(msgspec.Struct):
    readings: list[msgspec.Raw]


class Rejection(msgspec.Struct):
    """An item refused from a batch: its index, the field at fault and why."""

    index: int
    error: str
    field: str | None = None


_body_decoder = msgspec.json.Decoder(ReadingsBody)
_loose_decoder = msgspec.json.Decoder(_LooseBody)
_item_decoder = msgspec.json.Decoder(ReadingIn)


def decode_batch(body: bytes, max_items: int) -> tuple[list[ReadingIn | None], list[Rejection]]:
    """Decode a ``{"readings": [...]}`` body.

    Returns the items (``None`` where an item could not be decoded) and the rejections.
    Raises ValidationError when the body itself is malformed or holds too many items.
    """
    try:
        items: list[ReadingIn | None] = list(_body_decoder.decode(body).readings)
        rejected: list[Rejection] = []
    except msgspec.DecodeError:
        try:
            raw_items = _loose_decoder.decode(body).readings
        except msgspec.ValidationError as err:
            raise ValidationError(f"body: {err}", field=_field_of(err, "readings")) from err
        except msgspec.DecodeError as err:
            raise ValidationError(f"body is not valid JSON: {err}", field="body") from err
        items, rejected = [], []
        for index, raw in enumerate(raw_items):
            try:
                items.append(_item_decoder.decode(raw))
            except msgspec.DecodeError as err:
                items.append(None)
                rejected.append(Rejection(index, str(err), _field_of(err, None)))
    if len(items) > max_items:
        raise ValidationError(
            f"readings: {len(items)} items, more than the limit of {max_items} per request",
            field="readings")
    return items, rejected


def _field_of(err: Exception, default: str | None) -> str | None:
    """The field a msgspec error names (``None``-like ``default`` when it names none, e.g.
    an item that is not an object).

    >>> _field_of(Exception("Object missing required field `value`"), None)
    'value'
    """
    text = str(err)
    for marker in ("at `$.", "missing required field `"):
        if marker in text:
            return text.split(marker, 1)[1].split("`", 1)[0].split(".", 1)[0].split("[", 1)[0]
    return default


def to_rows(
    items: Iterable[ReadingIn | None],
    *,
    known_sites: set[str] | Mapping[str, object],
    variables: dict[str, Variable],
    now_us: int,
    max_future_us: int,
    default_source: str,
    rejected: list[Rejection],
) -> list[ReadingRow]:
    """Check decoded items and turn the good ones into storage rows.

    Refused alone, each with its reason: an unknown site, an unknown variable, a non-finite
    value, a time further than ``max_future_us`` ahead. A value outside the variable's valid
    range is kept with quality ``bad`` (soft limits: ``suspect``), never dropped.
    """
    rows: list[ReadingRow] = []
    limits: dict[str, tuple[float, float, float, float]] = {}
    horizon = now_us + max_future_us
    isfinite = math.isfinite
    append = rows.append
    for index, item in enumerate(items):
        if item is None:
            continue
        site = item.site
        if site not in known_sites:
            rejected.append(Rejection(index, f"unknown site {site!r}", "site"))
            continue
        name = item.variable
        lim = limits.get(name)
        if lim is None:
            var = variables.get(name)
            if var is None:
                rejected.append(Rejection(index, f"unknown variable {name!r}", "variable"))
                continue
            lim = limits[name] = (var.valid_min, var.valid_max, var.soft_min, var.soft_max)
        value = item.value
        if not isfinite(value):
            rejected.append(Rejection(index, f"value {value} is not a finite number", "value"))
            continue
        stamp = item.time
        if stamp is None:
            t = now_us
        elif isinstance(stamp, datetime):
            t = (stamp - _EPOCH) // _ONE_US
        else:
            if not isfinite(stamp) or not -_MAX_S <= stamp <= _MAX_S:
                rejected.append(Rejection(
                    index, "time is not a number of seconds between years 1 and 9999", "time"))
                continue
            t = round(stamp * 1_000_000)
        if t < _MIN_US:
            rejected.append(Rejection(index, "time is before 0001-01-01T00:00:00Z", "time"))
            continue
        if t > horizon:
            rejected.append(Rejection(
                index, f"time is {(t - now_us) / 1e6:.0f} s in the future, more than the "
                f"allowed {max_future_us / 1e6:.0f} s", "time"))
            continue
        if value < lim[0] or value > lim[1]:
            quality = 2
        elif value < lim[2] or value > lim[3]:
            quality = 1
        else:
            quality = 0
        if item.quality is not None:
            quality = max(quality, QUALITY_CODES[item.quality])
        append((site, name, t, value, quality, item.source or default_source))
    return rows
