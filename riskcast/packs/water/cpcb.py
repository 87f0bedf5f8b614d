"""India's CPCB designated-best-use classes A to E (Central Pollution Control Board, "Water
Quality Criteria", Use-based classification of surface waters; the criteria as given in
SCIENCE.md B.3).

=====  ===========================================================  ==========================
class  use                                                          criteria
=====  ===========================================================  ==========================
A      drinking-water source without conventional treatment,       TC ≤ 50, pH 6.5-8.5,
       after disinfection                                           DO ≥ 6, BOD ≤ 2
B      organised outdoor bathing                                    TC ≤ 500, pH 6.5-8.5,
                                                                    DO ≥ 5, BOD ≤ 3
C      drinking-water source after conventional treatment           TC ≤ 5000, pH 6-9,
                                                                    DO ≥ 4, BOD ≤ 3
D      propagation of wildlife and fisheries                        pH 6.5-8.5, DO ≥ 4,
                                                                    free NH₃ (as N) ≤ 1.2
E      irrigation, industrial cooling, controlled waste disposal    pH 6.0-8.5, EC ≤ 2250,
                                                                    SAR ≤ 26, boron ≤ 2
=====  ===========================================================  ==========================

(TC total coliform MPN/100 mL; DO and BOD₅ at 20 °C in mg/L; EC at 25 °C in µS/cm.) A sample
gets the best class whose criteria all hold; "below-E" when none does.

Missing values. A criterion is *met*, *failed* or *unknown* (its parameter was not
measured). The class is the first whose criteria are all met, provided every better class has
a failed criterion; if a better class is only unknown, the class is undetermined (``None``)
and :func:`cpcb_bounds` gives the range it lies in. Free ammonia, SAR and boron are seldom
measured (the India 2003-2014 data set has none of them), so by default a criterion on them is
assumed met when the value is absent; pass ``assume_met=frozenset()`` to be strict.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass

from riskcast.exceptions import ValidationError

CLASSES = ("A", "B", "C", "D", "E", "below-E")
USES = (
    "drinking-water source without conventional treatment, after disinfection",
    "organised outdoor bathing",
    "drinking-water source after conventional treatment and disinfection",
    "propagation of wildlife and fisheries",
    "irrigation, industrial cooling, controlled waste disposal",
    "not fit for any designated use",
)
#: Parameters (riskcast variable names) the criteria use.
PARAMETERS = ("total_coliform_mpn100ml", "ph", "do_mgl", "bod_mgl", "free_ammonia_mgl",
              "conductivity_uscm", "sar", "boron_mgl")
#: Parameters whose criterion is assumed met when absent, by default.
SELDOM_MEASURED = frozenset({"free_ammonia_mgl", "sar", "boron_mgl"})


@dataclass(frozen=True, slots=True)
class Criterion:
    """``low <= value <= high`` for one parameter."""

    parameter: str
    low: float = -math.inf
    high: float = math.inf

    def holds(self, value: float) -> bool:
        return self.low <= value <= self.high


CRITERIA: dict[str, tuple[Criterion, ...]] = {
    "A": (Criterion("total_coliform_mpn100ml", high=50), Criterion("ph", 6.5, 8.5),
          Criterion("do_mgl", low=6), Criterion("bod_mgl", high=2)),
    "B": (Criterion("total_coliform_mpn100ml", high=500), Criterion("ph", 6.5, 8.5),
          Criterion("do_mgl", low=5), Criterion("bod_mgl", high=3)),
    "C": (Criterion("total_coliform_mpn100ml", high=5000), Criterion("ph", 6.0, 9.0),
          Criterion("do_mgl", low=4), Criterion("bod_mgl", high=3)),
    "D": (Criterion("ph", 6.5, 8.5), Criterion("do_mgl", low=4),
          Criterion("free_ammonia_mgl", high=1.2)),
    "E": (Criterion("ph", 6.0, 8.5), Criterion("conductivity_uscm", high=2250),
          Criterion("sar", high=26), Criterion("boron_mgl", high=2)),
}


def _status(klass: str, sample: Mapping[str, float | None],
            assume_met: frozenset[str]) -> bool | None:
    """True when every criterion of ``klass`` is met, False when one fails, else None."""
    unknown = False
    for criterion in CRITERIA[klass]:
        value = sample.get(criterion.parameter)
        if value is None or math.isnan(value):
            if criterion.parameter not in assume_met:
                unknown = True
            continue
        if not criterion.holds(float(value)):
            return False
    return None if unknown else True


def cpcb_bounds(sample: Mapping[str, float | None],
                assume_met: frozenset[str] = SELDOM_MEASURED) -> tuple[str, str]:
    """(best possible class, class certainly reached) of a sample with missing values; the
    two are equal when the class is determined. Keys other than :data:`PARAMETERS` are
    ignored.

    >>> cpcb_bounds({"do_mgl": 7.0, "ph": 7.5, "bod_mgl": 1.5})  # no coliform count
    ('A', 'D')
    """
    best: str | None = None
    for klass in CLASSES[:-1]:
        status = _status(klass, sample, assume_met)
        if status is False:
            continue
        if best is None:
            best = klass
        if status is True:
            return best, klass
    return best or "below-E", "below-E"


def cpcb_class(sample: Mapping[str, float | None],
               assume_met: frozenset[str] = SELDOM_MEASURED) -> str | None:
    """The designated-best-use class of one sample, ``None`` when missing values leave it
    undetermined.

    >>> cpcb_class({"do_mgl": 7.0, "ph": 7.5, "bod_mgl": 1.5, "total_coliform_mpn100ml": 30})
    'A'
    >>> cpcb_class({"do_mgl": 4.5, "ph": 8.8, "bod_mgl": 3.0, "total_coliform_mpn100ml": 3000})
    'C'
    >>> cpcb_class({"do_mgl": 1.0, "ph": 9.5, "bod_mgl": 30,
    ...             "total_coliform_mpn100ml": 1e6, "conductivity_uscm": 3000})
    'below-E'
    """
    best, reached = cpcb_bounds(sample, assume_met)
    return reached if best == reached else None


def class_index(klass: str) -> int:
    """0 for A .. 5 for below-E (the stored ``cpcb_class`` series).

    >>> class_index("A"), class_index("below-E")
    (0, 5)
    """
    try:
        return CLASSES.index(klass)
    except ValueError:
        raise ValidationError(f"unknown CPCB class {klass!r}", field="class") from None
