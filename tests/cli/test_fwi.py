"""``riskcast fwi``: the published table from a CSV, stations apart, clear errors."""

from __future__ import annotations

import csv
import io
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path

from typer.testing import CliRunner

from riskcast.cli.main import app

runner = CliRunner()
TABLE = (Path(__file__).resolve().parents[2].parent / "shared" / "data" /
         "fwi_vanwagner_pickett_1985_test_table.csv")


def rounded(text: str) -> float:
    return float(Decimal(text).quantize(Decimal("0.1"), rounding=ROUND_HALF_UP))


def test_published_table_from_csv(tmp_path: Path) -> None:
    out = tmp_path / "codes.csv"
    result = runner.invoke(app, ["fwi", str(TABLE), "--lat", "44", "--out", str(out)])
    assert result.exit_code == 0, result.output
    with out.open() as fh:
        rows = list(csv.DictReader(fh))
    assert len(rows) == 49
    for row in rows:
        for code in ("ffmc", "dmc", "dc", "isi", "bui", "fwi"):
            assert rounded(row[code]) == float(row[f"{code.upper()}_published"]), (row, code)


def test_stations_are_computed_apart(tmp_path: Path) -> None:
    weather = tmp_path / "w.csv"
    weather.write_text("station,date,temp,rh,wind,rain\n"
                       "a,1985-04-13,17,42,25,0\nb,1985-04-13,17,42,25,0\n"
                       "a,1985-04-14,20,21,25,2.4\n")
    result = runner.invoke(app, ["fwi", str(weather), "--lat", "44"])
    assert result.exit_code == 0, result.output
    rows = list(csv.DictReader(io.StringIO(result.stdout)))
    assert [r["ffmc"][:4] for r in rows] == ["87.6", "87.6", "86.2"]


def test_bad_input_names_the_column_and_row(tmp_path: Path) -> None:
    weather = tmp_path / "w.csv"
    weather.write_text("month,temp,rh,wind,rain\n4,17,42,25,0\n4,20,121,25,0\n")
    result = runner.invoke(app, ["fwi", str(weather)])
    assert result.exit_code == 2
    assert "rh[1] = 121.0 is outside 0..100" in result.output
    weather.write_text("month,temp,wind,rain\n4,17,25,0\n")
    result = runner.invoke(app, ["fwi", str(weather)])
    assert result.exit_code == 2 and "no rh column" in result.output
