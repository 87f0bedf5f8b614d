"""``riskcast model``: train with a progress bar, list, show, deploy, roll back, predict.

Run through the sub-app (``riskcast.cli.models.app``) until the lead registers it as
``riskcast model``.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from riskcast.cli.models import app
from tests.conftest import SHARED_DATA

runner = CliRunner()
ROW = '[{"Temperature": 36, "RH": 35, "Ws": 17, "Rain": 0}]'


@pytest.mark.skipif(not SHARED_DATA.is_dir(), reason="shared/data is not beside the repository")
def test_train_deploy_rollback_predict_wildfire(tmp_path: Path) -> None:
    dd = ["--data-dir", str(tmp_path)]
    for _ in range(2):
        r = runner.invoke(app, ["train", "wildfire-occurrence", "-o", "n_splits=3",
                                "--source", str(SHARED_DATA), *dd])
        assert r.exit_code == 0, r.output
    text = " ".join(r.output.split()).lower()
    assert "majority" in text and "roc_auc" in text and "leak" in text
    assert (tmp_path / "models.db").is_file()
    assert (tmp_path / "models" / "wildfire-occurrence" / "2.skops").is_file()

    r = runner.invoke(app, ["deploy", "wildfire-occurrence", "1", *dd])
    assert r.exit_code == 0 and "- -> 1" in r.output
    r = runner.invoke(app, ["deploy", "wildfire-occurrence", "2", *dd])
    r = runner.invoke(app, ["rollback", "wildfire-occurrence", *dd])
    assert r.exit_code == 0 and "2 -> 1" in r.output

    r = runner.invoke(app, ["list", *dd])
    assert r.exit_code == 0 and "wildfire-occurrence" in r.output
    shown = json.loads(runner.invoke(app, ["show", "wildfire-occurrence", *dd]).output)
    assert shown["aliases"] == {"production": 1} and len(shown["versions"]) == 2

    r = runner.invoke(app, ["predict", "wildfire-occurrence", "--json", ROW, *dd])
    assert r.exit_code == 0, r.output
    answer = json.loads(r.output)
    assert answer["version"] == 1 and 0 <= answer["probabilities"][0] <= 1


def test_errors_exit_2_with_a_message(tmp_path: Path) -> None:
    dd = ["--data-dir", str(tmp_path)]
    r = runner.invoke(app, ["show", "nothing", *dd])
    assert r.exit_code == 2 and "no model 'nothing'" in r.output
    r = runner.invoke(app, ["train", "nothing", *dd])
    assert r.exit_code == 2 and "no trainer" in r.output
    r = runner.invoke(app, ["predict", "nothing", "--json", "{", *dd])
    assert r.exit_code == 2
    r = runner.invoke(app, ["train", "wildfire-occurrence", "-o", "features", *dd])
    assert r.exit_code == 2 and "KEY=VALUE" in r.output
    r = runner.invoke(app, ["train", "wildfire-occurrence", "--source", str(tmp_path), *dd])
    assert r.exit_code == 2 and "not found" in r.output
