"""Next-step DO / WQI forecasts: prequential scoring, persistence, River learner, registry."""

from __future__ import annotations

import math
import random
from pathlib import Path

import pytest

from riskcast.models import serialization
from riskcast.models.registry import ModelRegistry
from riskcast.packs.water import forecast
from riskcast.packs.water.forecast import Persistence, StationForecaster, prequential
from riskcast.packs.water.simulator import HOUR_US


class Memorizer:
    """Forecasts the last value it learnt: exact if it ever learnt the target before
    forecasting it, persistence if the scoring is test-then-train."""

    def __init__(self) -> None:
        self.last: float | None = None
        self.log: list[str] = []

    def predict_one(self, t: float) -> float | None:
        self.log.append(f"predict {t:g}")
        return self.last

    def learn_one(self, t: float, y: float) -> None:
        self.log.append(f"learn {t:g}")
        self.last = y


def test_prequential_tests_before_it_trains() -> None:
    rng = random.Random(3)
    series = [(float(t), rng.uniform(0, 10)) for t in range(50)]
    memo = Memorizer()
    score = prequential(series, forecaster=memo)
    # Training on the current target first would give a model MAE of 0.
    assert score.model_mae > 1.0
    assert score.model_mae == pytest.approx(score.persistence_mae)
    assert memo.log[:4] == ["predict 0", "learn 0", "predict 1", "learn 1"]


def test_persistence_mae_on_a_hand_example() -> None:
    series = [(0.0, 5.0), (1.0, 7.0), (2.0, 4.0), (3.0, 4.0), (4.0, 8.0)]
    # |7-5| + |4-7| + |4-4| + |8-4| = 9 over 4 scored steps (the first has no past).
    score = prequential(series, forecaster=Persistence())
    assert score.steps == 4
    assert score.persistence_mae == pytest.approx(2.25)
    assert score.model_mae == pytest.approx(2.25)
    assert score.ratio == pytest.approx(1.0)


def test_one_value_gives_no_score() -> None:
    score = prequential([(0.0, 5.0)], hourly=False)
    assert score.steps == 0 and math.isnan(score.model_mae)


def test_learner_beats_persistence_on_a_diurnal_cycle() -> None:
    rng = random.Random(7)
    start = 1_777_593_600_000_000
    series = [(float(start + h * HOUR_US),
               8 + 2 * math.sin(2 * math.pi * h / 24) + rng.gauss(0, 0.1))
              for h in range(24 * 20)]
    score = prequential(series, hourly=True)
    assert score.ratio < 0.6, score  # about 0.41 over seeds 0-4


def test_learner_forecasts_persistence_before_learning_a_change() -> None:
    f = StationForecaster(hourly=True)
    f.learn_one(0, 6.5)
    assert f.predict_one(HOUR_US) == pytest.approx(6.5)


def test_constant_stretch_does_not_blow_up_the_scaler() -> None:
    # A station whose first years repeat one value (found in the India data) once made the
    # scaler divide float dust by float dust.
    series = [(2008.0, 6.9), (2009.0, 6.9), (2010.0, 6.9), (2011.0, 6.7), (2012.0, 7.0),
              (2013.0, 6.9), (2014.0, 7.1)]
    score = prequential(series, hourly=False, lags=2, window=3)
    assert score.model_mae < 1.0


def test_simulated_evaluation_scores_do_and_wqi() -> None:
    results = forecast.evaluate_simulated(days=4, stations=2)
    assert set(results) == {"do_mgl", "wqi"}
    for ev in results.values():
        assert len(ev.stations) == 2
        assert ev.pooled.steps == 2 * (4 * 24 - 1)
        assert math.isfinite(ev.pooled.ratio)


@pytest.fixture(scope="module")
def india_results(india_csv: Path) -> dict[str, forecast.Evaluation]:
    return forecast.evaluate_india(india_csv)


def test_india_evaluation_gives_finite_maes_per_target(
        india_results: dict[str, forecast.Evaluation]) -> None:
    assert set(india_results) == {"do_mgl", "bod_mgl", "wqi"}
    for ev in india_results.values():
        pooled = ev.pooled
        assert pooled.steps > 500
        assert math.isfinite(pooled.model_mae) and math.isfinite(pooled.persistence_mae)
        # Few years per station: the learner stays close to persistence, never far off it.
        assert 0.8 < pooled.ratio < 1.2


