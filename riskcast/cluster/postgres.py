"""A lease on a PostgreSQL session-level advisory lock.

The lease is ``pg_try_advisory_lock(key, hashtext(name))`` on a connection of its own,
held for as long as that connection lives. PostgreSQL releases it when the session ends:
when the holder closes it, and when the holder's process dies (SIGKILL included), since the
kernel then closes its socket and the server ends the session at once. Every ``interval``
seconds the holder checks its connection with a query; if the query fails or takes longer
than ``interval``, the holder counts the lease as lost and stops its work, then competes
again. Non-holders try to take the lock every ``interval``.

Bounds: after a holder dies, another process takes over within about ``interval``. A
holder whose connection breaks while it runs notices within ``interval`` plus the check's
timeout; PostgreSQL may free the lock earlier (it noticed the broken connection first), so
two processes can both believe they hold the lease for at most that long.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
from typing import Any

from riskcast.cluster.lease import Lease, OnChange
from riskcast.exceptions import MissingExtraError

try:
    import psycopg
except ImportError as err:  # pragma: no cover - exercised only without the extra
    raise MissingExtraError("psycopg", "postgres") from err

__all__ = ["PostgresLease"]

log = logging.getLogger(__name__)
#: First key of every riskcast lease lock ("RCLE"); the second is the hash of the name.
_LEASE_KEY = 0x52434C45


class PostgresLease(Lease):
    """The lease ``name`` on the PostgreSQL at ``url``, checked every ``interval`` seconds."""

    def __init__(self, url: str, name: str, *, interval: float = 1.0) -> None:
        self.url = url
        self.name = name
        self.interval = interval
        self.held = False
        #: Times this process tried to take the lease, and times it won it.
        self.attempts = 0
        self.wins = 0
        self._task: asyncio.Task[None] | None = None
        self._on_change: OnChange | None = None
        #: How the lease's session shows in ``pg_stat_activity``: who holds it (the OS pid).
        self.application_name = f"riskcast-lease:{os.getpid()}:{name}"[:63]

    async def start(self, on_change: OnChange) -> None:
        self._on_change = on_change
        self._task = asyncio.create_task(self._run(), name=f"lease-{self.name}")

    async def aclose(self) -> None:
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def _run(self) -> None:
        while True:
            try:
                conn = await psycopg.AsyncConnection.connect(
                    self.url, autocommit=True, connect_timeout=max(2, int(self.interval * 5)),
                    application_name=self.application_name)
            except (psycopg.Error, OSError) as err:
                log.warning("lease %s: cannot connect (%s); trying again", self.name, err)
                await asyncio.sleep(self.interval)
                continue
            try:
                await self._hold(conn)
            except (psycopg.Error, OSError, TimeoutError) as err:
                log.warning("lease %s: connection lost (%s)", self.name, err)
            except Exception:
                # The holder could not take over (say, its store failed to load): give the
                # lease up, so another process (or this one, later) can.
                log.exception("lease %s: taking over failed; giving the lease up", self.name)
            finally:
                await self._set(False)
                with contextlib.suppress(psycopg.Error, OSError):
                    await conn.close()
            await asyncio.sleep(self.interval)

    async def _hold(self, conn: Any) -> None:
        """Take the lock when free, then keep checking the connection; returns or raises
        once it is lost."""
        while True:
            self.attempts += 1
            async with asyncio.timeout(self.interval * 5):
                cur = await conn.execute("SELECT pg_try_advisory_lock(%s, hashtext(%s))",
                                         (_LEASE_KEY, self.name))
                row = await cur.fetchone()
            if row and row[0]:
                break
            await asyncio.sleep(self.interval)
        self.wins += 1
        log.info("lease %s: won", self.name)
        await self._set(True)
        while True:
            await asyncio.sleep(self.interval)
            async with asyncio.timeout(self.interval * 5):
                await conn.execute("SELECT 1")

    async def _set(self, held: bool) -> None:
        if held == self.held:
            return
        self.held = held
        if not held:
            log.info("lease %s: lost", self.name)
        if self._on_change is not None:
            await self._on_change(held)
