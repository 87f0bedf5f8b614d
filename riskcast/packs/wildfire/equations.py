"""The FWI System's equations as array kernels, one day over all stations at a time.

Private to :mod:`riskcast.packs.wildfire.fwi`, whose public functions document the references
(Van Wagner 1987, For. Tech. Rep. 35; Van Wagner & Pickett 1985, For. Tech. Rep. 33; "Eq. n"
below uses the 1985 numbering, as cffdrs R does). Kept apart so the public module stays short.
Powers are exp(a ln x): numpy's exp and log are SIMD, pow is not.
"""

from __future__ import annotations

import math
from typing import Final, NamedTuple

import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.float64]
_TINY: Final = 1e-30  # stands in for 0 where the branch that would use it is not taken


# --- weather-only terms, computed in bulk -------------------------------------------------------
#
# Powers are taken as exp(a ln x): numpy's SIMD exp and log are about three times faster than pow.
# ln 0 = -inf is expected at RH 0 or 100, FFMC 101, DMC 0 or ISI 0, and exp(-inf) = 0 is then the
# right answer, hence the np.errstate(divide="ignore") blocks. Arrays reaching the private
# functions are C-contiguous (daily's row blocks, _flat's copies), so reshape(-1) is a view.

_LN10: Final = float(np.log(10.0))
_LN100: Final = float(np.log(100.0))


class _FFMCWeather(NamedTuple):
    ed: FloatArray  # equilibrium moisture content for drying (Eq. 4)
    ew: FloatArray  # equilibrium moisture content for wetting (Eq. 5); ew < ed for every RH
    dry: FloatArray  # 10 ** -kd, the fraction of (m - ed) left after a day (Eqs. 6a, 6b, 8)
    # For the wetting rate (Eqs. 7a, 7b), computed only where m < ew:
    rh: FloatArray
    k_max: FloatArray  # 0.424 + 0.0694 W ** 0.5, the log drying or wetting rate at x = 0
    wind_term: FloatArray  # 0.0694 W ** 0.5
    temp_term: FloatArray  # -0.581 e^(0.0365 T) ln 10, so that 10 ** -(k0 ...) = e^(k0 temp_term)


def _ffmc_weather(temp: FloatArray, rh: FloatArray, wind: FloatArray) -> _FFMCWeather:
    with np.errstate(divide="ignore"):
        log_h = np.log(rh)
    # Eqs. 4, 5: ed and ew share 10 e^((H - 100) / 10) + 0.18 (21.1 - T) (1 - e^(-0.115 H))
    shared = np.exp(-0.115 * rh)
    shared -= 1.0
    shared *= 0.18 * temp - 0.18 * 21.1
    saturation = np.exp(0.1 * rh)
    saturation *= math.exp(-10.0)
    shared += 10.0 * saturation
    ew = np.exp(0.753 * log_h)
    ew *= 0.618
    ew += shared  # Eq. 5
    ed = np.exp(0.679 * log_h)
    ed *= 0.942
    ed += shared
    ed += saturation  # Eq. 4
    wind_term = np.sqrt(wind)
    wind_term *= 0.0694
    temp_term = np.exp(0.0365 * temp)
    temp_term *= -0.581 * _LN10
    log_h -= _LN100  # ln(H / 100)
    k_max = wind_term + 0.424
    dry = _fraction_left(log_h, k_max, wind_term, temp_term)  # Eqs. 6a, 6b
    return _FFMCWeather(ed, ew, dry, rh, k_max, wind_term, temp_term)


def _fraction_left(
    log_x: FloatArray, k_max: FloatArray, wind_term: FloatArray, temp_term: FloatArray
) -> FloatArray:
    # 10 ** -(k0 * 0.581 e^(0.0365 T)) with k0 = 0.424 (1 - x ** 1.7) + 0.0694 W ** 0.5 (1 - x ** 8)
    # = k_max - 0.424 x ** 1.7 - 0.0694 W ** 0.5 x ** 8; x = H / 100 drying, (100 - H) / 100 wetting
    k = np.exp(1.7 * log_x)
    k *= -0.424
    k += k_max
    x8 = np.exp(8.0 * log_x)
    x8 *= wind_term
    k -= x8
    k *= temp_term
    return np.exp(k, out=k)


