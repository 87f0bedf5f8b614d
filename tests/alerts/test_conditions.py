"""Compiled conditions: hysteresis arrays, classes, NaN measures, selectors."""

from __future__ import annotations

import numpy as np

from riskcast.alerts.conditions import Compiled, matches
from riskcast.alerts.rules import Selector, parse_rule
from riskcast.core.sites import Site


def compiled(condition: dict[str, object]) -> Compiled:
    return Compiled(parse_rule({"id": "r", "condition": condition}), capacity=4)


def test_hysteresis_depends_on_the_previous_state() -> None:
    c = compiled({"kind": "threshold", "series": "t", "above": 10, "clear_below": 5})
    was = np.array([False, True, True, False])
    measure = np.array([7.0, 7.0, 4.0, 10.0])
    assert c.decide(was, measure).tolist() == [False, True, False, True]


def test_a_missing_measure_keeps_the_state() -> None:
    c = compiled({"kind": "rate", "series": "t", "window": "1h", "below": -1})
    was = np.array([True, False])
    assert c.decide(was, np.array([np.nan, np.nan])).tolist() == [True, False]


def test_classes_round_to_integers() -> None:
    c = compiled({"kind": "class", "series": "c", "at_least": 3})
    assert c.decide(np.zeros(4, bool), np.array([2.4, 2.6, 3.0, np.nan])).tolist() == [
        False, True, True, False]
    c = compiled({"kind": "class", "series": "c", "any_of": [0, 5]})
    assert c.decide(np.zeros(3, bool), np.array([0.0, 4.0, 5.0])).tolist() == [True, False,
                                                                                 True]


def test_durations_are_parsed_once() -> None:
    c = compiled({"kind": "no_data", "after": "90s"})
    assert (c.no_data_us, c.for_us, c.series) == (90_000_000, 0, None)


def test_selectors() -> None:
    site = Site(id="a", pack="water", tags={"basin": "n", "x": "1"})
    assert matches(Selector(), "a", site)
    assert matches(Selector(pack="water", tags={"basin": "n"}), "a", site)
    assert not matches(Selector(pack="wildfire"), "a", site)
    assert not matches(Selector(tags={"basin": "s"}), "a", site)
    assert not matches(Selector(sites=["b"]), "a", site)
    assert matches(Selector(sites=["a"]), "a", None)
    assert not matches(Selector(pack="water"), "a", None)
