"""Rollups against a plain-Python reference, on random data (hypothesis)."""

from __future__ import annotations

import asyncio
import math
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from riskcast.storage.base import Storage
from riskcast.storage.memory import MemoryStorage
from riskcast.storage.sqlite import SqliteStorage

readings = st.dictionaries(
    keys=st.integers(min_value=-10**13, max_value=10**13),
    values=st.tuples(st.floats(-1e6, 1e6, allow_nan=False), st.sampled_from([0, 1, 2])),
    max_size=60,
)


def reference(data: dict[int, tuple[float, int]], start: int, end: int,
              every: int) -> list[tuple[int, float, float, float, int]]:
    buckets: dict[int, list[float]] = {}
    for t, (value, quality) in data.items():
        if start <= t < end and quality != 2:
            buckets.setdefault(t // every * every, []).append(value)
    return [(b, sum(v) / len(v), min(v), max(v), len(v)) for b, v in sorted(buckets.items())]


async def _rollup(storage: Storage, data: dict[int, tuple[float, int]], start: int, end: int,
                  every: int) -> list[tuple[int, float, float, float, int]]:
    await storage.open()
    try:
        await storage.write_readings([("s", "v", t, v, q, None) for t, (v, q) in data.items()])
        got = await storage.rollup("s", "v", start, end, every)
    finally:
        await storage.aclose()
    return [(b.start, b.mean, b.min, b.max, b.count) for b in got]


def _same(got: list[tuple[int, float, float, float, int]],
          want: list[tuple[int, float, float, float, int]]) -> None:
    assert [g[0] for g in got] == [w[0] for w in want]
    for g, w in zip(got, want, strict=True):
        assert g[2:] == w[2:]
        assert math.isclose(g[1], w[1], rel_tol=1e-9, abs_tol=1e-6)


@settings(max_examples=60, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=readings, start=st.integers(-10**13, 0), span=st.integers(1, 2 * 10**13),
       every=st.integers(1_000_000, 10**12))
def test_rollups_match_reference(tmp_path: Path, data: dict[int, tuple[float, int]],
                                 start: int, span: int, every: int) -> None:
    want = reference(data, start, start + span, every)
    _same(asyncio.run(_rollup(MemoryStorage(), data, start, start + span, every)), want)
    db = tmp_path / f"r{abs(hash((start, span, every)))}.db"
    _same(asyncio.run(_rollup(SqliteStorage(db, synchronous="normal"),
                              data, start, start + span, every)), want)
    db.unlink()
