"""The storage contract as runnable checks. Each check gets a fresh, opened storage."""

from __future__ import annotations

import asyncio
import math
import random
from collections.abc import Awaitable, Callable

from riskcast.core.sites import Site
from riskcast.storage.base import Storage

StorageCheck = Callable[[Storage], Awaitable[None]]
HOUR = 3_600_000_000
T0 = 1_782_907_200_000_000  # 2026-07-01T12:00:00Z


async def sites_round_trip(storage: Storage) -> None:
    """put_site creates then replaces; get_sites returns by id order; unknown ids skipped."""
    assert await storage.put_site(Site(id="b", name="B", lat=1.5, lon=2.5, tags={"k": "v"}))
    assert await storage.put_site(Site(id="a", name="A"))
    assert not await storage.put_site(Site(id="b", name="B2", pack="other"))
    sites = await storage.get_sites()
    assert [s.id for s in sites] == ["a", "b"]
    assert sites[1].name == "B2" and sites[1].pack == "other"
    assert [s.id for s in await storage.get_sites(["b", "nope"])] == ["b"]
    assert await storage.get_sites([]) == []
    one = (await storage.get_sites(["a"]))[0]
    assert one.lat is None and one.tags == {}


async def delete_site_keeps_readings_unless_purged(storage: Storage) -> None:
    """delete_site keeps readings; purge removes them; deleting twice answers False."""
    for sid in ("keep", "purge"):
        await storage.put_site(Site(id=sid))
        await storage.write_readings([(sid, "x", T0, 1.0, 0, "t")])
    assert await storage.delete_site("keep")
    assert not await storage.delete_site("keep")
    assert len(await storage.read_series("keep", "x", 0, T0 + 1, limit=10)) == 1
    assert await storage.delete_site("purge", purge=True)
    assert await storage.read_series("purge", "x", 0, T0 + 1, limit=10) == []
    assert await storage.latest("purge") == []


async def readings_replace_on_same_key(storage: Storage) -> None:
    """A row with the same (site, variable, time) replaces the stored one (idempotent)."""
    rows = [("s", "v", T0 + i, float(i), 0, "a") for i in range(5)]
    await storage.write_readings(rows)
    await storage.write_readings(rows)
    await storage.write_readings([("s", "v", T0 + 2, 99.0, 2, "b")])
    points = await storage.read_series("s", "v", T0, T0 + 10, limit=100)
    assert [p.time for p in points] == [T0 + i for i in range(5)]
    assert points[2].value == 99.0 and points[2].quality == 2 and points[2].source == "b"
    assert [p.value for p in points if p.time != T0 + 2] == [0.0, 1.0, 3.0, 4.0]


async def read_series_window_order_limit(storage: Storage) -> None:
    """start is inclusive, end exclusive; order ascending or descending; limit holds."""
    times = [T0 + k * 1000 for k in (5, 1, 4, 2, 3)]
    await storage.write_readings([("s", "v", t, float(t - T0), 0, None) for t in times])
    await storage.write_readings([("s", "w", T0 + 2000, -1.0, 0, None),
                                  ("o", "v", T0 + 2000, -2.0, 0, None)])
    got = await storage.read_series("s", "v", T0 + 2000, T0 + 5000, limit=100)
    assert [p.time - T0 for p in got] == [2000, 3000, 4000]
    got = await storage.read_series("s", "v", 0, T0 + 10_000, limit=2, descending=True)
    assert [p.time - T0 for p in got] == [5000, 4000]
    assert await storage.read_series("s", "nope", 0, T0 * 2, limit=5) == []


