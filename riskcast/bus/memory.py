"""The in-process bus: the embedded default, no server needed."""

from __future__ import annotations

from collections import deque
from collections.abc import AsyncIterator
from typing import Any

from riskcast.bus.base import Bus, Listeners
from riskcast.core.clock import format_us, now_us
from riskcast.core.events import Event, check_channel
from riskcast.exceptions import HistoryGapError


class MemoryBus(Bus):
    """Channels held in this process; ``history_size`` events retained per channel."""

    def __init__(self, history_size: int = 1000) -> None:
        self.history_size = history_size
        self._history: dict[str, deque[Event]] = {}
        self._seq: dict[str, int] = {}
        self._listeners = Listeners()

    async def start(self) -> None:
        return None

    async def aclose(self) -> None:
        self._listeners.close()

    local = True

    async def publish(self, channel: str, data: Any, *, retry_for: float | None = None) -> Event:
        check_channel(channel)
        seq = self._seq.get(channel, 0) + 1
        self._seq[channel] = seq
        event = Event(channel, seq, format_us(now_us()), data)
        history = self._history.get(channel)
        if history is None:
            history = self._history[channel] = deque(maxlen=self.history_size)
        history.append(event)
        self._listeners.deliver(event)
        return event

    def listen(self) -> AsyncIterator[Event]:
        return self._listeners.add()

    async def history(self, channel: str, after: int) -> list[Event]:
        check_channel(channel)
        last = self._seq.get(channel, 0)
        if after >= last:
            if after > last:
                raise HistoryGapError(channel, after, last + 1)
            return []
        events = self._history.get(channel, deque())
        oldest = events[0].seq if events else last + 1
        if after < oldest - 1:
            raise HistoryGapError(channel, after, oldest)
        return [e for e in events if e.seq > after]

    async def last_seq(self, channel: str) -> int:
        return self._seq.get(channel, 0)

    async def ping(self) -> None:
        return None
