"""Group commit: concurrent batches share one transaction.

Callers hand rows to :meth:`GroupCommitter.submit` and wait; a single loop takes everything
queued, writes it in one transaction, and wakes each caller only after the commit. While one
commit runs the next group gathers, so durability costs milliseconds, not throughput.
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from collections.abc import Callable, Sequence

from riskcast.exceptions import OverloadedError, StorageError
from riskcast.storage.base import Storage
from riskcast.types import ReadingRow


class GroupCommitter:
    """Commits rows for many callers at once.

    ``max_pending`` bounds the rows waiting: past it, :meth:`submit` raises
    ``OverloadedError`` at once, so memory stays bounded under overload.
    """

    def __init__(self, storage: Storage, *, max_pending: int = 200_000,
                 max_group: int = 100_000) -> None:
        self.storage = storage
        self.max_pending = max_pending
        self.max_group = max_group
        self.pending_rows = 0
        self.commits = 0
        self.committed_rows = 0
        #: Called after each commit with its row count and duration in seconds (metrics).
        self.on_commit: Callable[[int, float], None] | None = None
        self._queue: deque[tuple[Sequence[ReadingRow], asyncio.Future[None]]] = deque()
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._closing = False

    async def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="group-commit")

    @property
    def running(self) -> bool:
        """Whether the commit loop is alive (readiness: without it ingest would hang)."""
        return self._task is not None and not self._task.done()

    def check_room(self) -> None:
        """Raise ``OverloadedError`` when nothing more fits, before any work is spent on a
        batch (decoding, checking) that would be refused anyway."""
        if self.pending_rows >= self.max_pending:
            raise OverloadedError(
                f"{self.pending_rows} readings are waiting to be committed", retry_after=1.0)

    async def submit(self, rows: Sequence[ReadingRow]) -> None:
        """Return once ``rows`` are committed. Raises ``OverloadedError`` when too much is
        queued, ``StorageError`` when the commit failed (nothing of the group is stored)."""
        if not rows:
            return
        if self._closing:
            raise OverloadedError("shutting down", retry_after=5.0)
        if self.pending_rows + len(rows) > self.max_pending and self.pending_rows > 0:
            raise OverloadedError(
                f"{self.pending_rows} readings are waiting to be committed", retry_after=1.0)
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._queue.append((rows, future))
        self.pending_rows += len(rows)
        self._wake.set()
        await asyncio.shield(future)

    async def _run(self) -> None:
        while True:
            await self._wake.wait()
            self._wake.clear()
            while self._queue:
                group, rows = self._take()
                started = time.perf_counter()
                try:
                    await self.storage.write_readings(rows)
                except Exception as err:  # every caller of the group learns why
                    failure = err if isinstance(err, StorageError) else StorageError(str(err))
                    for _, future in group:
                        if not future.done():
                            future.set_exception(failure)
                else:
                    self.commits += 1
                    self.committed_rows += len(rows)
                    if self.on_commit is not None:
                        self.on_commit(len(rows), time.perf_counter() - started)
                    for _, future in group:
                        if not future.done():
                            future.set_result(None)
                finally:
                    self.pending_rows -= len(rows)
            if self._closing:
                return

    def _take(self) -> tuple[list[tuple[Sequence[ReadingRow], asyncio.Future[None]]],
                             list[ReadingRow]]:
        group = []
        rows: list[ReadingRow] = []
        while self._queue and (not rows or len(rows) + len(self._queue[0][0]) <= self.max_group):
            item = self._queue.popleft()
            group.append(item)
            rows.extend(item[0])
        return group, rows

    async def aclose(self) -> None:
        """Refuse new rows, commit everything queued, stop."""
        self._closing = True
        self._wake.set()
        if self._task is not None:
            await self._task
            self._task = None
