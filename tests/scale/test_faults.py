"""Faults against real (private) services and real processes: the bus restarted
mid-stream, PostgreSQL restarted mid-ingest, a process killed with SIGKILL. Clients
behave as a careful user's: they retry what was not acknowledged, and reconnect and resume
live streams with ``since``."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.scale.clients import Follower, Ingester, last_seq, stored_times, until
from tests.scale.servers import ServeProcess
from tests.scale.services import Daemon, PostgresDaemon, private_postgres, private_redis


def start_pair(tmp_path: Path, storage: str, bus: str) -> tuple[ServeProcess, ServeProcess]:
    a = ServeProcess(tmp_path, storage=storage, bus=bus, name="a").start()
    try:
        b = ServeProcess(tmp_path, storage=storage, bus=bus, name="b").start()
    except BaseException:
        a.stop()
        raise
    return a, b


@pytest.fixture
def pair(tmp_path: Path, database: str, bus_server: tuple[str, Daemon]
         ) -> Iterator[tuple[ServeProcess, ServeProcess, Daemon]]:
    bus, daemon = bus_server
    a, b = start_pair(tmp_path, database, bus)
    try:
        yield a, b, daemon
    finally:
        a.stop()
        b.stop()


def test_bus_restarted_mid_stream(pair: tuple[ServeProcess, ServeProcess, Daemon],
                                  database: str) -> None:
    """A quick restart: publishes wait for the bus, so every acknowledged reading reaches
    the live stream. A long outage: ingest keeps committing (publishes give up after the
    bus's retry window), the stream recovers and a resuming client gets every event the
    bus holds, in order, once. Every acknowledged reading is stored."""
    a, b, bus = pair
    httpx.post(f"{a.url}/api/v1/sites", json={"id": "f"}).raise_for_status()

    async def scenario() -> None:
        follower = Follower([b.ws_url], "site.f").start()
        await until(lambda: follower.last is not None, what="subscribed")
        ingester = Ingester(a.url, "f").start()
        try:
            await until(lambda: len(follower.seqs) >= 10, what="events before the restart")
            await asyncio.to_thread(bus.stop)
            await asyncio.to_thread(bus.start)
            after = len(ingester.acked)
            await until(lambda: len(ingester.acked) >= after + 10, what="commits after")
            quick = set(ingester.acked)
            await until(lambda: quick <= follower.times,
                        what="every reading acknowledged so far on the stream")
            # A long outage.
            await asyncio.to_thread(bus.stop)
            down = len(ingester.acked)
            await until(lambda: len(ingester.acked) >= down + 1, what="a commit, bus down")
            await asyncio.to_thread(bus.start)
            up = len(ingester.acked)
            seen = len(follower.seqs)
            await until(lambda: len(ingester.acked) >= up + 10 and len(follower.seqs)
                        >= seen + 10, what="commits and events after the restart")
        finally:
            await ingester.stop()
        last = await last_seq(a.ws_url, "site.f")
        await until(lambda: follower.last == last, what=f"the stream reaches seq {last}")
        await follower.stop()
        follower.check_complete(last)
        # Everything acknowledged is stored, bus or no bus.
        assert ingester.acked <= stored_times(database, "f")

    asyncio.run(scenario())


def test_postgres_restarted_mid_ingest(tmp_path: Path) -> None:
    """Clients get 503 with Retry-After (or wait) while PostgreSQL is away; every
    acknowledged reading is stored after an immediate shutdown and crash recovery."""
    with private_postgres(tmp_path) as (postgres, url), private_redis(tmp_path) as redis:
        a, b = start_pair(tmp_path, url, f"redis://127.0.0.1:{redis.port}/0")
        try:
            httpx.post(f"{a.url}/api/v1/sites", json={"id": "p"}).raise_for_status()
            acked = asyncio.run(_ingest_through_a_restart(a, b, postgres))
            stored = stored_times(url, "p")
        finally:
            a.stop()
            b.stop()
    assert acked, "nothing acknowledged"
    missing = acked - stored
    assert not missing, f"{len(missing)} of {len(acked)} acknowledged readings lost"


async def _ingest_through_a_restart(a: ServeProcess, b: ServeProcess,
                                    postgres: PostgresDaemon) -> set[int]:
    """Four clients ingest through both processes while PostgreSQL stops and starts;
    returns the reading times acknowledged."""
    ingesters = [Ingester(server.url, "p", base=i * 1_000_000, batch=50).start()
                 for i, server in enumerate((a, b, a, b))]

    def acked() -> int:
        return sum(len(i.acked) for i in ingesters)

    def refused() -> int:
        return sum(i.statuses[503] for i in ingesters)

    try:
        await until(lambda: acked() >= 2000, what="ingest before the restart")
        await asyncio.to_thread(postgres.stop, kill=True)  # immediate: no checkpoint
        await until(lambda: refused() >= 1, what="a 503 while PostgreSQL is away")
        await asyncio.to_thread(postgres.start)  # crash recovery
        before = acked()
        await until(lambda: acked() >= before + 2000, what="ingest after the restart")
    finally:
        for ingester in ingesters:
            await ingester.stop()
    retry_after = [r for i in ingesters for r in i.retry_after]
    assert retry_after and all(r is not None and int(r) >= 1 for r in retry_after)
    return set().union(*(i.acked for i in ingesters))


def test_process_killed_clients_resume_on_another(
        pair: tuple[ServeProcess, ServeProcess, Daemon]) -> None:
    """SIGKILL one process: its WebSocket clients reconnect to the other and resume with
    ``since``, missing nothing."""
    a, b, _ = pair
    httpx.post(f"{b.url}/api/v1/sites", json={"id": "k"}).raise_for_status()

    async def scenario() -> None:
        followers = [Follower([a.ws_url, b.ws_url], "site.k").start() for _ in range(3)]
        await until(lambda: all(f.last is not None for f in followers), what="subscribed")
        ingester = Ingester(b.url, "k").start()
        try:
            await until(lambda: all(len(f.seqs) >= 10 for f in followers), what="events")
            a.kill()
            sent = len(ingester.acked)
            await until(lambda: len(ingester.acked) >= sent + 20, what="ingest continues")
        finally:
            await ingester.stop()
        last = await last_seq(b.ws_url, "site.k")
        await until(lambda: all(f.last == last for f in followers),
                    what=f"every follower reaches seq {last}")
        for follower in followers:
            await follower.stop()
            follower.check_complete(last)
            assert follower.connects >= 2  # it did reconnect

    asyncio.run(scenario())
