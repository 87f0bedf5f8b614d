"""Built-in trainers: a name to a function that loads data and returns a :class:`TrainingPlan`.

``wildfire-occurrence``: fire / no fire on the Algerian Forest Fires data (Abid & Izeboudjen 2019,
UCI 547), from :mod:`riskcast.packs.wildfire.occurrence`. Weather-only features by default: the
FWI-code features leak the label (see
:data:`~riskcast.packs.wildfire.occurrence.LEAKAGE_NOTE`), which the version's description says.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import numpy as np

from riskcast.exceptions import ValidationError
from riskcast.models.records import DataRange, ModelVersion
from riskcast.models.registry import ModelRegistry
from riskcast.models.training import CustomPlan, Dataset, Progress, TrainingPlan

#: A trainer: options (JSON values) and the folder of source data files to a plan.
Trainer = Callable[[Mapping[str, Any], Path | None], TrainingPlan | CustomPlan]

#: Where the Algerian data's columns come from on a live site (wildfire pack variables).
WILDFIRE_SOURCES = {"Temperature": "temp_c", "RH": "rh_pct", "Ws": "wind_kmh", "Rain": "rain_mm",
                    "FFMC": "ffmc", "DMC": "dmc", "DC": "dc", "ISI": "isi", "BUI": "bui",
                    "FWI": "fwi"}


def _option(options: Mapping[str, Any], key: str, default: Any, allowed: Any) -> Any:
    value = options.get(key, default)
    if value not in allowed:
        raise ValidationError(f"{key}: {value!r} is not one of {sorted(allowed)}",
                              field=f"options.{key}")
    return value


def wildfire_occurrence(options: Mapping[str, Any], source: Path | None) -> TrainingPlan:
    """The fire-occurrence plan. Options: ``features`` (``weather`` or ``weather+FWI``),
    ``algorithm`` (a name from ``model_factories``, default ``LightGBM``), ``n_splits`` (5),
    ``seed`` (0)."""
    from riskcast.packs.wildfire.occurrence import (
        FEATURE_SETS,
        LEAKAGE_NOTE,
        WEATHER,
        load_algerian,
        model_factories,
    )

    unknown = sorted(set(options) - {"features", "algorithm", "n_splits", "seed"})
    if unknown:
        raise ValidationError(f"unknown options {unknown}", field="options")
    feature_set = _option(options, "features", "weather", set(FEATURE_SETS))
    seed = options.get("seed", 0)
    if isinstance(seed, bool) or not isinstance(seed, int) or not 0 <= seed < 2**32:
        raise ValidationError(f"seed: {seed!r} is not an integer in [0, 2**32)",
                              field="options.seed")
    n_splits = _option(options, "n_splits", 5, set(range(2, 21)))
    features = FEATURE_SETS[feature_set]
    factories = model_factories(features, seed)
    algorithm = _option(options, "algorithm", "LightGBM", set(factories))
    data = load_algerian(source)
    note = ("Weather-only features (Temperature, RH, Ws, Rain): the honest baseline."
            if features == WEATHER else
            "WARNING: uses the FWI codes, which leak the label; scores measure how the label "
            "was made, not forecasting skill.")
    return TrainingPlan(
        dataset=Dataset(
            X=data.matrix(features), y=np.asarray(data.fire, dtype=np.int64),
            features=tuple(features), target="fire", task="classification",
            data=DataRange(description="Algerian Forest Fires 2012 (UCI 547): daily noon "
                           "weather in Bejaia and Sidi-Bel Abbes, fire / not fire",
                           rows=len(data.fire), start="2012-06-01", end="2012-09-30")),
        make_model=factories[algorithm], algorithm=algorithm, n_splits=n_splits, seed=seed,
        description=f"Fire occurrence, feature set {feature_set!r}. {note} {LEAKAGE_NOTE}",
        sources={f: WILDFIRE_SOURCES[f] for f in features})


def _int_option(options: Mapping[str, Any], key: str, default: int, low: int, high: int) -> int:
    value = options.get(key, default)
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise ValidationError(f"{key}: {value!r} is not an integer in [{low}, {high}]",
                              field=f"options.{key}")
    return value


def water_forecast(target: str) -> Trainer:
    """The next-step forecaster of ``target`` (``do_mgl`` or ``wqi``) per water station:
    River learners evaluated prequentially on the simulated stations against persistence,
    registered with their learnt states (:mod:`riskcast.packs.water.forecast`). Options:
    ``days`` of hourly simulation (30), ``seed`` (1)."""

    def trainer(options: Mapping[str, Any], source: Path | None) -> CustomPlan:
        unknown = sorted(set(options) - {"days", "seed"})
        if unknown:
            raise ValidationError(f"unknown options {unknown}", field="options")
        days = _int_option(options, "days", 30, 2, 365)
        seed = _int_option(options, "seed", 1, 0, 2**31)

        def fit(registry: ModelRegistry, name: str, by: str,
                progress: Progress | None) -> ModelVersion:
            from riskcast.packs.water import forecast

            if progress is not None:
                progress(0, 2)
            series = forecast.simulated_series(days=days, seed=seed)[target]
            if progress is not None:
                progress(1, 2)
            evaluation = forecast.evaluate(series, target, hourly=True)
            meta = forecast.register(registry, name, evaluation,
                                     f"simulated stations, hourly, {days} days, seed {seed}",
                                     by=by)
            if progress is not None:
                progress(2, 2)
            return meta

        return CustomPlan(fit=fit)

    return trainer


def builtin_trainers() -> dict[str, Trainer]:
    """A fresh dict of the built-in trainers by model name."""
    return {"wildfire-occurrence": wildfire_occurrence,
            "water-do-forecast": water_forecast("do_mgl"),
            "water-wqi-forecast": water_forecast("wqi")}
