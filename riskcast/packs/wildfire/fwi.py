"""The Canadian Forest Fire Weather Index (FWI) System, vectorised over stations.

Six daily codes and indices from noon weather (temperature °C, relative humidity %, 10 m wind km/h,
24 h rain mm): the fuel moisture codes FFMC, DMC and DC, which carry yesterday's value forward, and
the fire behaviour indices ISI, BUI, FWI plus the Daily Severity Rating DSR.

References: Van Wagner, C.E. (1987) *Development and structure of the Canadian Forest Fire Weather
Index System*, Can. For. Serv. For. Tech. Rep. 35 (the equations); Van Wagner, C.E. & Pickett,
T.L. (1985) *Equations and FORTRAN program for the Canadian Forest Fire Weather Index System*,
For. Tech. Rep. 33 (the program and the 49-day test table; "Eq. n" below uses its numbering, as
the cffdrs R code does); the cffdrs R package (NRCan, >= 1.9.2) for the latitude bands and its
FFMC coefficient.

Variants (``variant=``) differ in the FFMC coefficient, used in Eqs. 1 and 10 and again when ISI
re-derives moisture content from FFMC, and in an RH cap:

* ``"vanwagner1987"`` (default): 147.2, as printed. Reproduces every cell of the published
  Van Wagner & Pickett (1985) table at its rounding; xclim uses the same constant.
* ``"cffdrs"``: 250 * 59.5 / 101 = 147.2772..., the exact inverse of the FFMC scale that cffdrs R
  uses since 1.9.2. Reproduces cffdrs R's own test output; ISI/FWI move by up to about 0.25.
  Like cffdrs R's ``fwi()``, :func:`daily` then also caps RH at :data:`CFFDRS_RH_CAP` (99.9999):
  at RH 100 that moves FFMC by up to about 0.003. The step functions, like cffdrs R's component
  functions, do not cap; callers mirroring ``fwi()`` apply ``np.minimum(rh, CFFDRS_RH_CAP)``.

Both variants take DMC Eqs. 12 and 15 in the forms of the FORTRAN program and cffdrs R,
``20 + 280 / exp(0.023 P0)`` and ``43.43 (5.6348 - ln(Mr - 20))``. The rounded forms printed in
the 1987 text (``20 + exp(5.6348 - P0 / 43.43)``, ``244.72 - 43.43 ln(Mr - 20)``) reproduce only 32
of the table's 49 DMC values, so neither variant uses them.

Day-length factors follow cffdrs R's latitude adjustment (Lawson & Armitage 2008), latitude in
degrees north, southern hemisphere negative. DMC (Le): lat > 30 the standard 46°N table; 30 >= lat
> 10 the 20°N table; 10 >= lat > -10 a constant 9; -10 >= lat > -30 the 20°S table; lat <= -30 the
40°S table. DC (Lf): lat > 20 standard; 20 >= lat > -20 a constant 1.4; lat <= -20 the southern
table. xclim 0.62 uses other edges (GFWED's 30/15/-15/-30 and 15/-15 with 1.39), so the two agree
for 20 < |lat| < 30 and |lat| > 30 only, not in the tropics.

Missing days: :func:`daily` refuses non-finite inputs (NaN included) with a
:class:`~riskcast.exceptions.ValidationError` naming the array and the first bad index; it never
guesses a value. The codes are bookkeeping of water in and out of the fuel, so a gap cannot simply
be skipped: callers restart from :data:`STARTUP` (FFMC 85, DMC 6, DC 15, Van Wagner 1987) after a
gap. The live pipeline does that after a configurable number of missing days.

Input checks in :func:`daily`: shapes consistent; temperature within -90..70 °C, RH 0..100 %, wind
0..500 km/h, rain >= 0 mm, all finite; month 1..12; latitude -90..90; start codes FFMC 0..101,
DMC 0..10000, DC 0..100000. Within these, every output is finite and no numpy warning is raised.
The step functions do no checking, for speed in the live pipeline.

Speed: :func:`daily` loops over days only for the three moisture codes, vectorised over stations.
Weather-only terms (equilibrium moistures, drying rates, day lengths) are computed in bulk for a
block of days; rain phases, FFMC wetting and the rarer branches of BUI and FWI are computed only
for the stations they apply to; ISI, BUI, FWI and DSR depend on the same day alone and are
computed per block. Powers are exp(a ln x), as numpy's exp and log are SIMD and pow is not.
"""

