"""Scheduled backups while serving: written on time, pruned to ``backup_keep``, counted."""

from __future__ import annotations

import asyncio
from pathlib import Path

import httpx

from riskcast.backup import verify_backup
from riskcast.settings import Settings
from riskcast.testing.server import live_server


def test_scheduled_backups_run_while_serving_and_keep_the_newest(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path / "data", retention="0", backup_interval="1s",
                        backup_keep=2, sqlite_synchronous="normal")
    with live_server(settings) as srv:
        job = srv.runtime.backups
        assert job is not None
        srv.call(asyncio.wait_for(job.written.wait(), 30))  # the schedule fired by itself
        for _ in range(2):
            srv.call(job.run_once())
        archives = sorted((tmp_path / "data" / "backups").glob("riskcast-backup-*.tar.gz"))
        assert len(archives) == 2
        assert archives[-1] == job.last_path
        metrics = httpx.get(f"{srv.url}/metrics").text
        assert "riskcast_backups_total" in metrics
        assert "riskcast_backup_last_success_timestamp_seconds" in metrics
    manifest = verify_backup(archives[-1])
    paths = {f.path for f in manifest.files}
    assert "data/riskcast.db" in paths
    assert not any(p.startswith("data/backups/") for p in paths)


def test_backups_are_off_by_default(tmp_path: Path) -> None:
    with live_server(Settings(data_dir=tmp_path, retention="0")) as srv:
        assert srv.runtime.backups is None
