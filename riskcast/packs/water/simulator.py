"""Simulated river stations for ``make demo``, named after real Indian monitoring stations.

Each reading is a pure function of time (and the station's seed), like the wildfire
simulator, so a restart or a backfill gives the same values for the same instant:

- seasons: the south-west monsoon (June-September) brings runoff, so turbidity, solids and
  coliform counts rise, conductivity falls (dilution) and the water cools; the dry
  pre-monsoon months (March-May) are hottest, with the least dilution (higher BOD and
  conductivity); winter is cool and clear;
- a diurnal cycle: DO saturation peaks mid-afternoon and bottoms out before dawn
  (photosynthesis and respiration), with a larger swing at nutrient-rich stations; pH follows
  it (CO₂ uptake) and water temperature lags the sun;
- pollution events: in each four-day block a station has a 30 % chance of a discharge
  lasting 6-36 hours that multiplies fecal coliform by 100, adds BOD, ammonia, phosphate,
  solids and turbidity and cuts DO saturation by 70 %, which pushes it down its NSF and CPCB
  classes.

Station baselines run from a clean upper reach (Brahmaputra at Guwahati) to the Yamuna below
Delhi. Values are plausible, not calibrated to any station's record.
"""

from __future__ import annotations

import math
import random
from datetime import UTC, datetime, timedelta

from riskcast.core.sites import Site
from riskcast.packs.water.wqi import do_saturation_mgl

HOUR_US = 3_600_000_000
DAY_US = 24 * HOUR_US
BLOCK_US = 4 * DAY_US
EVENT_CHANCE = 0.3
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)

#: (name, lat, lon, pollution baseline 0 clean .. 1 heavily polluted)
STATIONS = [
    ("Yamuna at Okhla barrage, Delhi", 28.541, 77.309, 0.85),
    ("Ganga at Varanasi (Assi ghat)", 25.289, 83.006, 0.55),
    ("Krishna at Rajapur weir, Kolhapur", 16.673, 74.572, 0.25),
    ("Periyar at Aluva, Kerala", 10.108, 76.352, 0.2),
    ("Godavari at Nashik (Ramkund)", 19.999, 73.791, 0.45),
    ("Mutha at Deccan bridge, Pune", 18.517, 73.843, 0.7),
    ("Brahmaputra at Guwahati", 26.186, 91.745, 0.1),
    ("Cauvery at Srirangapatna", 12.422, 76.690, 0.2),
]


def season(t_us: int) -> tuple[float, float]:
    """(monsoon, dry) weights 0..1 at ``t_us``: monsoon peaks in late July, the dry season
    in mid-April.

    >>> m, d = season(1_784_937_600_000_000)  # 2026-07-25
    >>> m > 0.9, d
    (True, 0.0)
    """
    day = (_EPOCH + timedelta(microseconds=t_us)).timetuple().tm_yday
    monsoon = math.sin(math.pi * (day - 155) / 120) if 155 <= day <= 275 else 0.0
    dry = math.sin(math.pi * (day - 60) / 95) if 60 <= day <= 155 else 0.0
    return monsoon, dry