def _dmc_drying(temp: FloatArray, rh: FloatArray, day_length: FloatArray) -> FloatArray:
    # 100 K, Eqs. 16 and 17; no drying below -1.1 °C.
    drying = np.maximum(temp, -1.1)
    drying += 1.1
    drying *= 100.0 - rh
    drying *= day_length
    drying *= 1.894e-4
    return drying


def _dc_drying(temp: FloatArray, day_length_factor: FloatArray) -> FloatArray:
    # 0.5 V, Eqs. 22 and 23; temperature floored at -2.8 °C and V at 0.
    drying = np.maximum(temp, -2.8)
    drying += 2.8
    drying *= 0.36
    drying += day_length_factor
    drying *= 0.5
    return np.maximum(drying, 0.0, out=drying)


# --- state updates, one day over all stations ---------------------------------------------------


def _ffmc_update(
    ffmc0: FloatArray,
    rain: FloatArray,
    weather: _FFMCWeather,
    coefficient: float,
    out: FloatArray | None = None,
) -> FloatArray:
    m = 101.0 - ffmc0
    m *= coefficient
    m /= 59.5 + ffmc0  # Eq. 1
    wet = np.flatnonzero(rain > 0.5)
    if wet.size:
        m0 = m[wet]
        rf = rain[wet]
        rf -= 0.5  # Eq. 2
        mr = np.divide(-6.93, rf)
        np.exp(mr, out=mr)
        np.subtract(1.0, mr, out=mr)
        mr *= rf
        mr *= 42.5
        gain = np.subtract(251.0, m0)
        np.divide(-100.0, gain, out=gain)
        np.exp(gain, out=gain)
        mr *= gain
        mr += m0  # Eq. 3a
        over = np.flatnonzero(m0 > 150.0)
        if over.size:
            excess = m0[over] - 150.0
            mr[over] += 0.0015 * excess * excess * np.sqrt(rf[over])  # Eq. 3b
        np.minimum(mr, 250.0, out=mr)
        m[wet] = mr
    # Eq. 8 dries towards ed where m > ed: moving a fraction of the way never overshoots, so
    # the minimum picks the branch. Eq. 9 wets towards ew where m < ew (ew < ed always).
    dried = m - weather.ed
    dried *= weather.dry
    dried += weather.ed
    np.minimum(m, dried, out=m)
    wetting = np.flatnonzero(m < weather.ew)
    if wetting.size:
        with np.errstate(divide="ignore"):  # RH 100
            log_x = np.log(100.0 - weather.rh[wetting])
        log_x -= _LN100
        left = _fraction_left(
            log_x, weather.k_max[wetting], weather.wind_term[wetting], weather.temp_term[wetting]
        )
        ew = weather.ew[wetting]
        left *= m[wetting] - ew
        left += ew
        m[wetting] = left
    f = np.subtract(250.0, m, out=dried)
    f *= 59.5
    m += coefficient
    f /= m  # Eq. 10
    return np.clip(f, 0.0, 101.0, out=f if out is None else out)


def _dmc_update(
    dmc0: FloatArray, rain: FloatArray, drying: FloatArray, out: FloatArray | None = None
) -> FloatArray:
    p = np.add(dmc0, drying, out=out)
    wet = np.flatnonzero(rain > 1.5)
    if wet.size:
        p0 = dmc0[wet]
        rw = rain[wet]
        rw *= 0.92
        rw -= 1.27  # Eq. 11
        b = 0.3 * p0
        b += 0.5
        np.divide(100.0, b, out=b)  # Eq. 13a
        above = np.flatnonzero(p0 > 33.0)
        if above.size:
            log_p0 = np.log(p0[above])
            b[above] = np.where(
                p0[above] <= 65.0, 14.0 - 1.3 * log_p0, 6.2 * log_p0 - 17.2
            )  # Eqs. 13b, 13c
        b *= rw
        b += 48.77
        mr = np.multiply(rw, 1000.0, out=rw)
        mr /= b
        m0 = np.multiply(p0, -0.023)
        np.exp(m0, out=m0)
        m0 *= 280.0  # Eq. 12 in the FORTRAN form 280 / e^(0.023 P0), less its 20
        mr += m0  # Eq. 14, Mr - 20
        pr = np.log(mr, out=mr)
        np.subtract(5.6348, pr, out=pr)
        pr *= 43.43  # Eq. 15 in the FORTRAN form
        np.maximum(pr, 0.0, out=pr)
        pr += drying[wet]
        p[wet] = pr
    return p


