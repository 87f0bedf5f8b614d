"""The NSF Water Quality Index (Brown, McClelland, Deininger & Tozer 1970, "A water quality
index — do we dare?", Water & Sewage Works 117, 339-343).

Nine parameters, each rated 0..100 on a sub-index curve and combined as a weighted arithmetic
mean, ``WQI = Σ wᵢQᵢ / Σ wᵢ`` over the parameters present (the published weights rescaled to
sum to 1 when some are missing, as the NSF instructions say). Classes: 90-100 Excellent,
70-90 Good, 50-70 Medium, 25-50 Bad, 0-25 Very bad (a value on a boundary takes the better
class).

The sub-index curves
--------------------
Brown et al. drew the curves by averaging the graphs of 142 experts; they were published as
graphs only. The curves here are the published equation fits of the CETESB curves, which
CETESB (São Paulo) took over from the NSF index in 1975: polynomial, power and exponential
pieces per parameter, attributed by their public implementations to CETESB ("Qualidade das
águas interiores no estado de São Paulo", Apêndice D) and von Sperling (2007, "Estudos e
modelagem da qualidade da água de rios", DESA-UFMG). The coefficients were compared between
two independent public transcriptions; the one used is continuous to 0.6 Q at every
breakpoint (tested). CETESB uses the NSF
curves for DO saturation, pH, BOD, turbidity and total solids, its thermotolerant-coliform
curve for fecal coliform, its total-nitrogen curve (the NSF nitrate curve) for nitrate, and
the phosphate curve in mg/L PO₄. The NSF tail values are kept: DO above 140 % saturation is
50, fecal coliform above 10⁵ is 3 (the NSF chart says 2), BOD above 30 mg/L is 2, total
phosphate above 10 mg/L is 5, nitrate above 100 mg/L is 1, turbidity above 100 NTU is 5,
total solids above 500 mg/L is 32 (the NSF chart says 20).

Precision. The only full set of NSF readings available to check against is the published
worked example (fotsch.org, "WQI Background"): at its inputs these curves differ from the
NSF readings by DO -2.3, fecal coliform -7.9, pH -0.6, BOD -1.9, phosphate +2.6,
nitrate -0.2, turbidity +2.8, total solids +2.2 Q. Stated precision: ±3 Q for every curve but
fecal coliform, ±8 Q for fecal coliform (CETESB's coliform curve lies below NSF's between
10 and 1,000 per 100 mL). The WQI of the example from these curves is 76.6 against the
published 77.9.

Temperature change (ΔT from one mile upstream) has no published fit that was available to
us: ``temp_change_c`` uses a provisional curve ``Q = max(5, 94 - 4.4·|ΔT|)`` through the
CETESB equilibrium value (Q 94 at ΔT 0) and the NSF example reading (Q 72 at ΔT +5 °C). Its
shape away from those two points is not a digitisation; treat it as ±15 Q. Sites without an
upstream reference leave ΔT out and the weights are rescaled over the other eight.

Units follow the NSF parameters: dissolved oxygen in % saturation (see
:func:`do_saturation_mgl`), fecal coliform in CFU/100 mL (MPN counts are treated as equal;
SCIENCE.md B.1 warns this shifts classes), BOD₅ in mg/L, total phosphate in mg/L as PO₄,
nitrate in mg/L, turbidity in NTU, total solids (not dissolved or suspended solids) in mg/L.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from riskcast.exceptions import ValidationError

FloatArray = npt.NDArray[np.float64]

#: The nine NSF parameters (riskcast variable names) and their published weights.
WEIGHTS: dict[str, float] = {
    "do_sat_pct": 0.17,
    "fecal_coliform_cfu100ml": 0.16,
    "ph": 0.11,
    "bod_mgl": 0.11,
    "temp_change_c": 0.10,
    "total_phosphate_mgl": 0.10,
    "nitrate_mgl": 0.10,
    "turbidity_ntu": 0.08,
    "total_solids_mgl": 0.07,
}
PARAMETERS = tuple(WEIGHTS)

#: Class labels by class index; the index grows as quality worsens (0 Excellent .. 4 Very bad).
CLASS_LABELS = ("Excellent", "Good", "Medium", "Bad", "Very bad")
#: Lower bound of each class, best first.
CLASS_FLOORS = (90.0, 70.0, 50.0, 25.0, 0.0)

_Piece = tuple[float, Callable[[FloatArray], FloatArray]]


def _curve(pieces: list[_Piece], tail: float, floor_value: float | None = None,
           floor_at: float = -math.inf) -> Callable[[FloatArray], FloatArray]:
    """A curve from (upper bound, function) pieces in increasing order; ``tail`` beyond the
    last bound; ``floor_value`` at and below ``floor_at``."""

    def q(x: FloatArray) -> FloatArray:
        conditions = [x <= floor_at] if floor_value is not None else []
        choices: list[FloatArray | float] = [floor_value] if floor_value is not None else []
        for bound, fn in pieces:
            conditions.append(x <= bound)
            with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
                choices.append(fn(x))
        out = np.select(conditions, choices, default=tail)
        return np.where(np.isnan(x), np.nan, np.clip(out, 0.0, 100.0))

    return q


def _log10(x: FloatArray) -> FloatArray:
    return np.log10(np.maximum(x, 1e-300))


_CURVES: dict[str, Callable[[FloatArray], FloatArray]] = {
    "do_sat_pct": _curve([
        (50.0, lambda x: 3 + 0.34 * x + 0.008095 * x**2 + 1.35252e-5 * x**3),
        (85.0, lambda x: 3 - 1.166 * x + 0.058 * x**2 - 3.803435e-4 * x**3),
        (100.0, lambda x: 3 + 3.7745 * np.abs(x) ** 0.704889),
        (140.0, lambda x: 3 + 2.9 * x - 0.02496 * x**2 + 5.60919e-5 * x**3),
    ], tail=50.0, floor_value=0.0, floor_at=0.0),
    "fecal_coliform_cfu100ml": _curve([
        (10.0, lambda x: 100 - 33 * _log10(x)),
        (1e5, lambda x: 100 - 37.2 * _log10(x) + 3.60743 * _log10(x) ** 2),
    ], tail=3.0, floor_value=100.0, floor_at=1.0),
    "ph": _curve([
        (4.0, lambda x: 13.6 - 10.6 * x + 2.4364 * x**2),
        (6.2, lambda x: 155.5 - 77.36 * x + 10.2481 * x**2),
        (7.0, lambda x: -657.2 + 197.38 * x - 12.9167 * x**2),
        (8.0, lambda x: -427.8 + 142.05 * x - 9.695 * x**2),
        (8.5, lambda x: 216 - 16 * x),
        (9.0, lambda x: 1415823 * np.exp(-1.1507 * x)),
        (10.0, lambda x: 288 - 27 * x),
        (12.0, lambda x: 633 - 106.5 * x + 4.5 * x**2),
    ], tail=3.0, floor_value=2.0, floor_at=2.0),
    "bod_mgl": _curve([
        (5.0, lambda x: 99.96 * np.exp(-0.1232728 * x)),
        (15.0, lambda x: 104.67 - 31.5463 * np.log(np.maximum(x, 1e-300))),
        (30.0, lambda x: 4394.91 * np.maximum(x, 1e-300) ** -1.99809),
    ], tail=2.0),
    "temp_change_c": lambda x: np.where(np.isnan(x), np.nan,
                                        np.maximum(5.0, 94.0 - 4.4 * np.abs(x))),
    "total_phosphate_mgl": _curve([
        (1.0, lambda x: 99 * np.exp(-0.91629 * x)),
        (5.0, lambda x: 57.6 - 20.178 * x + 2.1326 * x**2),
        (10.0, lambda x: 19.8 * np.exp(-0.13544 * x)),
    ], tail=5.0),
    "nitrate_mgl": _curve([
        (10.0, lambda x: 100 - 8.169 * x + 0.3059 * x**2),
        (60.0, lambda x: 101.9 - 23.1023 * np.log(np.maximum(x, 1e-300))),
        (100.0, lambda x: 159.3148 * np.exp(-0.0512842 * x)),
    ], tail=1.0),
    "turbidity_ntu": _curve([
        (25.0, lambda x: 100.17 - 2.67 * x + 0.03775 * x**2),
        (100.0, lambda x: 84.76 * np.exp(-0.016206 * x)),
    ], tail=5.0),
    "total_solids_mgl": _curve([
        (150.0, lambda x: 79.75 + 0.166 * x - 0.001088 * x**2),
        (500.0, lambda x: 101.67 - 0.13917 * x),
    ], tail=32.0),
}

#: Stated precision of each curve, in Q units (see the module docstring).
PRECISION: dict[str, float] = {name: 3.0 for name in PARAMETERS} | {
    "fecal_coliform_cfu100ml": 8.0, "temp_change_c": 15.0}


def subindex(parameter: str, value: float | npt.ArrayLike) -> FloatArray:
    """The sub-index Q (0..100) of ``value``; NaN stays NaN. Array in, array out.

    The NSF worked example (fotsch.org) reads DO 82 % → 90, pH 7.67 → 92, nitrate 5 → 67;
    these curves give, within their stated precision:

    >>> [round(float(subindex(p, x)), 1) for p, x in
    ...  [("do_sat_pct", 82), ("ph", 7.67), ("nitrate_mgl", 5), ("total_solids_mgl", 150)]]
    [87.7, 91.4, 66.8, 80.2]
    >>> float(subindex("fecal_coliform_cfu100ml", 2e5))  # beyond 10^5 per 100 mL
    3.0
    """
    curve = _CURVES.get(parameter)
    if curve is None:
        raise ValidationError(f"{parameter!r} is not an NSF WQI parameter "
                              f"({', '.join(PARAMETERS)})", field=parameter)
    return curve(np.asarray(value, dtype=np.float64))


def aggregate(subindices: Mapping[str, float], weights: Mapping[str, float] = WEIGHTS,
              ) -> float:
    """Weighted arithmetic mean of the sub-indices present (NaN or absent ones are left out
    and the weights of the others rescaled); NaN when none is present.

    The published worked example, from its Q values (fotsch.org, "WQI Background"):

    >>> q = {"do_sat_pct": 90, "fecal_coliform_cfu100ml": 72, "ph": 92, "bod_mgl": 80,
    ...      "temp_change_c": 72, "total_phosphate_mgl": 60, "nitrate_mgl": 67,
    ...      "turbidity_ntu": 85, "total_solids_mgl": 78}
    >>> round(aggregate(q), 1)
    77.9
    >>> round(aggregate({"do_sat_pct": 90, "ph": 92}), 2)  # (0.17·90 + 0.11·92) / 0.28
    90.79
    """
    total = weight_sum = 0.0
    for name, q in subindices.items():
        w = weights.get(name)
        if w is None:
            raise ValidationError(f"no weight for {name!r}", field=name)
        if q is None or math.isnan(q):
            continue
        if w < 0:
            raise ValidationError(f"weight of {name} is negative", field=name)
        total += w * float(q)
        weight_sum += w
    return total / weight_sum if weight_sum > 0 else math.nan


def wqi_class(wqi: float) -> int:
    """Class index of a WQI: 0 Excellent (≥ 90), 1 Good (≥ 70), 2 Medium (≥ 50), 3 Bad
    (≥ 25), 4 Very bad.

    >>> [wqi_class(v) for v in (100, 90, 89.99, 70, 50, 25, 24.9, 0)]
    [0, 0, 1, 1, 2, 3, 4, 4]
    """
    if math.isnan(wqi):
        raise ValidationError("WQI is NaN: no parameter present", field="wqi")
    for index, floor in enumerate(CLASS_FLOORS):
        if wqi >= floor:
            return index
    return len(CLASS_FLOORS) - 1


@dataclass(frozen=True, slots=True)
class WqiResult:
    """A WQI with its class and the sub-indices and rescaled weights it came from."""

    wqi: float
    klass: int
    subindices: dict[str, float]
    weights: dict[str, float]

    @property
    def label(self) -> str:
        return CLASS_LABELS[self.klass]


def nsf_wqi(values: Mapping[str, float | None]) -> WqiResult:
    """The NSF WQI of one sample, from the parameters it has (by variable name).

    The worked example's inputs through these curves (76.6; the published 77.9 comes from
    the NSF chart readings):

    >>> r = nsf_wqi({"do_sat_pct": 82, "fecal_coliform_cfu100ml": 12, "ph": 7.67,
    ...              "bod_mgl": 2, "temp_change_c": 5, "total_phosphate_mgl": 0.5,
    ...              "nitrate_mgl": 5, "turbidity_ntu": 5, "total_solids_mgl": 150})
    >>> round(r.wqi, 1), r.label
    (76.6, 'Good')
    """
    q: dict[str, float] = {}
    for name, value in values.items():
        if name not in WEIGHTS or value is None or math.isnan(value):
            continue
        q[name] = float(subindex(name, value))
    if not q:
        raise ValidationError("no NSF WQI parameter present", field="values")
    wqi = aggregate(q)
    total = sum(WEIGHTS[n] for n in q)
    return WqiResult(wqi, wqi_class(wqi), q, {n: WEIGHTS[n] / total for n in q})


def do_saturation_mgl(temp_c: float | npt.ArrayLike) -> FloatArray:
    """Dissolved-oxygen saturation of fresh water at 1 atm, mg/L (Benson & Krause 1984, the
    equation of APHA Standard Methods 4500-O; valid 0-40 °C).

    >>> [round(float(do_saturation_mgl(t)), 3) for t in (0, 20, 25)]
    [14.621, 9.092, 8.263]
    """
    kelvin = np.asarray(temp_c, dtype=np.float64) + 273.15
    return np.exp(-139.34411 + 1.575701e5 / kelvin - 6.642308e7 / kelvin**2
                  + 1.243800e10 / kelvin**3 - 8.621949e11 / kelvin**4)


def do_percent_saturation(do_mgl: float | npt.ArrayLike,
                          temp_c: float | npt.ArrayLike) -> FloatArray:
    """DO in % saturation from mg/L and water temperature (sea-level pressure).

    >>> round(float(do_percent_saturation(7.5, 25.0)), 1)
    90.8
    """
    return 100.0 * np.asarray(do_mgl, dtype=np.float64) / do_saturation_mgl(temp_c)
