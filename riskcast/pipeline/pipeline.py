"""The pipeline: ingest → store → publish (derive and decide hook in here as packs grow).

A batch is validated, handed to the group committer, and once committed ingest answers;
its readings are then published on ``site.<id>`` by the publish queue
(``pipeline/publishing.py``), one event per site per batch (merged while the bus lags),
without ingest waiting on the bus.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Sequence
from typing import Any

import msgspec

from riskcast.bus.base import Bus
from riskcast.core.clock import format_us, now_us
from riskcast.core.readings import ReadingIn, Rejection, decode_batch, to_rows
from riskcast.core.sites import Site
from riskcast.core.variables import QUALITY_NAMES
from riskcast.ingest.writer import GroupCommitter
from riskcast.packs.registry import PackSet
from riskcast.pipeline.derive import DeriveQueue
from riskcast.pipeline.predictions import OnlinePredictions
from riskcast.pipeline.publishing import PublishQueue
from riskcast.settings import Settings
from riskcast.storage.base import Storage
from riskcast.types import ReadingRow

log = logging.getLogger(__name__)


class IngestResult(msgspec.Struct):
    """What became of a batch: how many were stored, which were refused and why."""

    accepted: int
    rejected: list[Rejection]


class Pipeline:
    """Wires storage, bus and packs; the one path every source's readings take."""

    def __init__(self, storage: Storage, bus: Bus, packs: PackSet, settings: Settings) -> None:
        self.storage = storage
        self.bus = bus
        self.packs = packs
        self.settings = settings
        self.sites: dict[str, Site] = {}
        self.committer = GroupCommitter(storage, max_pending=settings.max_pending_readings)
        self.max_future_us = settings.us("max_future_skew")
        self.variables = {v.name: v for v in packs.variables}
        self.derive = DeriveQueue(self)
        #: Served models' predictions (attach a ModelService to turn them on).
        self.predictions = OnlinePredictions(self)
        #: Events wait here for the bus, in order per channel (docs/scale-out.md).
        self.publishing = PublishQueue(bus, _render_readings,
                                       max_queued=settings.publish_queue)
        self.accepted_total = 0
        self.rejected_total = 0
        self._other_publish_failures = 0

    async def start(self) -> None:
        self.sites = {s.id: s for s in await self.storage.get_sites()}
        await self.committer.start()
        await self.derive.start()
        await self.predictions.start()

    async def aclose(self) -> None:
        """Commit everything already accepted, then stop taking more. Derivations still
        pending are dropped: they are recomputable from storage."""
        await self.committer.aclose()
        await self.derive.aclose()
        await self.predictions.aclose()
        await self.publishing.aclose()

    @property
    def publish_failures(self) -> int:
        """Events that were never published (their readings are in storage)."""
        return self._other_publish_failures + self.publishing.failures

    @publish_failures.setter
    def publish_failures(self, value: int) -> None:
        self._other_publish_failures = value - self.publishing.failures

    # -- sites ------------------------------------------------------------------------

    async def put_site(self, site: Site) -> bool:
        site.validate(set(self.packs.packs))
        created = await self.storage.put_site(site)
        self.sites[site.id] = site
        await self._publish_quietly("system", {
            "type": "site.created" if created else "site.updated", "site": site.id})
        return created

    async def delete_site(self, site_id: str, *, purge: bool = False) -> bool:
        found = await self.storage.delete_site(site_id, purge=purge)
        self.sites.pop(site_id, None)
        if found:
            await self._publish_quietly("system", {"type": "site.deleted", "site": site_id,
                                                    "purged": purge})
        return found

    async def _refresh_sites(self, ids: set[str]) -> None:
        """Another process may have created these sites since we loaded ours."""
        for site in await self.storage.get_sites(sorted(ids)):
            self.sites[site.id] = site

    # -- readings ---------------------------------------------------------------------

    async def ingest_body(self, body: bytes, source: str = "api") -> IngestResult:
        """Decode a ``{"readings": [...]}`` body and ingest it (ValidationError if malformed)."""
        self.committer.check_room()  # under overload, refuse before decoding
        items, rejected = decode_batch(body, self.settings.max_batch)
        return await self.ingest(items, source, rejected=rejected)

    async def ingest(self, items: Sequence[ReadingIn | None], source: str = "api", *,
                     rejected: list[Rejection] | None = None) -> IngestResult:
        """Validate and commit, then queue the events; returns once the accepted readings
        are durable, without waiting for the bus."""
        rejected = [] if rejected is None else rejected
        unknown = {i.site for i in items if i is not None and i.site not in self.sites}
        if unknown:
            await self._refresh_sites(unknown)
        rows = to_rows(items, known_sites=self.sites, variables=self.variables,
                       now_us=now_us(), max_future_us=self.max_future_us,
                       default_source=source, rejected=rejected)
        await self.committer.submit(rows)
        self.accepted_total += len(rows)
        self.rejected_total += len(rejected)
        if rows:
            self.derive.note(rows)
            self.predictions.note(rows)
            await self._publish_rows(rows)
        rejected.sort(key=lambda r: r.index)
        return IngestResult(len(rows), rejected)

    async def write_derived(self, rows: Sequence[ReadingRow]) -> None:
        """Commit rows a derivation computed, then publish them (and derive further)."""
        if not rows:
            return
        await self.committer.submit(rows)
        self.derive.note(rows)
        self.predictions.note(rows)
        await self._publish_rows(rows)

    async def _publish_rows(self, rows: Sequence[ReadingRow]) -> None:
        by_site: dict[str, list[ReadingRow]] = defaultdict(list)
        for row in rows:
            by_site[row[0]].append(row)
        for site, site_rows in by_site.items():
            await self.publishing.readings(site, site_rows)

    async def _publish_quietly(self, channel: str, data: Any) -> None:
        # Storage is the truth: publishing never undoes a commit, nor waits on the bus.
        await self.publishing.event(channel, data)


def _render_readings(site: str, rows: Sequence[ReadingRow]) -> dict[str, Any]:
    """The ``readings`` event of one site's rows."""
    fmt = _TimeFormatter()
    return {"type": "readings", "site": site, "readings": [
        {"variable": variable, "time": fmt(t), "value": value,
         "quality": QUALITY_NAMES[quality]} for _, variable, t, value, quality, _ in rows]}


class _TimeFormatter:
    """RFC 3339 formatting that reuses the date-and-second part across readings."""

    __slots__ = ("_prefix", "_second")

    def __init__(self) -> None:
        self._second = -1
        self._prefix = ""

    def __call__(self, t: int) -> str:
        second, micro = divmod(t, 1_000_000)
        if second != self._second:
            self._second = second
            self._prefix = format_us(second * 1_000_000)[:-1]
        return f"{self._prefix}.{micro:06d}Z" if micro else self._prefix + "Z"
