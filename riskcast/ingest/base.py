"""The source contract for polled sources: a source only fetches and maps; the coordinator
(``ingest/coordinator.py``) owns interval, timeout, backoff, error reporting and ingest."""

from __future__ import annotations

from typing import Protocol

import httpx

from riskcast.core.readings import ReadingIn


class PolledSource(Protocol):
    """Something fetched every ``interval`` seconds."""

    #: Unique among the pollers; readings get the source ``poller:<name>``.
    name: str
    interval: float
    timeout: float

    async def fetch(self, client: httpx.AsyncClient) -> list[ReadingIn]:
        """One fetch, mapped to readings. Raise on failure; never retry here."""
        ...
