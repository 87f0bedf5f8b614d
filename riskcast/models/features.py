"""Feature rows from stored series: the one rule the live pipeline and batch ranges share.

A version's feature ``f`` is read from the series ``meta.source_of(f)`` of the site. Its value at
time ``t`` is the newest reading at or before ``t``, of quality better than ``bad``, no older
than ``window`` (``t - window < time <= t``); a feature with no such reading leaves the row
incomplete. The quality of a row is the worst of its features'.

The live path (:mod:`riskcast.pipeline.predictions`) asks for one time per run and mostly from
the values it saw committed, falling back on :func:`asof` over a few stored points;
:func:`stored_rows` builds every row of a stored range at once with the same :func:`asof`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Final

import numpy as np

from riskcast.core.variables import BAD

if TYPE_CHECKING:
    from riskcast.models.records import ModelVersion
    from riskcast.storage.base import Point, Storage

#: Readings of one series read at a time for a stored range.
CHUNK_POINTS: Final = 50_000

F64 = np.ndarray[Any, np.dtype[np.float64]]
I64 = np.ndarray[Any, np.dtype[np.int64]]


def good_points(points: Sequence[Point]) -> tuple[I64, F64, I64]:
    """Times, values and qualities of the points of quality better than ``bad``, in time
    order (``points`` in time order, either way round)."""
    kept = [p for p in points if p.quality < BAD]
    if len(kept) > 1 and kept[0].time > kept[-1].time:
        kept.reverse()
    return (np.fromiter((p.time for p in kept), np.int64, len(kept)),
            np.fromiter((p.value for p in kept), np.float64, len(kept)),
            np.fromiter((p.quality for p in kept), np.int64, len(kept)))


def asof(times: I64, at: I64, window_us: int) -> I64:
    """For each time of ``at``, the index into ``times`` (sorted) of the newest time at or
    before it within ``window_us``; -1 where there is none.

    >>> asof(np.array([10, 20, 30]), np.array([5, 10, 25, 100]), 80).tolist()
    [-1, 0, 1, 2]
    >>> asof(np.array([10, 20, 30]), np.array([25, 100]), 10).tolist()
    [1, -1]
    """
    idx = np.searchsorted(times, at, side="right") - 1
    ok = idx >= 0
    ok[ok] = times[idx[ok]] > at[ok] - window_us
    return np.where(ok, idx, -1)


def newest_good(points: Sequence[Point], t: int, window_us: int) -> tuple[float, int] | None:
    """The value and quality the rule gives at ``t`` from ``points`` (a few, any order)."""
    times, values, qualities = good_points(points)
    [i] = asof(times, np.array([t], dtype=np.int64), window_us)
    return None if i < 0 else (float(values[i]), int(qualities[i]))


@dataclass
class Rows:
    """Feature rows of one site: times, the matrix (rows x features), each row's quality,
    and how many times were left out for a missing feature."""

    times: I64
    X: F64
    quality: I64
    incomplete: int


async def stored_rows(storage: Storage, meta: ModelVersion, site: str, start: int, end: int,
                      window_us: int, *, limit: int = CHUNK_POINTS) -> tuple[Rows, int | None]:
    """The feature rows of ``meta`` at ``site`` from ``start`` on, at most about ``limit``
    readings of each series at a time: one row at each time any feature's series has a
    reading, each feature by the rule above; and where to go on from (``None``: ``end``
    was reached).

    Each series is read forward from ``start``; when one fills ``limit``, the rows stop at
    its last time (every series is complete up to there) and the next call starts after it.
    A feature's value at the first times may come from before ``start``: the newest of a
    few readings within ``window`` before it, as the live path looks back.
    """
    series: dict[str, tuple[I64, F64, I64]] = {}
    cut: int | None = None
    for feature in meta.features:
        variable = meta.source_of(feature)
        if variable in series:
            continue
        points = list(await storage.read_series(site, variable, start, end + 1, limit=limit))
        if len(points) >= limit:
            cut = points[-1].time if cut is None else min(cut, points[-1].time)
        before = await storage.read_series(site, variable, start - window_us + 1, start,
                                           limit=5, descending=True)
        first = next((p for p in before if p.quality < BAD), None)
        series[variable] = good_points(([first] if first is not None else []) + points)
    last = end if cut is None else cut
    if series:
        every = np.unique(np.concatenate([s[0] for s in series.values()]))
        at = every[(every >= start) & (every <= last)]
    else:
        at = np.empty(0, dtype=np.int64)
    X = np.empty((len(at), len(meta.features)))
    quality = np.zeros(len(at), dtype=np.int64)
    complete = np.ones(len(at), dtype=bool)
    for j, feature in enumerate(meta.features):
        times, values, qualities = series[meta.source_of(feature)]
        idx = asof(times, at, window_us)
        found = idx >= 0
        complete &= found
        X[found, j] = values[idx[found]]
        quality[found] = np.maximum(quality[found], qualities[idx[found]])
    rows = Rows(at[complete], X[complete], quality[complete], int((~complete).sum()))
    return rows, (None if cut is None or cut >= end else cut + 1)
