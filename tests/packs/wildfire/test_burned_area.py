"""Montesinho burned area: the Cortez & Morais (2007) SVM and naive-mean figures reproduce."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from riskcast.exceptions import NotFoundError
from riskcast.packs.wildfire.burned_area import (
    MONTESINHO_FILE,
    BurnedAreaReport,
    evaluate_burned_area,
    load_montesinho,
    mad_rmse,
)


def shared_data_dir() -> Path:
    """``shared/data`` beside the repository; fails loudly when it is not there."""
    path = Path(__file__).resolve().parents[3].parent / "shared" / "data"
    if not (path / MONTESINHO_FILE).is_file():
        pytest.fail(f"{path / MONTESINHO_FILE} is missing: shared/data must sit beside the repo")
    return path


@pytest.fixture(scope="module")
def report() -> BurnedAreaReport:
    return evaluate_burned_area(shared_data_dir(), repeats=1)


def test_load_montesinho_matches_the_uci_description() -> None:
    x, area = load_montesinho(shared_data_dir())
    assert x.shape == (517, 4)
    assert area.mean() == pytest.approx(12.847, abs=1e-3)
    assert area.max() == pytest.approx(1090.84) and int((area == 0).sum()) == 247


def test_naive_mean_rmse_reproduces_the_paper(report: BurnedAreaReport) -> None:
    assert abs(report.row("naive mean").rmse.mean - 63.71) < 0.5


def test_svr_mad_reproduces_the_paper(report: BurnedAreaReport) -> None:
    assert abs(report.row("SVR (RBF)").mad.mean - 12.7) < 1.0


def test_svr_wins_on_mad_and_the_naive_mean_on_rmse(report: BurnedAreaReport) -> None:
    svr, naive = report.row("SVR (RBF)"), report.row("naive mean")
    assert svr.mad.mean < naive.mad.mean - 3.0
    assert naive.rmse.mean < svr.rmse.mean


def test_repeats_use_different_folds() -> None:
    two = evaluate_burned_area(shared_data_dir(), repeats=2, n_splits=5)
    assert two.row("naive mean").rmse.n == 2 and two.row("naive mean").rmse.std > 0


def test_mad_rmse_in_the_target_units() -> None:
    assert mad_rmse(np.array([0.0, 0.0, 30.0]), np.array([3.0, 3.0, 3.0])) == pytest.approx(
        (11.0, np.sqrt((9 + 9 + 729) / 3)))


def test_missing_file_names_the_file_and_the_option(tmp_path: Path) -> None:
    with pytest.raises(NotFoundError, match=rf"{MONTESINHO_FILE}.*--data"):
        load_montesinho(tmp_path)
