"""Next-step forecasts of dissolved oxygen and the NSF WQI per station, learnt online (River).

Each station has its own :class:`StationForecaster`: River's ``StandardScaler |
LinearRegression`` on lag features (the ``lags`` values before the last one and the rolling
mean over ``window`` steps, all relative to the last value, and for hourly data the hour of
day as sine and cosine). It predicts the *change* from the last value, so before it has learnt
anything it forecasts persistence, and it can only leave persistence by what it has learnt.

:func:`prequential` scores a sequence test-then-train: at each step the forecast is made from
the past only, scored, and only then is the true value learnt. Persistence (the last value)
is scored on the same steps, so the two MAEs are comparable and their ratio says whether the
model helps (< 1) or not.

>>> f = StationForecaster(hourly=False)
>>> f.predict_one(0) is None  # nothing seen yet
True
>>> f.learn_one(0, 5.0)
>>> f.predict_one(1)  # no change learnt yet: persistence
5.0
>>> r = prequential([(t, 5.0 + (t % 2)) for t in range(6)], forecaster=Persistence())
>>> r.steps, r.model_mae, r.persistence_mae, r.ratio
(5, 1.0, 1.0, 1.0)

``python -m riskcast.packs.water.forecast [--data PATH]`` prints the evaluation tables
(docs/water-forecast.md).
"""

from __future__ import annotations

import argparse
import math
import sys
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from riskcast.exceptions import ValidationError
from riskcast.models.drift import reference_sample
from riskcast.models.forecasters import (
    ARTIFACT_KIND,
    Forecaster,
    Persistence,
    StationForecaster,
)
from riskcast.models.records import DataRange, ModelVersion
from riskcast.models.registry import ModelRegistry
from riskcast.packs.water import india, wqi
from riskcast.packs.water.simulator import HOUR_US, STATIONS, RiverStation

__all__ = ["Evaluation", "Forecaster", "Persistence", "Score", "StationForecaster", "evaluate",
           "evaluate_india", "evaluate_simulated", "prequential", "register"]

#: Default data file of the India evaluation (shared/data beside the repository).
INDIA_DATA = (Path(__file__).resolve().parents[4] / "shared" / "data"
              / "india_water_quality_cpcb_2003_2014_raw.csv")
#: Nitrate as N to nitrate as NO3 (the NSF curve's unit): 62.0 / 14.0.
NITRATE_N_TO_NO3 = 62.0 / 14.0
ALGORITHM = "river StandardScaler | LinearRegression (predicts the change from the last value)"
#: Simulated start: 2026-05-01 00:00 UTC (dry season running into the monsoon onset).
SIMULATED_START_US = 1_777_593_600_000_000


@dataclass(frozen=True, slots=True)
class Score:
    """Prequential MAE of the model and of persistence over the same ``steps``."""

    steps: int
    model_mae: float
    persistence_mae: float

    @property
    def ratio(self) -> float:
        """Model MAE / persistence MAE (< 1: the model helps); NaN when persistence is exact."""
        return self.model_mae / self.persistence_mae if self.persistence_mae else math.nan


def prequential(series: Iterable[tuple[float, float]], *, hourly: bool = True,
                forecaster: Forecaster | None = None, rows: list[list[float]] | None = None,
                **options: Any) -> Score:
    """Test-then-train over one station's ``(time, value)`` pairs, times increasing.

    Every step after the first is scored: forecast from the past, score it and persistence,
    then learn the value. ``forecaster`` defaults to a new :class:`StationForecaster`; with
    ``rows``, the feature row of each forecast is appended to it (the drift reference).
    """
    model = forecaster if forecaster is not None else StationForecaster(hourly=hourly, **options)
    err_model = err_persist = 0.0
    steps = 0
    last: float | None = None
    features_at = getattr(model, "features_at", None)
    names: tuple[str, ...] = getattr(model, "features", ())
    for t, y in series:
        if rows is not None and features_at is not None:
            x = features_at(t)
            if x is not None:
                rows.append([x[name] for name in names])
        guess = model.predict_one(t)
        if last is not None:
            if guess is None:
                raise ValidationError("forecaster gave no forecast after a value", field="model")
            err_model += abs(guess - y)
            err_persist += abs(last - y)
            steps += 1
        model.learn_one(t, y)
        last = y
    if not steps:
        return Score(0, math.nan, math.nan)
    return Score(steps, err_model / steps, err_persist / steps)


