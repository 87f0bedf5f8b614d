"""Scheduled backups while serving: every ``backup_interval``, keeping ``backup_keep``."""

from __future__ import annotations

import asyncio
import logging
import time
from pathlib import Path

from riskcast.backup.archive import PREFIX, SUFFIX, create_backup
from riskcast.settings import Settings

log = logging.getLogger(__name__)

__all__ = ["BackupJob", "backup_dir", "prune"]


def backup_dir(settings: Settings) -> Path:
    """Where backups go: ``backup_dir``, or ``<data_dir>/backups``."""
    return Path(settings.backup_dir) if settings.backup_dir else settings.data_dir / "backups"


def prune(folder: Path, keep: int) -> list[Path]:
    """Delete all but the newest ``keep`` archives in ``folder``; return the deleted ones."""
    archives = sorted(p for p in folder.glob(f"{PREFIX}*{SUFFIX}") if p.is_file())
    doomed = archives[:-keep] if keep > 0 else archives
    for path in doomed:
        path.unlink(missing_ok=True)
    return doomed


class BackupJob:
    """Writes an archive every ``backup_interval`` in a worker thread, then prunes."""

    def __init__(self, settings: Settings, *, schema: str = "riskcast") -> None:
        self.settings = settings
        self.schema = schema
        self.interval = settings.us("backup_interval") / 1e6
        self.keep = settings.backup_keep
        self.folder = backup_dir(settings)
        self.runs = 0
        self.failures = 0
        self.last_success: float | None = None
        self.last_size = 0
        self.last_path: Path | None = None
        #: Set after each scheduled backup that succeeded (tests wait on it).
        self.written = asyncio.Event()

    async def run_once(self) -> Path:
        """Write one backup now and prune the old ones; return the new archive."""
        settings = self.settings
        path = await asyncio.to_thread(
            create_backup, settings.data_dir, self.folder, storage_url=settings.storage_url,
            schema=self.schema)
        await asyncio.to_thread(prune, self.folder, self.keep)
        self.runs += 1
        self.last_success = time.time()
        self.last_size = path.stat().st_size
        self.last_path = path
        log.info("backup written: %s (%d bytes)", path, self.last_size)
        return path

    async def run(self) -> None:
        """Every ``interval`` seconds until cancelled; a failure is counted and logged."""
        while True:
            await asyncio.sleep(self.interval)
            try:
                await self.run_once()
            except Exception:
                self.failures += 1
                log.exception("scheduled backup failed")
            else:
                self.written.set()
