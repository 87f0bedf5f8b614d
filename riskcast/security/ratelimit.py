"""Requests per key: a token bucket each, refilled continuously.

>>> limiter = RateLimiter(rate=1.0, burst=2)
>>> [limiter.take("k", now=0.0) for _ in range(3)]
[0.0, 0.0, 1.0]
>>> limiter.take("k", now=1.0)
0.0
"""

from __future__ import annotations

import time
from collections.abc import Callable

__all__ = ["RateLimiter"]


class RateLimiter:
    """``rate`` requests per second on average and ``burst`` at once, per key."""

    __slots__ = ("_buckets", "burst", "clock", "rate")

    def __init__(self, rate: float, burst: int,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.rate = rate
        self.burst = float(burst)
        #: Seconds from any fixed point; tests may move it forward.
        self.clock = clock
        # key -> [tokens, last refill]; one entry per key that made a request, and keys
        # exist only in the key store, so this stays small.
        self._buckets: dict[str, list[float]] = {}

    def take(self, key: str, *, now: float | None = None) -> float:
        """Take one token for ``key``: ``0.0`` when allowed, else the seconds to wait."""
        if self.rate <= 0:
            return 0.0
        now = self.clock() if now is None else now
        bucket = self._buckets.get(key)
        if bucket is None:
            self._buckets[key] = [self.burst - 1.0, now]
            return 0.0
        tokens = min(self.burst, bucket[0] + (now - bucket[1]) * self.rate)
        bucket[1] = now
        if tokens >= 1.0:
            bucket[0] = tokens - 1.0
            return 0.0
        bucket[0] = tokens
        return (1.0 - tokens) / self.rate
