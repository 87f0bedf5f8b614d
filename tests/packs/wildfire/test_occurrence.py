"""Fire-occurrence models on the Algerian data: leakage, baselines, protocols, clear errors."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

from riskcast.exceptions import MissingExtraError, NotFoundError, ValidationError
from riskcast.packs.wildfire import evaluation, quantum
from riskcast.packs.wildfire.evaluation import (
    PACKAGED_DATA,
    cross_region_splits,
    evaluate_splits,
    repeated_stratified_splits,
)
from riskcast.packs.wildfire.occurrence import (
    ALGERIAN_FILE,
    FEATURE_SETS,
    NOT_RUN,
    VQC_NAME,
    WEATHER,
    FireOccurrenceData,
    OccurrenceReport,
    ThresholdRule,
    evaluate_occurrence,
    load_algerian,
    model_factories,
)
from tests.conftest import SHARED_DATA

FAST_MODELS = {"majority", "FFMC threshold", "logistic regression", "decision tree"}


def shared_data_dir() -> Path:
    """``shared/data`` beside the repository; fails loudly when it is not there."""
    path = Path(__file__).resolve().parents[3].parent / "shared" / "data"
    if not (path / ALGERIAN_FILE).is_file():
        pytest.fail(f"{path / ALGERIAN_FILE} is missing: shared/data must sit beside the repo")
    return path


@pytest.fixture(scope="module")
def data() -> FireOccurrenceData:
    return load_algerian(shared_data_dir())


@pytest.fixture(scope="module")
def report(data: FireOccurrenceData) -> OccurrenceReport:
    return evaluate_occurrence(data=data, repeats=1, quantum_model=False, models=FAST_MODELS)


def test_load_algerian_reads_two_regions_of_122_days(data: FireOccurrenceData) -> None:
    assert data.matrix(FEATURE_SETS["weather+FWI"]).shape == (244, 10)
    assert int(data.fire.sum()) == 138
    regions, counts = np.unique(data.region, return_counts=True)
    assert regions.tolist() == ["Bejaia", "Sidi-Bel Abbes"] and counts.tolist() == [122, 122]


def test_ffmc_threshold_scores_at_leakage_level(report: OccurrenceReport) -> None:
    row = report.row(report.cv_protocol, "weather+FWI", "FFMC threshold")
    assert row.accuracy is not None and row.accuracy.mean > 0.95
    assert row.accuracy.n == 10


def test_weather_only_logistic_regression_is_modest(report: OccurrenceReport) -> None:
    row = report.row(report.cv_protocol, "weather", "logistic regression")
    assert row.accuracy is not None and 0.6 < row.accuracy.mean < 0.85


def test_majority_baseline_scores_the_class_proportion(report: OccurrenceReport,
                                                       data: FireOccurrenceData) -> None:
    row = report.row(report.cv_protocol, "weather", "majority")
    assert row.accuracy is not None and row.roc_auc is not None
    assert row.accuracy.mean == pytest.approx(138 / 244, abs=0.01)
    assert row.roc_auc.mean == 0.5
    # Bejaia's majority is "not fire"; Sidi-Bel Abbes has 43 such days out of 122.
    cross = report.row("Bejaia -> Sidi-Bel Abbes", "weather", "majority")
    assert cross.accuracy is not None and cross.accuracy.mean == pytest.approx(43 / 122)


def test_ffmc_rule_only_where_ffmc_is_a_feature(report: OccurrenceReport) -> None:
    with pytest.raises(KeyError):
        report.row(report.cv_protocol, "weather", "FFMC threshold")
    assert "FFMC threshold" in model_factories(FEATURE_SETS["weather+FWI"])


def test_threshold_is_learnt_on_training_rows_only() -> None:
    # Trained on the first six rows the midpoint is 6.5, so the test rows 5 and 6 come out
    # "no fire". A threshold fitted on all eight rows (4.0) would get both right.
    x = np.array([[1.0], [2.0], [3.0], [10.0], [11.0], [12.0], [5.0], [6.0]])
    y = np.array([0, 0, 0, 1, 1, 1, 1, 1])
    train, test = np.arange(6), np.array([6, 7])
    assert ThresholdRule().fit(x, y).predict(x[test]).tolist() == [1, 1]
    assert ThresholdRule().fit(x[train], y[train]).threshold_ == 6.5
    result = evaluate_splits(ThresholdRule, x, y, [(train, test)])
    assert result.accuracy.mean == 0.0
    assert result.roc_auc.n == 0 and np.isnan(result.roc.auc)  # one class: AUC undefined


def test_threshold_rule_finds_a_falling_relation() -> None:
    rule = ThresholdRule().fit(np.array([[90.0], [80.0], [30.0], [20.0]]), np.array([0, 0, 1, 1]))
    assert (rule.threshold_, rule.direction_) == (55.0, -1)
    proba = rule.predict_proba(np.array([[10.0], [100.0]]))
    assert proba[0, 1] > 0.5 > proba[1, 1]
    assert np.allclose(proba.sum(axis=1), 1.0)


def test_cross_region_protocols_train_and_test_on_disjoint_regions(
        data: FireOccurrenceData) -> None:
    protocols = cross_region_splits(data.region)
    assert [p.name for p in protocols] == ["Bejaia -> Sidi-Bel Abbes", "Sidi-Bel Abbes -> Bejaia"]
    for protocol in protocols:
        ((train, test),) = protocol.splits
        assert not set(train) & set(test)
        assert len(set(data.region[train])) == 1 and len(set(data.region[test])) == 1
        assert set(data.region[train]) != set(data.region[test])
        assert len(train) + len(test) == 244


def test_repeated_cv_is_stratified_and_reproducible(data: FireOccurrenceData) -> None:
    first = repeated_stratified_splits(data.fire, n_splits=10, repeats=2, seed=3)
    again = repeated_stratified_splits(data.fire, n_splits=10, repeats=2, seed=3)
    assert len(first.splits) == 20
    assert all(np.array_equal(a[1], b[1]) for a, b in zip(first.splits, again.splits, strict=True))
    for train, test in first.splits:
        assert not set(train) & set(test)
        assert abs(data.fire[test].mean() - 138 / 244) < 0.06


def test_every_model_fits_and_gives_probabilities(data: FireOccurrenceData) -> None:
    features = FEATURE_SETS["weather+FWI"]
    x, y = data.matrix(features), data.fire
    factories = model_factories(features)
    assert set(factories) == {"majority", "FFMC threshold", "logistic regression",
                              "decision tree", "random forest", "LightGBM",
                              "soft vote (LR+RF+LGBM)"}
    for name, make in factories.items():
        model = make().fit(x[::2], y[::2])
        proba = np.asarray(model.predict_proba(x[1::2]))
        assert proba.shape == (122, 2) and np.all((proba >= 0) & (proba <= 1)), name


def test_missing_data_file_names_the_file_and_the_option(tmp_path: Path) -> None:
    with pytest.raises(NotFoundError, match=rf"{ALGERIAN_FILE}.*--data"):
        load_algerian(tmp_path)


def test_an_installed_package_trains_from_its_own_copy_of_the_data(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """Without the repository's shared/data beside it (an installed package, a fresh clone
    elsewhere), the CC BY 4.0 copy shipped in the package is used; it is the shared file."""
    monkeypatch.setattr(evaluation, "default_data_dir", lambda: None)
    data = load_algerian()
    assert len(data.fire) == 244 and int(data.fire.sum()) == 138  # PROVENANCE.md: 138 fire
    shared = SHARED_DATA / ALGERIAN_FILE
    if shared.is_file():
        assert (PACKAGED_DATA / ALGERIAN_FILE).read_bytes() == shared.read_bytes()


def test_missing_column_is_refused(tmp_path: Path) -> None:
    (tmp_path / ALGERIAN_FILE).write_text("region,temp_c\nBejaia,29\n")
    with pytest.raises(ValidationError, match="rh_pct"):
        load_algerian(tmp_path)


def test_vqc_rows_say_why_they_did_not_run(data: FireOccurrenceData,
                                           monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(quantum, "pennylane_version", lambda: None)
    missing = evaluate_occurrence(data=data, repeats=1, models={VQC_NAME})
    assert [(r.feature_set, r.status) for r in missing.rows] == [
        ("weather", quantum.NOT_INSTALLED)] * 3
    off = evaluate_occurrence(data=data, repeats=1, models={VQC_NAME}, quantum_model=False)
    assert {r.status for r in off.rows} == {NOT_RUN}
    assert all(r.accuracy is None for r in off.rows)


def test_vqc_without_pennylane_raises_a_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "pennylane", None)
    with pytest.raises(MissingExtraError, match="pip install pennylane"):
        quantum.VQCClassifier().fit(np.zeros((4, 2)), np.array([0, 1, 0, 1]))


def test_vqc_learns_the_weather_signal(data: FireOccurrenceData) -> None:
    pytest.importorskip("pennylane", reason="optional: pip install pennylane")
    x, y = data.matrix(WEATHER), data.fire
    train, test = np.arange(244) % 3 != 0, np.arange(244) % 3 == 0
    result = evaluate_splits(lambda: quantum.VQCClassifier(epochs=30, seed=0), x, y,
                             [(np.flatnonzero(train), np.flatnonzero(test))])
    assert result.roc_auc.mean > 0.65
    assert 0.5 < result.accuracy.mean <= 1.0


def test_unfitted_vqc_refuses_to_predict() -> None:
    with pytest.raises(RuntimeError, match="not fitted"):
        quantum.VQCClassifier().predict(np.zeros((1, 4)))
