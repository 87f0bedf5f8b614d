"""Retention: raw readings older than their variable's period are deleted periodically."""

from __future__ import annotations

import asyncio
import logging

from riskcast.core.clock import now_us, parse_duration
from riskcast.settings import Settings
from riskcast.storage.base import Storage

log = logging.getLogger(__name__)


class RetentionJob:
    """Applies ``retention`` (``0``: keep forever) and ``retention_by_variable``."""

    def __init__(self, storage: Storage, settings: Settings) -> None:
        self.storage = storage
        self.default_us = settings.us("retention")
        self.by_variable = {
            name: (0 if text == "0" else parse_duration(text))
            for name, text in settings.retention_by_variable.items()}
        self.interval = settings.us("retention_interval") / 1e6
        self.runs = 0
        self.deleted = 0

    async def run_once(self, now: int | None = None) -> int:
        """Delete what is past its period as of ``now``; returns how many readings."""
        now = now_us() if now is None else now
        deleted = 0
        for name, period in self.by_variable.items():
            if period:
                deleted += await self.storage.delete_readings_before(
                    now - period, variables=[name])
        if self.default_us:
            deleted += await self.storage.delete_readings_before(
                now - self.default_us, variables=None, exclude=list(self.by_variable))
        self.runs += 1
        self.deleted += deleted
        if deleted:
            log.info("retention deleted %d readings", deleted)
        return deleted

    async def run(self) -> None:
        """Run every ``retention_interval`` until cancelled; failures are logged."""
        while True:
            try:
                await self.run_once()
            except Exception:
                log.exception("retention run failed")
            await asyncio.sleep(self.interval)
