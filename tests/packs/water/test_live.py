"""Live WQI and CPCB class through the real pipeline on SQLite: each report time, the
windows, DO from mg/L, bad readings, late readings, the pack channel, the demo backfill."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from riskcast.core.clock import to_us
from riskcast.core.readings import ReadingIn
from riskcast.core.sites import Site
from riskcast.ingest.simulator import Simulator
from riskcast.packs.water.cpcb import class_index, cpcb_class
from riskcast.packs.water.simulator import RiverStation
from riskcast.packs.water.wqi import do_percent_saturation, nsf_wqi
from riskcast.pipeline import Pipeline

from .conftest import close, open_pipeline

pytestmark = pytest.mark.anyio
T0 = datetime(2026, 3, 2, 6, tzinfo=UTC)
#: The NSF worked example's inputs, and what the CPCB classes need besides.
SAMPLE = {"do_sat_pct": 82.0, "fecal_coliform_cfu100ml": 12.0, "ph": 7.67, "bod_mgl": 2.0,
          "temp_change_c": 5.0, "total_phosphate_mgl": 0.5, "nitrate_mgl": 5.0,
          "turbidity_ntu": 5.0, "total_solids_mgl": 150.0, "do_mgl": 6.8,
          "total_coliform_mpn100ml": 40.0, "conductivity_uscm": 300.0}


def items(values: dict[str, float], when: datetime, site: str = "river") -> list[ReadingIn]:
    return [ReadingIn(site=site, variable=k, value=v, time=when) for k, v in values.items()]


async def series(p: Pipeline, name: str, site: str = "river") -> list[tuple[int, float, int]]:
    return [(pt.time, pt.value, pt.quality)
            for pt in await p.storage.read_series(site, name, 0, 2**62, limit=10_000)]


async def test_indices_are_written_at_each_report_time(pipeline: Pipeline) -> None:
    later = dict(SAMPLE, fecal_coliform_cfu100ml=20_000.0, total_coliform_mpn100ml=90_000.0)
    await pipeline.ingest(items(SAMPLE, T0) + items(later, T0 + timedelta(hours=1)))
    await pipeline.derive.drained()
    want = [nsf_wqi(SAMPLE), nsf_wqi(later)]
    times = [to_us(T0), to_us(T0 + timedelta(hours=1))]
    assert await series(pipeline, "wqi") == [
        (t, round(w.wqi, 4), 0) for t, w in zip(times, want, strict=True)]
    assert [v for _, v, _ in await series(pipeline, "wqi_class")] == [1.0, float(want[1].klass)]
    assert [v for _, v, _ in await series(pipeline, "cpcb_class")] == [
        float(class_index("A")), float(class_index(cpcb_class(later) or "?"))]


async def test_do_saturation_comes_from_mg_per_litre_and_water_temperature(
        pipeline: Pipeline) -> None:
    values = {k: v for k, v in SAMPLE.items() if k != "do_sat_pct"}
    values |= {"do_mgl": 7.5, "water_temp_c": 25.0}
    await pipeline.ingest(items(values, T0))
    await pipeline.derive.drained()
    expected = nsf_wqi(values | {"do_sat_pct": float(do_percent_saturation(7.5, 25.0))})
    assert (await series(pipeline, "wqi"))[0][1] == round(expected.wqi, 4)


async def test_lab_values_last_a_day_and_sensor_values_an_hour(pipeline: Pipeline) -> None:
    lab = {"bod_mgl": 2.0, "fecal_coliform_cfu100ml": 12.0, "total_phosphate_mgl": 0.5,
           "nitrate_mgl": 5.0}
    await pipeline.ingest(items(lab | {"do_sat_pct": 82.0, "ph": 7.67}, T0))
    await pipeline.ingest(items({"ph": 7.2, "turbidity_ntu": 9.0}, T0 + timedelta(hours=3)))
    await pipeline.derive.drained()
    got = await series(pipeline, "wqi")
    assert len(got) == 2
    # Three hours on, DO (a sensor value) has expired but the lab results still count.
    assert got[1][1] == round(nsf_wqi(lab | {"ph": 7.2, "turbidity_ntu": 9.0}).wqi, 4)


async def test_bad_readings_are_left_out_and_suspect_ones_mark_the_index(
        pipeline: Pipeline) -> None:
    await pipeline.ingest(items(SAMPLE | {"ph": 15.0}, T0))  # pH 15: bad
    await pipeline.ingest(items(SAMPLE | {"turbidity_ntu": 1500.0},  # implausible: suspect
                                T0 + timedelta(hours=2)))
    await pipeline.derive.drained()
    (_, first, q1), (_, second, q2) = await series(pipeline, "wqi")
    without_ph = {k: v for k, v in SAMPLE.items() if k != "ph"}
    assert first == round(nsf_wqi(without_ph).wqi, 4) and q1 == 0
    assert second == round(nsf_wqi(SAMPLE | {"turbidity_ntu": 1500.0}).wqi, 4) and q2 == 1


async def test_too_few_nsf_parameters_give_no_wqi_but_a_cpcb_class(pipeline: Pipeline) -> None:
    await pipeline.ingest(items({"do_mgl": 5.5, "ph": 7.0, "bod_mgl": 2.5,
                                 "total_coliform_mpn100ml": 400.0}, T0))
    await pipeline.derive.drained()
    assert await series(pipeline, "wqi") == []
    assert [v for _, v, _ in await series(pipeline, "cpcb_class")] == [float(class_index("B"))]


async def test_a_late_lab_result_recomputes_the_later_report_times(pipeline: Pipeline) -> None:
    sensor = {"do_sat_pct": 82.0, "ph": 7.67, "turbidity_ntu": 5.0, "temp_change_c": 1.0}
    await pipeline.ingest(items(sensor, T0) + items(sensor, T0 + timedelta(minutes=30)))
    await pipeline.derive.drained()
    before = await series(pipeline, "wqi")
    await pipeline.ingest(items({"bod_mgl": 25.0}, T0))  # the lab's BOD for the morning
    await pipeline.derive.drained()
    after = await series(pipeline, "wqi")
    assert [t for t, _, _ in after] == [t for t, _, _ in before]
    assert after[1][1] == round(nsf_wqi(sensor | {"bod_mgl": 25.0}).wqi, 4) < before[1][1]


async def test_water_quality_published_on_the_pack_channel(pipeline: Pipeline) -> None:
    listener = pipeline.bus.listen()
    await pipeline.ingest(items(SAMPLE, T0))
    await pipeline.derive.drained()
    async for event in listener:
        if event.channel == "pack.water":
            break
    data = event.data
    assert data["type"] == "water_quality" and data["site"] == "river"
    assert data["wqi"] == round(nsf_wqi(SAMPLE).wqi, 1) and data["label"] == "Good"
    assert data["cpcb_class"] == "A" and data["cpcb_use"].startswith("drinking-water")
    assert data["subindices"]["ph"] == pytest.approx(91.4, abs=0.05)


async def test_demo_backfill_gives_hourly_indices_that_survive_a_restart(
        tmp_path: Path) -> None:
    first = await open_pipeline(tmp_path / "demo.db")
    stations = [RiverStation.make(i, 1) for i in range(2)]
    for s in stations:
        await first.put_site(s.site)
    now = to_us(T0)
    sent = await Simulator(stations, first.ingest).backfill(now=now)
    await first.derive.drained()
    assert sent == 2 * 72 * 13 and first.rejected_total == 0
    stored = {s.site.id: await series(first, "wqi", s.site.id) for s in stations}
    await close(first)
    assert all(len(v) == 72 for v in stored.values())
    second = await open_pipeline(tmp_path / "demo.db")
    try:
        await second.derive.drained()
        station = stations[0]
        await second.ingest(items(station.step(now - 3_600_000_000 * 24), T0 - timedelta(days=1),
                                  station.site.id))
        await second.derive.drained()
        again = await series(second, "wqi", station.site.id)
    finally:
        await close(second)
    assert again == stored[station.site.id]
    yamuna = [v for _, v, _ in stored["water-1"]]
    assert max(yamuna) < 70  # the Yamuna below Delhi is never better than medium


async def test_unknown_pack_site_is_not_derived(pipeline: Pipeline) -> None:
    await pipeline.put_site(Site(id="weather", pack="generic"))
    await pipeline.ingest([ReadingIn(site="weather", variable="temp_c", value=20.0, time=T0)])
    await pipeline.derive.drained()
    assert await series(pipeline, "wqi", "weather") == []
