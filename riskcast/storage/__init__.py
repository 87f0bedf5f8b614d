"""Storage backends. ``open_storage(url)`` picks one by URL."""

from __future__ import annotations

from collections.abc import Mapping

from riskcast.core.sources import SourcePriority
from riskcast.exceptions import ConfigError
from riskcast.storage.base import Bucket, Latest, Point, Storage


def open_storage(url: str, *, sqlite_synchronous: str = "full",
                 source_priority: Mapping[str, int] | None = None) -> Storage:
    """The storage for ``url``: ``sqlite:///path`` or a plain path (default), ``memory``,
    ``postgresql://...`` (PostgreSQL, schema ``riskcast``).
    ``source_priority`` overrides the default priority per source kind."""
    priority = SourcePriority(source_priority)
    if url in ("memory", "memory://"):
        from riskcast.storage.memory import MemoryStorage

        return MemoryStorage(priority=priority)
    if url.startswith(("postgres://", "postgresql://")):
        from riskcast.storage.postgres import PostgresStorage

        return PostgresStorage(url, priority=priority)
    path = url.removeprefix("sqlite:///").removeprefix("sqlite://")
    if "://" in path:
        raise ConfigError(f"storage: unsupported URL {url!r} "
                          "(supported: sqlite:///PATH, memory, postgresql://...)")
    from riskcast.storage.sqlite import SqliteStorage

    return SqliteStorage(path, synchronous=sqlite_synchronous, priority=priority)


__all__ = ["Bucket", "Latest", "Point", "Storage", "open_storage"]
