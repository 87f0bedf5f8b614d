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
    status = json.loads(runner.invoke(app, ["status", "wildfire-occurrence", *dd]).output)
    assert status["production"]["version"] == 1 and status["production"]["kind"] == "rollback"
    assert status["staging"] is None and status["latest"] == 2
    assert status["predictions"] is None  # the live counters are the server's

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


@pytest.mark.skipif(not SHARED_DATA.is_dir(), reason="shared/data is not beside the repository")
def test_predict_a_stored_range_stores_the_series(tmp_path: Path) -> None:
    import asyncio

    from riskcast.cli.ingest import ingest as ingest_command
    from riskcast.storage.sqlite import SqliteStorage

    dd = ["--data-dir", str(tmp_path)]
    r = runner.invoke(app, ["train", "wildfire-occurrence", "-o", "n_splits=3",
                            "--source", str(SHARED_DATA), *dd])
    assert r.exit_code == 0, r.output
    csv = tmp_path / "weather.csv"
    lines = ["site,time,temp_c,rh_pct,wind_kmh,rain_mm"]
    lines += [f"fire-z,2026-07-01T{h:02d}:00:00Z,{25 + h},{60 - h},{10 + h},0" for h in range(6)]
    csv.write_text("\n".join(lines) + "\n")
    import typer

    ingest_app = typer.Typer()
    ingest_app.command()(ingest_command)
    r = runner.invoke(ingest_app, [str(csv), "--wide", "--map", "site=site,time=time",
                                   "--create-sites", "--pack", "wildfire", *dd])
    assert r.exit_code == 0, r.output
    args = ["predict", "wildfire-occurrence", "--from", "2026-07-01T01:00:00Z",
            "--to", "2026-07-01T04:00:00Z", "--site", "fire-z", "--version", "1", *dd]
    r = runner.invoke(app, args)
    assert r.exit_code == 0, r.output
    job = json.loads(r.stdout)
    assert job["state"] == "succeeded" and job["result"]["sites"] == {"fire-z": 4}

    async def stored() -> list[float]:
        storage = SqliteStorage(tmp_path / "riskcast.db")
        await storage.open()
        try:
            points = await storage.read_series("fire-z", "pred_wildfire_occurrence", 0,
                                               2**62, limit=100)
        finally:
            await storage.aclose()
        return [p.value for p in points]

    values = asyncio.run(stored())
    assert len(values) == 4 and all(0 <= v <= 1 for v in values)
    r = runner.invoke(app, [*args[:4], "--to", "2026-06-30T00:00:00Z", *args[6:]])
    assert r.exit_code == 2 and "before" in r.output
