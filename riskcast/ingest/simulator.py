"""The built-in simulator: sites of each pack with plausible readings, fed through the same
ingest path as any source (``riskcast serve --simulate``, ``make demo``)."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Sequence
from typing import Protocol

from riskcast.core.clock import now_us
from riskcast.core.readings import ReadingIn
from riskcast.core.sites import Site

log = logging.getLogger(__name__)


class SimulatedSite(Protocol):
    """A simulated place: its site record, and its readings at a given time."""

    site: Site

    def step(self, t_us: int) -> dict[str, float]:
        """Readings by variable at ``t_us`` (called with increasing times)."""
        ...


IngestFn = Callable[[list[ReadingIn], str], Awaitable[object]]


class Simulator:
    """Every ``interval`` seconds, one reading per variable of every simulated site."""

    def __init__(self, sites: Sequence[SimulatedSite], ingest: IngestFn, *,
                 interval: float = 1.0) -> None:
        self.sites = list(sites)
        self.ingest = ingest
        self.interval = interval
        self.ticks = 0

    async def tick(self, t_us: int | None = None) -> int:
        """Send one round of readings; returns how many were sent."""
        t = now_us() if t_us is None else t_us
        items = [
            ReadingIn(site=s.site.id, variable=name, value=value, time=t / 1e6)
            for s in self.sites for name, value in s.step(t).items()
        ]
        await self.ingest(items, "simulator")
        self.ticks += 1
        return len(items)

    async def backfill(self, now: int | None = None, chunk: int = 20_000) -> int:
        """Hourly readings for the past ``backfill_days`` of the sites that declare it, so
        derived series (FWI codes carry from day to day) have a history. Returns how many."""
        now = now_us() if now is None else now
        hour = 3_600_000_000
        sent = 0
        items: list[ReadingIn] = []
        for s in self.sites:
            days = getattr(s, "backfill_days", 0)
            start = (now - days * 24 * hour) // hour * hour
            for t in range(start, now, hour) if days else ():
                items += [ReadingIn(site=s.site.id, variable=name, value=value, time=t / 1e6)
                          for name, value in s.step(t).items()]
                if len(items) >= chunk:
                    await self.ingest(items, "simulator")
                    sent += len(items)
                    items = []
        if items:
            await self.ingest(items, "simulator")
            sent += len(items)
        return sent

    async def run(self) -> None:
        """Backfill, then tick until cancelled; a failed tick is logged, never fatal."""
        try:
            count = await self.backfill()
            if count:
                log.info("simulator backfilled %d readings", count)
        except Exception:
            log.exception("simulator backfill failed")
        loop = asyncio.get_running_loop()
        next_at = loop.time()
        while True:
            try:
                await self.tick()
            except Exception:
                log.exception("simulator tick failed")
            next_at += self.interval
            await asyncio.sleep(max(0.0, next_at - loop.time()))
