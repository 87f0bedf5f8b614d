"""Plausible weather for demo sites: a diurnal cycle, humidity that falls as it warms,
wandering wind and pressure, and showers now and then."""

from __future__ import annotations

import math
import random

from riskcast.core.sites import Site

_DAY_US = 86_400_000_000
_CITIES = [
    ("Lisbon", 38.72, -9.14), ("Marseille", 43.30, 5.37), ("Athens", 37.98, 23.73),
    ("Valencia", 39.47, -0.38), ("Naples", 40.85, 14.27), ("Izmir", 38.42, 27.14),
    ("Split", 43.51, 16.44), ("Porto", 41.15, -8.61), ("Ajaccio", 41.92, 8.74),
    ("Seville", 37.39, -5.98),
]


class WeatherSite:
    """One simulated weather station."""

    def __init__(self, site: Site, seed: int) -> None:
        self.site = site
        self.rng = random.Random(seed)
        self.base_temp = 14 + self.rng.uniform(-3, 6)
        self.amplitude = self.rng.uniform(4, 9)
        self.wind = self.rng.uniform(5, 20)
        self.pressure = 1013 + self.rng.uniform(-8, 8)
        self.raining = 0

    @classmethod
    def make(cls, index: int, seed: int) -> WeatherSite:
        name, lat, lon = _CITIES[index % len(_CITIES)]
        suffix = "" if index < len(_CITIES) else f" {index // len(_CITIES) + 1}"
        site = Site(id=f"sim-{index + 1}", name=f"{name}{suffix} (simulated)", pack="generic",
                    lat=lat, lon=lon, tags={"simulated": "true"})
        return cls(site, seed + index)

    def step(self, t_us: int) -> dict[str, float]:
        rng = self.rng
        lon = self.site.lon or 0.0
        # Local solar hour from UTC and longitude; warmest about 15:00.
        hour = ((t_us % _DAY_US) / 3_600_000_000 + lon / 15.0) % 24
        temp = self.base_temp + self.amplitude * math.cos((hour - 15) / 24 * 2 * math.pi)
        temp += rng.gauss(0, 0.3)
        rh = min(100.0, max(5.0, 85 - 3.2 * (temp - self.base_temp + self.amplitude)
                            + rng.gauss(0, 2)))
        self.wind = min(90.0, max(0.0, self.wind + rng.gauss(0, 1.2)))
        self.pressure += rng.gauss(0, 0.2) + (1013 - self.pressure) * 0.01
        if self.raining:
            self.raining -= 1
        elif rng.random() < 0.002:
            self.raining = rng.randint(20, 200)
        rain = rng.expovariate(2.0) if self.raining else 0.0
        if rain:
            rh = min(100.0, rh + 25)
        solar = max(0.0, 950 * math.sin((hour - 6) / 12 * math.pi)) if 6 < hour < 18 else 0.0
        return {
            "temp_c": round(temp, 2), "rh_pct": round(rh, 1), "wind_kmh": round(self.wind, 1),
            "wind_dir_deg": round(rng.uniform(0, 360), 0), "rain_mm": round(rain, 2),
            "pressure_hpa": round(self.pressure, 1), "solar_wm2": round(solar, 0),
        }
