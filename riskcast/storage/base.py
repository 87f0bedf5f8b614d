"""The storage contract. Storage is the truth: everything else is recomputable from it.

Times are integer microseconds since the epoch (UTC); quality codes 0 good, 1 suspect, 2 bad.
"""

from __future__ import annotations

import abc
from collections.abc import Sequence

import msgspec

from riskcast.core.sites import Site
from riskcast.types import ReadingRow


class Point(msgspec.Struct, array_like=True):
    """One stored reading of a series."""

    time: int
    value: float
    quality: int
    source: str | None


class Bucket(msgspec.Struct, array_like=True):
    """A rollup of one time bucket: readings of quality ``bad`` are left out."""

    start: int
    mean: float
    min: float
    max: float
    count: int


class Latest(msgspec.Struct, array_like=True):
    """The newest reading of one variable of a site."""

    variable: str
    time: int
    value: float
    quality: int


class Storage(abc.ABC):
    """Where sites and readings live. Implementations: SQLite (default), memory.

    Ten methods: open/close/ping, three for sites, four for readings.
    """

    @abc.abstractmethod
    async def open(self) -> None:
        """Connect and bring the schema up to date. Called once before anything else."""

    @abc.abstractmethod
    async def aclose(self) -> None:
        """Finish pending work and release connections. Safe to call twice."""

    @abc.abstractmethod
    async def ping(self) -> None:
        """Return when storage answers; raise ``StorageError`` otherwise."""

    @abc.abstractmethod
    async def put_site(self, site: Site) -> bool:
        """Create or replace a site; ``True`` when it was new."""

    @abc.abstractmethod
    async def get_sites(self, ids: Sequence[str] | None = None) -> list[Site]:
        """The sites with these ids (all when ``None``), ordered by id; unknown ids skipped."""

    @abc.abstractmethod
    async def delete_site(self, site_id: str, *, purge: bool = False) -> bool:
        """Delete a site; its readings stay unless ``purge``. ``False`` if it did not exist."""

    @abc.abstractmethod
    async def write_readings(self, rows: Sequence[ReadingRow]) -> None:
        """Store rows in one transaction: all are durable when this returns, or none are.

        A row with the same (site, variable, time) as a stored one replaces it, so a retried
        batch stores the same data once, unless the stored row's source has a higher priority
        (``riskcast.core.sources``): then the stored row stays.
        """

    @abc.abstractmethod
    async def read_series(
        self, site: str, variable: str, start: int, end: int, *, limit: int,
        descending: bool = False,
    ) -> list[Point]:
        """Readings with ``start <= time < end`` in time order (newest first if
        ``descending``), at most ``limit``."""

    @abc.abstractmethod
    async def rollup(self, site: str, variable: str, start: int, end: int,
                     every: int) -> list[Bucket]:
        """Mean, min, max and count per bucket of ``every`` microseconds, buckets aligned to
        the epoch, for ``start <= time < end``; quality ``bad`` is left out; empty buckets
        are absent."""

    @abc.abstractmethod
    async def latest(self, site: str) -> list[Latest]:
        """The newest reading of each variable of the site, ordered by variable."""

    @abc.abstractmethod
    async def delete_readings_before(self, cutoff: int, *, variables: Sequence[str] | None,
                                     exclude: Sequence[str] = ()) -> int:
        """Delete readings older than ``cutoff`` of ``variables`` (all when ``None``) except
        ``exclude``; returns how many. Used by the retention job."""
