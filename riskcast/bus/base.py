"""The bus contract: named channels, per-channel sequence numbers, bounded history.

Storage is the truth; the bus is for delivery. Every hub hears every channel through
:meth:`Bus.listen`, so any process can serve any client.
"""

from __future__ import annotations

import abc
import asyncio
from collections.abc import AsyncIterator
from typing import Any

from riskcast.core.events import Event


class Bus(abc.ABC):
    """A publish/subscribe bus. Implementations: ``MemoryBus`` (``bus/memory.py``)."""

    @abc.abstractmethod
    async def start(self) -> None:
        """Connect. Called once before any other method."""

    @abc.abstractmethod
    async def aclose(self) -> None:
        """Disconnect; pending :meth:`listen` iterators end. Safe to call twice."""

    #: Whether :meth:`publish` completes without waiting on I/O (the in-process bus), so
    #: callers may publish inline instead of through a queue.
    local: bool = False

    @abc.abstractmethod
    async def publish(self, channel: str, data: Any, *, retry_for: float | None = None) -> Event:
        """Publish ``data`` on ``channel`` and return the event.

        The bus assigns ``seq``: 1, 2, 3, ... per channel, without gaps, in the order the
        publishes complete. The event is in the history before this returns. When the
        server is away, a network bus tries again for ``retry_for`` seconds (``None``: its
        own window; ``math.inf``: until stored or the bus closes) without ever storing the
        event twice, then raises ``BusError``.
        """

    @abc.abstractmethod
    def listen(self) -> AsyncIterator[Event]:
        """Every event on every channel published after the iterator starts.

        Events of one channel arrive in ``seq`` order; channels may interleave.
        The iterator is registered as soon as it is created, before the first ``anext``.
        """

    @abc.abstractmethod
    async def history(self, channel: str, after: int) -> list[Event]:
        """The retained events of ``channel`` with ``seq > after``, in order.

        Raises ``HistoryGapError`` when events after ``after`` were evicted, or when
        ``after`` is beyond the channel's last seq (its numbering was reset).
        """

    @abc.abstractmethod
    async def last_seq(self, channel: str) -> int:
        """The seq of the channel's latest event, 0 when it has none."""

    @abc.abstractmethod
    async def ping(self) -> None:
        """Return when the bus is reachable; raise ``BusError`` otherwise."""


class Listeners:
    """This process's :meth:`Bus.listen` iterators, fed by one ``deliver`` per event.

    Shared by every backend: whatever brings an event in (a local publish, a Redis pub/sub
    message, a NATS push), each listener gets it once, in arrival order, and every iterator
    ends when the bus closes.
    """

    _CLOSED = object()

    def __init__(self) -> None:
        self._queues: set[asyncio.Queue[Any]] = set()
        self.closed = False

    def __len__(self) -> int:
        return len(self._queues)

    def add(self) -> AsyncIterator[Event]:
        """A new listener (ends at once if the bus is already closed)."""
        queue: asyncio.Queue[Any] = asyncio.Queue()
        if self.closed:
            queue.put_nowait(self._CLOSED)
        else:
            self._queues.add(queue)
        return self._drain(queue)

    def deliver(self, event: Event) -> None:
        for queue in self._queues:
            queue.put_nowait(event)

    def close(self) -> None:
        """End every listener; later ones end at once."""
        self.closed = True
        for queue in self._queues:
            queue.put_nowait(self._CLOSED)
        self._queues.clear()

    async def _drain(self, queue: asyncio.Queue[Any]) -> AsyncIterator[Event]:
        try:
            while True:
                item = await queue.get()
                if item is self._CLOSED:
                    return
                yield item
        finally:
            self._queues.discard(queue)
