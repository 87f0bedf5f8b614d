"""Live fire danger: the FWI System computed per site and day as readings arrive.

When new temp_c, rh_pct, wind_kmh or rain_mm readings of a wildfire site are committed, the days
they can change are recomputed in order, each from the previous day's stored codes (so the
carried state survives a restart: it *is* the stored ``ffmc``, ``dmc`` and ``dc`` series), and
every later day already computed is recomputed too, since the codes carry forward. A day
without its previous day's codes starts from the standard start-up values (FFMC 85, DMC 6,
DC 15): after a gap the moisture bookkeeping is unknown, and Van Wagner (1987) restarts it.

Codes are stored at the day's local noon (as UTC) as derived series ``ffmc`` ... ``dsr`` and
``danger_class`` (EFFIS class index 0 very low .. 5 extreme), published on ``site.<id>``, and a
``fire_danger`` summary is published on ``pack.wildfire``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

import numpy as np

from riskcast.core.clock import format_us
from riskcast.core.sites import Site
from riskcast.packs.wildfire import fwi as fwi_system
from riskcast.packs.wildfire.danger import EFFIS, DangerScheme
from riskcast.packs.wildfire.fwi import STARTUP
from riskcast.packs.wildfire.noon import (
    DAY_US,
    HOUR_US,
    NoonWeather,
    SeriesWindow,
    day_of,
    first_day_affected,
    noon_us,
    noon_weather,
    utc_offset_hours,
)
from riskcast.pipeline.derive import DeriveContext
from riskcast.types import ReadingRow

INPUTS = frozenset({"temp_c", "rh_pct", "wind_kmh", "rain_mm"})
CODES = ("ffmc", "dmc", "dc", "isi", "bui", "fwi", "dsr")
OUTPUTS = frozenset({*CODES, "danger_class"})


@dataclass(frozen=True, slots=True)
class DayCodes:
    """The FWI System's outputs for one day."""

    day: date
    ffmc: float
    dmc: float
    dc: float
    isi: float
    bui: float
    fwi: float
    dsr: float
    quality: int


def step_day(weather: NoonWeather, previous: tuple[float, float, float], lat: float,
             variant: str = "vanwagner1987") -> DayCodes:
    """One day of the FWI System from yesterday's (FFMC, DMC, DC).

    Day 1 of the Van Wagner & Pickett (1985) table, 13 April at 44°N:

    >>> c = step_day(NoonWeather(date(1985, 4, 13), 17, 42, 25, 0, 0), (85, 6, 15), 44.0)
    >>> [round(v, 1) for v in (c.ffmc, c.dmc, c.dc, c.isi, c.bui, c.fwi)]
    [87.7, 8.5, 19.0, 10.9, 8.5, 10.1]
    """
    coefficient = fwi_system.ffmc_coefficient(variant)
    month = weather.day.month
    f = float(fwi_system.ffmc_step(previous[0], weather.temp, weather.rh, weather.wind,
                                   weather.rain, coefficient))
    p = float(fwi_system.dmc_step(previous[1], weather.temp, weather.rh, weather.rain, month,
                                  lat))
    d = float(fwi_system.dc_step(previous[2], weather.temp, weather.rain, month, lat))
    spread = float(fwi_system.isi(f, weather.wind, coefficient))
    buildup = float(fwi_system.bui(p, d))
    index = float(fwi_system.fwi(spread, buildup))
    severity = float(fwi_system.dsr(index))
    return DayCodes(weather.day, f, p, d, spread, buildup, index, severity, weather.quality)


