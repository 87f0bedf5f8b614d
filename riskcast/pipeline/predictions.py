"""Online predictions: each served model's ``production`` version, after each commit.

A pack names the models it serves (:class:`~riskcast.packs.base.ServedModel`: model name and the
derived variable it writes). After each commit the pipeline notes which (model, site) pairs the
new rows touch, by the series the production version reads (``ModelVersion.sources``); one
background task then serves them, coalescing repeated touches, like the derivations
(:mod:`riskcast.pipeline.derive`), so ingest never waits for a model and a failing model is
counted and logged, never stops the pipeline.

- **Estimators** (scikit-learn, LightGBM): one feature row per site and run, at the newest
  touched time, each feature the latest reading of its series (quality not ``bad``) no older
  than ``window`` (default one day); a feature missing makes the run count as ``incomplete``.
  The value written is P(positive class) for binary classifiers, the most likely class index
  for more classes, the value for regressors.
- **Forecasters** (:class:`~riskcast.models.forecasters.ForecasterSet`): a learner per site,
  started from the version's learnt state for that station and brought up to date on first use
  by replaying the last stored readings; then, for every new reading in time order, the
  forecast made at the previous reading is scored against it (and against persistence), the
  learner learns it and forecasts the next reading. The forecast is written at the time of the
  reading it followed. Scores go to the version's live performance tally.

Each prediction is committed as a derived reading (source ``model:<name>@<version>``) and so
published on ``site.<id>`` with the site's readings, and a ``{"type": "prediction", ...}`` event
naming the version follows on the same channel. When ``staging`` is set to another version, it
is scored on the same rows; only the comparison is kept (``ModelService.shadow``) and, for
forecasters, its live scores: nothing of staging is written or published.

The recent feature rows of each (model, site) are kept (bounded) for drift rules
(:meth:`OnlinePredictions.drift_measure`).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Final

import msgspec
import numpy as np

from riskcast.core.clock import format_us, now_us
from riskcast.core.sites import Site
from riskcast.core.variables import BAD
from riskcast.exceptions import NotFoundError
from riskcast.pipeline.spans import SpanWorker
from riskcast.types import ReadingRow

if TYPE_CHECKING:
    from riskcast.alerts.rules import Drift
    from riskcast.models.forecasters import ForecasterSet, StationForecaster
    from riskcast.models.predict import Predictor
    from riskcast.models.service import ModelService
    from riskcast.pipeline.pipeline import Pipeline
    from riskcast.storage.base import Latest

log = logging.getLogger(__name__)
DAY_US: Final = 86_400_000_000
#: Feature rows kept per (model, site) for drift rules.
KEEP_ROWS: Final = 2_000
#: Readings a forecaster replays from storage when it first serves a site.
REPLAY: Final = 500
#: Most readings one forecaster run steps through.
MAX_STEPS: Final = 10_000


@dataclass
class _Learner:
    """A forecaster serving one site: its learner and the forecast it last made."""

    model: StationForecaster
    version: int
    last_t: int = -(2**62)
    last_value: float | None = None
    forecast: float | None = None
    #: Live score since the last flush: n, sums of absolute and squared errors.
    tally: dict[str, float] = field(default_factory=lambda: {
        "n": 0, "correct": 0, "brier_sum": 0.0, "abs_error_sum": 0.0, "sq_error_sum": 0.0})

    def step(self, t: int, y: float) -> tuple[float | None, dict[str, float] | None]:
        """Score the pending forecast against ``y``, learn it, forecast the next reading;
        answers the new forecast and the feature row it was made from."""
        if self.forecast is not None and self.last_value is not None:
            err = self.forecast - y
            self.tally["n"] += 1
            self.tally["abs_error_sum"] += abs(err)
            self.tally["sq_error_sum"] += err * err
        gap = t - self.last_t if self.last_value is not None else 0
        self.model.learn_one(t, y)
        self.last_t, self.last_value = t, y
        self.forecast = self.model.predict_one(t + gap)
        return self.forecast, self.model.features_at(t + gap)


class OnlinePredictions(SpanWorker[tuple[str, str, str]]):
    """Pending (model, variable, site) work with merged spans, served by one task."""

    name = "predictions"

    def __init__(self, pipeline: Pipeline, *, window_us: int = DAY_US) -> None:
        super().__init__()
        self.pipeline = pipeline
        #: The model service, attached by the runtime (``None``: nothing is served).
        self.models: ModelService | None = None
        self.window_us = window_us
        self._inputs: dict[str, frozenset[str]] = {}
        #: (model, alias) pairs found unset, until the registry changes (no query per run).
        self._absent: set[tuple[str, str]] = set()
        self._generation = -1
        self._checked = 0.0
        self._learners: dict[tuple[str, int, str], _Learner] = {}
        self._rows: dict[tuple[str, str], deque[tuple[int, int, np.ndarray[Any, Any]]]] = {}
        #: The newest committed (time, value, quality) per (site, variable) of served sites,
        #: so a feature row needs no query; storage answers what is not here (a restart).
        self._latest: dict[tuple[str, str], tuple[int, float, int]] = {}
        self.predictions = 0
        self.incomplete = 0
        self._by_model: dict[str, dict[str, int]] = {}
        self._last: dict[str, tuple[int, int]] = {}

    def attach(self, models: ModelService) -> None:
        """Serve the models of ``models`` from now on."""
        self.models = models

    def stats(self) -> dict[str, int]:
        return {"runs": self.runs, "predictions": self.predictions, "failures": self.failures,
                "incomplete": self.incomplete}

    def model_stats(self, name: str) -> dict[str, Any]:
        """The live counters of one model since start: runs, predictions, failures,
        incomplete runs, and its last prediction (``last_time``: the data time it was made
        for; ``last_at``: when)."""
        counters = self._by_model.get(name)
        out: dict[str, Any] = {"runs": 0, "predictions": 0, "failures": 0, "incomplete": 0}
        if counters is not None:
            out.update({k: int(counters[k]) for k in out})
        last = self._last.get(name)
        out["last_time"] = None if last is None else format_us(last[0])
        out["last_at"] = None if last is None else format_us(last[1])
        return out

    def _counters(self, name: str) -> dict[str, int]:
        counters = self._by_model.get(name)
        if counters is None:
            counters = self._by_model[name] = {"runs": 0, "predictions": 0, "failures": 0,
                                               "incomplete": 0}
        return counters

    def _predicted(self, name: str, count: int, t: int) -> None:
        self._counters(name)["predictions"] += count
        self._last[name] = (t, now_us())

    # -- noting work (on the ingest path: cheap) -------------------------------------------

    def note(self, rows: Sequence[ReadingRow]) -> None:
        """Record which (model, site) pairs ``rows`` touch; called after each commit."""
        models = self.models
        if models is None:
            return
        now = time.monotonic()
        if models.registry.generation != self._generation or now - self._checked > 1.0:
            # A deploy here or in another process may change what the models read.
            self._generation, self._checked = models.registry.generation, now
            self._inputs.clear()
            self._absent.clear()
        # Per (site, variable): the span, and the value and quality at its newest time.
        spans: dict[tuple[str, str], tuple[int, int, float, int]] = {}
        for site_id, variable, t, value, quality, _ in rows:
            span = spans.get((site_id, variable))
            if span is None:
                spans[(site_id, variable)] = (t, t, value, quality)
            elif t >= span[1]:
                spans[(site_id, variable)] = (min(span[0], t), t, value, quality)
            elif t < span[0]:
                spans[(site_id, variable)] = (t, *span[1:])
        packs = self.pipeline.packs.packs
        latest = self._latest
        for (site_id, variable), (lo, hi, value, quality) in spans.items():
            site = self.pipeline.sites.get(site_id)
            pack = packs.get(site.pack) if site is not None else None
            if pack is None or not pack.models:
                continue
            known = latest.get((site_id, variable))
            if known is None or hi >= known[0]:
                latest[(site_id, variable)] = (hi, value, quality)
            for served in pack.models:
                if variable == served.variable:
                    continue
                inputs = self._inputs.get(served.name)
                if inputs is not None and variable not in inputs:
                    continue
                self.add((served.name, served.variable, site_id), lo, hi)
        self.kick()

    # -- the task ------------------------------------------------------------------------

    async def work(self, key: tuple[str, str, str], lo: int, hi: int) -> bool:
        name, variable, site_id = key
        site = self.pipeline.sites.get(site_id)
        if site is None:
            return False
        await self._serve(name, variable, site, lo, hi)
        self._counters(name)["runs"] += 1
        return True

    def failed(self, key: tuple[str, str, str]) -> None:
        # A bad model never stops the pipeline: counted per model, logged, and on to the next.
        name, _, site_id = key
        self._counters(name)["failures"] += 1
        log.exception("model %s failed for site %s", name, site_id)

    # -- serving -------------------------------------------------------------------------

    async def _version(self, name: str, alias: str) -> Predictor | ForecasterSet | None:
        assert self.models is not None
        if (name, alias) in self._absent:
            return None
        try:
            return await self.models.aservable(name, alias)
        except NotFoundError:
            self._absent.add((name, alias))
            return None

    async def _serve(self, name: str, variable: str, site: Site, lo: int, hi: int) -> None:
        from riskcast.models.predict import Predictor

        production = await self._version(name, "production")
        if production is None:  # not deployed: nothing to serve until it is
            self._inputs[name] = frozenset()
            return
        staging = await self._version(name, "staging")
        if staging is not None and staging.meta.version == production.meta.version:
            staging = None
        if isinstance(production, Predictor):
            self._inputs[name] = frozenset(production.meta.source_of(f)
                                           for f in production.meta.features)
            await self._serve_estimator(name, variable, site, hi, production,
                                        staging if isinstance(staging, Predictor) else None)
        else:
            self._inputs[name] = frozenset({production.series})
            await self._serve_forecaster(name, variable, site, lo, hi, production,
                                         None if isinstance(staging, Predictor) else staging)

    async def _feature_row(self, predictor: Predictor, site: Site, t: int,
                           ) -> tuple[np.ndarray[Any, Any], int] | None:
        """Each feature's latest good reading at or before ``t`` within ``window``
        (:mod:`riskcast.models.features`, the rule batch ranges use too): from the
        newest values seen committed, else from storage (one query for the site's newest
        values, then a look back only for a series whose newest is bad, too old or too new)."""
        meta = predictor.meta
        x = np.empty(len(meta.features))
        quality = 0
        newest: dict[str, Latest] | None = None
        for j, feature in enumerate(meta.features):
            variable = meta.source_of(feature)
            seen = self._latest.get((site.id, variable))
            if seen is not None and seen[2] < BAD and t - self.window_us < seen[0] <= t:
                x[j], q = seen[1], seen[2]
            else:
                if newest is None:
                    newest = {r.variable: r for r in await self.pipeline.storage.latest(site.id)}
                found = await self._stored_value(site, variable, t, newest.get(variable))
                if found is None:
                    return None
                x[j], q = found
            quality = max(quality, q)
        return x, quality

    async def _stored_value(self, site: Site, variable: str, t: int, r: Latest | None,
                            ) -> tuple[float, int] | None:
        if r is not None and r.quality < BAD and t - self.window_us < r.time <= t:
            return r.value, r.quality
        from riskcast.models.features import newest_good

        points = await self.pipeline.storage.read_series(
            site.id, variable, t - self.window_us + 1, t + 1, limit=5, descending=True)
        return newest_good(points, t, self.window_us)

    async def _serve_estimator(self, name: str, variable: str, site: Site, t: int,
                               production: Predictor, staging: Predictor | None) -> None:
        from riskcast.models.predict import series_values

        found = await self._feature_row(production, site, t)
        if found is None:
            self.incomplete += 1
            self._counters(name)["incomplete"] += 1
            return
        x, quality = found
        meta = production.meta
        scores = production.scores(x[None, :])
        value = float(series_values(scores)[0])
        self._remember(name, site.id, t, meta.version, x)
        await self.pipeline.write_derived(
            [(site.id, variable, t, value, quality, f"model:{name}@{meta.version}")])
        self.predictions += 1
        self._predicted(name, 1, t)
        answer = production.predict(x[None, :])
        event = {"type": "prediction", "site": site.id, "model": name,
                 "version": meta.version, "variable": variable, "time": format_us(t),
                 "value": value}
        for key in ("probabilities", "labels", "interval", "positive_class", "classes"):
            if key in answer:
                event[key] = answer[key]
        await self._publish(f"site.{site.id}", event)
        if staging is not None:
            other = x if staging.meta.features == meta.features else None
            if other is None:
                row = await self._feature_row(staging, site, t)
                other = None if row is None else row[0]
            if other is not None and self.models is not None:
                self.models.shadow.record(name, meta.version, staging.meta.version, meta.task,
                                          scores, staging.scores(other[None, :]),
                                          format_us(now_us()))

    async def _learner(self, name: str, servable: ForecasterSet, site: Site,
                       before: int) -> _Learner:
        key = (name, servable.meta.version, site.id)
        learner = self._learners.get(key)
        if learner is None:
            learner = _Learner(servable.station(site.id), servable.meta.version)
            past = await self.pipeline.storage.read_series(
                site.id, servable.series, 0, before, limit=REPLAY, descending=True)
            for p in reversed(past):
                if p.quality < BAD:
                    learner.step(p.time, p.value)
            learner.tally["n"] = 0  # replayed steps are not live scores
            learner.tally["abs_error_sum"] = learner.tally["sq_error_sum"] = 0.0
            self._learners[key] = learner
        return learner

    async def _serve_forecaster(self, name: str, variable: str, site: Site, lo: int, hi: int,
                                production: ForecasterSet,
                                staging: ForecasterSet | None) -> None:
        learner = await self._learner(name, production, site, lo)
        other = None if staging is None else await self._learner(name, staging, site, lo)
        points = await self.pipeline.storage.read_series(
            site.id, production.series, max(lo, learner.last_t + 1), hi + 1, limit=MAX_STEPS)
        source = f"model:{name}@{production.meta.version}"
        rows: list[ReadingRow] = []
        made: list[float] = []
        shadowed: list[float] = []
        for p in points:
            if p.quality >= BAD or p.time <= learner.last_t:
                continue
            forecast, x = learner.step(p.time, p.value)
            if other is not None and p.time > other.last_t:
                theirs, _ = other.step(p.time, p.value)
                if forecast is not None and theirs is not None:
                    made.append(forecast)
                    shadowed.append(theirs)
            if forecast is None:
                continue
            rows.append((site.id, variable, p.time, forecast, p.quality, source))
            if x is not None:
                self._remember(name, site.id, p.time, production.meta.version,
                               np.array([x[f] for f in production.meta.features]))
        if not rows:
            return
        await self.pipeline.write_derived(rows)
        self.predictions += len(rows)
        self._predicted(name, len(rows), rows[-1][2])
        last = rows[-1]
        await self._publish(f"site.{site.id}", {
            "type": "prediction", "site": site.id, "model": name,
            "version": production.meta.version, "variable": variable,
            "time": format_us(last[2]), "value": last[3], "count": len(rows),
            "target": f"next reading of {production.series}"})
        assert self.models is not None
        day = format_us(now_us())[:10]
        for entry in (learner, other):
            if entry is not None and entry.tally["n"]:
                await asyncio.to_thread(self.models.registry.store.add_outcomes, name,
                                        entry.version, day, entry.tally)
                entry.tally = {"n": 0, "correct": 0, "brier_sum": 0.0, "abs_error_sum": 0.0,
                               "sq_error_sum": 0.0}
        if staging is not None and made:
            self.models.shadow.record(name, production.meta.version, staging.meta.version,
                                      "regression", np.array(made), np.array(shadowed),
                                      format_us(now_us()))

    async def _publish(self, channel: str, data: Any) -> None:
        # Through the publish queue: after the readings it was made from, in order, and
        # never waiting on a bus that is away (failures are counted there).
        await self.pipeline.publishing.event(channel, data)

    # -- drift ---------------------------------------------------------------------------

    def _remember(self, name: str, site_id: str, t: int, version: int,
                  x: np.ndarray[Any, Any]) -> None:
        rows = self._rows.get((name, site_id))
        if rows is None:
            rows = self._rows[(name, site_id)] = deque(maxlen=KEEP_ROWS)
        rows.append((t, version, x))

    def recent_rows(self, name: str, site_id: str, window_us: int,
                    ) -> tuple[int, np.ndarray[Any, Any]] | None:
        """The production version and its feature rows of ``name`` at a site within
        ``window_us`` of the newest one (rows x features), ``None`` when there are none."""
        rows = self._rows.get((name, site_id))
        if not rows:
            return None
        newest, version = rows[-1][0], rows[-1][1]
        recent = [x for t, v, x in rows if v == version and t > newest - window_us]
        return version, np.array(recent)

    def drift_summary(self, name: str, window_us: int = 7 * DAY_US,
                      min_rows: int = 30) -> dict[str, Any] | None:
        """PSI and KS per feature of the production version's recent feature rows, every
        site pooled (``window_us`` of each site's newest), against its training reference;
        ``None`` when nothing was served, ``features`` empty below ``min_rows`` rows."""
        if self.models is None:
            return None
        pooled: dict[int, list[np.ndarray[Any, Any]]] = {}
        for (model, site_id), rows in self._rows.items():
            if model == name and rows:
                version, X = self.recent_rows(name, site_id, window_us) or (0, None)
                if X is not None and len(X):
                    pooled.setdefault(version, []).append(X)
        if not pooled:
            return None
        version = max(pooled)
        X = np.concatenate(pooled[version])
        out: dict[str, Any] = {"version": version, "rows": len(X), "features": []}
        loaded = self.models.loaded(name, version)
        if loaded is None:
            return out
        meta = loaded.meta
        if len(X) >= min_rows and meta.reference and set(meta.reference) <= set(meta.features):
            from riskcast.models.drift import feature_drift

            columns = {f: X[:, j].tolist() for j, f in enumerate(meta.features)
                       if f in meta.reference}
            out["features"] = msgspec.to_builtins(feature_drift(meta.reference, columns))
        return out

    def drift_measure(self, condition: Drift, site_id: str) -> float | None:
        """The drift statistic a ``drift`` rule watches at a site: PSI or KS of the site's
        recent feature rows (``window``, at least ``min_rows``) against the production
        version's training reference, for one feature or the largest over all (``any``);
        ``None`` when there is not enough to say."""
        if self.models is None:
            return None
        from scipy.stats import ks_2samp  # type: ignore[import-untyped]

        from riskcast.models.drift import psi

        found = self.recent_rows(condition.model, site_id, condition.window_us)
        if found is None or len(found[1]) < condition.min_rows:
            return None
        version, X = found
        loaded = self.models.loaded(condition.model, version)
        if loaded is None:
            return None
        meta = loaded.meta
        features = meta.features if condition.feature == "any" else (condition.feature,)
        values = []
        for feature in features:
            if feature not in meta.features or feature not in meta.reference:
                continue
            ref = np.asarray(meta.reference[feature], dtype=float)
            current = X[:, meta.features.index(feature)]
            values.append(psi(ref, current) if condition.statistic == "psi"
                          else float(ks_2samp(ref, current).statistic))
        return max(values) if values else None
