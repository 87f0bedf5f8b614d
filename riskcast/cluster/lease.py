"""The lease contract: at most one process at a time holds a named lease.

The alert service runs its evaluation, timers and notifications only while it holds the
``alerts`` lease, so several processes alert once, not once each. A lease says when it is
won and when it is lost through one callback; the holder stops the guarded work when told
it lost the lease. Between the holder's loss (a dead connection, a killed process) and the
next holder's win there may be a short gap, never a long overlap: see each implementation
for the bound.
"""

from __future__ import annotations

import abc
from collections.abc import Awaitable, Callable

__all__ = ["Lease", "OnChange", "SoleLease"]

#: Called with ``True`` when the lease is won, ``False`` when it is lost.
OnChange = Callable[[bool], Awaitable[None]]


class Lease(abc.ABC):
    """A named lease that at most one process holds at a time."""

    #: Whether this process holds the lease now.
    held: bool = False

    @abc.abstractmethod
    async def start(self, on_change: OnChange) -> None:
        """Start competing for the lease; ``on_change`` hears every win and loss, in order
        and never concurrently. May return before the lease is won."""

    @abc.abstractmethod
    async def aclose(self) -> None:
        """Give the lease up (``on_change(False)`` if it was held) and stop competing.
        Safe to call twice."""


class SoleLease(Lease):
    """The lease of a process that is alone: won in :meth:`start`, before it returns."""

    def __init__(self) -> None:
        self._on_change: OnChange | None = None

    async def start(self, on_change: OnChange) -> None:
        self._on_change = on_change
        self.held = True
        await on_change(True)

    async def aclose(self) -> None:
        on_change, self._on_change = self._on_change, None
        if self.held and on_change is not None:
            self.held = False
            await on_change(False)
