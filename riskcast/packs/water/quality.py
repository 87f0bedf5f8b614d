"""Quality flags for water readings: 0 good, 1 suspect, 2 bad (riskcast's quality codes).

Four checks, each a pure function over an array of one series in time order:

``impossible`` (bad)
    Outside what the quantity can physically be (:data:`LIMITS` ``physical``): a negative
    concentration, pH outside 0-14, liquid river water above 100 °C. Such a value is a
    sensor, transmission or unit fault, never water.
``implausible`` (suspect)
    Possible but outside what rivers show (``plausible``): pH below 4 (acid mine drainage)
    or above 10, DO above 20 mg/L, turbidity above 1,000 NTU. Real events can get there, so
    the value is kept and flagged for a person to look at.
``stuck`` (suspect)
    The n-th and later of ``n`` identical consecutive values (default 6: 1.5 h at 15-minute
    sampling). A live sonde reports DO, pH, temperature and conductivity to 0.01 and noise
    moves the last digit; six equal values in a row mean a frozen logger or a sensor out of
    the water. Applied to :data:`SENSOR_VARIABLES` only: lab results (BOD, coliform counts)
    are coarse and repeat legitimately.
``spikes`` (suspect)
    A value far from its neighbours by the modified z-score of Iglewicz & Hoaglin (1993,
    "How to detect and handle outliers", ASQC): ``M = 0.6745·(x - median)/MAD`` over the
    ``k`` readings on each side (the point itself left out), flagged when ``|M| > 3.5``, their
    recommended cut. The MAD is floored at the variable's ``resolution`` so that a flat
    series does not turn a 0.01 step into a spike. Needs at least four neighbours. Sensor
    variables only: a pollution event makes coliform counts jump by orders of magnitude.

A check never removes a value; :func:`flags` combines them (the worst wins).
:class:`QualityChecker` runs the same checks on one reading at a time for ingest or a
derivation, with a trailing window (the past ``2k`` readings) since the future is unknown.
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

GOOD, SUSPECT, BAD = 0, 1, 2
BoolArray = npt.NDArray[np.bool_]
FlagArray = npt.NDArray[np.int8]


@dataclass(frozen=True, slots=True)
class Limits:
    """Physical range (outside: bad), plausible range (outside: suspect), and the smallest
    meaningful change (floors the MAD of the spike check)."""

    physical: tuple[float, float]
    plausible: tuple[float, float]
    resolution: float


#: Limits per variable, with why.
LIMITS: dict[str, Limits] = {
    # Liquid water: slight supercooling to boiling; Indian rivers run 10-35 °C, over 40 only
    # at a thermal discharge.
    "water_temp_c": Limits((-5.0, 100.0), (0.0, 40.0), 0.1),
    # DO cannot be negative; 50 mg/L is over 3x saturation at 0 °C. Over 20 mg/L needs a
    # supersaturating bloom in cold water.
    "do_mgl": Limits((0.0, 50.0), (0.0, 20.0), 0.05),
    "do_sat_pct": Limits((0.0, 500.0), (0.0, 200.0), 0.5),
    # The pH scale of a glass electrode; rivers 6-9, below 4 only acid mine drainage.
    "ph": Limits((0.0, 14.0), (4.0, 10.0), 0.05),
    # 0 is deionised water, seawater about 50,000 µS/cm; over 60,000 is brine.
    "conductivity_uscm": Limits((0.0, 200_000.0), (1.0, 60_000.0), 2.0),
    # Sondes read up to about 4,000 NTU; monsoon floods reach hundreds.
    "turbidity_ntu": Limits((0.0, 4_000.0), (0.0, 1_000.0), 0.5),
    # Raw domestic sewage has BOD 200-300 mg/L, some industrial effluents thousands.
    "bod_mgl": Limits((0.0, 10_000.0), (0.0, 300.0), 0.1),
    # Raw sewage carries 10^6-10^8 fecal coliform per 100 mL.
    "fecal_coliform_cfu100ml": Limits((0.0, 1e9), (0.0, 1e7), 1.0),
    "total_coliform_mpn100ml": Limits((0.0, 1e10), (0.0, 1e8), 1.0),
    # WHO's drinking-water guideline is 50 mg/L nitrate; over 100 is exceptional.
    "nitrate_mgl": Limits((0.0, 1_000.0), (0.0, 100.0), 0.05),
    "total_phosphate_mgl": Limits((0.0, 100.0), (0.0, 10.0), 0.01),
    # Seawater holds about 35,000 mg/L of solids.
    "total_solids_mgl": Limits((0.0, 100_000.0), (0.0, 5_000.0), 1.0),
    "free_ammonia_mgl": Limits((0.0, 100.0), (0.0, 10.0), 0.01),
    # Change from the upstream reference; power-plant plumes add up to about 10-15 °C.
    "temp_change_c": Limits((-30.0, 50.0), (-10.0, 15.0), 0.1),
    "sar": Limits((0.0, 200.0), (0.0, 50.0), 0.1),
    "boron_mgl": Limits((0.0, 100.0), (0.0, 10.0), 0.01),
}
#: Variables measured continuously by a sonde: the stuck and spike checks apply to these.
SENSOR_VARIABLES = frozenset({"water_temp_c", "do_mgl", "do_sat_pct", "ph",
                              "conductivity_uscm", "turbidity_ntu"})


def _array(values: npt.ArrayLike) -> npt.NDArray[np.float64]:
    return np.asarray(values, dtype=np.float64)


def impossible(values: npt.ArrayLike, limits: Limits) -> BoolArray:
    """True where a value is outside the physical range (NaN counts as impossible).

    >>> impossible([7.0, -0.1, 14.5, float("nan")], LIMITS["ph"]).tolist()
    [False, True, True, True]
    """
    x = _array(values)
    low, high = limits.physical
    with np.errstate(invalid="ignore"):
        return ~((x >= low) & (x <= high))


def implausible(values: npt.ArrayLike, limits: Limits) -> BoolArray:
    """True where a value is physically possible but outside the plausible range.

    >>> implausible([7.0, 3.5, 11.0, 15.0], LIMITS["ph"]).tolist()
    [False, True, True, False]
    """
    x = _array(values)
    low, high = limits.plausible
    with np.errstate(invalid="ignore"):
        return ~impossible(x, limits) & ((x < low) | (x > high))


def stuck(values: npt.ArrayLike, n: int = 6) -> BoolArray:
    """True at the n-th and later of ``n`` or more identical consecutive values.

    >>> stuck([1, 2, 2, 2, 2, 3], n=3).tolist()
    [False, False, False, True, True, False]
    """
    if n < 2:
        raise ValueError("n must be at least 2")
    x = _array(values)
    out = np.zeros(x.shape, dtype=np.bool_)
    run = 1
    for i in range(1, len(x)):
        run = run + 1 if x[i] == x[i - 1] else 1
        out[i] = run >= n
    return out


def modified_z(value: float, neighbours: Sequence[float] | npt.NDArray[np.float64],
               resolution: float) -> float:
    """Iglewicz & Hoaglin's modified z-score of ``value`` against ``neighbours``.

    >>> round(modified_z(10.0, [7.0, 7.1, 6.9, 7.0, 7.2, 6.8], 0.05), 1)
    20.2
    """
    ref = np.asarray(neighbours, dtype=np.float64)
    ref = ref[~np.isnan(ref)]
    median = float(np.median(ref))
    mad = max(float(np.median(np.abs(ref - median))), resolution)
    return 0.6745 * (value - median) / mad


def spikes(values: npt.ArrayLike, resolution: float, *, k: int = 5, threshold: float = 3.5,
           centered: bool = True) -> BoolArray:
    """True where a value's modified z-score against its ``k`` neighbours on each side (or
    the ``2k`` before it when not ``centered``) exceeds ``threshold``.

    >>> spikes([7.0, 7.1, 6.9, 7.0, 12.0, 7.1, 7.0, 6.9, 7.0], 0.05, k=3).tolist()
    [False, False, False, False, True, False, False, False, False]
    """
    x = _array(values)
    out = np.zeros(x.shape, dtype=np.bool_)
    for i, value in enumerate(x):
        if math.isnan(value):
            continue
        if centered:
            neighbours = np.concatenate([x[max(0, i - k):i], x[i + 1:i + 1 + k]])
        else:
            neighbours = x[max(0, i - 2 * k):i]
        neighbours = neighbours[~np.isnan(neighbours)]
        if len(neighbours) >= 4:
            out[i] = abs(modified_z(float(value), neighbours, resolution)) > threshold
    return out


def flags(variable: str, values: npt.ArrayLike, *, stuck_after: int = 6, k: int = 5,
          threshold: float = 3.5, limits: Mapping[str, Limits] = LIMITS) -> FlagArray:
    """All checks on one series: 2 where impossible, 1 where implausible, stuck or a spike.

    >>> flags("ph", [7.0, 7.1, 6.9, 7.0, 12.0, 7.1, 7.0, 6.9, 7.0, -1.0], k=3).tolist()
    [0, 0, 0, 0, 1, 0, 0, 0, 0, 2]
    """
    x = _array(values)
    lim = limits[variable]
    bad = impossible(x, lim)
    suspect = implausible(x, lim)
    if variable in SENSOR_VARIABLES:
        clean = np.where(bad, np.nan, x)
        suspect |= stuck(x, stuck_after) | spikes(clean, lim.resolution, k=k,
                                                  threshold=threshold)
    return np.where(bad, BAD, np.where(suspect, SUSPECT, GOOD)).astype(np.int8)


class QualityChecker:
    """The checks one reading at a time, per (site, variable), for ingest or a derivation.

    Keeps the last ``2k`` good-or-suspect values of each series it has seen; it is state of
    the object that owns the checker (a pipeline or a derivation), not of the module.

    >>> qc = QualityChecker(k=2)
    >>> [qc.check("s1", "ph", v) for v in (7.0, 7.1, 7.0, 6.9, 11.5, 7.0, 20.0)]
    [0, 0, 0, 0, 1, 0, 2]
    """

    def __init__(self, limits: Mapping[str, Limits] = LIMITS, *, stuck_after: int = 6,
                 k: int = 5, threshold: float = 3.5) -> None:
        self.limits = dict(limits)
        self.stuck_after = stuck_after
        self.k = k
        self.threshold = threshold
        self._history: dict[tuple[str, str], deque[float]] = {}
        self._runs: dict[tuple[str, str], tuple[float, int]] = {}

    def check(self, site: str, variable: str, value: float) -> int:
        """The flag of ``value``, the next reading of ``variable`` at ``site``; variables
        without limits are good."""
        lim = self.limits.get(variable)
        if lim is None:
            return GOOD
        if bool(impossible([value], lim)[0]):
            return BAD
        flag = SUSPECT if bool(implausible([value], lim)[0]) else GOOD
        if variable not in SENSOR_VARIABLES:
            return flag
        key = (site, variable)
        last, run = self._runs.get(key, (math.nan, 0))
        run = run + 1 if value == last else 1
        self._runs[key] = (value, run)
        history = self._history.setdefault(key, deque(maxlen=2 * self.k))
        if run >= self.stuck_after:
            flag = SUSPECT
        if len(history) >= 4 and abs(modified_z(value, list(history), lim.resolution)) \
                > self.threshold:
            flag = SUSPECT
        history.append(value)
        return flag
