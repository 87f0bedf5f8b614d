"""The engine: conditions per rule over sites, vectorized, answering only changes."""

from __future__ import annotations

from typing import Any

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from riskcast.alerts.engine import Engine, Signal
from riskcast.alerts.rules import parse_rule
from riskcast.core.sites import Site
from tests.alerts.conftest import MINUTE, SITES, T0, readings


def engine_with(*rules: dict[str, Any], sites: dict[str, Site] | None = None) -> Engine:
    table = SITES if sites is None else sites
    engine = Engine(lambda: table)
    engine.refresh_sites(T0)
    engine.set_rules([parse_rule(r) for r in rules], T0)
    return engine


def changes(signals: list[Signal]) -> list[tuple[str, str, bool]]:
    return [(s.rule.id, s.site, s.active) for s in signals]


HOT = {"id": "hot", "condition": {"kind": "threshold", "series": "temp_c", "above": 40,
                                  "clear_below": 35}}
DRY = {"id": "dry", "condition": {"kind": "threshold", "series": "rh_pct", "below": 15,
                                  "clear_above": 20}}


def test_threshold_fires_at_or_above_and_resolves_only_below_the_clear_level() -> None:
    engine = engine_with(HOT)
    seq = [39.9, 40.0, 41, 36, 35.0, 34.9, 39, 40]
    got = [changes(engine.ingest([readings("s1", {"temp_c": v}, T0 + i * MINUTE)], T0))
           for i, v in enumerate(seq)]
    assert got == [[], [("hot", "s1", True)], [], [], [], [("hot", "s1", False)], [],
                   [("hot", "s1", True)]]


def test_threshold_below_direction_mirrors_hysteresis() -> None:
    engine = engine_with(DRY)
    seq = [30, 15, 10, 19, 20, 20.1, 14]
    got = [changes(engine.ingest([readings("s1", {"rh_pct": v}, T0 + i * MINUTE)], T0))
           for i, v in enumerate(seq)]
    assert got == [[], [("dry", "s1", True)], [], [], [], [("dry", "s1", False)],
                   [("dry", "s1", True)]]


def test_signal_carries_value_variable_and_time() -> None:
    engine = engine_with(HOT)
    [signal] = engine.ingest([readings("s2", {"temp_c": 45.5}, T0)], T0 + 7)
    assert (signal.site, signal.value, signal.variable, signal.at) == ("s2", 45.5, "temp_c",
                                                                       T0 + 7)


def test_selector_by_pack_sites_and_tags() -> None:
    rules = [{**HOT, "id": "north", "selector": {"tags": {"region": "north"}}},
             {**HOT, "id": "fire", "selector": {"pack": "wildfire"}},
             {**HOT, "id": "listed", "selector": {"sites": ["s2", "w1"]}}]
    engine = engine_with(*rules)
    events = [readings(s, {"temp_c": 50}, T0) for s in ("s1", "s2", "w1")]
    assert sorted(changes(engine.ingest(events, T0))) == [
        ("fire", "w1", True), ("listed", "s2", True), ("listed", "w1", True),
        ("north", "s1", True)]


def test_class_condition_at_least_and_any_of() -> None:
    engine = engine_with(
        {"id": "high", "condition": {"kind": "class", "series": "danger_class", "at_least": 3}},
        {"id": "odd", "condition": {"kind": "class", "series": "danger_class",
                                    "any_of": [1, 5]}})
    out = []
    for i, v in enumerate([2, 3, 5, 4, 1]):
        out.append(sorted(changes(engine.ingest(
            [readings("w1", {"danger_class": v}, T0 + i * MINUTE)], T0))))
    assert out == [[], [("high", "w1", True)], [("odd", "w1", True)], [("odd", "w1", False)],
                   [("high", "w1", False), ("odd", "w1", True)]]


def test_derived_series_is_just_another_variable() -> None:
    engine = engine_with({"id": "fwi", "condition": {"kind": "threshold", "series": "fwi",
                                                     "above": 30}})
    assert changes(engine.ingest([readings("w1", {"fwi": 31.2}, T0)], T0)) == [
        ("fwi", "w1", True)]


def test_rate_of_change_over_a_window() -> None:
    engine = engine_with({"id": "rise", "condition": {
        "kind": "rate", "series": "level_m", "window": "1h", "above": 1.0, "clear_below": 0.5}})
    seq = [(0, 2.0), (20, 2.4), (40, 2.9), (50, 3.1), (90, 3.3), (130, 3.4), (150, 3.4)]
    got = []
    for minute, v in seq:
        got.append(changes(engine.ingest(
            [readings("s1", {"level_m": v}, T0 + minute * MINUTE)], T0)))
    # 3.1 - 2.0 = 1.1 at 50 min fires; at 90 min the oldest in the window is 2.9 (40 min):
    # +0.4 < 0.5 clears.
    assert got == [[], [], [], [("rise", "s1", True)], [("rise", "s1", False)], [], []]


