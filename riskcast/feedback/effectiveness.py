"""Effectiveness from feedback: precision, its Wilson lower bound, and the weekly trend.

Generic over what was judged (an alert, a recommendation): the input is ``(time, verdict)``
pairs where the verdict is positive, negative, or anything else (counted, not scored).

- precision = positives / (positives + negatives), unscored verdicts left out;
- its 95 % Wilson lower bound (:func:`~riskcast.feedback.stats.wilson_lower_bound`) and the
  Beta(1, 1) posterior mean;
- weekly buckets (Monday 00:00 UTC) of the same counts, and the Mann-Kendall test with Sen's
  slope over the precision of the weeks that have scored feedback, oldest first.
"""

from __future__ import annotations

from collections.abc import Iterable

import msgspec

from riskcast.core.clock import format_us
from riskcast.feedback.stats import (
    MannKendall,
    beta_posterior_mean,
    mann_kendall,
    wilson_lower_bound,
)

__all__ = ["MIN_TREND_WEEKS", "WEEK_US", "Counts", "Effectiveness", "Week", "effectiveness",
           "week_start"]

WEEK_US = 7 * 86_400 * 1_000_000
#: 1970-01-05, the first Monday after the epoch.
_MONDAY_US = 4 * 86_400 * 1_000_000
#: Fewer weeks with scored feedback than this give no trend.
MIN_TREND_WEEKS = 3


def week_start(t: int) -> int:
    """The Monday 00:00 UTC on or before ``t`` (microseconds).

    >>> format_us(week_start(1782907200000000))  # Wednesday 1 July 2026, noon
    '2026-06-29T00:00:00Z'
    """
    return (t - _MONDAY_US) // WEEK_US * WEEK_US + _MONDAY_US


class Counts(msgspec.Struct, kw_only=True):
    positive: int = 0
    negative: int = 0
    other: int = 0

    @property
    def scored(self) -> int:
        return self.positive + self.negative

    @property
    def total(self) -> int:
        return self.positive + self.negative + self.other

    @property
    def precision(self) -> float | None:
        return self.positive / self.scored if self.scored else None


class Week(msgspec.Struct, kw_only=True):
    start: str
    positive: int
    negative: int
    other: int
    precision: float | None


class Effectiveness(msgspec.Struct, kw_only=True):
    counts: Counts
    precision: float | None
    wilson_lower_bound: float
    posterior_mean: float
    weeks: list[Week]
    trend: MannKendall | None


def effectiveness(records: Iterable[tuple[int, str]], *, positive: str = "true_positive",
                  negative: str = "false_positive", confidence: float = 0.95,
                  since: int | None = None) -> Effectiveness:
    """Summarize ``(time_us, verdict)`` pairs; weeks start at ``since`` when given.

    >>> e = effectiveness([(0, "true_positive")] * 9 + [(0, "false_positive"), (0, "unsure")])
    >>> e.counts.total, e.precision, round(e.wilson_lower_bound, 6)
    (11, 0.9, 0.59585)
    """
    total = Counts()
    weekly: dict[int, Counts] = {}
    for t, verdict in records:
        bucket = weekly.setdefault(week_start(t), Counts())
        for c in (total, bucket):
            if verdict == positive:
                c.positive += 1
            elif verdict == negative:
                c.negative += 1
            else:
                c.other += 1
    weeks = [Week(start=format_us(start), positive=c.positive, negative=c.negative,
                  other=c.other, precision=c.precision)
             for start, c in sorted(weekly.items()) if since is None or start >= week_start(since)]
    scored = [w.precision for w in weeks if w.precision is not None]
    trend = mann_kendall(scored) if len(scored) >= MIN_TREND_WEEKS else None
    return Effectiveness(
        counts=total, precision=total.precision,
        wilson_lower_bound=wilson_lower_bound(total.positive, total.scored, confidence),
        posterior_mean=beta_posterior_mean(total.positive, total.scored),
        weeks=weeks, trend=trend)