class FireDanger:
    """The :class:`~riskcast.pipeline.derive.Derivation` of the wildfire pack."""

    name = "fwi"
    inputs = INPUTS
    outputs = OUTPUTS

    def __init__(self, *, window: int = HOUR_US, max_days: int = 400,
                 scheme: DangerScheme = EFFIS, variant: str = "vanwagner1987") -> None:
        self.window = window
        self.max_days = max_days
        self.scheme = scheme
        self.variant = variant

    async def derive(self, ctx: DeriveContext, site: Site, start: int, end: int) -> None:
        offset = utc_offset_hours(site)
        first = first_day_affected(start, offset, self.window)
        last_input = day_of(end + self.window, offset)
        # Days computed before and after the touched span depend on it through the carry.
        stored = await ctx.storage.read_series(site.id, "ffmc", noon_us(first, offset),
                                               2**62, limit=1, descending=True)
        last = max(last_input, day_of(stored[0].time, offset)) if stored else last_input
        last = min(last, first + timedelta(days=self.max_days - 1))
        lo = noon_us(first, offset) - DAY_US - self.window
        hi = noon_us(last, offset) + self.window + 1
        series = {name: SeriesWindow(await ctx.storage.read_series(
            site.id, name, lo, hi, limit=10_000_000)) for name in sorted(INPUTS)}
        previous = await self._stored_codes(ctx, site, first - timedelta(days=1), offset)
        lat = site.lat if site.lat is not None else 46.0
        days: list[DayCodes] = []
        day = first
        while day <= last:
            weather = noon_weather(day, offset, self.window, series)
            if weather is None:
                previous = None  # a gap: the next complete day restarts
            else:
                codes = step_day(weather, previous or (STARTUP.ffmc, STARTUP.dmc, STARTUP.dc),
                                 lat, self.variant)
                days.append(codes)
                previous = (codes.ffmc, codes.dmc, codes.dc)
            day += timedelta(days=1)
        changed = await self._changed(ctx, site, days, offset)
        if changed:
            await ctx.write(self._rows(site, changed, offset, ctx.source))
            await ctx.publish("pack.wildfire",
                              self._summary(site, changed[-1], offset, len(changed)))

    async def _changed(self, ctx: DeriveContext, site: Site, days: list[DayCodes],
                       offset: int) -> list[DayCodes]:
        """The days whose codes differ from what is stored (a repeat writes nothing)."""
        if not days:
            return []
        lo, hi = noon_us(days[0].day, offset), noon_us(days[-1].day, offset) + 1
        stored: dict[int, list[float]] = {}
        for name in CODES:
            for point in await ctx.storage.read_series(site.id, name, lo, hi, limit=100_000):
                stored.setdefault(point.time, []).append(point.value)
        return [d for d in days if stored.get(noon_us(d.day, offset)) !=
                [round(getattr(d, name), 6) for name in CODES]]

    async def _stored_codes(self, ctx: DeriveContext, site: Site, day: date,
                            offset: int) -> tuple[float, float, float] | None:
        noon = noon_us(day, offset)
        values = []
        for name in ("ffmc", "dmc", "dc"):
            points = await ctx.storage.read_series(site.id, name, noon, noon + 1, limit=1)
            if not points:
                return None
            values.append(points[0].value)
        return values[0], values[1], values[2]

    def _rows(self, site: Site, days: list[DayCodes], offset: int,
              source: str) -> list[ReadingRow]:
        rows: list[ReadingRow] = []
        classes = self.scheme.classify(np.array([d.fwi for d in days]))
        for codes, klass in zip(days, classes, strict=True):
            t = noon_us(codes.day, offset)
            for name in CODES:
                rows.append((site.id, name, t, round(getattr(codes, name), 6), codes.quality,
                             source))
            rows.append((site.id, "danger_class", t, float(klass), codes.quality, source))
        return rows

    def _summary(self, site: Site, codes: DayCodes, offset: int, count: int) -> dict[str, object]:
        klass = int(self.scheme.classify(codes.fwi))
        return {
            "type": "fire_danger", "site": site.id, "day": codes.day.isoformat(),
            "time": format_us(noon_us(codes.day, offset)),
            "codes": {name: round(getattr(codes, name), 2) for name in CODES},
            "class": klass, "label": self.scheme.label(klass), "scheme": self.scheme.name,
            "days_computed": count,
        }
