"""Feature rows from stored series: the as-of rule, read in chunks or at once, equals a
row-by-row reading of the rule."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from riskcast.core.variables import BAD
from riskcast.models.features import stored_rows
from riskcast.models.records import DataRange, ModelVersion
from riskcast.storage.sqlite import SqliteStorage

pytestmark = pytest.mark.anyio
MIN = 60_000_000
META = ModelVersion(name="m", version=1, task="regression", algorithm="x",
                    features=("A", "B"), target="y", data=DataRange(description="", rows=0),
                    sources={"A": "a", "B": "b"})


def expected(points: dict[str, list[tuple[int, float, int]]], at: int,
             window: int) -> tuple[float, float] | None:
    row = []
    for variable in ("a", "b"):
        good = [(t, v) for t, v, q in points[variable] if q < BAD and at - window < t <= at]
        if not good:
            return None
        row.append(max(good)[1])
    return row[0], row[1]


async def test_chunked_rows_follow_the_rule(tmp_path: Path) -> None:
    rng = np.random.default_rng(3)
    points: dict[str, list[tuple[int, float, int]]] = {}
    for variable, step in (("a", 7), ("b", 11)):
        times = sorted({int(t) * MIN for t in rng.integers(0, 400, size=120)})
        points[variable] = [(t, float(i), BAD if i % step == 0 else 0)
                            for i, t in enumerate(times)]
    storage = SqliteStorage(tmp_path / "f.db")
    await storage.open()
    try:
        await storage.write_readings([("s", v, t, x, q, "test") for v, pts in points.items()
                                      for t, x, q in pts])
        window, start, end = 4 * MIN, 50 * MIN, 350 * MIN
        whole, after = await stored_rows(storage, META, "s", start, end, window)
        assert after is None
        chunks = []
        lo: int | None = start
        while lo is not None:
            rows, lo = await stored_rows(storage, META, "s", lo, end, window, limit=9)
            chunks.append(rows)
        assert len(chunks) > 5
        assert np.concatenate([c.times for c in chunks]).tolist() == whole.times.tolist()
        assert np.concatenate([c.X for c in chunks]).tolist() == whole.X.tolist()
        assert sum(c.incomplete for c in chunks) == whole.incomplete
        # A row at each time some series has a good reading (a bad one alone makes none).
        every = sorted({t for pts in points.values() for t, _, q in pts
                        if start <= t <= end and q < BAD})
        want = {t: expected(points, t, window) for t in every}
        assert whole.times.tolist() == [t for t in every if want[t] is not None]
        assert [tuple(x) for x in whole.X.tolist()] == [want[t] for t in whole.times.tolist()]
        assert whole.incomplete == sum(v is None for v in want.values()) > 0
    finally:
        await storage.aclose()
