"""Token buckets, refilled continuously: requests per key, and per client address for
requests without a valid key.

>>> limiter = RateLimiter(rate=1.0, burst=2)
>>> [limiter.take("k", now=0.0) for _ in range(3)]
[0.0, 0.0, 1.0]
>>> limiter.wait("k", now=0.5), limiter.take("k", now=1.0)
(0.5, 0.0)
"""

from __future__ import annotations

import time
from collections.abc import Callable
from itertools import islice

__all__ = ["RateLimiter"]


class RateLimiter:
    """``rate`` requests per second on average and ``burst`` at once, per key.

    At most ``max_keys`` buckets are kept (client addresses are not bounded the way keys
    are): past it, the buckets that have refilled are dropped (a full bucket is the same as
    none), and if that is not enough, the oldest half.
    """

    __slots__ = ("_buckets", "burst", "clock", "max_keys", "rate")

    def __init__(self, rate: float, burst: int,
                 clock: Callable[[], float] = time.monotonic, *,
                 max_keys: int = 100_000) -> None:
        self.rate = rate
        self.burst = float(burst)
        #: Seconds from any fixed point; tests may move it forward.
        self.clock = clock
        self.max_keys = max_keys
        self._buckets: dict[str, list[float]] = {}  # key -> [tokens, last refill]

    def take(self, key: str, *, now: float | None = None) -> float:
        """Take one token for ``key``: ``0.0`` when allowed, else the seconds to wait."""
        if self.rate <= 0:
            return 0.0
        now = self.clock() if now is None else now
        bucket = self._buckets.get(key)
        if bucket is None:
            if len(self._buckets) >= self.max_keys:
                self._prune(now)
            self._buckets[key] = [self.burst - 1.0, now]
            return 0.0
        tokens = min(self.burst, bucket[0] + (now - bucket[1]) * self.rate)
        bucket[1] = now
        if tokens >= 1.0:
            bucket[0] = tokens - 1.0
            return 0.0
        bucket[0] = tokens
        return (1.0 - tokens) / self.rate

    def wait(self, key: str, *, now: float | None = None) -> float:
        """The seconds until ``key`` may take a token (``0.0``: now), taking none."""
        bucket = self._buckets.get(key)
        if self.rate <= 0 or bucket is None:
            return 0.0
        now = self.clock() if now is None else now
        tokens = bucket[0] + (now - bucket[1]) * self.rate
        return 0.0 if tokens >= 1.0 else (1.0 - tokens) / self.rate

    def __len__(self) -> int:
        return len(self._buckets)

    def _prune(self, now: float) -> None:
        full = [k for k, (tokens, last) in self._buckets.items()
                if tokens + (now - last) * self.rate >= self.burst]
        for key in full:
            del self._buckets[key]
        if len(self._buckets) >= self.max_keys:
            for key in list(islice(self._buckets, len(self._buckets) // 2 + 1)):
                del self._buckets[key]
