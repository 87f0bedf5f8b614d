"""Batch prediction over a stored range: the background job against a row-by-row baseline.

One wildfire site with its four weather series stored hourly (``N`` times, 4 x ``N`` readings,
SQLite), the ``wildfire-occurrence`` LightGBM version trained on the shared data. Measures, in
one run:

* the range job (``ModelService.predict_range``: feature rows from the stored series by the
  as-of rule, predicted in batches, committed and published as ``pred_wildfire_occurrence``),
  end to end, rows written per second;
* a naive baseline over the first ``BASELINE`` times: for each time, each feature read from
  storage as the live path's fallback does (newest good reading within a day), one row
  predicted, one derived row committed.

Run: ``.venv/bin/python bench/predict_range.py [N]`` (default 50,000; needs ``shared/data``).
"""

from __future__ import annotations

import asyncio
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from riskcast.api.runtime import Runtime
from riskcast.core.sites import Site
from riskcast.models.features import newest_good
from riskcast.settings import Settings

HOUR = 3_600_000_000
DAY = 24 * HOUR
VARIABLES = ("temp_c", "rh_pct", "wind_kmh", "rain_mm")
BASELINE = 2_000
SHARED_DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"


async def main(n: int) -> None:
    rt = Runtime(Settings(data_dir=Path(tempfile.mkdtemp()), retention="0", auth=False,
                          sqlite_synchronous="normal", packs=["wildfire"]))
    models = rt.models
    assert models is not None, "pip install 'riskcast[ml]'"
    await rt.storage.open()
    await rt.bus.start()
    await rt.pipeline.start()
    try:
        models.source_dir = SHARED_DATA
        meta = models.train_sync("wildfire-occurrence", {"n_splits": 3})
        await rt.pipeline.put_site(Site(id="fire-b", pack="wildfire"))
        t0 = 1_780_000_000_000_000
        rng = np.random.default_rng(0)
        rows = [("fire-b", v, t0 + i * HOUR, float(rng.uniform(0, 40)), 0, "bench")
                for i in range(n) for v in VARIABLES]
        for k in range(0, len(rows), 100_000):
            await rt.storage.write_readings(rows[k:k + 100_000])

        start = time.perf_counter()
        job = models.predict_range(rt.pipeline, "wildfire-occurrence", start=t0,
                                   end=t0 + (n - 1) * HOUR, sites=["fire-b"], ref=meta.version)
        await job.finished.wait()
        took = time.perf_counter() - start
        assert job.state == "succeeded" and job.result is not None, job.error
        job_rate = job.result["written"] / took

        predictor = models.predictor("wildfire-occurrence", meta.version)
        start = time.perf_counter()
        for i in range(BASELINE):
            t = t0 + i * HOUR
            x = []
            for variable in VARIABLES:
                points = await rt.storage.read_series("fire-b", variable, t - DAY + 1, t + 1,
                                                      limit=5, descending=True)
                found = newest_good(points, t, DAY)
                assert found is not None
                x.append(found[0])
            value = float(predictor.scores(np.array([x]))[0])
            await rt.pipeline.write_derived(
                [("fire-b", "pred_baseline", t, value, 0, "model:baseline@1")])
        base_rate = BASELINE / (time.perf_counter() - start)
    finally:
        await models.aclose()
        await rt.pipeline.aclose()
        await rt.bus.aclose()
        await rt.storage.aclose()
    print(f"range job      {job.result['written']:>8,} rows  {job_rate:>10,.0f} rows/s")
    print(f"row by row     {BASELINE:>8,} rows  {base_rate:>10,.0f} rows/s")
    print(f"ratio          {job_rate / base_rate:.1f}x")


if __name__ == "__main__":
    asyncio.run(main(int(sys.argv[1]) if len(sys.argv) > 1 else 50_000))