from __future__ import annotations

from dataclasses import dataclass
from types import MappingProxyType
from typing import Final, NamedTuple

import numpy as np
import numpy.typing as npt

from riskcast.packs.wildfire.checks import checked
from riskcast.packs.wildfire.equations import (
    _bui,
    _dc_drying,
    _dc_update,
    _dmc_drying,
    _dmc_update,
    _dsr,
    _ffmc_update,
    _ffmc_weather,
    _FFMCWeather,
    _isi,
    _log_fwi,
)

__all__ = [
    "CFFDRS_RH_CAP",
    "FFMC_COEFFICIENTS",
    "STARTUP",
    "VARIANTS",
    "FWIResult",
    "StartupCodes",
    "bui",
    "daily",
    "dc_day_length_factor",
    "dc_step",
    "dmc_day_length",
    "dmc_step",
    "dsr",
    "ffmc_coefficient",
    "ffmc_step",
    "fwi",
    "isi",
]

FloatArray = npt.NDArray[np.float64]


class StartupCodes(NamedTuple):
    """Start-up values of the three moisture codes (Van Wagner 1987, For. Tech. Rep. 35)."""

    ffmc: float = 85.0
    dmc: float = 6.0
    dc: float = 15.0


#: The standard spring start-up codes, also used to restart after a gap in the weather.
STARTUP: Final = StartupCodes()

#: FFMC coefficient per variant: 147.2 as printed in Van Wagner (1987); cffdrs R >= 1.9.2 uses
#: the exact inverse of the FFMC scale, 250 * 59.5 / 101.
FFMC_COEFFICIENTS: Final = MappingProxyType(
    {"vanwagner1987": 147.2, "cffdrs": 250.0 * 59.5 / 101.0}
)

#: The variant names :func:`daily` accepts.
VARIANTS: Final = tuple(FFMC_COEFFICIENTS)

#: cffdrs R's ``fwi()`` sets RH >= 100 to this before computing; ``daily(variant="cffdrs")`` too.
CFFDRS_RH_CAP: Final = 99.9999

# Day-length tables, rows in ascending latitude band, columns January..December.
# DMC effective day length Le (Van Wagner 1987 Table 1 for 46°N; cffdrs R for the others).
_DMC_DAY_LENGTH = np.array(
    [
        [11.5, 10.5, 9.2, 7.9, 6.8, 6.2, 6.5, 7.4, 8.7, 10.0, 11.2, 11.8],  # lat <= -30
        [10.1, 9.6, 9.1, 8.5, 8.1, 7.8, 7.9, 8.3, 8.9, 9.4, 9.9, 10.2],  # -30 < lat <= -10
        [9.0] * 12,  # -10 < lat <= 10
        [7.9, 8.4, 8.9, 9.5, 9.9, 10.2, 10.1, 9.7, 9.1, 8.6, 8.1, 7.8],  # 10 < lat <= 30
        [6.5, 7.5, 9.0, 12.8, 13.9, 13.9, 12.4, 10.9, 9.4, 8.0, 7.0, 6.0],  # lat > 30
    ]
)
_DMC_BAND_EDGES = np.array([-30.0, -10.0, 10.0, 30.0])
# DC day-length factor Lf (Van Wagner 1987 Table 2 for the north; cffdrs R for the others).
_DC_DAY_LENGTH_FACTOR = np.array(
    [
        [6.4, 5.0, 2.4, 0.4, -1.6, -1.6, -1.6, -1.6, -1.6, 0.9, 3.8, 5.8],  # lat <= -20
        [1.4] * 12,  # -20 < lat <= 20
        [-1.6, -1.6, -1.6, 0.9, 3.8, 5.8, 6.4, 5.0, 2.4, 0.4, -1.6, -1.6],  # lat > 20
    ]
)
_DC_BAND_EDGES = np.array([-20.0, 20.0])

_OUTPUTS = ("ffmc", "dmc", "dc", "isi", "bui", "fwi", "dsr")
_BLOCK_ELEMENTS = 1 << 16  # station-days per block of precomputed weather terms
_TINY: Final = 1e-30  # stands in for 0 where the branch that would use it is not taken


@dataclass(frozen=True, eq=False, slots=True)
class FWIResult:
    """The FWI System outputs of :func:`daily`, each shaped like the weather input (read-only)."""

    ffmc: FloatArray
    dmc: FloatArray
    dc: FloatArray
    isi: FloatArray
    bui: FloatArray
    fwi: FloatArray
    dsr: FloatArray


