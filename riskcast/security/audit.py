"""The audit log: who did what to what, when, and how it ended.

Inside a server, :class:`AuditLog` queues records in memory and one background task
appends them to the key store in batches, so recording costs a list append and never
holds up a request. Every operator and admin action through the API is recorded by the
auth middleware from the policy table (``riskcast/security/policy.py``); code elsewhere
records its own actions with::

    from riskcast.security.audit import record
    record(request, "model.retrain", "wildfire-occurrence", result="ok")

and a command run outside a server (``riskcast restore``) with
:func:`record_action`, which writes straight to the key store.
"""

from __future__ import annotations

import asyncio
import logging
from typing import TYPE_CHECKING, Any

from riskcast.core.clock import now_us
from riskcast.security.keys import ANONYMOUS_ADMIN, Principal
from riskcast.security.store import AuditRecord, KeyStore, open_key_store

if TYPE_CHECKING:
    from starlette.requests import HTTPConnection

    from riskcast.settings import Settings

__all__ = ["AuditLog", "record", "record_action"]

log = logging.getLogger(__name__)

#: Most records held in memory while the store is unreachable; older ones are dropped
#: (and counted) beyond this.
MAX_PENDING = 100_000


class AuditLog:
    """Queues audit records and appends them to ``store`` from one background task."""

    def __init__(self, store: KeyStore) -> None:
        self.store = store
        self._pending: list[AuditRecord] = []
        self._wakeup = asyncio.Event()
        self._idle = asyncio.Event()
        self._idle.set()
        self._task: asyncio.Task[None] | None = None
        self.written = 0
        self.dropped = 0
        self.failures = 0

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.get_running_loop().create_task(self._run(), name="audit")

    def record(self, principal: Principal, action: str, target: str = "", *,
               result: str = "ok", detail: dict[str, Any] | None = None) -> None:
        """Queue one record; never blocks and never raises."""
        self._pending.append(AuditRecord(now_us(), principal.key_id, principal.name, action,
                                         target, result, detail or {}))
        if len(self._pending) > MAX_PENDING:
            del self._pending[0]
            self.dropped += 1
        self._idle.clear()
        self._wakeup.set()

    async def flush(self) -> None:
        """Wait until everything queued so far is in the store (or failed to get there)."""
        if self._task is None:
            await self._write()
            return
        await self._idle.wait()

    async def aclose(self) -> None:
        """Stop the writer after writing what is queued."""
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
        await self._write()

    async def _run(self) -> None:
        while True:
            await self._wakeup.wait()
            self._wakeup.clear()
            # Records queued while writing set the wakeup again; a failed write keeps its
            # records for the next wakeup (so flush does not wait on a dead store).
            if not await self._write() or not self._pending:
                self._idle.set()

    async def _write(self) -> bool:
        batch, self._pending = self._pending, []
        if not batch:
            return True
        try:
            await self.store.append_audit(batch)
        except Exception as err:
            self.failures += 1
            log.error("audit log: could not write %d records: %s", len(batch), err)
            self._pending[:0] = batch[-MAX_PENDING:]
            return False
        self.written += len(batch)
        return True


def record(conn: HTTPConnection, action: str, target: str = "", *, result: str = "ok",
           **detail: Any) -> None:
    """Record an action done for the request's key (in a route of a running server)."""
    principal: Principal = getattr(conn.state, "principal", None) or ANONYMOUS_ADMIN
    conn.app.state.runtime.security.audit.record(principal, action, target, result=result,
                                                 detail=detail)


async def arecord_action(settings: Settings, action: str, target: str = "", *,
                         result: str = "ok", actor_id: str = "cli",
                         actor_name: str = "command line", **detail: Any) -> None:
    """Append one record straight to the key store (for commands run outside a server)."""
    store = open_key_store(settings)
    await store.open()
    try:
        await store.append_audit([AuditRecord(now_us(), actor_id, actor_name, action, target,
                                              result, detail)])
    finally:
        await store.aclose()


def record_action(settings: Settings, action: str, target: str = "", *, result: str = "ok",
                  actor_id: str = "cli", actor_name: str = "command line",
                  **detail: Any) -> None:
    """:func:`arecord_action` for synchronous code, e.g. ``riskcast restore``::

        record_action(settings, "restore", str(archive), result="ok", files=12)
    """
    asyncio.run(arecord_action(settings, action, target, result=result, actor_id=actor_id,
                               actor_name=actor_name, **detail))
