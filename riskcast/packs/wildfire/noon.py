"""Hourly (or any) observations to the FWI System's noon standard.

The FWI System takes one observation a day at local standard noon (Van Wagner 1987): the
temperature, relative humidity and wind measured at 12:00 local standard time, and the rain of
the 24 hours ending then. For a site:

- **local standard time** is UTC plus ``round(lon / 15)`` hours (the time zone of its meridian;
  no daylight saving), or the hours in the site's tag ``utc_offset`` when it has one;
- the **noon value** of temp_c, rh_pct and wind_kmh is the reading nearest to 12:00 within
  ``window`` (one hour by default; a tie goes to the earlier one);
- the **rain** of day D is the sum of rain_mm readings in (noon D-1, noon D], each reading being
  the precipitation since the previous one. A day with no rain_mm reading at all counts as dry,
  and its codes are flagged ``suspect``.

A day is **complete** when the three noon values exist. Readings of quality ``bad`` are left out.
"""

from __future__ import annotations

import bisect
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

from riskcast.core.sites import Site
from riskcast.storage.base import Point

HOUR_US = 3_600_000_000
DAY_US = 24 * HOUR_US
NOON_INPUTS = ("temp_c", "rh_pct", "wind_kmh")
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def utc_offset_hours(site: Site) -> int:
    """Hours from UTC to the site's local standard time.

    >>> utc_offset_hours(Site(id="a", lat=44.0, lon=-79.4))
    -5
    >>> utc_offset_hours(Site(id="b", tags={"utc_offset": "+1"}))
    1
    """
    tagged = site.tags.get("utc_offset")
    if tagged is not None:
        return int(tagged)
    return round((site.lon or 0.0) / 15.0)


def noon_us(day: date, offset_hours: int) -> int:
    """12:00 local standard time of ``day`` as UTC microseconds."""
    local_noon = datetime(day.year, day.month, day.day, 12, tzinfo=UTC)
    return (local_noon - _EPOCH - timedelta(hours=offset_hours)) // timedelta(microseconds=1)


def day_of(t_us: int, offset_hours: int) -> date:
    """The local date of a UTC time."""
    return (_EPOCH + timedelta(microseconds=t_us + offset_hours * HOUR_US)).date()


def first_day_affected(t_us: int, offset_hours: int, window_us: int) -> date:
    """The earliest day whose noon values or rain a reading at ``t_us`` can change."""
    day = day_of(t_us - window_us, offset_hours)
    # Readings after noon belong to the next day's rain.
    return day if noon_us(day, offset_hours) + window_us >= t_us else day + timedelta(days=1)


@dataclass(frozen=True, slots=True)
class NoonWeather:
    """The noon-standard weather of one day."""

    day: date
    temp: float
    rh: float
    wind: float
    rain: float
    #: Worst quality of the inputs used (0 good, 1 suspect); 1 too when rain was not reported.
    quality: int


class SeriesWindow:
    """Readings of one variable, sorted by time, for nearest and sum queries."""

    def __init__(self, points: Sequence[Point]) -> None:
        good = [p for p in points if p.quality < 2]
        self.times = [p.time for p in good]
        self.points = good

    def nearest(self, t: int, window: int) -> Point | None:
        i = bisect.bisect_left(self.times, t)
        best: Point | None = None
        for j in (i - 1, i):
            if 0 <= j < len(self.points):
                p = self.points[j]
                if abs(p.time - t) <= window and (best is None or abs(p.time - t) <
                                                   abs(best.time - t)):
                    best = p
        return best

    def total(self, after: int, upto: int) -> tuple[float, int, int]:
        """Sum, count and worst quality of readings with ``after < time <= upto``."""
        lo = bisect.bisect_right(self.times, after)
        hi = bisect.bisect_right(self.times, upto)
        chosen = self.points[lo:hi]
        return (sum(p.value for p in chosen), len(chosen),
                max((p.quality for p in chosen), default=0))


def noon_weather(day: date, offset_hours: int, window_us: int,
                 series: dict[str, SeriesWindow]) -> NoonWeather | None:
    """The day's noon weather, or ``None`` when a noon value is missing."""
    noon = noon_us(day, offset_hours)
    values = []
    quality = 0
    for name in NOON_INPUTS:
        point = series[name].nearest(noon, window_us)
        if point is None:
            return None
        values.append(point.value)
        quality = max(quality, point.quality)
    rain, count, rain_quality = series["rain_mm"].total(noon - DAY_US, noon)
    quality = max(quality, rain_quality, 0 if count else 1)
    temp, rh, wind = values
    return NoonWeather(day, temp, rh, wind, rain, quality)