def ffmc_coefficient(variant: str) -> float:
    """The FFMC coefficient of ``variant``; ValueError naming the allowed ones otherwise.

    Van Wagner (1987) Eq. 1 and 10 print 147.2; cffdrs R (>= 1.9.2) uses 250 * 59.5 / 101.

    >>> ffmc_coefficient("vanwagner1987"), round(ffmc_coefficient("cffdrs"), 4)
    (147.2, 147.2772)
    """
    try:
        return FFMC_COEFFICIENTS[variant]
    except KeyError:
        allowed = ", ".join(repr(name) for name in VARIANTS)
        raise ValueError(f"unknown FWI variant {variant!r}; use one of {allowed}") from None


def dmc_day_length(lat: npt.ArrayLike, month: npt.ArrayLike) -> FloatArray:
    """Effective day length Le (hours) for the DMC, by latitude band and month.

    Van Wagner (1987) Table 1 (46°N standard), extended by latitude band as in cffdrs R.

    >>> [dmc_day_length(lat, 4).item() for lat in (44.0, 0.0, -45.0)]
    [12.8, 9.0, 7.9]
    """
    band = np.searchsorted(_DMC_BAND_EDGES, np.asarray(lat, dtype=np.float64), side="left")
    return _DMC_DAY_LENGTH[band, np.asarray(month, dtype=np.intp) - 1]


def dc_day_length_factor(lat: npt.ArrayLike, month: npt.ArrayLike) -> FloatArray:
    """Day-length factor Lf for the DC, by latitude band and month.

    Van Wagner (1987) Table 2, extended by latitude band as in cffdrs R.

    >>> dc_day_length_factor(44.0, 4).item(), dc_day_length_factor(0.0, 4).item()
    (0.9, 1.4)
    """
    band = np.searchsorted(_DC_BAND_EDGES, np.asarray(lat, dtype=np.float64), side="left")
    return _DC_DAY_LENGTH_FACTOR[band, np.asarray(month, dtype=np.intp) - 1]


def _float(value: npt.ArrayLike) -> FloatArray:
    return np.asarray(value, dtype=np.float64)


def _flat(*values: npt.ArrayLike) -> tuple[tuple[int, ...], list[FloatArray]]:
    arrays = np.broadcast_arrays(*(_float(v) for v in values))
    shape = arrays[0].shape
    return shape, [np.ascontiguousarray(a).reshape(-1) for a in arrays]


# --- public step functions ----------------------------------------------------------------------


def ffmc_step(
    ffmc0: npt.ArrayLike,
    temp: npt.ArrayLike,
    rh: npt.ArrayLike,
    wind: npt.ArrayLike,
    rain: npt.ArrayLike,
    coefficient: float = FFMC_COEFFICIENTS["vanwagner1987"],
) -> FloatArray:
    """Fine Fuel Moisture Code after one day, from yesterday's ``ffmc0``. Inputs broadcast.

    Van Wagner (1987), For. Tech. Rep. 35, Eqs. 1-10; Van Wagner & Pickett (1985), For. Tech.
    Rep. 33. ``coefficient`` is 147.2 (VW87) or ``FFMC_COEFFICIENTS["cffdrs"]`` (cffdrs R).

    Day 1 of the Van Wagner & Pickett (1985) table (published 87.7) and of cffdrs R's test
    output (87.65):

    >>> round(float(ffmc_step(85.0, 17.0, 42.0, 25.0, 0.0)), 1)
    87.7
    >>> round(float(ffmc_step(85.0, 17.0, 42.0, 25.0, 0.0, FFMC_COEFFICIENTS["cffdrs"])), 2)
    87.65
    """
    shape, (f0, t, h, w, r) = _flat(ffmc0, temp, rh, wind, rain)
    return _ffmc_update(f0, r, _ffmc_weather(t, h, w), coefficient).reshape(shape)