async def rollup_matches_plain_python(storage: Storage) -> None:
    """Rollups equal a plain-Python computation: floor buckets, bad left out."""
    rng = random.Random(7)
    rows = []
    for _ in range(500):
        t = T0 + rng.randrange(-50 * HOUR, 50 * HOUR)
        rows.append(("s", "v", t, rng.uniform(-10, 10), rng.choice((0, 0, 1, 2)), None))
    dedup = {r[2]: r for r in rows}
    await storage.write_readings(list(dedup.values()))
    every = 7 * HOUR
    start, end = T0 - 40 * HOUR, T0 + 45 * HOUR
    expect: dict[int, list[float]] = {}
    for _, _, t, value, quality, _ in dedup.values():
        if start <= t < end and quality < 2:
            expect.setdefault(t // every * every, []).append(value)
    got = await storage.rollup("s", "v", start, end, every)
    assert [b.start for b in got] == sorted(expect)
    for b in got:
        values = expect[b.start]
        assert b.count == len(values)
        assert b.min == min(values) and b.max == max(values)
        assert math.isclose(b.mean, sum(values) / len(values), rel_tol=1e-9, abs_tol=1e-9)


async def latest_per_variable(storage: Storage) -> None:
    """latest gives the newest reading of each variable, ordered by variable."""
    await storage.write_readings([
        ("s", "b", T0 + 5, 1.0, 0, None), ("s", "b", T0 + 9, 2.0, 1, None),
        ("s", "a", T0 + 1, 3.0, 0, None), ("t", "a", T0 + 100, 4.0, 0, None)])
    got = await storage.latest("s")
    assert [(x.variable, x.time, x.value, x.quality) for x in got] == [
        ("a", T0 + 1, 3.0, 0), ("b", T0 + 9, 2.0, 1)]
    assert await storage.latest("none") == []


async def delete_before_respects_variables(storage: Storage) -> None:
    """Retention deletes only older rows of the chosen variables."""
    await storage.write_readings([(s, v, T0 + k, 0.0, 0, None)
                                  for s in ("p", "q") for v in ("x", "y") for k in range(10)])
    assert await storage.delete_readings_before(T0 + 4, variables=["x"]) == 8
    assert len(await storage.read_series("p", "x", 0, T0 * 2, limit=100)) == 6
    assert len(await storage.read_series("p", "y", 0, T0 * 2, limit=100)) == 10
    assert await storage.delete_readings_before(T0 + 7, variables=None, exclude=["x"]) == 14
    assert len(await storage.read_series("q", "y", 0, T0 * 2, limit=100)) == 3
    assert len(await storage.read_series("q", "x", 0, T0 * 2, limit=100)) == 6


async def concurrent_writes_all_land(storage: Storage) -> None:
    """Concurrent write_readings calls all land, none lost."""
    await asyncio.gather(*(storage.write_readings(
        [("c", "v", T0 + n * 1000 + k, float(k), 0, None) for k in range(100)])
        for n in range(20)))
    assert len(await storage.read_series("c", "v", 0, T0 * 2, limit=10_000)) == 2000


async def source_priority_decides_conflicts(storage: Storage) -> None:
    """A lower-priority source never replaces a higher one; equal or higher replaces."""
    await storage.write_readings([("s", "v", T0, 1.0, 0, "sensor:buoy")])
    await storage.write_readings([("s", "v", T0, 2.0, 0, "model:forecast")])
    await storage.write_readings([("s", "v", T0, 3.0, 0, "satellite")])
    assert [(p.value, p.source) for p in await storage.read_series("s", "v", T0, T0 + 1,
                                                                    limit=5)] == [
        (1.0, "sensor:buoy")]
    await storage.write_readings([("s", "v", T0, 4.0, 1, "sensor:buoy")])
    await storage.write_readings([("s", "v", T0 + 1, 5.0, 0, "model"),
                                  ("s", "v", T0 + 1, 6.0, 0, "agency:cwc")])
    got = await storage.read_series("s", "v", T0, T0 + 2, limit=5)
    assert [(p.value, p.quality) for p in got] == [(4.0, 1), (6.0, 0)]


STORAGE_CHECKS: list[StorageCheck] = [
    sites_round_trip, delete_site_keeps_readings_unless_purged, readings_replace_on_same_key,
    read_series_window_order_limit, rollup_matches_plain_python, latest_per_variable,
    delete_before_respects_variables, concurrent_writes_all_land,
    source_priority_decides_conflicts,
]


async def check_storage(make: Callable[[], Awaitable[Storage]]) -> None:
    """Run every storage check, each on a fresh storage from ``make()`` (opened here)."""
    for check in STORAGE_CHECKS:
        storage = await make()
        await storage.open()
        try:
            await check(storage)
        finally:
            await storage.aclose()