def test_readings_older_than_the_latest_change_nothing() -> None:
    engine = engine_with(HOT)
    engine.ingest([readings("s1", {"temp_c": 50}, T0 + MINUTE)], T0)
    assert engine.ingest([readings("s1", {"temp_c": 10}, T0)], T0) == []
    assert engine.latest("s1", "temp_c") == (50.0, T0 + MINUTE)


def test_several_readings_of_one_site_in_a_batch_are_taken_in_time_order() -> None:
    engine = engine_with(HOT)
    batch = [readings("s1", {"temp_c": 20}, T0 + 2 * MINUTE),
             readings("s1", {"temp_c": 50}, T0 + MINUTE),
             readings("s1", {"temp_c": 45}, T0)]
    # in time order: 45 fires, 50 holds, 20 clears
    assert changes(engine.ingest(batch, T0)) == [("hot", "s1", True), ("hot", "s1", False)]


def test_bad_readings_are_not_values() -> None:
    engine = engine_with(HOT)
    assert engine.ingest([readings("s1", {"temp_c": 99}, T0, quality="bad")], T0) == []


def test_no_data_fires_after_silence_and_clears_on_arrival() -> None:
    engine = engine_with({"id": "quiet", "condition": {"kind": "no_data", "after": "10m"}},
                         {"id": "no-rain", "condition": {"kind": "no_data", "after": "10m",
                                                         "series": "rain_mm"}},
                         sites={"s1": SITES["s1"]})
    assert engine.check(T0 + 9 * MINUTE) == []
    assert sorted(changes(engine.check(T0 + 10 * MINUTE))) == [
        ("no-rain", "s1", True), ("quiet", "s1", True)]
    assert engine.check(T0 + 11 * MINUTE) == []  # no repeats while it holds
    now = T0 + 12 * MINUTE
    assert changes(engine.ingest([readings("s1", {"temp_c": 1}, now)], now)) == [
        ("quiet", "s1", False)]
    assert changes(engine.ingest([readings("s1", {"rain_mm": 0}, now)], now)) == [
        ("no-rain", "s1", False)]


def test_each_no_data_series_clears_on_its_own_series() -> None:
    engine = engine_with(*[{"id": f"no-{v}", "condition": {"kind": "no_data", "after": "10m",
                                                          "series": v}}
                           for v in ("rain_mm", "rh_pct", "temp_c")],
                         sites={"s1": SITES["s1"]})
    assert len(engine.check(T0 + 10 * MINUTE)) == 3
    now = T0 + 11 * MINUTE
    got = engine.ingest([readings("s1", {"temp_c": 1, "rh_pct": 50}, now)], now)
    assert sorted(changes(got)) == [("no-rh_pct", "s1", False), ("no-temp_c", "s1", False)]


def test_unknown_sites_are_taken_as_they_appear() -> None:
    table = dict(SITES)
    engine = engine_with(HOT, sites=table)
    table["new"] = Site(id="new")
    assert changes(engine.ingest([readings("new", {"temp_c": 41}, T0)], T0)) == [
        ("hot", "new", True)]


def test_changed_rules_start_fresh_and_unchanged_ones_keep_state() -> None:
    engine = engine_with(HOT, DRY)
    engine.ingest([readings("s1", {"temp_c": 50, "rh_pct": 5}, T0)], T0)
    fresh = engine.set_rules([parse_rule(HOT), parse_rule({**DRY, "for": "1m"})], T0)
    assert fresh == {"dry"}
    assert engine.rules["hot"].active[engine.pos["s1"]]
    assert not engine.rules["dry"].active[engine.pos["s1"]]


def test_evaluations_count_rule_site_pairs() -> None:
    engine = engine_with(HOT, {**HOT, "id": "hot2"}, DRY)
    engine.ingest([readings(s, {"temp_c": 1}, T0) for s in ("s1", "s2", "w1")], T0)
    assert engine.evaluations == 6


def _naive(values: list[float], fire: float, clear: float) -> list[bool]:
    active, out = False, []
    for v in values:
        active = v >= clear if active else v >= fire
        out.append(active)
    return out


@settings(max_examples=60, deadline=None)
@given(st.lists(st.lists(st.floats(0, 100, allow_nan=False), min_size=3, max_size=3),
                min_size=1, max_size=30),
       st.floats(10, 90), st.floats(0, 30))
def test_vectorized_hysteresis_matches_a_plain_loop(rows: list[list[float]], fire: float,
                                                    gap: float) -> None:
    sites = {f"x{i}": Site(id=f"x{i}") for i in range(3)}
    rule = {"id": "r", "condition": {"kind": "threshold", "series": "v", "above": fire,
                                     "clear_below": fire - gap}}
    engine = engine_with(rule, sites=sites)
    for step, row in enumerate(rows):
        engine.ingest([readings(f"x{i}", {"v": v}, T0 + step * MINUTE)
                       for i, v in enumerate(row)], T0)
    column = np.array(rows)
    for i in range(3):
        expected = _naive(list(column[:, i]), fire, fire - gap)[-1]
        assert bool(engine.rules["r"].active[engine.pos[f"x{i}"]]) == expected
