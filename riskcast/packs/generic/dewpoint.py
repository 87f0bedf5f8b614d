"""Dew point from air temperature and relative humidity (Magnus form).

Alduchov, O. A. & Eskridge, R. E. (1996), "Improved Magnus form approximation of saturation
vapor pressure", J. Appl. Meteor. 35, 601-609: b = 17.625, c = 243.04 °C, within 0.4 °C of
the exact value from -40 to 50 °C.
"""

from __future__ import annotations

import math

from riskcast.core.sites import Site
from riskcast.pipeline.derive import DeriveContext

B = 17.625
C = 243.04


def dew_point(temp_c: float, rh_pct: float) -> float:
    """Dew point in °C.

    >>> round(dew_point(20.0, 50.0), 2)
    9.26
    >>> dew_point(25.0, 100.0)
    25.0
    """
    if rh_pct <= 0:
        return -math.inf
    gamma = math.log(rh_pct / 100.0) + B * temp_c / (C + temp_c)
    return round(C * gamma / (B - gamma), 10)


class DewPoint:
    """``dewpoint_c`` at every time a site has both ``temp_c`` and ``rh_pct``."""

    name = "dewpoint"
    inputs = frozenset({"temp_c", "rh_pct"})
    outputs = frozenset({"dewpoint_c"})

    async def derive(self, ctx: DeriveContext, site: Site, start: int, end: int) -> None:
        temps = await ctx.storage.read_series(site.id, "temp_c", start, end + 1, limit=100_000)
        hums = {p.time: p for p in await ctx.storage.read_series(
            site.id, "rh_pct", start, end + 1, limit=100_000)}
        rows = []
        for t in temps:
            h = hums.get(t.time)
            if h is None or t.quality == 2 or h.quality == 2 or h.value <= 0:
                continue
            rows.append((site.id, "dewpoint_c", t.time, dew_point(t.value, h.value),
                         max(t.quality, h.quality), ctx.source))
        await ctx.write(rows)
