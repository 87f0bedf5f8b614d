"""``riskcast wildfire evaluate``: tables, leakage note, roc.png and results.json, clear errors."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from matplotlib.image import imread
from typer.testing import CliRunner, Result

from riskcast.cli.wildfire import app

runner = CliRunner()
ENV = {"COLUMNS": "200"}
MODELS = {"majority", "FFMC threshold", "logistic regression", "decision tree", "random forest",
          "LightGBM", "soft vote (LR+RF+LGBM)", "VQC (4 qubits, PennyLane)"}


def shared_data_dir() -> Path:
    """``shared/data`` beside the repository; fails loudly when it is not there."""
    path = Path(__file__).resolve().parents[2].parent / "shared" / "data"
    if not path.is_dir():
        pytest.fail(f"{path} is missing: shared/data must sit beside the repository")
    return path


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> tuple[Result, Path]:
    out = tmp_path_factory.mktemp("wildfire") / "eval"
    result = runner.invoke(app, ["evaluate", "--quick", "--no-quantum", "--data",
                                 str(shared_data_dir()), "--out", str(out)], env=ENV)
    return result, out


@pytest.fixture(scope="module")
def results(run: tuple[Result, Path]) -> dict[str, Any]:
    result, out = run
    assert result.exit_code == 0, result.output
    loaded: dict[str, Any] = json.loads((out / "results.json").read_text())
    return loaded


def test_evaluate_prints_every_table_and_the_leakage_note(run: tuple[Result, Path]) -> None:
    result, _ = run
    assert result.exit_code == 0, result.output
    for title in ("Fire occurrence: stratified 10-fold CV x 1", "Bejaia -> Sidi-Bel Abbes",
                  "Sidi-Bel Abbes -> Bejaia", "Burned area, Montesinho", "leakage"):
        assert title in result.output
    assert "not run (--no-quantum)" in result.output
    assert " ± " in result.output


def test_results_json_holds_every_model_in_every_protocol(results: dict[str, Any]) -> None:
    rows = results["occurrence"]["rows"]
    protocols = {r["protocol"] for r in rows}
    assert len(protocols) == 3
    for protocol in protocols:
        assert {r["model"] for r in rows if r["protocol"] == protocol} == MODELS
    ran = [r for r in rows if r["status"] == "ok"]
    assert all(0.0 <= r["accuracy"]["mean"] <= 1.0 and r["roc_auc"] is not None for r in ran)
    assert {r["model"] for r in results["burned_area"]["rows"]} == {"SVR (RBF)", "naive mean"}
    assert results["versions"]["scikit-learn"] and "FFMC" in results["occurrence"]["leakage_note"]


def test_roc_png_is_a_real_two_panel_plot(run: tuple[Result, Path]) -> None:
    _, out = run
    png = out / "roc.png"
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    image = imread(png)
    height, width = image.shape[:2]
    assert width > 800 and height > 300
    pixels = image[..., :3].reshape(-1, 3)
    assert pixels.std() > 0.05
    assert len(np.unique((pixels * 255).astype(np.uint8), axis=0)) > 50


def test_missing_data_exits_2_naming_the_file_and_the_option(tmp_path: Path) -> None:
    result = runner.invoke(app, ["evaluate", "--quick", "--data", str(tmp_path), "--out",
                                 str(tmp_path / "out")], env=ENV)
    assert result.exit_code == 2
    text = " ".join(result.output.split())
    assert "algerian_forest_fires_2012_clean.csv" in text and "--data" in text
    assert not (tmp_path / "out" / "results.json").exists()
