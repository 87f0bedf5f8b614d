"""Per-site sample rings for rate-of-change conditions, vectorized over sites.

Each site keeps up to ``size`` samples of one series, spaced at least ``window / size``
apart, so the ring always spans the whole window at that resolution. The change over the
window is the latest value minus the oldest sample still inside the window.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

__all__ = ["Ring"]

I64 = npt.NDArray[np.int64]
F64 = npt.NDArray[np.float64]
_NONE = np.iinfo(np.int64).min
_MAX = np.iinfo(np.int64).max


class Ring:
    """Samples of one series over ``window_us`` for every site index.

    >>> r = Ring(60_000_000, size=4, capacity=2)
    >>> idx = np.array([0]); r.insert(idx, np.array([0]), np.array([1.0]))
    >>> r.insert(idx, np.array([30_000_000]), np.array([2.0]))
    >>> r.change(idx, np.array([60_000_000]), np.array([4.0])).tolist()
    [3.0]
    >>> r.change(idx, np.array([80_000_000]), np.array([4.0])).tolist()  # t=0 left the window
    [2.0]
    """

    def __init__(self, window_us: int, *, size: int = 32, capacity: int = 0) -> None:
        self.window = int(window_us)
        self.size = int(size)
        self.spacing = max(1, self.window // self.size)
        self.times: I64 = np.full((capacity, self.size), _NONE, dtype=np.int64)
        self.values: F64 = np.zeros((capacity, self.size), dtype=np.float64)
        self.head: I64 = np.zeros(capacity, dtype=np.int64)
        self.last: I64 = np.full(capacity, _NONE, dtype=np.int64)

    def grow(self, capacity: int) -> None:
        extra = capacity - self.head.size
        if extra <= 0:
            return
        self.times = np.vstack([self.times, np.full((extra, self.size), _NONE, np.int64)])
        self.values = np.vstack([self.values, np.zeros((extra, self.size), np.float64)])
        self.head = np.concatenate([self.head, np.zeros(extra, np.int64)])
        self.last = np.concatenate([self.last, np.full(extra, _NONE, np.int64)])

    def insert(self, idx: I64, t: I64, v: F64) -> None:
        """Add one sample per site (``idx`` unique); too close to the previous one, it is
        skipped (the latest value is tracked elsewhere)."""
        last = self.last[idx]
        ok = (last == _NONE) | (t >= last + self.spacing)
        if not ok.any():
            return
        i, tt, vv = idx[ok], t[ok], v[ok]
        slot = self.head[i] % self.size
        self.times[i, slot] = tt
        self.values[i, slot] = vv
        self.head[i] += 1
        self.last[i] = tt

    def change(self, idx: I64, t: I64, v: F64) -> F64:
        """``v`` minus the oldest sample at or after ``t - window`` (NaN when none)."""
        times = self.times[idx]
        inside = (times >= (t - self.window)[:, None]) & (times != _NONE)
        oldest = np.where(inside, times, _MAX).argmin(axis=1)
        ref = self.values[idx, oldest]
        out: F64 = np.where(inside.any(axis=1), v - ref, np.nan)
        return out