def dmc_step(
    dmc0: npt.ArrayLike,
    temp: npt.ArrayLike,
    rh: npt.ArrayLike,
    rain: npt.ArrayLike,
    month: npt.ArrayLike,
    lat: npt.ArrayLike = 46.0,
) -> FloatArray:
    """Duff Moisture Code after one day, from yesterday's ``dmc0``. Inputs broadcast.

    Van Wagner (1987), For. Tech. Rep. 35, Eqs. 11-17, with Eqs. 12 and 15 in the form of the
    Van Wagner & Pickett (1985) FORTRAN program and cffdrs R; day length by latitude as in cffdrs.

    Day 1 of the Van Wagner & Pickett (1985) table, 13 April at 44°N (published 8.5):

    >>> round(float(dmc_step(6.0, 17.0, 42.0, 0.0, 4, lat=44.0)), 1)
    8.5
    """
    shape, (p0, t, h, r, mon, la) = _flat(dmc0, temp, rh, rain, month, lat)
    drying = _dmc_drying(t, h, dmc_day_length(la, mon))
    return _dmc_update(p0, r, drying).reshape(shape)


def dc_step(
    dc0: npt.ArrayLike,
    temp: npt.ArrayLike,
    rain: npt.ArrayLike,
    month: npt.ArrayLike,
    lat: npt.ArrayLike = 46.0,
) -> FloatArray:
    """Drought Code after one day, from yesterday's ``dc0``. Inputs broadcast.

    Van Wagner (1987), For. Tech. Rep. 35, Eqs. 18-23; day-length factor by latitude as in cffdrs.

    Day 1 of the Van Wagner & Pickett (1985) table, 13 April at 44°N (published 19.0):

    >>> round(float(dc_step(15.0, 17.0, 0.0, 4, lat=44.0)), 1)
    19.0
    """
    shape, (d0, t, r, mon, la) = _flat(dc0, temp, rain, month, lat)
    drying = _dc_drying(t, dc_day_length_factor(la, mon))
    return _dc_update(d0, r, drying).reshape(shape)


def isi(
    ffmc: npt.ArrayLike,
    wind: npt.ArrayLike,
    coefficient: float = FFMC_COEFFICIENTS["vanwagner1987"],
) -> FloatArray:
    """Initial Spread Index from today's FFMC (0..101) and wind (km/h).

    Van Wagner (1987), For. Tech. Rep. 35, Eqs. 24-26; moisture from FFMC by Eq. 1 with the
    variant's ``coefficient``.

    Day 1 of the Van Wagner & Pickett (1985) table (published ISI 10.9 from FFMC 87.7, W 25):

    >>> round(float(isi(87.69298, 25.0)), 1)
    10.9
    """
    shape, (f, w) = _flat(ffmc, wind)
    return _isi(f, w, coefficient).reshape(shape)


def bui(dmc: npt.ArrayLike, dc: npt.ArrayLike) -> FloatArray:
    """Buildup Index from today's DMC and DC (both >= 0); 0 when both are 0.

    Van Wagner (1987), For. Tech. Rep. 35, Eqs. 27a and 27b, floored at 0 as in cffdrs R.

    Day 1 of the Van Wagner & Pickett (1985) table (published BUI 8.5 from DMC 8.5, DC 19.0):

    >>> round(float(bui(8.545051, 19.014)), 1)
    8.5
    """
    shape, (p, d) = _flat(dmc, dc)
    return _bui(p, d).reshape(shape)


def fwi(isi: npt.ArrayLike, bui: npt.ArrayLike) -> FloatArray:
    """Fire Weather Index from today's ISI and BUI.

    Van Wagner (1987), For. Tech. Rep. 35, Eqs. 28-30.

    Day 1 of the Van Wagner & Pickett (1985) table (published FWI 10.1 from ISI 10.9, BUI 8.5):

    >>> round(float(fwi(10.853661, 8.490427)), 1)
    10.1
    """
    shape, (r, u) = _flat(isi, bui)
    return np.exp(_log_fwi(r, u)).reshape(shape)


def dsr(fwi: npt.ArrayLike) -> FloatArray:
    """Daily Severity Rating from today's FWI, 0.0272 FWI ** 1.77.

    Van Wagner (1987), For. Tech. Rep. 35; Van Wagner & Pickett (1985), Eq. 31.

    Day 1 of the Van Wagner & Pickett (1985) table (published DSR 1.63 from FWI 10.1):

    >>> round(float(dsr(10.096371)), 2)
    1.63
    """
    shape, (s,) = _flat(fwi)
    with np.errstate(divide="ignore"):  # FWI 0
        log_fwi = np.log(s)
    return _dsr(log_fwi).reshape(shape)


# --- the season run -----------------------------------------------------------------------------