def test_registration_stores_model_and_persistence_metrics(tmp_path: Path) -> None:
    ev = forecast.evaluate_simulated(days=2, stations=2)["do_mgl"]
    registry = ModelRegistry(tmp_path)
    try:
        stored = forecast.register(registry, "water-do-forecast", ev, "simulated, 2 days")
        again = forecast.register(registry, "water-do-forecast", ev, "simulated, 2 days")
        assert (stored.version, again.version) == (1, 2)
        meta = registry.resolve("water-do-forecast", 1)
        assert meta.metrics["model"]["mae"]["mean"] == pytest.approx(ev.pooled.model_mae)
        assert meta.metrics["baseline"]["mae"]["mean"] == pytest.approx(
            ev.pooled.persistence_mae)
        assert meta.metrics["baseline_name"].startswith("persistence")
        assert meta.metrics["mae_ratio"] == pytest.approx(ev.pooled.ratio)
        assert meta.features == ev.features and meta.target == "do_mgl"
        artifact = serialization.loads(registry.store.read_artifact(meta))
        assert set(artifact["states"]) == set(ev.stations)
    finally:
        registry.close()


def test_main_prints_both_tables(capsys: pytest.CaptureFixture[str], tmp_path: Path,
                                 india_csv: Path) -> None:
    assert forecast.main(["--data", str(india_csv), "--days", "2",
                          "--register", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "| do_mgl |" in out and "| wqi |" in out and "| bod_mgl |" in out
    assert "registered water-do-forecast version 1" in out


def test_restored_forecaster_continues_where_it_left_off() -> None:
    start = 1_777_593_600_000_000
    series = [(float(start + h * HOUR_US), 8 + 2 * math.sin(2 * math.pi * h / 24))
              for h in range(24 * 5)]
    f = StationForecaster()
    for t, y in series[:-1]:
        f.learn_one(t, y)
    copy = StationForecaster.from_state(f.state())
    t, y = series[-1]
    assert copy.predict_one(t) == f.predict_one(t)
    f.learn_one(t, y)
    copy.learn_one(t, y)
    assert copy.predict_one(t + HOUR_US) == pytest.approx(f.predict_one(t + HOUR_US))


def test_unreadable_state_is_a_validation_error() -> None:
    from riskcast.exceptions import ValidationError

    with pytest.raises(ValidationError):
        StationForecaster.from_state({"history": [1.0]})


@pytest.mark.anyio
async def test_registered_forecaster_is_served_per_station(tmp_path: Path) -> None:
    from riskcast.exceptions import ValidationError
    from riskcast.models.service import ModelService

    ev = forecast.evaluate_simulated(days=2, stations=2)["do_mgl"]
    registry = ModelRegistry(tmp_path)
    try:
        meta = forecast.register(registry, "water-do-forecast", ev, "simulated, 2 days")
    finally:
        registry.close()
    assert meta.sources == {"y": "do_mgl"}
    assert set(meta.reference) == set(ev.features)  # the drift reference: forecast rows
    assert 0 < len(meta.reference["lag_1"]) <= 2000
    service = ModelService(tmp_path, None)
    await service.start()
    try:
        row = [0.1, -0.2, 0.05, 0.0, 1.0, 0.0][: len(ev.features)]
        with pytest.raises(ValidationError, match="per-station forecaster") as err:
            service.predict("water-do-forecast", [row], 1)
        assert err.value.field == "site"
        answer = service.predict("water-do-forecast", [row], 1, site="water-1")
        restored = StationForecaster.from_state(ev.states["water-1"])
        expected = restored.predict_change(dict(zip(ev.features, row, strict=True)))
        assert answer["version"] == 1 and answer["values"] == [pytest.approx(expected)]
        assert expected != 0.0  # the learnt weights, not an untrained learner
        with pytest.raises(ValidationError, match="forecaster"):
            service.predict_batch("water-do-forecast", rows=[row])
    finally:
        await service.aclose()