def _dc_update(
    dc0: FloatArray, rain: FloatArray, drying: FloatArray, out: FloatArray | None = None
) -> FloatArray:
    d = np.add(dc0, drying, out=out)
    wet = np.flatnonzero(rain > 2.8)
    if wet.size:
        rd = rain[wet]
        rd *= 0.83 * 3.937
        rd -= 1.27 * 3.937  # 3.937 times Eq. 18
        q = np.multiply(dc0[wet], -1.0 / 400.0)
        np.exp(q, out=q)
        q *= 800.0
        q += rd  # Eqs. 19, 20
        np.divide(800.0, q, out=q)
        dr = np.log(q, out=q)
        dr *= 400.0  # Eq. 21
        np.maximum(dr, 0.0, out=dr)
        dr += drying[wet]
        d[wet] = dr
    return d


# --- indices of the day -------------------------------------------------------------------------


def _isi(
    ffmc: FloatArray, wind: FloatArray, coefficient: float, out: FloatArray | None = None
) -> FloatArray:
    m = coefficient * (101.0 - ffmc) / (59.5 + ffmc)  # Eq. 1
    with np.errstate(divide="ignore"):  # m = 0 at FFMC 101
        fine_fuel = np.log(m)
    fine_fuel *= 5.31
    np.exp(fine_fuel, out=fine_fuel)
    fine_fuel *= 1.0 / 4.93e7
    fine_fuel += 1.0  # Eq. 25 without the exponential
    m *= -0.1386
    m += 0.05039 * wind  # Eq. 24 and 25's exponentials in one
    np.exp(m, out=m)
    m *= 0.208 * 91.9  # Eq. 26
    return np.multiply(m, fine_fuel, out=out)


def _bui(dmc: FloatArray, dc: FloatArray, out: FloatArray | None = None) -> FloatArray:
    ratio = 0.4 * dc
    ratio += dmc
    np.maximum(ratio, _TINY, out=ratio)  # DMC = DC = 0 then gives ratio 0 and BUI 0
    np.divide(0.8 * dc, ratio, out=ratio)  # 0.8 DC / (DMC + 0.4 DC), >= 1 iff DMC <= 0.4 DC
    bui = np.multiply(ratio, dmc, out=out)  # Eq. 27a
    flat_bui, flat_ratio = bui.reshape(-1), ratio.reshape(-1)
    high = np.flatnonzero(flat_ratio < 1.0)  # DMC > 0.4 DC: Eq. 27b
    if high.size:
        p = dmc.reshape(-1)[high]
        with np.errstate(divide="ignore"):  # DMC 0
            term = np.log(0.0114 * p)
        term *= 1.7
        np.exp(term, out=term)
        term += 0.92
        term *= flat_ratio[high] - 1.0
        term += p
        flat_bui[high] = term
    return np.maximum(bui, 0.0, out=bui)


def _log_fwi(isi: FloatArray, bui: FloatArray) -> FloatArray:
    with np.errstate(divide="ignore"):  # BUI 0, ISI 0
        duff = np.log(bui)  # 0.1 f(D) below, the 0.1 of Eq. 29 folded in
        duff *= 0.809
        np.exp(duff, out=duff)
        duff *= 0.0626
        duff += 0.2  # Eq. 28a
        high = np.flatnonzero(bui.reshape(-1) > 80.0)
        if high.size:
            steep = np.exp(-0.023 * bui.reshape(-1)[high])
            steep *= 108.64
            steep += 25.0
            duff.reshape(-1)[high] = np.divide(100.0, steep, out=steep)  # Eq. 28b
        duff *= isi  # Eq. 29, B
        log_b = np.log(duff, out=duff)
    small = log_b <= 0.0
    s = 0.434 * log_b
    np.maximum(s, _TINY, out=s)  # a stand-in where S = B below: log 0 and exp(-inf) are slow
    np.log(s, out=s)
    s *= 0.647
    np.exp(s, out=s)
    s *= 2.72  # ln S of Eq. 30a
    return np.where(small, log_b, s)  # Eq. 30b, S = B where B <= 1


def _dsr(log_fwi: FloatArray, out: FloatArray | None = None) -> FloatArray:
    dsr = np.multiply(log_fwi, 1.77)
    np.exp(dsr, out=dsr)
    return np.multiply(dsr, 0.0272, out=out)
