"""Effectiveness from (time, verdict) pairs: counts, precision, Wilson, weekly trend."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from riskcast.core.clock import parse_time
from riskcast.feedback.effectiveness import WEEK_US, effectiveness, week_start

DATA = Path(__file__).resolve().parents[2] / ".." / "shared" / "data"
VECTORS: dict[str, Any] = json.loads((DATA / "rec_stats_test_vectors.json").read_text())
MONDAY = parse_time("2026-01-05T00:00:00Z")


def test_weeks_start_on_monday_utc() -> None:
    assert week_start(MONDAY) == MONDAY
    assert week_start(MONDAY + WEEK_US - 1) == MONDAY
    assert week_start(MONDAY - 1) == MONDAY - WEEK_US


@pytest.mark.parametrize(("k", "n", "low"), [(k, n, low) for k, n, low, _ in VECTORS["wilson"]])
def test_precision_and_wilson_bound_from_verdicts(k: int, n: int, low: float) -> None:
    records = ([(MONDAY, "true_positive")] * k + [(MONDAY, "false_positive")] * (n - k)
               + [(MONDAY, "unsure")] * 3)
    e = effectiveness(records)
    assert (e.counts.positive, e.counts.negative, e.counts.other) == (k, n - k, 3)
    assert e.precision == pytest.approx(k / n)
    assert e.wilson_lower_bound == pytest.approx(low, abs=1e-6)


def test_no_scored_feedback() -> None:
    e = effectiveness([(MONDAY, "unsure")])
    assert (e.precision, e.wilson_lower_bound, e.trend) == (None, 0.0, None)
    assert e.posterior_mean == 0.5


def test_weekly_trend_matches_the_vector_with_ties() -> None:
    v = VECTORS["mann_kendall"]["with_ties"]
    records = []
    for week, x in enumerate(v["x"]):  # week precision = x / 10 (x of 10 right)
        t = MONDAY + week * WEEK_US + 3600_000_000
        records += [(t, "true_positive")] * int(x) + [(t, "false_positive")] * (10 - int(x))
    e = effectiveness(records)
    assert [w.precision for w in e.weeks] == [x / 10 for x in v["x"]]
    assert e.trend is not None
    assert (e.trend.s, e.trend.trend) == (v["S"], v["trend"])
    assert e.trend.var_s == pytest.approx(v["varS"])
    assert e.trend.z == pytest.approx(v["z"])
    assert e.trend.tau == pytest.approx(v["tau"])
    assert e.trend.slope == pytest.approx(v["sen_slope"] / 10)


def test_empty_weeks_are_left_out_and_since_cuts_old_weeks() -> None:
    records = [(MONDAY, "true_positive"), (MONDAY + 3 * WEEK_US, "false_positive"),
               (MONDAY + 4 * WEEK_US, "true_positive")]
    e = effectiveness(records)
    assert [w.start for w in e.weeks] == ["2026-01-05T00:00:00Z", "2026-01-26T00:00:00Z",
                                          "2026-02-02T00:00:00Z"]
    assert e.trend is not None and e.trend.n == 3
    recent = effectiveness(records, since=MONDAY + 3 * WEEK_US + 5)
    assert len(recent.weeks) == 2 and recent.trend is None
    assert recent.counts.total == 3  # counts stay all-time