@dataclass(frozen=True, slots=True)
class Evaluation:
    """Scores of one target over many stations, and each station's learnt state."""

    target: str
    stations: dict[str, Score]
    states: dict[str, dict[str, Any]]
    features: tuple[str, ...]
    hyperparameters: dict[str, Any]
    #: A sample of the feature rows forecasts were made from (drift reference).
    reference: dict[str, list[float]] = field(default_factory=dict)

    @property
    def pooled(self) -> Score:
        """MAEs over every scored step of every station (stations weighted by steps)."""
        scored = [s for s in self.stations.values() if s.steps]
        steps = sum(s.steps for s in scored)
        if not steps:
            return Score(0, math.nan, math.nan)
        return Score(steps, sum(s.model_mae * s.steps for s in scored) / steps,
                     sum(s.persistence_mae * s.steps for s in scored) / steps)

    @property
    def wins(self) -> int:
        """Stations where the model's MAE is below persistence's."""
        return sum(1 for s in self.stations.values() if s.steps and s.ratio < 1)


def evaluate(series: Mapping[str, Sequence[tuple[float, float]]], target: str, *,
             hourly: bool = True, **options: Any) -> Evaluation:
    """:func:`prequential` per station, a new :class:`StationForecaster` each."""
    scores: dict[str, Score] = {}
    states: dict[str, dict[str, Any]] = {}
    probe = StationForecaster(hourly=hourly, **options)
    rows: list[list[float]] = []
    for station, points in series.items():
        model = StationForecaster(hourly=hourly, **options)
        scores[station] = prequential(points, forecaster=model, rows=rows)
        states[station] = model.state()
    params = {"lags": probe.lags, "window": probe.window, "hourly": hourly,
              "learning_rate": probe.learning_rate, "clip_gradient": probe.clip_gradient}
    reference = (reference_sample(np.array(rows, dtype=float), probe.features) if rows
                 else {})
    return Evaluation(target, scores, states, probe.features, params, reference)


# -- data ---------------------------------------------------------------------------------

def simulated_series(days: int = 30, stations: int = len(STATIONS), seed: int = 1,
                     start_us: int = SIMULATED_START_US,
                     ) -> dict[str, dict[str, list[tuple[float, float]]]]:
    """Hourly ``do_mgl`` and ``wqi`` (NSF, from the simulator's parameters) per simulated
    station: ``{target: {site id: [(t_us, value), ...]}}``."""
    out: dict[str, dict[str, list[tuple[float, float]]]] = {"do_mgl": {}, "wqi": {}}
    for index in range(stations):
        station = RiverStation.make(index, seed)
        do: list[tuple[float, float]] = []
        index_values: list[tuple[float, float]] = []
        for hour in range(days * 24):
            t = start_us + hour * HOUR_US
            reading = station.step(t)
            do.append((t, reading["do_mgl"]))
            index_values.append((t, wqi.nsf_wqi(reading).wqi))
        out["do_mgl"][station.site.id] = do
        out["wqi"][station.site.id] = index_values
    return out


def india_wqi(sample: india.IndiaSample, min_parameters: int = 4) -> float | None:
    """The NSF WQI of one station-year from the parameters the file has (DO % saturation
    from DO and temperature, fecal coliform, pH, BOD, nitrate), None with fewer than
    ``min_parameters`` of them."""
    values: dict[str, float | None] = {
        "fecal_coliform_cfu100ml": sample.fecal_coliform_mpn100ml, "ph": sample.ph,
        "bod_mgl": sample.bod_mgl,
        "nitrate_mgl": (None if sample.nitrate_n_mgl is None
                        else sample.nitrate_n_mgl * NITRATE_N_TO_NO3)}
    if sample.do_mgl is not None and sample.temp_c is not None:
        values["do_sat_pct"] = float(wqi.do_percent_saturation(sample.do_mgl, sample.temp_c))
    if sum(v is not None for v in values.values()) < min_parameters:
        return None
    return wqi.nsf_wqi(values).wqi


def india_series(samples: Iterable[india.IndiaSample]
                 ) -> dict[str, dict[str, list[tuple[float, float]]]]:
    """Yearly ``do_mgl``, ``bod_mgl`` and ``wqi`` per station code, years increasing; a year
    with two rows for one station is averaged, a missing value skipped."""
    getters: dict[str, Callable[[india.IndiaSample], float | None]] = {
        "do_mgl": lambda s: s.do_mgl, "bod_mgl": lambda s: s.bod_mgl, "wqi": india_wqi}
    by: dict[str, dict[str, dict[int, list[float]]]] = {
        target: defaultdict(lambda: defaultdict(list)) for target in getters}
    for sample in samples:
        if not sample.station_code:
            continue
        for target, get in getters.items():
            value = get(sample)
            if value is not None:
                by[target][sample.station_code][sample.year].append(value)
    return {target: {code: [(float(y), sum(v) / len(v)) for y, v in sorted(years.items())]
                     for code, years in stations.items()}
            for target, stations in by.items()}


