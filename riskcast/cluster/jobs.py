"""Periodic jobs that write shared state, run by one process at a time.

The retention job and scheduled backups touch what every process shares (the readings in
PostgreSQL, a ``pg_dump`` of it). :class:`LeasedJobs` runs them only while this process holds
the ``jobs`` lease: with PostgreSQL storage a :class:`~riskcast.cluster.postgres.PostgresLease`
named ``<schema>.jobs`` (a lease of its own, so it fails over independently of alerts), and
for a process alone the :class:`~riskcast.cluster.lease.SoleLease`, held from the start.
A job is a coroutine function that loops until cancelled; it starts when the lease is won and
is cancelled when it is lost, so after a failover the new holder starts its schedule afresh.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Coroutine
from typing import Any

from riskcast.cluster.lease import Lease, SoleLease

__all__ = ["LeasedJobs", "lease_for"]

log = logging.getLogger(__name__)

#: A job: runs until cancelled.
Job = Callable[[], Coroutine[Any, Any, None]]


def lease_for(storage: object, name: str, interval: float = 1.0) -> Lease:
    """The lease ``name`` among the processes sharing ``storage``: on PostgreSQL an advisory
    lock named ``<schema>.<name>`` there, otherwise the lease of a process alone."""
    url = getattr(storage, "url", "")
    if not isinstance(url, str) or not url.startswith(("postgresql://", "postgres://")):
        return SoleLease()
    from riskcast.cluster.postgres import PostgresLease

    schema = str(getattr(storage, "schema", "riskcast"))
    return PostgresLease(url, f"{schema}.{name}", interval=interval)


class LeasedJobs:
    """Runs its jobs while ``lease`` is held, and only then."""

    def __init__(self, lease: Lease) -> None:
        self.lease = lease
        self._jobs: dict[str, Job] = {}
        self._tasks: dict[str, asyncio.Task[None]] = {}
        #: Times the jobs were started (the lease won).
        self.starts = 0

    def add(self, name: str, job: Job) -> None:
        """Run ``job`` under the lease (add before :meth:`start`)."""
        self._jobs[name] = job

    async def start(self) -> None:
        await self.lease.start(self._on_change)

    async def _on_change(self, held: bool) -> None:
        if held:
            self.starts += 1
            log.info("jobs lease won: running %s", ", ".join(self._jobs) or "nothing")
            for name, job in self._jobs.items():
                self._tasks[name] = asyncio.create_task(job(), name=name)
        else:
            await self._stop()

    async def _stop(self) -> None:
        tasks, self._tasks = self._tasks, {}
        for task in tasks.values():
            task.cancel()
        await asyncio.gather(*tasks.values(), return_exceptions=True)

    async def aclose(self) -> None:
        """Give the lease up and stop the jobs. Safe to call twice."""
        await self.lease.aclose()
        await self._stop()

    def stats(self) -> dict[str, Any]:
        return {"held": self.lease.held, "running": sorted(self._tasks),
                "starts": self.starts}
