"""Live water quality: the NSF WQI and the CPCB class per station, each time it reports.

When readings of a water station are committed, every time in the touched span at which the
station reported any input is recomputed, with each parameter's latest reading (quality not
``bad``) no older than its window: one hour for the sonde variables (DO, pH, temperature,
conductivity, turbidity), one day for laboratory-type ones (BOD, coliform, nutrients, solids),
whose results arrive daily at best. Report times up to one window after the span are
recomputed too, since a late reading can still be their latest (capped at ``max_times``).

Dissolved oxygen enters the NSF WQI as % saturation: ``do_sat_pct`` when the station sends it,
else computed from ``do_mgl`` and ``water_temp_c`` (Benson & Krause, sea-level pressure). The
WQI needs ``min_parameters`` of the nine (default 4; with fewer, rescaled weights let one or
two parameters decide the class).

Written as derived series ``wqi`` (0..100), ``wqi_class`` (0 Excellent .. 4 Very bad) and,
when the available parameters settle it, ``cpcb_class`` (0 A .. 5 below E); their quality is
the worst quality of the readings used (suspect or good). A ``water_quality`` summary of the
latest time computed is published on ``pack.water``.
"""

from __future__ import annotations

import bisect
from collections.abc import Mapping
from dataclasses import dataclass

from riskcast.core.clock import format_us
from riskcast.core.sites import Site
from riskcast.packs.water import cpcb, wqi
from riskcast.packs.water.quality import SENSOR_VARIABLES
from riskcast.pipeline.derive import DeriveContext
from riskcast.types import ReadingRow

HOUR_US = 3_600_000_000
DAY_US = 24 * HOUR_US
BAD = 2
INPUTS = frozenset({*wqi.PARAMETERS, "do_mgl", "water_temp_c", *cpcb.PARAMETERS})
OUTPUTS = frozenset({"wqi", "wqi_class", "cpcb_class"})


@dataclass(frozen=True, slots=True)
class _Series:
    times: list[int]
    values: list[float]
    qualities: list[int]

    def latest(self, t: int, window: int) -> tuple[float, int] | None:
        """The value and quality of the newest reading with ``t - window < time <= t``."""
        i = bisect.bisect_right(self.times, t) - 1
        if i < 0 or self.times[i] <= t - window:
            return None
        return self.values[i], self.qualities[i]


@dataclass(frozen=True, slots=True)
class StationState:
    """What the station's parameters were at one time, and the indices from them."""

    time: int
    values: dict[str, float]
    quality: int
    result: wqi.WqiResult | None
    cpcb: str | None


class WaterQualityIndex:
    """The :class:`~riskcast.pipeline.derive.Derivation` of the water pack."""

    name = "wqi"
    inputs = INPUTS
    outputs = OUTPUTS

    def __init__(self, *, sensor_window: int = HOUR_US, lab_window: int = DAY_US,
                 windows: Mapping[str, int] | None = None, min_parameters: int = 4,
                 max_times: int = 50_000) -> None:
        self.windows = {name: sensor_window if name in SENSOR_VARIABLES else lab_window
                        for name in INPUTS} | dict(windows or {})
        self.min_parameters = min_parameters
        self.max_times = max_times

    def state_at(self, t: int, series: Mapping[str, _Series]) -> StationState:
        """The station at time ``t`` from its series (pure; used by :meth:`derive`)."""
        values: dict[str, float] = {}
        quality = 0
        for name, s in series.items():
            found = s.latest(t, self.windows[name])
            if found is not None:
                values[name], q = found
                quality = max(quality, q)
        if "do_sat_pct" not in values and "do_mgl" in values and "water_temp_c" in values:
            values["do_sat_pct"] = float(wqi.do_percent_saturation(values["do_mgl"],
                                                                   values["water_temp_c"]))
        present = [n for n in wqi.PARAMETERS if n in values]
        result = wqi.nsf_wqi(values) if len(present) >= self.min_parameters else None
        return StationState(t, values, quality, result, cpcb.cpcb_class(values))

    async def derive(self, ctx: DeriveContext, site: Site, start: int, end: int) -> None:
        longest = max(self.windows.values())
        series: dict[str, _Series] = {}
        times: set[int] = set()
        for name in sorted(INPUTS):
            window = self.windows[name]
            before = await ctx.storage.read_series(site.id, name, start - window + 1, start,
                                                   limit=1, descending=True)
            during = await ctx.storage.read_series(site.id, name, start, end + longest,
                                                   limit=self.max_times)
            points = [p for p in (*before, *during) if p.quality < BAD]
            if points:
                series[name] = _Series([p.time for p in points], [p.value for p in points],
                                       [p.quality for p in points])
            times.update(p.time for p in during)
        states = [self.state_at(t, series) for t in sorted(times)[:self.max_times]]
        rows = self._rows(site, states, ctx.source)
        if rows:
            await ctx.write(rows)
            last = next(s for s in reversed(states) if s.result is not None or s.cpcb)
            await ctx.publish("pack.water", self._summary(site, last, len(states)))

    @staticmethod
    def _rows(site: Site, states: list[StationState], source: str) -> list[ReadingRow]:
        rows: list[ReadingRow] = []
        for s in states:
            if s.result is not None:
                rows.append((site.id, "wqi", s.time, round(s.result.wqi, 4), s.quality, source))
                rows.append((site.id, "wqi_class", s.time, float(s.result.klass), s.quality,
                             source))
            if s.cpcb is not None:
                rows.append((site.id, "cpcb_class", s.time, float(cpcb.class_index(s.cpcb)),
                             s.quality, source))
        return rows

    @staticmethod
    def _summary(site: Site, s: StationState, count: int) -> dict[str, object]:
        r = s.result
        return {
            "type": "water_quality", "site": site.id, "time": format_us(s.time),
            "wqi": None if r is None else round(r.wqi, 1),
            "class": None if r is None else r.klass,
            "label": None if r is None else r.label,
            "subindices": {} if r is None else {k: round(v, 1) for k, v in
                                                r.subindices.items()},
            "cpcb_class": s.cpcb,
            "cpcb_use": None if s.cpcb is None else cpcb.USES[cpcb.class_index(s.cpcb)],
            "quality": s.quality, "times_computed": count,
        }

