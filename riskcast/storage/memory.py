"""Memory storage: everything in dicts, gone at exit. For tests and throw-away runs."""

from __future__ import annotations

import bisect
from collections.abc import Sequence

from riskcast.core.sites import Site
from riskcast.core.sources import SourcePriority
from riskcast.exceptions import StorageError
from riskcast.storage.base import Bucket, Latest, Point, Storage
from riskcast.types import ReadingRow


class _Series:
    """One series: times kept sorted beside a dict of values."""

    __slots__ = ("points", "times")

    def __init__(self) -> None:
        self.times: list[int] = []
        self.points: dict[int, tuple[float, int, str | None, int]] = {}

    def put(self, t: int, value: float, quality: int, source: str | None,
            priority: int) -> None:
        old = self.points.get(t)
        if old is None:
            if not self.times or t > self.times[-1]:
                self.times.append(t)
            else:
                bisect.insort(self.times, t)
        elif priority < old[3]:
            return  # a lower-priority source never replaces a higher one
        self.points[t] = (value, quality, source, priority)

    def window(self, start: int, end: int) -> list[int]:
        lo = bisect.bisect_left(self.times, start)
        hi = bisect.bisect_left(self.times, end)
        return self.times[lo:hi]


class MemoryStorage(Storage):
    """Sites and readings in this process's memory."""

    def __init__(self, *, priority: SourcePriority | None = None) -> None:
        self.priority = priority or SourcePriority()
        self._sites: dict[str, Site] = {}
        self._series: dict[tuple[str, str], _Series] = {}
        self._closed = False

    def _check(self) -> None:
        if self._closed:
            raise StorageError("storage is closed")

    async def open(self) -> None:
        self._closed = False

    async def aclose(self) -> None:
        self._closed = True

    async def ping(self) -> None:
        self._check()

    async def put_site(self, site: Site) -> bool:
        self._check()
        new = site.id not in self._sites
        self._sites[site.id] = site
        return new

    async def get_sites(self, ids: Sequence[str] | None = None) -> list[Site]:
        self._check()
        chosen = self._sites.keys() if ids is None else [i for i in ids if i in self._sites]
        return [self._sites[i] for i in sorted(set(chosen))]

    async def delete_site(self, site_id: str, *, purge: bool = False) -> bool:
        self._check()
        found = self._sites.pop(site_id, None) is not None
        if purge:
            for key in [k for k in self._series if k[0] == site_id]:
                del self._series[key]
        return found

    async def write_readings(self, rows: Sequence[ReadingRow]) -> None:
        self._check()
        for site, variable, t, value, quality, source in rows:
            series = self._series.get((site, variable))
            if series is None:
                series = self._series[(site, variable)] = _Series()
            series.put(t, value, quality, source, self.priority(source))

    async def read_series(self, site: str, variable: str, start: int, end: int, *,
                          limit: int, descending: bool = False) -> list[Point]:
        self._check()
        series = self._series.get((site, variable))
        if series is None:
            return []
        times = series.window(start, end)
        times = times[::-1][:limit] if descending else times[:limit]
        return [Point(t, *series.points[t][:3]) for t in times]

    async def rollup(self, site: str, variable: str, start: int, end: int,
                     every: int) -> list[Bucket]:
        self._check()
        series = self._series.get((site, variable))
        if series is None:
            return []
        buckets: dict[int, list[float]] = {}
        for t in series.window(start, end):
            value, quality, *_ = series.points[t]
            if quality < 2:
                buckets.setdefault(t // every * every, []).append(value)
        return [Bucket(b, sum(v) / len(v), min(v), max(v), len(v))
                for b, v in sorted(buckets.items())]

    async def latest(self, site: str) -> list[Latest]:
        self._check()
        out = []
        for (s, variable), series in sorted(self._series.items()):
            if s == site and series.times:
                t = series.times[-1]
                value, quality, *_ = series.points[t]
                out.append(Latest(variable, t, value, quality))
        return out

    async def delete_readings_before(self, cutoff: int, *, variables: Sequence[str] | None,
                                     exclude: Sequence[str] = ()) -> int:
        self._check()
        deleted = 0
        for (_, variable), series in self._series.items():
            if (variables is not None and variable not in variables) or variable in exclude:
                continue
            cut = bisect.bisect_left(series.times, cutoff)
            for t in series.times[:cut]:
                del series.points[t]
            deleted += cut
            del series.times[:cut]
        return deleted
