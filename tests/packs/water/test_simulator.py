"""The demo river stations: a valid pack, pure functions of time, seasons, the diurnal DO
cycle, and pollution events that push a station down its classes."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from riskcast.core.clock import to_us
from riskcast.packs.water import PACK
from riskcast.packs.water.cpcb import class_index, cpcb_class
from riskcast.packs.water.simulator import (
    BLOCK_US,
    DAY_US,
    HOUR_US,
    STATIONS,
    RiverStation,
)
from riskcast.packs.water.wqi import nsf_wqi
from riskcast.testing import check_pack


def at(year: int, month: int, day: int, hour: int = 0) -> int:
    return to_us(datetime(year, month, day, hour, tzinfo=UTC))


def test_the_pack_passes_check_pack() -> None:
    check_pack(PACK)


def test_stations_are_named_after_real_river_stations() -> None:
    sims = [RiverStation.make(i, 1) for i in range(len(STATIONS) + 1)]
    assert len({s.site.id for s in sims}) == len(sims)
    assert all(s.site.pack == "water" and s.site.lat is not None for s in sims)
    assert sims[0].site.name == "Yamuna at Okhla barrage, Delhi (simulated)"
    assert sims[-1].site.name.endswith(" 2 (simulated)")
    assert sims[0].backfill_days == 3


def test_readings_are_a_pure_function_of_time() -> None:
    t = at(2026, 8, 1, 6)
    a, b = RiverStation.make(1, 7), RiverStation.make(1, 7)
    first = a.step(t)
    a.step(t + DAY_US)
    assert a.step(t) == first == b.step(t)
    assert RiverStation.make(1, 8).step(t) != first


def test_every_reading_of_a_year_stays_in_range() -> None:
    by_name = {v.name: v for v in PACK.variables}
    for index in range(len(STATIONS)):
        sim = RiverStation.make(index, 3)
        for t in range(at(2026, 1, 1), at(2027, 1, 1), 7 * HOUR_US):
            for name, value in sim.step(t).items():
                assert by_name[name].quality_of(value) == 0, (sim.site.name, name, value)


def mean(sim: RiverStation, name: str, start: int, days: int) -> float:
    values = [sim.step(start + h * HOUR_US)[name] for h in range(days * 24)]
    return sum(values) / len(values)


def test_monsoon_is_turbid_and_dilute_and_the_dry_season_is_hot() -> None:
    sim = RiverStation.make(3, 1)  # Periyar: clean, so seasons dominate
    monsoon, dry, winter = at(2026, 7, 20), at(2026, 4, 10), at(2026, 1, 10)
    assert mean(sim, "turbidity_ntu", monsoon, 10) > 3 * mean(sim, "turbidity_ntu", dry, 10)
    assert mean(sim, "conductivity_uscm", monsoon, 10) < mean(sim, "conductivity_uscm", dry, 10)
    assert mean(sim, "water_temp_c", dry, 10) > mean(sim, "water_temp_c", winter, 10) + 4


def test_dissolved_oxygen_peaks_in_the_afternoon_and_bottoms_out_before_dawn() -> None:
    sim = RiverStation.make(2, 1)
    offset = round(sim.site.lon or 0) * HOUR_US // 15  # local solar time
    afternoon, dawn = [], []
    for day in range(20):
        midnight = at(2026, 2, 1) + day * DAY_US - offset
        if sim.event(midnight + 15 * HOUR_US) or sim.event(midnight + 5 * HOUR_US):
            continue
        afternoon.append(sim.step(midnight + 15 * HOUR_US)["do_sat_pct"])
        dawn.append(sim.step(midnight + 5 * HOUR_US)["do_sat_pct"])
    assert len(afternoon) > 10
    assert all(a > d + 5 for a, d in zip(afternoon, dawn, strict=True))


def test_about_three_blocks_in_ten_have_an_event() -> None:
    sim = RiverStation.make(4, 1)
    first = at(2026, 1, 1) // BLOCK_US
    share = sum(sim.event_span(b) is not None for b in range(first, first + 500)) / 500
    assert 0.22 < share < 0.38


@pytest.mark.parametrize("index", range(len(STATIONS)))
def test_pollution_events_push_stations_down_a_class(index: int) -> None:
    sim = RiverStation.make(index, 1)
    first = at(2026, 1, 1) // BLOCK_US
    checked = 0
    for block in range(first, first + 200):
        span = sim.event_span(block)
        if span is None:
            continue
        peak = (span[0] + span[1]) // 2
        before = peak - DAY_US
        if sim.event(peak) < 1.0 or sim.event(before) > 0:
            continue
        calm, polluted = sim.step(before), sim.step(peak)
        wqi_calm, wqi_polluted = nsf_wqi(calm), nsf_wqi(polluted)
        assert wqi_polluted.wqi < wqi_calm.wqi - 10
        assert wqi_polluted.klass > wqi_calm.klass
        calm_class, polluted_class = cpcb_class(calm), cpcb_class(polluted)
        assert calm_class is not None and polluted_class is not None
        assert class_index(polluted_class) >= class_index(calm_class)
        checked += 1
        if checked == 3:
            break
    assert checked == 3


def test_seasonal_weights() -> None:
    from riskcast.packs.water.simulator import season

    assert season(at(2026, 7, 25))[0] > 0.95
    assert season(at(2026, 4, 15))[1] > 0.95
    assert season(at(2026, 1, 1)) == (0.0, 0.0)
    assert season(at(2026, 12, 1) + int(timedelta(days=1).total_seconds() * 1e6)) == (0.0, 0.0)


def test_default_rules_parse_as_alert_rules_of_this_pack() -> None:
    rules_module = pytest.importorskip("riskcast.alerts.rules",
                                       reason="the alerts engine is not installed")
    parse_rule = rules_module.parse_rule
    rules = [parse_rule(r, known_packs={"water"}) for r in PACK.rules]
    assert {r.series for r in rules} == {"wqi_class", "cpcb_class", "do_mgl", None}
    assert any(type(r.condition).__name__ == "NoData" for r in rules)
    assert all(r.selector.pack == "water" for r in rules)


def test_manifest_names_do_not_clash_with_the_weather_packs() -> None:
    from riskcast.packs.registry import PackSet

    packs = PackSet.load()
    assert "water" in packs.packs
    assert "temp_c" not in {v.name for v in PACK.variables}
    assert set(PACK.derived) == {"wqi", "wqi_class", "cpcb_class", "pred_water_do_forecast",
                                 "pred_water_wqi_forecast"}
    assert {m.variable for m in PACK.models} == {"pred_water_do_forecast",
                                                 "pred_water_wqi_forecast"}
