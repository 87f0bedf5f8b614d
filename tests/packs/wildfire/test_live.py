"""Live fire danger through the real pipeline: the published table end to end, late
corrections, restarts, gaps, hourly data to the noon standard, and the pack channel."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, date, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path

import pytest

from riskcast.bus.memory import MemoryBus
from riskcast.core.readings import ReadingIn
from riskcast.core.sites import Site
from riskcast.packs.registry import PackSet
from riskcast.packs.wildfire.noon import first_day_affected, noon_us
from riskcast.pipeline import Pipeline
from riskcast.settings import Settings
from riskcast.storage.sqlite import SqliteStorage

pytestmark = pytest.mark.anyio
CODES = ("ffmc", "dmc", "dc", "isi", "bui", "fwi")


def half_up(value: float, places: str = "0.1") -> float:
    return float(Decimal(repr(value)).quantize(Decimal(places), rounding=ROUND_HALF_UP))


async def open_pipeline(path: Path) -> Pipeline:
    storage = SqliteStorage(path, synchronous="normal")
    await storage.open()
    pipeline = Pipeline(storage, MemoryBus(), PackSet.load(["generic", "wildfire"]),
                        Settings(max_future_skew="1d"))
    await pipeline.start()
    return pipeline


async def close(pipeline: Pipeline) -> None:
    await pipeline.aclose()
    await pipeline.storage.aclose()


@pytest.fixture
async def pipeline(tmp_path: Path) -> AsyncIterator[Pipeline]:
    p = await open_pipeline(tmp_path / "fire.db")
    # lon 0: local standard noon is 12:00Z; lat 44 as in the published table.
    await p.put_site(Site(id="vw", pack="wildfire", lat=44.0, lon=0.0))
    yield p
    await close(p)


def noon_items(table: dict[str, list[str]], days: range, site: str = "vw",
               rain_override: dict[int, float] | None = None) -> list[ReadingIn | None]:
    items: list[ReadingIn | None] = []
    for i in days:
        t = datetime(int(table["year"][i]), int(table["month"][i]), int(table["day"][i]), 12,
                     tzinfo=UTC)
        rain = (rain_override or {}).get(i, float(table["rain_mm"][i]))
        for variable, value in (("temp_c", float(table["temp_c"][i])),
                                ("rh_pct", float(table["rh_pct"][i])),
                                ("wind_kmh", float(table["ws_kmh"][i])), ("rain_mm", rain)):
            items.append(ReadingIn(site=site, variable=variable, value=value, time=t))
    return items


async def codes_by_day(p: Pipeline, site: str = "vw") -> dict[str, list[float]]:
    return {name: [pt.value for pt in await p.storage.read_series(site, name, 0, 2**62,
                                                                  limit=1000)]
            for name in (*CODES, "dsr", "danger_class")}


async def test_published_table_reproduced_through_the_pipeline(
        pipeline: Pipeline, vanwagner_pickett_1985: dict[str, list[str]]) -> None:
    table = vanwagner_pickett_1985
    await pipeline.ingest(noon_items(table, range(49)))
    await pipeline.derive.drained()
    got = await codes_by_day(pipeline)
    for code in CODES:
        want = [float(v) for v in table[f"{code.upper()}_published"]]
        assert [half_up(v) for v in got[code]] == want, code
    assert [half_up(v, "0.01") for v in got["dsr"]] == [
        float(v) for v in table["DSR_published"]]
    assert got["danger_class"][0] == 1.0  # FWI 10.1: EFFIS "low"


async def test_late_correction_recomputes_that_day_and_after(
        pipeline: Pipeline, vanwagner_pickett_1985: dict[str, list[str]]) -> None:
    table = vanwagner_pickett_1985
    await pipeline.ingest(noon_items(table, range(49)))
    await pipeline.derive.drained()
    before = await codes_by_day(pipeline)
    # A corrected rain gauge reading for day 20 arrives late: 30 mm instead of what was sent.
    await pipeline.ingest(noon_items(table, range(20, 21), rain_override={20: 30.0}))
    await pipeline.derive.drained()
    after = await codes_by_day(pipeline)
    assert after["dc"][:20] == before["dc"][:20]
    assert after["dc"][20] < before["dc"][20]
    assert all(a < b for a, b in zip(after["dc"][20:], before["dc"][20:], strict=True))
    assert len(after["fwi"]) == 49


async def test_carried_state_survives_a_restart(
        tmp_path: Path, vanwagner_pickett_1985: dict[str, list[str]]) -> None:
    table = vanwagner_pickett_1985
    first = await open_pipeline(tmp_path / "restart.db")
    await first.put_site(Site(id="vw", pack="wildfire", lat=44.0, lon=0.0))
    await first.ingest(noon_items(table, range(30)))
    await first.derive.drained()
    await close(first)
    second = await open_pipeline(tmp_path / "restart.db")
    try:
        await second.ingest(noon_items(table, range(30, 49)))
        await second.derive.drained()
        got = await codes_by_day(second)
    finally:
        await close(second)
    assert [half_up(v) for v in got["dc"]] == [float(v) for v in table["DC_published"]]


async def test_a_missing_day_restarts_from_startup_codes(
        pipeline: Pipeline, vanwagner_pickett_1985: dict[str, list[str]]) -> None:
    table = vanwagner_pickett_1985
    await pipeline.ingest(noon_items(table, range(10)) + noon_items(table, range(11, 13)))
    await pipeline.derive.drained()
    got = await codes_by_day(pipeline)
    assert len(got["dc"]) == 12
    restarted = Site(id="fresh", pack="wildfire", lat=44.0, lon=0.0)
    await pipeline.put_site(restarted)
    await pipeline.ingest(noon_items(table, range(11, 12), site="fresh"))
    await pipeline.derive.drained()
    fresh = await codes_by_day(pipeline, "fresh")
    assert got["dc"][10] == fresh["dc"][0]  # day 12 computed from DC 15, as a first day is


async def test_hourly_readings_aggregate_to_noon(pipeline: Pipeline) -> None:
    site = Site(id="hourly", pack="wildfire", lat=44.0, lon=30.0)  # UTC+2
    await pipeline.put_site(site)
    start = datetime(2025, 7, 1, tzinfo=UTC)
    items: list[ReadingIn | None] = []
    for h in range(48):
        t = start + timedelta(hours=h)
        local_hour = (h + 2) % 24
        items += [ReadingIn(site="hourly", variable="temp_c", value=20.0 + local_hour / 10,
                            time=t),
                  ReadingIn(site="hourly", variable="rh_pct", value=40.0, time=t),
                  ReadingIn(site="hourly", variable="wind_kmh", value=10.0, time=t),
                  ReadingIn(site="hourly", variable="rain_mm", value=0.5, time=t)]
    await pipeline.ingest(items)
    await pipeline.derive.drained()
    fwi = await pipeline.storage.read_series("hourly", "fwi", 0, 2**62, limit=10)
    # Local noon is 10:00Z; day 1 (1 July) has its noon reading and 11 hourly rain readings.
    assert [p.time for p in fwi] == [noon_us(date(2025, 7, 1), 2), noon_us(date(2025, 7, 2), 2)]
    from riskcast.packs.wildfire.live import step_day
    from riskcast.packs.wildfire.noon import NoonWeather

    day1 = step_day(NoonWeather(date(2025, 7, 1), 21.2, 40.0, 10.0, 5.5, 0), (85, 6, 15), 44.0)
    dmc = await pipeline.storage.read_series("hourly", "dmc", 0, 2**62, limit=10)
    assert dmc[0].value == round(day1.dmc, 6)


async def test_fire_danger_published_on_the_pack_channel(
        pipeline: Pipeline, vanwagner_pickett_1985: dict[str, list[str]]) -> None:
    listener = pipeline.bus.listen()
    await pipeline.ingest(noon_items(vanwagner_pickett_1985, range(3)))
    await pipeline.derive.drained()
    async for event in listener:
        if event.channel == "pack.wildfire":
            break
    assert event.data["site"] == "vw" and event.data["day"] == "1985-04-15"
    assert event.data["label"] in ("very low", "low", "moderate")
    assert event.data["days_computed"] == 3


def test_first_day_affected_by_a_reading() -> None:
    noon = noon_us(date(2025, 7, 1), 0)
    hour = 3_600_000_000
    assert first_day_affected(noon, 0, hour) == date(2025, 7, 1)
    assert first_day_affected(noon + hour, 0, hour) == date(2025, 7, 1)
    assert first_day_affected(noon + hour + 1, 0, hour) == date(2025, 7, 2)
    assert first_day_affected(noon - 5 * hour, 0, hour) == date(2025, 7, 1)