class RiverStation:
    """One simulated river station; :meth:`step` is a pure function of time."""

    backfill_days = 3

    def __init__(self, site: Site, seed: int, baseline: float) -> None:
        self.site = site
        self.seed = seed
        self.baseline = baseline

    @classmethod
    def make(cls, index: int, seed: int) -> RiverStation:
        name, lat, lon, baseline = STATIONS[index % len(STATIONS)]
        suffix = "" if index < len(STATIONS) else f" {index // len(STATIONS) + 1}"
        site = Site(id=f"water-{index + 1}", name=f"{name}{suffix} (simulated)", pack="water",
                    lat=lat, lon=lon, tags={"simulated": "true", "river": name.split()[0]})
        return cls(site, seed * 1000 + index, baseline)

    # -- pollution events -------------------------------------------------------------

    def event_span(self, block: int) -> tuple[int, int] | None:
        """(start, end) in µs of the event in four-day block ``block``, if there is one."""
        rng = random.Random(self.seed * 1_000_003 + block * 7_919 + 17)
        if rng.random() >= EVENT_CHANCE:
            return None
        start = block * BLOCK_US + int(rng.uniform(0, 3) * DAY_US)
        return start, start + int(rng.uniform(6, 36) * HOUR_US)

    def event(self, t_us: int) -> float:
        """Event intensity 0..1 at ``t_us``: one hour to build up, three to fade."""
        block = t_us // BLOCK_US
        intensity = 0.0
        for b in (block - 1, block):
            span = self.event_span(b)
            if span is None or not span[0] <= t_us < span[1]:
                continue
            rise = (t_us - span[0]) / HOUR_US
            fall = (span[1] - t_us) / (3 * HOUR_US)
            intensity = max(intensity, min(1.0, rise, fall))
        return intensity

    # -- readings ---------------------------------------------------------------------

    def _noise(self, t_us: int, channel: int) -> float:
        """Standard normal noise, piecewise linear between hourly draws (smooth, pure)."""
        hour, frac = divmod(t_us, HOUR_US)

        def draw(h: int) -> float:
            return random.Random(self.seed * 7_777_777 + h * 131 + channel).gauss(0.0, 1.0)

        return draw(hour) + (draw(hour + 1) - draw(hour)) * frac / HOUR_US

    def step(self, t_us: int) -> dict[str, float]:
        b = self.baseline
        monsoon, dry = season(t_us)
        e = self.event(t_us)
        lon = self.site.lon or 0.0
        hour = ((t_us / HOUR_US) + lon / 15.0) % 24  # local solar time
        sun = math.cos(2 * math.pi * (hour - 15) / 24)  # +1 mid-afternoon, -1 before dawn
        day = (_EPOCH + timedelta(microseconds=t_us)).timetuple().tm_yday

        def n(channel: int, scale: float) -> float:
            return scale * self._noise(t_us, channel)

        temp = (24 + 6 * math.cos(2 * math.pi * (day - 140) / 365) - 2 * monsoon
                + 1.0 * math.cos(2 * math.pi * (hour - 16) / 24) + n(1, 0.3))
        swing = 8 + 14 * b
        do_sat = (95 - 55 * b - 6 * monsoon + swing * sun + n(2, 2.0)) * (1 - 0.7 * e)
        do_sat = max(1.0, do_sat)
        do_mgl = do_sat / 100 * float(do_saturation_mgl(temp))
        ph = 7.5 - 0.2 * monsoon + 0.12 * sun * (1 + b) - 0.3 * e + n(3, 0.05)
        bod = max(0.2, 1.0 + 12 * b * b + 1.5 * dry * b + 20 * e + n(4, 0.15) * (1 + 3 * b))
        log_fc = 1.0 + 3.5 * b + 0.6 * monsoon + 2.0 * e + n(5, 0.15)
        fc = min(5e6, 10**log_fc)
        tc = min(5e7, fc * 10 ** (0.5 + n(6, 0.05)))
        nitrate = max(0.05, 1.0 + 10 * b + 2 * monsoon + 8 * e + n(7, 0.2))
        phosphate = max(0.01, 0.05 + 0.8 * b + 0.1 * monsoon + 2.5 * e + n(8, 0.02))
        turbidity = max(0.5, (3 + 20 * b) * (1 + 8 * monsoon) + 80 * e + n(9, 0.5))
        solids = max(20.0, 120 + 250 * b + 150 * monsoon + 200 * e + n(10, 5.0))
        conductivity = max(20.0, (150 + 600 * b) * (1 + 0.3 * dry - 0.4 * monsoon)
                           + 300 * e + n(11, 5.0))
        ammonia = max(0.005, 0.02 + 0.5 * b * b + 1.5 * e + n(12, 0.01))
        return {
            "water_temp_c": round(temp, 2), "do_sat_pct": round(do_sat, 1),
            "do_mgl": round(do_mgl, 2), "ph": round(ph, 2), "bod_mgl": round(bod, 2),
            "fecal_coliform_cfu100ml": round(fc, 0), "total_coliform_mpn100ml": round(tc, 0),
            "nitrate_mgl": round(nitrate, 2), "total_phosphate_mgl": round(phosphate, 3),
            "turbidity_ntu": round(turbidity, 1), "total_solids_mgl": round(solids, 0),
            "conductivity_uscm": round(conductivity, 0), "free_ammonia_mgl": round(ammonia, 3),
        }
