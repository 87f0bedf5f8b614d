"""The bus contract: named channels, per-channel sequence numbers, bounded history.

Storage is the truth; the bus is for delivery. Every hub hears every channel through
:meth:`Bus.listen`, so any process can serve any client.
"""

from __future__ import annotations

import abc
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

    @abc.abstractmethod
    async def publish(self, channel: str, data: Any) -> Event:
        """Publish ``data`` on ``channel`` and return the event.

        The bus assigns ``seq``: 1, 2, 3, ... per channel, without gaps, in the order the
        publishes complete. The event is in the history before this returns.
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
