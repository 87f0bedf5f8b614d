"""``riskcast ingest``: files through the API's validation, with a summary of refusals."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
from typer.testing import CliRunner

from riskcast.cli.main import app
from riskcast.storage.sqlite import SqliteStorage

runner = CliRunner()


def count(data_dir: Path, site: str, variable: str) -> list[tuple[int, float, int]]:
    async def run() -> list[tuple[int, float, int]]:
        storage = SqliteStorage(data_dir / "riskcast.db")
        await storage.open()
        try:
            points = await storage.read_series(site, variable, 0, 2**62, limit=10**6)
        finally:
            await storage.aclose()
        return [(p.time, p.value, p.quality) for p in points]

    return asyncio.run(run())


def test_long_csv_with_refusals(tmp_path: Path) -> None:
    csv = tmp_path / "obs.csv"
    csv.write_text(
        "station,variable,time,value\n"
        "a,temp_c,2026-07-01T00:00:00Z,20.5\n"
        "a,temp_c,2026-07-01T01:00:00Z,\n"
        "a,temp_c,2026-07-01T02:00:00Z,99\n"
        "a,wat,2026-07-01T03:00:00Z,1\n"
        "b,rh_pct,2026-07-01T00:00:00Z,40\n")
    data = tmp_path / "data"
    result = runner.invoke(app, ["ingest", str(csv), "--map", "site=station", "--create-sites",
                                 "--data-dir", str(data)])
    assert result.exit_code == 1, result.output
    assert "3 readings stored" in result.output
    assert "value is empty" in result.output and "unknown variable" in result.output
    assert [(v, q) for _, v, q in count(data, "a", "temp_c")] == [(20.5, 0), (99.0, 2)]
    assert len(count(data, "b", "rh_pct")) == 1


def test_wide_parquet_for_one_site(tmp_path: Path) -> None:
    import datetime as dt

    times = [dt.datetime(2026, 7, 1, h) for h in range(24)]  # naive: taken as UTC
    table = pa.table({"when": times, "temp_c": [15.0 + h / 2 for h in range(24)],
                      "humidity": [60.0] * 24})
    path = tmp_path / "station.parquet"
    pq.write_table(table, path)
    data = tmp_path / "data"
    result = runner.invoke(app, ["ingest", str(path), "--wide", "--site", "st1",
                                 "--map", "time=when,humidity=rh_pct", "--create-sites",
                                 "--data-dir", str(data)])
    assert result.exit_code == 0, result.output
    assert "48 readings stored" in result.output
    temps = count(data, "st1", "temp_c")
    assert temps[0][0] == 1_782_864_000_000_000 and temps[-1][1] == 26.5
    assert len(count(data, "st1", "rh_pct")) == 24


def test_unknown_site_refused_without_create(tmp_path: Path) -> None:
    csv = tmp_path / "obs.csv"
    csv.write_text("site,variable,time,value\nzz,temp_c,2026-07-01T00:00:00Z,1\n")
    result = runner.invoke(app, ["ingest", str(csv), "--data-dir", str(tmp_path / "d")])
    assert result.exit_code == 1 and "unknown site" in result.output


def test_missing_column_is_a_clear_error(tmp_path: Path) -> None:
    csv = tmp_path / "obs.csv"
    csv.write_text("where,variable,time,value\nzz,temp_c,2026-07-01T00:00:00Z,1\n")
    result = runner.invoke(app, ["ingest", str(csv), "--data-dir", str(tmp_path / "d")])
    assert result.exit_code == 2
    assert "no column 'site'" in result.output and "--map site=COLUMN" in result.output
    result = runner.invoke(app, ["ingest", str(tmp_path / "none.csv"), "--data-dir",
                                 str(tmp_path / "d")])
    assert result.exit_code == 2 and "no such file" in result.output
