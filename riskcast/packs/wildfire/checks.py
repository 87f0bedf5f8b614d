"""Input checks for :func:`riskcast.packs.wildfire.fwi.daily`: shapes, ranges, finiteness.

Each refusal is a :class:`~riskcast.exceptions.ValidationError` naming the array and the first
bad index, e.g. ``rh[12, 3] = 104.0 is outside 0..100``.
"""

from __future__ import annotations

import math
import sys
from typing import Any, Final

import numpy as np
import numpy.typing as npt

from riskcast.exceptions import ValidationError

FloatArray = npt.NDArray[np.float64]
_FLOAT_MAX: Final = sys.float_info.max
#: Start codes beyond these are refused: observed seasons reach DMC in the hundreds and DC in
#: the low thousands, and far larger values would overflow Eq. 27b.
DMC_MAX: Final = 10_000.0
DC_MAX: Final = 100_000.0


def _float(value: npt.ArrayLike) -> FloatArray:
    return np.asarray(value, dtype=np.float64)


def _in_range(
    name: str, array: npt.NDArray[Any], low: float, high: float | None, unit: str = ""
) -> None:
    """Refuse the first element (in C order) that is not finite or outside low..high."""
    upper = _FLOAT_MAX if high is None else high
    if array.size == 0 or (array.min() >= low and array.max() <= upper):  # NaN fails both
        return
    ok = (array >= low) & (array <= upper)
    where = np.unravel_index(int(np.argmin(ok)), ok.shape)
    value = array[where].item()
    if not math.isfinite(value):
        problem = "is not finite"
    elif high is None:
        problem = "is negative" if low == 0.0 else f"is below {low:g}{unit}"
    else:
        problem = f"is outside {low:g}..{high:g}{unit}"
    index = f"[{', '.join(str(int(i)) for i in where)}]" if where else ""
    raise ValidationError(f"{name}{index} = {value!r} {problem}", field=name)


def _numeric(name: str, value: npt.ArrayLike) -> FloatArray:
    try:
        return _float(value)
    except (TypeError, ValueError) as err:
        raise ValidationError(f"{name} is not numeric: {err}", field=name) from err


def _per_station(
    name: str, value: npt.ArrayLike, stations: int, one_d: bool, low: float, high: float | None
) -> FloatArray:
    array = _numeric(name, value)
    if one_d and array.ndim != 0:
        raise ValidationError(
            f"{name} must be a scalar for (days,) weather, got shape {array.shape}", field=name
        )
    if array.ndim > 1 or (array.ndim == 1 and array.shape[0] != stations):
        raise ValidationError(
            f"{name} must be a scalar or shaped ({stations},), got shape {array.shape}", field=name
        )
    _in_range(name, array, low, high)
    return np.broadcast_to(array, (stations,)).astype(np.float64)


_Checked = tuple[
    FloatArray,
    FloatArray,
    FloatArray,
    FloatArray,
    npt.NDArray[np.intp],
    FloatArray,
    list[FloatArray],
]


def checked(
    temp: npt.ArrayLike,
    rh: npt.ArrayLike,
    wind: npt.ArrayLike,
    rain: npt.ArrayLike,
    month: npt.ArrayLike,
    lat: npt.ArrayLike,
    ffmc0: npt.ArrayLike,
    dmc0: npt.ArrayLike,
    dc0: npt.ArrayLike,
) -> _Checked:
    t = _numeric("temp", temp)
    if t.ndim not in (1, 2):
        raise ValidationError(
            f"temp must be shaped (days,) or (days, stations), got shape {t.shape}", field="temp"
        )
    weather = {"temp": t}
    for name, value in (("rh", rh), ("wind", wind), ("rain", rain)):
        weather[name] = _numeric(name, value)
        if weather[name].shape != t.shape:
            raise ValidationError(
                f"{name} has shape {weather[name].shape} but temp has shape {t.shape}", field=name
            )
    _in_range("temp", t, -90.0, 70.0, " °C")
    _in_range("rh", weather["rh"], 0.0, 100.0)
    _in_range("wind", weather["wind"], 0.0, 500.0, " km/h")
    _in_range("rain", weather["rain"], 0.0, None)
    one_d = t.ndim == 1
    days = t.shape[0]
    stations = 1 if one_d else t.shape[1]
    m = np.asarray(month)
    if m.dtype.kind not in "iuf":
        m = _numeric("month", month)
    if m.shape != (days,):
        raise ValidationError(f"month must be shaped ({days},), got shape {m.shape}", field="month")
    _in_range("month", m, 1, 12)
    fraction = np.flatnonzero(m != np.floor(m))
    if fraction.size:
        day = int(fraction[0])
        raise ValidationError(
            f"month[{day}] = {m[day].item()!r} is not a whole month", field="month"
        )
    la = _per_station("lat", lat, stations, one_d, -90.0, 90.0)
    start = [
        _per_station("ffmc0", ffmc0, stations, one_d, 0.0, 101.0),
        _per_station("dmc0", dmc0, stations, one_d, 0.0, DMC_MAX),
        _per_station("dc0", dc0, stations, one_d, 0.0, DC_MAX),
    ]
    t, h, w, r = (
        np.ascontiguousarray(weather[k].reshape(days, stations))
        for k in ("temp", "rh", "wind", "rain")
    )
    return t, h, w, r, m.astype(np.intp), la, start
