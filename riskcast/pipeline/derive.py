"""Derivations: series a pack computes from committed readings (indices, codes, forecasts).

After each commit the pipeline notes which (derivation, site) pairs the new readings touch,
with the time span they cover. One background task runs them, coalescing repeated touches, so
ingest never waits for a derivation and a slow one never blocks a commit. Derived values are
written through the same group commit as readings and published on ``site.<id>`` the same way;
everything derived is recomputable from storage.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

from riskcast.core.sites import Site
from riskcast.pipeline.spans import SpanWorker
from riskcast.types import ReadingRow

if TYPE_CHECKING:
    from riskcast.pipeline.pipeline import Pipeline
    from riskcast.storage.base import Storage

log = logging.getLogger(__name__)


class Derivation(Protocol):
    """Computes derived series of one site when any of ``inputs`` changes."""

    #: Unique within its pack; used in logs and sources (``derived:<pack>.<name>``).
    name: str
    #: Variables whose new readings trigger this derivation.
    inputs: frozenset[str]
    #: Variables it writes (never among its own inputs).
    outputs: frozenset[str]

    async def derive(self, ctx: DeriveContext, site: Site, start: int, end: int) -> None:
        """Recompute what readings with ``start <= time <= end`` affect."""
        ...


@dataclass
class DeriveContext:
    """What a derivation may use: storage to read, ``write`` to store and publish."""

    pipeline: Pipeline
    pack: str
    source: str

    @property
    def storage(self) -> Storage:
        return self.pipeline.storage

    async def write(self, rows: Sequence[ReadingRow]) -> None:
        """Commit derived rows and publish them on their sites' channels."""
        await self.pipeline.write_derived(rows)

    async def publish(self, channel: str, data: Any) -> None:
        """Publish after what waits on ``channel`` already (the committed readings)."""
        await self.pipeline.publishing.event(channel, data)


class DeriveQueue(SpanWorker[tuple[str, int, str]]):
    """Pending (pack, derivation, site) work with merged time spans, run by one task."""

    name = "derive"

    def __init__(self, pipeline: Pipeline) -> None:
        super().__init__()
        self.pipeline = pipeline
        self._by_key: dict[tuple[str, int], Derivation] = {}

    def note(self, rows: Sequence[ReadingRow]) -> None:
        """Record what ``rows`` touch; called after each commit."""
        spans: dict[tuple[str, str], tuple[int, int]] = {}
        for site_id, variable, t, *_ in rows:
            span = spans.get((site_id, variable))
            spans[(site_id, variable)] = (t, t) if span is None else (min(span[0], t),
                                                                    max(span[1], t))
        packs = self.pipeline.packs.packs
        for (site_id, variable), (lo, hi) in spans.items():
            site = self.pipeline.sites.get(site_id)
            pack = packs.get(site.pack) if site is not None else None
            if pack is None:
                continue
            for index, derivation in enumerate(pack.derivations):
                if variable not in derivation.inputs:
                    continue
                self._by_key[(pack.name, index)] = derivation
                self.add((pack.name, index, site_id), lo, hi)
        self.kick()

    async def work(self, key: tuple[str, int, str], lo: int, hi: int) -> bool:
        pack_name, index, site_id = key
        derivation = self._by_key[(pack_name, index)]
        site = self.pipeline.sites.get(site_id)
        if site is None:
            return False
        ctx = DeriveContext(self.pipeline, pack_name, f"derived:{pack_name}.{derivation.name}")
        await derivation.derive(ctx, site, lo, hi)
        return True

    def failed(self, key: tuple[str, int, str]) -> None:
        pack_name, index, site_id = key
        log.exception("derivation %s.%s failed for site %s", pack_name,
                      self._by_key[(pack_name, index)].name, site_id)
