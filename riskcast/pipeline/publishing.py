"""Publishing after the commit: the bus is for delivery, never in the way of ingest.

Ingest answers once readings are committed; their events wait here for the bus. Each
channel's events go out in order, one publish in flight per channel (``concurrency``
channels at once), so a channel's order on the bus is the order of its commits. A publish
keeps trying until the bus takes it (the bus never stores an event twice across its own
retries), so a bus outage of any length delays events without losing or repeating them.

The queue is bounded per process by ``max_queued`` readings (other events count one).
Past the bound, the channel holding most is folded into one ``history_gap`` event that
says what it stood for: for a ``site.<id>`` channel, how many readings and, per variable,
the time range they cover, so a client reads exactly that range again over REST. Events
after the gap follow it in order. Readings are in storage either way: storage is the truth.

While a channel's events wait (the bus is slow or away), readings events of one site are
merged into one event of at most ``merge_limit`` readings, so catching up after an outage
takes few publishes.

With the in-process bus (``Bus.local``), which never waits on anything, events are
published inline and nothing queues.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import deque
from collections.abc import Callable, Sequence
from typing import Any

from riskcast.bus.base import Bus
from riskcast.core.clock import format_us
from riskcast.exceptions import BusError
from riskcast.types import ReadingRow

__all__ = ["PublishQueue"]

log = logging.getLogger(__name__)

#: Builds a ``readings`` event payload from the rows of one site.
Render = Callable[[str, Sequence[ReadingRow]], dict[str, Any]]


class _Readings:
    """Readings of one site waiting to be published (one or several commits)."""

    __slots__ = ("at", "rows", "site")

    def __init__(self, site: str, rows: list[ReadingRow], at: float) -> None:
        self.site = site
        self.rows = rows
        self.at = at  # when it was queued (monotonic)

    @property
    def weight(self) -> int:
        return len(self.rows)


class _Plain:
    """Any other event."""

    __slots__ = ("at", "data")
    weight = 1

    def __init__(self, data: Any, at: float) -> None:
        self.data = data
        self.at = at


class _Gap:
    """Events folded away past the bound: what they stood for, not what they held."""

    __slots__ = ("at", "events", "readings", "site", "spans")
    weight = 1

    def __init__(self, at: float) -> None:
        self.at = at  # when the oldest event folded into it was queued
        self.events = 0
        self.readings = 0
        self.site: str | None = None
        self.spans: dict[str, list[int]] = {}  # variable -> [first time, last time] (µs)

    def fold(self, item: _Item) -> None:
        if isinstance(item, _Gap):
            self.events += item.events
            self.readings += item.readings
            self.site = self.site or item.site
            for variable, (first, last) in item.spans.items():
                self._span(variable, first, last)
            return
        self.events += 1
        if isinstance(item, _Readings):
            self.site = item.site
            self.readings += len(item.rows)
            for _, variable, t, *_ in item.rows:
                self._span(variable, t, t)

    def _span(self, variable: str, first: int, last: int) -> None:
        span = self.spans.get(variable)
        if span is None:
            self.spans[variable] = [first, last]
        else:
            span[0] = min(span[0], first)
            span[1] = max(span[1], last)

    def payload(self) -> dict[str, Any]:
        data: dict[str, Any] = {"type": "history_gap", "events": self.events}
        if self.site is not None:
            data.update(site=self.site, readings=self.readings, variables={
                v: {"from": format_us(a), "to": format_us(b)}
                for v, (a, b) in sorted(self.spans.items())})
        data["message"] = ("events committed while the bus was away did not fit the publish "
                           "queue; read this range again over REST")
        return data


_Item = _Readings | _Plain | _Gap


class PublishQueue:
    """Publishes events after their commit, in order per channel; see the module docstring."""

    def __init__(self, bus: Bus, render: Render, *, max_queued: int = 100_000,
                 concurrency: int = 32, merge_limit: int = 5_000,
                 inline: bool | None = None) -> None:
        self.bus = bus
        self.render = render
        self.max_queued = max_queued
        self.concurrency = concurrency
        self.merge_limit = merge_limit
        #: Publish in the caller's task (the in-process bus) rather than through the queue.
        self.inline = bus.local if inline is None else inline
        self._queues: dict[str, deque[_Item]] = {}
        self._weights: dict[str, int] = {}
        self._ready: dict[str, None] = {}  # channels waiting for a worker, in order
        self._busy: set[str] = set()  # channels with a publish in flight
        self._workers: set[asyncio.Task[None]] = set()
        self._flying: dict[str, float] = {}  # channel -> when its in-flight item was queued
        self._idle = asyncio.Event()
        self._idle.set()
        self._closed = False
        #: Readings (and other events) waiting, being published now; events published.
        self.queued = 0
        self.in_flight = 0
        self.published = 0
        self.merged = 0
        self.gaps = 0
        self.gap_readings = 0
        self.retries = 0
        #: Events that could not be published at all (a bad payload, still waiting at close).
        self.failures = 0

    # -- putting ----------------------------------------------------------------------

    async def readings(self, site: str, rows: list[ReadingRow]) -> None:
        """Publish the committed ``rows`` of ``site`` on ``site.<id>``."""
        if self.inline:
            await self._publish_now(f"site.{site}", self.render(site, rows))
        else:
            self._put(f"site.{site}", _Readings(site, rows, time.monotonic()))

    async def event(self, channel: str, data: Any) -> None:
        """Publish ``data`` on ``channel`` after what is already waiting there."""
        if self.inline:
            await self._publish_now(channel, data)
        else:
            self._put(channel, _Plain(data, time.monotonic()))

    async def _publish_now(self, channel: str, data: Any) -> None:
        try:
            await self.bus.publish(channel, data)
            self.published += 1
        except Exception:
            self.failures += 1
            log.exception("publish on %s failed", channel)

    def _put(self, channel: str, item: _Item) -> None:
        if self._closed:
            self.failures += 1
            return
        queue = self._queues.get(channel)
        if queue is None:
            queue = self._queues[channel] = deque()
        queue.append(item)
        self._weights[channel] = self._weights.get(channel, 0) + item.weight
        self.queued += item.weight
        while self.queued > self.max_queued and self._fold_largest():
            pass
        self._idle.clear()
        if channel not in self._busy and channel not in self._ready:
            self._ready[channel] = None
            self._spawn()

    def _fold_largest(self) -> bool:
        """Fold the waiting events of the channel holding most into one gap; False when
        nothing more can be folded."""
        channel = max(self._weights, key=self._weights.__getitem__, default=None)
        if channel is None or self._weights[channel] <= 1:
            return False
        queue = self._queues[channel]
        gap = _Gap(queue[0].at)
        for item in queue:
            gap.fold(item)
            if not isinstance(item, _Gap):
                self.gap_readings += item.weight if isinstance(item, _Readings) else 0
        queue.clear()
        queue.append(gap)
        self.queued -= self._weights[channel] - 1
        self._weights[channel] = 1
        log.warning("publish queue full: %d events of %s folded into a history_gap",
                     gap.events, channel)
        return True

    # -- draining ---------------------------------------------------------------------

    def _spawn(self) -> None:
        while self._ready and len(self._workers) < self.concurrency:
            task = asyncio.get_running_loop().create_task(self._work(), name="publish")
            self._workers.add(task)
            task.add_done_callback(self._workers.discard)

    def _take(self, channel: str) -> tuple[_Item, int]:
        """The next item of ``channel`` (readings of one site merged) and its weight."""
        queue = self._queues[channel]
        item = queue.popleft()
        weight = item.weight
        if isinstance(item, _Readings) and queue and isinstance(queue[0], _Readings):
            rows = list(item.rows)
            while queue and isinstance(queue[0], _Readings) \
                    and len(rows) + queue[0].weight <= self.merge_limit:
                more = queue.popleft()
                assert isinstance(more, _Readings)
                rows.extend(more.rows)
                weight += more.weight
                self.merged += 1
            item = _Readings(item.site, rows, item.at)
        self._weights[channel] -= weight
        self.queued -= weight
        return item, weight

    async def _work(self) -> None:
        while self._ready:
            channel = next(iter(self._ready))
            del self._ready[channel]
            self._busy.add(channel)
            item, weight = self._take(channel)
            self.in_flight += weight
            self._flying[channel] = item.at
            try:
                await self._send(channel, item)
            finally:
                self.in_flight -= weight
                self._busy.discard(channel)
                del self._flying[channel]
                if self._queues[channel]:
                    self._ready[channel] = None  # its turn again, after the others
                else:
                    del self._queues[channel], self._weights[channel]
        if not self._queues and not self._busy:
            self._idle.set()

    async def _send(self, channel: str, item: _Item) -> None:
        if isinstance(item, _Readings):
            data = self.render(item.site, item.rows)
        elif isinstance(item, _Gap):
            data = item.payload()
            self.gaps += 1
        else:
            data = item.data
        delay = 0.1
        while True:
            try:
                await self.bus.publish(channel, data, retry_for=float("inf"))
                self.published += 1
                return
            except BusError as err:
                if self._closed:
                    self.failures += 1
                    return
                # Not a lost connection (the bus retries those itself): try again later.
                self.retries += 1
                log.warning("publish on %s failed (%s); trying again", channel, err)
            except Exception:
                self.failures += 1
                log.exception("publish on %s failed; event dropped", channel)
                return
            await asyncio.sleep(delay)
            delay = min(delay * 2, 2.0)

    # -- waiting and closing ------------------------------------------------------------

    async def flush(self, within: float | None = None) -> bool:
        """Wait until nothing waits or is in flight; False if ``within`` passed first."""
        try:
            async with asyncio.timeout(within):
                await self._idle.wait()
        except TimeoutError:
            return False
        return True

    async def aclose(self, within: float = 5.0) -> None:
        """Publish what waits for up to ``within`` seconds, then give up on the rest (it is
        in storage)."""
        if not await self.flush(within):
            log.warning("closing with %d readings or events not published (they are in "
                        "storage)", self.queued + self.in_flight)
            self.failures += sum(len(q) for q in self._queues.values()) + len(self._busy)
        self._closed = True
        workers = list(self._workers)
        for task in workers:
            task.cancel()
        for task in workers:
            with contextlib.suppress(asyncio.CancelledError):
                await task

    def stats(self) -> dict[str, Any]:
        now = time.monotonic()
        oldest = min([q[0].at for q in self._queues.values() if q]
                     + list(self._flying.values()), default=now)
        return {
            "queued": self.queued, "in_flight": self.in_flight,
            "channels_waiting": len(self._queues),
            "oldest_waiting_s": round(now - oldest, 3),
            "published": self.published, "merged": self.merged, "gaps": self.gaps,
            "gap_readings": self.gap_readings, "retries": self.retries,
            "failures": self.failures,
        }
