"""Work noted on the ingest path and done later, one key at a time, over merged time spans.

Pack derivations (``derive.py``) and live predictions (``predictions.py``) both run after
each commit, off the request path: a commit notes which keys it touched with the time span
it covered (cheap, no awaiting), and one task works through the keys. A key noted again
before its turn has its span widened instead of being queued twice, so a burst of commits
becomes one run per key over the union of their spans.
"""

from __future__ import annotations

import asyncio
import logging
from abc import ABC, abstractmethod
from collections.abc import Hashable
from typing import Generic, TypeVar

K = TypeVar("K", bound=Hashable)

log = logging.getLogger(__name__)


class SpanWorker(ABC, Generic[K]):
    """Pending keys with merged ``(lo, hi)`` spans, worked through by one task.

    Subclasses implement :meth:`work`; a run that raises is counted in ``failures``, passed
    to :meth:`failed` and never stops the others. ``runs`` counts the runs that did work.
    """

    #: The task's name, and how failures are logged.
    name = "spans"

    def __init__(self) -> None:
        self._pending: dict[K, tuple[int, int]] = {}
        self._wake = asyncio.Event()
        self._idle = asyncio.Event()
        self._idle.set()
        self._task: asyncio.Task[None] | None = None
        self.runs = 0
        self.failures = 0

    @property
    def pending(self) -> int:
        """Keys waiting for their run."""
        return len(self._pending)

    def add(self, key: K, lo: int, hi: int) -> None:
        """Note ``key`` over ``[lo, hi]``, widening the span it already waits with."""
        old = self._pending.get(key)
        self._pending[key] = (lo, hi) if old is None else (min(old[0], lo), max(old[1], hi))

    def kick(self) -> None:
        """Wake the task if anything waits (after a round of :meth:`add`)."""
        if self._pending:
            self._idle.clear()
            self._wake.set()

    @abstractmethod
    async def work(self, key: K, lo: int, hi: int) -> bool:
        """Do the work of ``key`` over ``[lo, hi]``; ``False`` when there was none to do."""

    def failed(self, key: K) -> None:
        """Called (inside the ``except``) when the run of ``key`` raised."""
        log.exception("%s: the run of %r failed", self.name, key)

    async def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name=self.name)

    async def drained(self) -> None:
        """Return when nothing is pending or running (for tests and shutdown)."""
        await self._idle.wait()

    async def aclose(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
            self._task = None
        self._idle.set()

    async def _run(self) -> None:
        while True:
            await self._wake.wait()
            self._wake.clear()
            while self._pending:
                key, (lo, hi) = next(iter(self._pending.items()))
                del self._pending[key]
                try:
                    if await self.work(key, lo, hi):
                        self.runs += 1
                except asyncio.CancelledError:
                    raise
                except Exception:  # one failing run never stops the others
                    self.failures += 1
                    self.failed(key)
            if not self._pending:
                self._idle.set()
