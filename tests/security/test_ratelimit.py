"""Token buckets: per key, and per client address (many of them, so bounded)."""

from __future__ import annotations

from riskcast.security.ratelimit import RateLimiter


def test_wait_tells_when_a_token_comes_without_taking_one() -> None:
    limiter = RateLimiter(rate=2.0, burst=1)
    assert limiter.take("a", now=0.0) == 0.0
    assert limiter.wait("a", now=0.0) == 0.5
    assert limiter.wait("a", now=0.0) == 0.5  # nothing was taken
    assert limiter.wait("b", now=0.0) == 0.0  # an address never seen may go
    assert limiter.take("a", now=0.5) == 0.0


def test_the_buckets_stay_bounded_and_drop_the_refilled_first() -> None:
    limiter = RateLimiter(rate=1.0, burst=2, max_keys=100)
    for i in range(100):
        limiter.take(f"old{i}", now=0.0)
    limiter.take("busy", now=9.0)
    limiter.take("busy", now=9.0)  # empty now
    limiter.take("new", now=10.0)  # past the bound: the refilled buckets go
    assert len(limiter) == 2  # "busy" (one token back of two) and "new"
    assert limiter.take("busy", now=10.0) == 0.0
    assert limiter.take("busy", now=10.0) > 0  # kept: a fresh bucket would allow two


def test_the_buckets_stay_bounded_when_none_has_refilled() -> None:
    limiter = RateLimiter(rate=0.001, burst=1, max_keys=100)
    for i in range(1000):
        limiter.take(f"k{i}", now=float(i))
    assert len(limiter) <= 100
    assert limiter.take("k999", now=999.0) > 0  # the newest are kept
