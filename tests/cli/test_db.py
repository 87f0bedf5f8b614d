"""``riskcast db upgrade``: migrations without a server."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from typer.testing import CliRunner

from riskcast.cli.main import app

runner = CliRunner()


def test_upgrade_creates_and_is_idempotent(tmp_path: Path) -> None:
    for _ in range(2):
        result = runner.invoke(app, ["db", "upgrade", "--data-dir", str(tmp_path)])
        assert result.exit_code == 0, result.output
        assert "up to date" in result.output
    conn = sqlite3.connect(tmp_path / "riskcast.db")
    version = conn.execute("PRAGMA user_version").fetchone()[0]
    columns = [r[1] for r in conn.execute("PRAGMA table_info(readings)")]
    conn.close()
    assert version == 2 and "priority" in columns


def test_unsupported_storage_is_a_clear_error(tmp_path: Path) -> None:
    result = runner.invoke(app, ["db", "upgrade", "--storage", "mysql://x/y"])
    assert result.exit_code == 2 and "unsupported" in result.output
