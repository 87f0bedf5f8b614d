"""Simulated fire-weather stations for ``make demo``: seasonal temperature and humidity, dry
spells broken by rain spells, and wind, so danger climbs through a dry spell and falls after
rain. Each station first backfills its past weeks of hourly weather, so the FWI System has a
history to carry from when the demo starts."""

from __future__ import annotations

import math
import random
from datetime import UTC, datetime, timedelta

from riskcast.core.sites import Site

HOUR_US = 3_600_000_000
DAY_US = 24 * HOUR_US
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
STATIONS = [
    ("Monchique", 37.32, -8.55), ("Serra da Estrela", 40.32, -7.61),
    ("Sidi Bel Abbes", 35.19, -0.63), ("Bejaia", 36.75, 5.06), ("Evia", 38.62, 23.60),
    ("Sardinia", 40.12, 9.01), ("Provence", 43.53, 5.45), ("Andalusia", 37.18, -3.60),
]


class FireWeatherStation:
    """Hourly weather of one station, a pure function of time: the same hour always gives the
    same values, so backfill and live readings agree and a restart changes nothing."""

    backfill_days = 45

    def __init__(self, site: Site, seed: int) -> None:
        self.site = site
        self.seed = seed
        self._days: dict[int, tuple[float, float, float, float, bool]] = {}
        self._last_t: int | None = None

    @classmethod
    def make(cls, index: int, seed: int) -> FireWeatherStation:
        name, lat, lon = STATIONS[index % len(STATIONS)]
        suffix = "" if index < len(STATIONS) else f" {index // len(STATIONS) + 1}"
        site = Site(id=f"fire-{index + 1}", name=f"{name}{suffix} (simulated)", pack="wildfire",
                    lat=lat, lon=lon, tags={"simulated": "true"})
        return cls(site, seed * 1000 + index)

    def _day(self, day: int) -> tuple[float, float, float, float, bool]:
        """(max temp, min RH, mean wind, rain total, wet) of a day; wet days come in spells."""
        if day in self._days:
            return self._days[day]
        wet_before = self._day(day - 1)[4] if (day - 1) in self._days else False
        rng = random.Random(self.seed * 100_003 + day)
        when = _EPOCH + timedelta(days=day)
        season = math.cos((when.timetuple().tm_yday - 200) / 365.25 * 2 * math.pi)
        wet = rng.random() < (0.55 if wet_before else 0.10 - 0.06 * season)
        t_max = 22 + 10 * season + rng.gauss(0, 2.5) - (5 if wet else 0)
        rh_min = min(95.0, max(8.0, 40 - 18 * season + rng.gauss(0, 6) + (30 if wet else 0)))
        wind = max(2.0, rng.gauss(14, 6))
        rain = rng.expovariate(1 / 9) if wet else 0.0
        self._days[day] = (t_max, rh_min, wind, rain, wet)
        return self._days[day]

    def warm(self, until_day: int) -> None:
        """Fill the day cache in order, so spells chain from one day to the next."""
        start = min(self._days, default=until_day - self.backfill_days - 30)
        for day in range(start, until_day + 1):
            self._day(day)

    def step(self, t_us: int) -> dict[str, float]:
        lon = self.site.lon or 0.0
        local = t_us + round(lon / 15) * HOUR_US
        day = local // DAY_US
        self.warm(day)
        t_max, rh_min, wind, rain, wet = self._day(day)
        hour = (local % DAY_US) / HOUR_US
        # Coolest at 05:00, warmest at 15:00; humidity mirrors temperature.
        shape = (1 + math.cos((hour - 15) / 24 * 2 * math.pi)) / 2
        temp = t_max - 11 * (1 - shape)
        rh = min(100.0, rh_min + 45 * (1 - shape))
        gust = 1 + 0.4 * math.sin(hour / 24 * 2 * math.pi + self.seed)
        # rain_mm is the rain since the previous reading: the day's rain falls 06:00-14:00.
        since = HOUR_US if self._last_t is None else max(0, min(t_us - self._last_t, DAY_US))
        self._last_t = t_us
        rain_now = rain / 8 * since / HOUR_US if wet and 6 <= hour < 14 else 0.0
        return {"temp_c": round(temp, 2), "rh_pct": round(rh, 1),
                "wind_kmh": round(wind * gust, 1), "rain_mm": round(rain_now, 2)}
