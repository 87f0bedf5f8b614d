"""Batch predictions over a stored time range, stored as the model's derived series.

For each site, the feature rows are built from the stored series by the rule the live pipeline
uses (:func:`riskcast.models.features.stored_rows`, about 50,000 readings per series at a
time), predicted in batches of
:data:`BATCH_ROWS` in a worker thread (LightGBM through its compiled library once built), and
committed through the pipeline as ``pred_<model>`` with source ``model:<name>@<version>``, so
they appear in the series API and the dashboard and are published on ``site.<id>``. Writing is
an upsert on (series, time): running a range again rewrites the same rows.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable, Sequence
from typing import TYPE_CHECKING, Any, Final

from riskcast.core.variables import BAD
from riskcast.models.features import CHUNK_POINTS, F64, stored_rows
from riskcast.models.predict import series_values
from riskcast.models.records import prediction_variable
from riskcast.types import ReadingRow

if TYPE_CHECKING:
    from riskcast.models.forecasters import ForecasterSet
    from riskcast.models.predict import Predictor
    from riskcast.pipeline.pipeline import Pipeline

#: Rows predicted (and committed) at a time.
BATCH_ROWS: Final = 20_000
#: Progress steps per site (thousandths of its range done).
PROGRESS_STEPS: Final = 1_000


def served_variable(pipeline: Pipeline, name: str, site_id: str) -> str:
    """The derived variable the site's pack serves ``name`` as (``pred_<name>`` otherwise)."""
    site = pipeline.sites.get(site_id)
    pack = pipeline.packs.packs.get(site.pack) if site is not None else None
    for served in (pack.models if pack is not None else ()):
        if served.name == name:
            return served.variable
    return prediction_variable(name)


def _values(predictor: Predictor, X: F64) -> F64:
    return series_values(predictor.scores(X))


async def _forecasts(pipeline: Pipeline, servable: ForecasterSet, site: str, variable: str,
                     start: int, end: int, source: str) -> AsyncIterator[list[ReadingRow]]:
    """A forecaster over a stored range, as the live path serves it: the station's learner
    from the version's state, brought up to date on the readings before ``start``, then for
    each reading in the range: learn it, forecast the next (written at its time)."""
    from riskcast.pipeline.predictions import REPLAY, _Learner

    learner = _Learner(servable.station(site), servable.meta.version)
    past = await pipeline.storage.read_series(site, servable.series, 0, start, limit=REPLAY,
                                              descending=True)
    for p in reversed(past):
        if p.quality < BAD:
            learner.step(p.time, p.value)
    lo = start
    while lo <= end:
        points = await pipeline.storage.read_series(site, servable.series, lo, end + 1,
                                                    limit=CHUNK_POINTS)
        rows: list[ReadingRow] = []
        for p in points:
            if p.quality >= BAD:
                continue
            forecast, _ = learner.step(p.time, p.value)
            if forecast is not None:
                rows.append((site, variable, p.time, forecast, p.quality, source))
        yield rows
        if len(points) < CHUNK_POINTS:
            break
        lo = points[-1].time + 1


async def predict_range(pipeline: Pipeline, servable: Predictor | ForecasterSet,
                        sites: Sequence[str], start: int, end: int,
                        progress: Callable[[int, int], None], *,
                        window_us: int) -> dict[str, Any]:
    """Predict every feature row of ``sites`` in ``start <= t <= end`` and store them; answer
    rows written per site, rows left out for a missing feature, and the variable written.
    A forecaster forecasts at each reading of its series in the range."""
    from riskcast.models.predict import Predictor

    meta = servable.meta
    source = f"model:{meta.name}@{meta.version}"
    total = len(sites) * PROGRESS_STEPS
    written: dict[str, int] = {}
    variables: set[str] = set()
    incomplete = 0
    progress(0, total)
    for n, site in enumerate(sites):
        variable = served_variable(pipeline, meta.name, site)
        variables.add(variable)
        written[site] = 0
        if not isinstance(servable, Predictor):
            async for forecasts in _forecasts(pipeline, servable, site, variable, start, end,
                                              source):
                await pipeline.write_derived(forecasts)
                written[site] += len(forecasts)
            progress((n + 1) * PROGRESS_STEPS, total)
            continue
        predictor = servable
        lo: int | None = start
        while lo is not None:
            rows, lo = await stored_rows(pipeline.storage, meta, site, lo, end, window_us)
            incomplete += rows.incomplete
            for i in range(0, len(rows.times), BATCH_ROWS):
                X = rows.X[i:i + BATCH_ROWS]
                values = await asyncio.to_thread(_values, predictor, X)
                batch: list[ReadingRow] = [
                    (site, variable, int(t), float(v), int(q), source)
                    for t, v, q in zip(rows.times[i:i + BATCH_ROWS].tolist(), values.tolist(),
                                       rows.quality[i:i + BATCH_ROWS].tolist(), strict=True)]
                await pipeline.write_derived(batch)
                written[site] += len(batch)
            covered = (end if lo is None else lo) - start
            progress(n * PROGRESS_STEPS + PROGRESS_STEPS * covered // max(1, end - start),
                     total)
    return {"written": sum(written.values()), "sites": written, "incomplete": incomplete,
            "variables": sorted(variables), "source": source}
