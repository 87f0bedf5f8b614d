"""One coordinator runs every polled source: interval, timeout, backoff and error reporting
live here, so a source only fetches (Home Assistant's update coordinator, in spirit).

Each source is polled every ``interval`` seconds; a fetch that takes longer than ``timeout``
or raises counts as a failure and the next poll waits ``interval * 2**failures`` (at most
``max_backoff``, with ±20 % jitter); one success resets it. Failures are counted and logged
with the source's name, never fatal; the readings of a successful fetch go through the same
validation and group commit as HTTP, with the source ``poller:<name>``.
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any

import httpx

from riskcast.core.clock import format_us, now_us
from riskcast.core.readings import ReadingIn
from riskcast.ingest.base import PolledSource

log = logging.getLogger(__name__)
IngestFn = Callable[[Sequence[ReadingIn | None], str], Awaitable[Any]]


@dataclass
class PollState:
    """What the coordinator knows of one source."""

    polls: int = 0
    failures: int = 0
    consecutive_failures: int = 0
    readings: int = 0
    rejected: int = 0
    last_success_us: int = 0
    last_error: str | None = None
    next_delay: float = 0.0
    refused_seen: int = 0

    def describe(self) -> dict[str, Any]:
        return {"polls": self.polls, "failures": self.failures,
                "consecutive_failures": self.consecutive_failures,
                "readings": self.readings, "rejected": self.rejected,
                "last_success": format_us(self.last_success_us) if self.last_success_us
                else None, "last_error": self.last_error,
                "next_poll_in_s": round(self.next_delay, 3)}


class PollCoordinator:
    """Polls ``sources`` and feeds their readings to ``ingest``."""

    def __init__(self, sources: Sequence[PolledSource], ingest: IngestFn, *,
                 max_backoff: float = 3600.0, client: httpx.AsyncClient | None = None) -> None:
        names = [s.name for s in sources]
        if len(names) != len(set(names)):
            raise ValueError(f"poller names must be unique: {names}")
        self.sources = list(sources)
        self.ingest = ingest
        self.max_backoff = max_backoff
        self.state = {s.name: PollState() for s in sources}
        self._client = client

    def stats(self) -> dict[str, dict[str, Any]]:
        return {name: state.describe() for name, state in self.state.items()}

    async def poll_once(self, source: PolledSource, client: httpx.AsyncClient) -> float:
        """Poll one source now; returns the delay before its next poll."""
        state = self.state[source.name]
        state.polls += 1
        started = time.monotonic()
        try:
            items = await asyncio.wait_for(source.fetch(client), source.timeout)
        except Exception as err:
            state.failures += 1
            state.consecutive_failures += 1
            reason = "timed out" if isinstance(err, TimeoutError) else f"{err!r}"
            state.last_error = f"{format_us(now_us())}: {reason}"
            delay = min(source.interval * 2 ** state.consecutive_failures, self.max_backoff)
            state.next_delay = delay * random.uniform(0.8, 1.2)
            log.warning("poller %s failed (%s); next try in %.1f s", source.name, reason,
                        state.next_delay)
            return state.next_delay
        result = await self.ingest(items, f"poller:{source.name}")
        state.consecutive_failures = 0
        state.last_success_us = now_us()
        state.readings += getattr(result, "accepted", len(items))
        state.rejected += len(getattr(result, "rejected", [])) + (
            getattr(source, "refused", 0) - state.refused_seen)
        state.refused_seen = getattr(source, "refused", 0)
        state.next_delay = max(0.0, source.interval - (time.monotonic() - started))
        return state.next_delay

    async def run(self) -> None:
        """Poll every source until cancelled."""
        client = self._client or httpx.AsyncClient(follow_redirects=True)
        try:
            await asyncio.gather(*(self._loop(s, client) for s in self.sources))
        finally:
            if self._client is None:
                await client.aclose()

    async def _loop(self, source: PolledSource, client: httpx.AsyncClient) -> None:
        while True:
            try:
                delay = await self.poll_once(source, client)
            except asyncio.CancelledError:
                raise
            except Exception:  # e.g. storage down: logged, retried at the next interval
                log.exception("poller %s: ingest failed", source.name)
                delay = source.interval
            await asyncio.sleep(delay)
