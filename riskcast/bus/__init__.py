"""Buses: publish/subscribe backends. ``open_bus(url)`` picks one by URL."""

from __future__ import annotations

from riskcast.bus.base import Bus
from riskcast.exceptions import ConfigError


def open_bus(url: str, *, history_size: int = 1000) -> Bus:
    """The bus for ``url``: ``memory`` (default), ``redis://...``, ``nats://...``."""
    if url in ("", "memory", "memory://"):
        from riskcast.bus.memory import MemoryBus

        return MemoryBus(history_size=history_size)
    if url.startswith(("redis://", "rediss://", "unix://")):
        from riskcast.bus.redis import RedisBus

        return RedisBus(url, history_size=history_size)
    if url.startswith("nats://"):
        from riskcast.bus.nats import NatsBus

        return NatsBus(url, history_size=history_size)
    raise ConfigError(f"bus: unsupported URL {url!r} (supported: memory, redis://..., nats://...)")


__all__ = ["Bus", "open_bus"]