def evaluate_simulated(days: int = 30, stations: int = len(STATIONS), seed: int = 1
                       ) -> dict[str, Evaluation]:
    """Hourly next-step evaluation of DO and WQI on the simulated stations."""
    data = simulated_series(days, stations, seed)
    return {target: evaluate(series, target, hourly=True) for target, series in data.items()}


def evaluate_india(path: str | Path = INDIA_DATA) -> dict[str, Evaluation]:
    """Next-year evaluation of DO, BOD and WQI per India station (2003-2014)."""
    data = india_series(india.load(path))
    return {target: evaluate(series, target, hourly=False, lags=2, window=3)
            for target, series in data.items()}


# -- registry -----------------------------------------------------------------------------

def register(registry: ModelRegistry, name: str, evaluation: Evaluation, data: str,
             by: str = "") -> ModelVersion:
    """Store ``evaluation`` as the next version of ``name``: the pooled prequential MAE of the
    model beside persistence's (and per station), with the learnt River state per station as
    the artifact (plain dicts and floats, which skops stores without any untrusted type)."""
    pooled = evaluation.pooled
    stations = {k: {"steps": s.steps, "model_mae": s.model_mae,
                    "persistence_mae": s.persistence_mae} for k, s in evaluation.stations.items()}
    meta = ModelVersion(
        name=name, version=0, task="regression", algorithm=ALGORITHM,
        features=evaluation.features, target=evaluation.target,
        data=DataRange(description=data, rows=pooled.steps + len(evaluation.stations)),
        description=(f"next-step {evaluation.target} per station, one online learner each, "
                     "evaluated prequentially (test-then-train) against persistence. The "
                     "artifact is the per-station River state as plain numbers (no pickle); "
                     "served live per site by the pipeline, which keeps learning from each "
                     "new reading."),
        hyperparameters=dict(evaluation.hyperparameters),
        metrics={"protocol": "prequential (test-then-train), every step after a station's first",
                 "model": {"mae": {"mean": pooled.model_mae, "std": None, "n": pooled.steps}},
                 "baseline": {"mae": {"mean": pooled.persistence_mae, "std": None,
                                      "n": pooled.steps}},
                 "baseline_name": "persistence (last value)",
                 "mae_ratio": pooled.ratio, "stations_won": evaluation.wins,
                 "stations": stations},
        created_by=by, sources={"y": evaluation.target}, reference=evaluation.reference)
    return registry.register(meta, {"kind": ARTIFACT_KIND, "states": evaluation.states})


# -- CLI ----------------------------------------------------------------------------------

def table(title: str, evaluations: Mapping[str, Evaluation]) -> str:
    """A Markdown table: per target, pooled MAE of model and persistence, ratio, wins."""
    lines = [f"### {title}", "",
             "| target | stations | steps | model MAE | persistence MAE | ratio | stations won |",
             "| --- | ---: | ---: | ---: | ---: | ---: | ---: |"]
    for target, ev in evaluations.items():
        p = ev.pooled
        scored = sum(1 for s in ev.stations.values() if s.steps)
        lines.append(f"| {target} | {scored} | {p.steps} | {p.model_mae:.3f} | "
                     f"{p.persistence_mae:.3f} | {p.ratio:.3f} | {ev.wins} |")
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    """Print the simulated and India evaluation tables; optionally register the versions."""
    parser = argparse.ArgumentParser(prog="python -m riskcast.packs.water.forecast",
                                     description="Next-step DO and WQI forecast evaluation")
    parser.add_argument("--data", default=str(INDIA_DATA), help="the India CPCB csv")
    parser.add_argument("--days", type=int, default=30, help="simulated days (hourly)")
    parser.add_argument("--seed", type=int, default=1, help="simulator seed")
    parser.add_argument("--register", metavar="DATA_DIR", default=None,
                        help="register the evaluated versions in DATA_DIR's model registry")
    args = parser.parse_args(argv)
    simulated = evaluate_simulated(days=args.days, seed=args.seed)
    print(table(f"Simulated stations, hourly, {args.days} days (seed {args.seed})", simulated))
    print()
    real = evaluate_india(args.data)
    print(table("India CPCB stations, yearly 2003-2014", real))
    if args.register:
        registry = ModelRegistry(Path(args.register))
        try:
            runs = [(simulated, f"simulated stations, hourly, {args.days} days, seed "
                                f"{args.seed}", "water-{}-forecast"),
                    (real, f"India CPCB station-years 2003-2014 ({args.data})",
                     "water-{}-forecast-india")]
            for evaluations, description, pattern in runs:
                for target, ev in evaluations.items():
                    name = pattern.format(target.split("_")[0])
                    v = register(registry, name, ev, description)
                    print(f"registered {v.name} version {v.version}")
        finally:
            registry.close()
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