def daily(
    temp: npt.ArrayLike,
    rh: npt.ArrayLike,
    wind: npt.ArrayLike,
    rain: npt.ArrayLike,
    month: npt.ArrayLike,
    lat: npt.ArrayLike = 46.0,
    ffmc0: npt.ArrayLike = 85.0,
    dmc0: npt.ArrayLike = 6.0,
    dc0: npt.ArrayLike = 15.0,
    variant: str = "vanwagner1987",
) -> FWIResult:
    """Run the FWI System over consecutive days for one or many stations.

    Weather arrays are shaped ``(days,)`` or ``(days, stations)``; ``month`` is ``(days,)``;
    ``lat`` and the start codes are scalars or ``(stations,)``. Every output has the weather's
    shape. ``variant`` is ``"vanwagner1987"`` or ``"cffdrs"`` (see the module docstring).
    Bad input raises :class:`~riskcast.exceptions.ValidationError` naming the array and index.

    Van Wagner (1987), For. Tech. Rep. 35; Van Wagner & Pickett (1985), For. Tech. Rep. 33;
    cffdrs R for the ``"cffdrs"`` variant and the latitude bands.

    The first two days of the Van Wagner & Pickett (1985) test table, start codes 85/6/15 at 44°N
    (published FFMC 87.7, 86.2; DMC 8.5, 10.4; DC 19.0, 23.6; ISI 10.9, 8.8; BUI 8.5, 10.4;
    FWI 10.1, 9.3):

    >>> out = daily([17.0, 20.0], [42.0, 21.0], [25.0, 25.0], [0.0, 2.4], [4, 4], lat=44.0)
    >>> [[round(float(v), 1) for v in code] for code in (out.ffmc, out.dmc, out.dc)]
    [[87.7, 86.2], [8.5, 10.4], [19.0, 23.6]]
    >>> [[round(float(v), 1) for v in code] for code in (out.isi, out.bui, out.fwi)]
    [[10.9, 8.8], [8.5, 10.4], [10.1, 9.3]]

    Day 1 of cffdrs R's test output at 40°N (FFMC 87.65, ISI 10.78, FWI 10.04):

    >>> r = daily([17.0], [42.0], [25.0], [0.0], [4], lat=40.0, variant="cffdrs")
    >>> round(float(r.ffmc[0]), 2), round(float(r.isi[0]), 2), round(float(r.fwi[0]), 2)
    (87.65, 10.78, 10.04)
    """
    coefficient = ffmc_coefficient(variant)
    t, h, w, r, mon, la, start = checked(temp, rh, wind, rain, month, lat, ffmc0, dmc0, dc0)
    if variant == "cffdrs":
        h = np.minimum(h, CFFDRS_RH_CAP)
    days, stations = t.shape
    outputs: dict[str, FloatArray] = {name: np.empty((days, stations)) for name in _OUTPUTS}
    # day-length tables per station, shaped (12, stations)
    le = np.ascontiguousarray(_DMC_DAY_LENGTH[np.searchsorted(_DMC_BAND_EDGES, la)].T)
    lf = np.ascontiguousarray(_DC_DAY_LENGTH_FACTOR[np.searchsorted(_DC_BAND_EDGES, la)].T)
    f, p, d = start
    block = max(1, _BLOCK_ELEMENTS // max(stations, 1))
    for first in range(0, days, block):
        rows = slice(first, min(first + block, days))
        months = mon[rows] - 1
        weather = _ffmc_weather(t[rows], h[rows], w[rows])
        dmc_drying = _dmc_drying(t[rows], h[rows], le[months])
        dc_drying = _dc_drying(t[rows], lf[months])
        for i, day in enumerate(range(rows.start, rows.stop)):
            today = _FFMCWeather._make(term[i] for term in weather)
            f = _ffmc_update(f, r[day], today, coefficient, out=outputs["ffmc"][day])
            p = _dmc_update(p, r[day], dmc_drying[i], out=outputs["dmc"][day])
            d = _dc_update(d, r[day], dc_drying[i], out=outputs["dc"][day])
        spread = _isi(outputs["ffmc"][rows], w[rows], coefficient, out=outputs["isi"][rows])
        buildup = _bui(outputs["dmc"][rows], outputs["dc"][rows], out=outputs["bui"][rows])
        log_fwi = _log_fwi(spread, buildup)
        np.exp(log_fwi, out=outputs["fwi"][rows])
        _dsr(log_fwi, out=outputs["dsr"][rows])
    shape = np.shape(temp)
    for name, array in outputs.items():
        outputs[name] = array.reshape(shape)
        outputs[name].flags.writeable = False
    return FWIResult(**outputs)
