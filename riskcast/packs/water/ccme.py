"""The CCME Water Quality Index 1.0 (Canadian Council of Ministers of the Environment 2001,
"Canadian water quality guidelines for the protection of aquatic life: CCME Water Quality
Index 1.0, Technical Report" and User's Manual).

Over a time window, every sample of a variable that has an objective is a *test*:

- F1 (scope) = 100 · variables failing at least once / variables;
- F2 (frequency) = 100 · failed tests / tests;
- excursion of a failed test = value/objective - 1 when the objective must not be exceeded,
  objective/value - 1 when it must not be fallen below; ``nse`` = Σ excursions / tests and
  F3 (amplitude) = nse / (0.01·nse + 0.01);
- WQI = 100 - √(F1² + F2² + F3²) / 1.732.

Categories: Excellent 95-100, Good 80-94, Fair 65-79, Marginal 45-64, Poor 0-44 (a value
takes the category whose floor it reaches: 94.5 is Good). The manual asks for at least four
variables sampled at least four times; fewer still give a number, with a note saying so.
A value of 0 against a lower-bound objective has an infinite excursion, so F3 = 100.

The test vector of ``shared/data/water_quality_test_vectors.json`` (5 variables, 4 samples each):

>>> r = ccme_wqi(
...     {"do": [8.1, 7.5, 6.2, 6.8], "ph": [7.2, 8.9, 7.8, 6.4],
...      "tp": [0.02, 0.05, 0.03, 0.08], "no3n": [1.2, 2.0, 2.5, 1.1],
...      "ecoli": [50, 400, 120, 30]},
...     {"do": Objective(low=6.0), "ph": Objective(6.5, 9.0), "tp": Objective(high=0.03),
...      "no3n": Objective(high=3.0), "ecoli": Objective(high=200)})
>>> r.f1, r.f2, round(r.f3, 3), round(r.wqi, 2), r.category
(60.0, 20.0, 14.343, 62.56, 'Marginal')
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Literal

from riskcast.exceptions import ValidationError

CATEGORIES = (("Excellent", 95.0), ("Good", 80.0), ("Fair", 65.0), ("Marginal", 45.0),
              ("Poor", 0.0))


@dataclass(frozen=True, slots=True)
class Objective:
    """What a variable must meet: at most ``high``, at least ``low``, or both (a range)."""

    low: float | None = None
    high: float | None = None

    def __post_init__(self) -> None:
        if self.low is None and self.high is None:
            raise ValidationError("an objective needs a low or a high bound", field="objective")
        if self.low is not None and self.high is not None and self.low > self.high:
            raise ValidationError("objective low > high", field="objective")

    @classmethod
    def parse(cls, spec: Sequence[object]) -> Objective:
        """From ``["max", x]``, ``["min", x]`` or ``["range", low, high]``."""
        kind: Literal["max", "min", "range"] = spec[0]  # type: ignore[assignment]
        numbers = [float(v) for v in spec[1:]]  # type: ignore[arg-type]
        if kind == "max" and len(numbers) == 1:
            return cls(high=numbers[0])
        if kind == "min" and len(numbers) == 1:
            return cls(low=numbers[0])
        if kind == "range" and len(numbers) == 2:
            return cls(low=numbers[0], high=numbers[1])
        raise ValidationError(f"objective {list(spec)!r}: use ['max', x], ['min', x] or "
                              "['range', low, high]", field="objective")

    def excursion(self, value: float) -> float:
        """0 when ``value`` meets the objective, else its relative excursion."""
        if self.high is not None and value > self.high:
            return value / self.high - 1.0 if self.high > 0 else math.inf
        if self.low is not None and value < self.low:
            return self.low / value - 1.0 if value > 0 else math.inf
        return 0.0


@dataclass(frozen=True, slots=True)
class CcmeResult:
    """The three factors, the index and its category, and how much data it rests on."""

    f1: float
    f2: float
    nse: float
    f3: float
    wqi: float
    category: str
    variables: int
    tests: int
    notes: list[str] = field(default_factory=list)


def category(wqi: float) -> str:
    """The CCME category of an index value.

    >>> [category(v) for v in (100, 95, 94.9, 80, 65, 62.56, 45, 44.9)]
    ['Excellent', 'Excellent', 'Good', 'Good', 'Fair', 'Marginal', 'Marginal', 'Poor']
    """
    for name, floor in CATEGORIES:
        if wqi >= floor:
            return name
    return CATEGORIES[-1][0]


def ccme_wqi(samples: Mapping[str, Iterable[float | None]],
             objectives: Mapping[str, Objective]) -> CcmeResult:
    """The CCME WQI of ``samples`` (values per variable over the window; None or NaN are not
    tests) against ``objectives``. Variables without an objective are left out, with a note.

    A small example: DO ≥ 6 mg/L always met, total phosphorus ≤ 0.03 mg/L failed once:

    >>> r = ccme_wqi({"do": [8.1, 7.5], "tp": [0.02, 0.06]},
    ...              {"do": Objective(low=6.0), "tp": Objective(high=0.03)})
    >>> r.f1, r.f2, round(r.nse, 3), round(r.wqi, 2), r.category
    (50.0, 25.0, 0.25, 65.72, 'Fair')
    >>> r.notes[0]
    'only 2 variables: CCME asks for at least 4'
    """
    notes: list[str] = []
    failed_variables = tests = failed_tests = 0
    excursions = 0.0
    counts: list[int] = []
    for name, values in samples.items():
        objective = objectives.get(name)
        if objective is None:
            notes.append(f"{name}: no objective, left out")
            continue
        n = 0
        failed_here = False
        for value in values:
            if value is None or math.isnan(value):
                continue
            n += 1
            excursion = objective.excursion(float(value))
            if excursion > 0:
                failed_tests += 1
                failed_here = True
                excursions += excursion
        if n == 0:
            notes.append(f"{name}: no samples in the window, left out")
            continue
        counts.append(n)
        tests += n
        failed_variables += failed_here
    if tests == 0:
        raise ValidationError("no variable with an objective has a sample", field="samples")
    if len(counts) < 4:
        notes.append(f"only {len(counts)} variables: CCME asks for at least 4")
    if min(counts) < 4:
        notes.append(f"a variable has {min(counts)} samples: CCME asks for at least 4")
    f1 = 100.0 * failed_variables / len(counts)
    f2 = 100.0 * failed_tests / tests
    nse = excursions / tests
    f3 = 100.0 if math.isinf(nse) else nse / (0.01 * nse + 0.01)
    wqi = 100.0 - math.sqrt(f1 * f1 + f2 * f2 + f3 * f3) / 1.732
    wqi = max(0.0, wqi)
    return CcmeResult(f1, f2, nse, f3, wqi, category(wqi), len(counts), tests, notes)


def in_window(series: Iterable[tuple[int, float]], start: int, end: int) -> list[float]:
    """The values of ``(time, value)`` pairs with ``start <= time < end`` (one window)."""
    return [value for t, value in series if start <= t < end]
