"""Faults against real (private) services and real processes: the bus restarted
mid-stream, PostgreSQL restarted mid-ingest, a process killed with SIGKILL. Clients
behave as a careful user's: they retry what was not acknowledged, and reconnect and resume
live streams with ``since``."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.scale.clients import Follower, Ingester, last_seq, stored_times, until
from tests.scale.servers import ServeProcess
from tests.scale.services import Daemon, PostgresDaemon, private_postgres, private_redis


def start_pair(tmp_path: Path, storage: str, bus: str, env: dict[str, str] | None = None
               ) -> tuple[ServeProcess, ServeProcess]:
    a = ServeProcess(tmp_path, storage=storage, bus=bus, name="a", env=env).start()
    try:
        b = ServeProcess(tmp_path, storage=storage, bus=bus, name="b", env=env).start()
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
    """A quick restart: every acknowledged reading reaches the live stream, in order,
    once. Every acknowledged reading is stored."""
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
        finally:
            await ingester.stop()
        last = await last_seq(a.ws_url, "site.f")
        await until(lambda: follower.last == last, what=f"the stream reaches seq {last}")
        await follower.stop()
        follower.check_complete(last)
        # Everything acknowledged is stored, bus or no bus.
        assert ingester.acked <= stored_times(database, "f")

    asyncio.run(scenario())


#: Longer than the retry window of either bus (Redis 5 s, NATS 10 s), which once bounded
#: how long a publish waited (each ingest request waited it out, then its events were lost).
LONG_OUTAGE_S = 12.0


def publishing(server: ServeProcess) -> dict[str, Any]:
    stats: dict[str, Any] = httpx.get(f"{server.url}/api/v1/system").json()["publishing"]
    return stats


async def _long_outage(a: ServeProcess, bus: Daemon, ingester: Ingester, follower: Follower,
                       until_down: Callable[[dict[str, Any]], bool]) -> int:
    """Stop the bus while ``ingester`` runs until ``until_down`` holds for process a's
    publish queue, then start it again; returns the readings acknowledged meanwhile."""
    await until(lambda: len(follower.seqs) >= 10, what="events before the outage")
    await asyncio.to_thread(bus.stop)
    down = len(ingester.acked)
    await until(lambda: len(ingester.acked) >= down + 200, what="ingest while the bus is down")
    # Still ready (it takes readings), but saying the bus is away.
    ready = await asyncio.to_thread(httpx.get, f"{a.url}/health/ready")
    assert ready.status_code == 200, ready.text
    assert ready.json()["status"] == "degraded"
    assert ready.json()["checks"]["bus"].startswith("error")

    async def waited() -> bool:
        return until_down(await asyncio.to_thread(publishing, a))

    deadline = asyncio.get_running_loop().time() + 120
    while not await waited():
        assert asyncio.get_running_loop().time() < deadline, publishing(a)
        await asyncio.sleep(0.2)  # polling the server's own account of the outage
    acked_while_down = len(ingester.acked) - down
    await asyncio.to_thread(bus.start)
    return acked_while_down


def test_bus_down_longer_than_the_retry_window(
        pair: tuple[ServeProcess, ServeProcess, Daemon], database: str) -> None:
    """The bus away for longer than its retry window: ingest keeps answering (hundreds of
    requests, one at a time, while it is down); once it is back a WebSocket client of the
    other process gets every acknowledged reading, in order, each once, gapless seqs."""
    a, b, bus = pair
    httpx.post(f"{a.url}/api/v1/sites", json={"id": "o"}).raise_for_status()

    async def scenario() -> None:
        follower = Follower([b.ws_url], "site.o").start()
        await until(lambda: follower.last is not None, what="subscribed")
        ingester = Ingester(a.url, "o").start()
        try:
            acked_while_down = await _long_outage(
                a, bus, ingester, follower,
                lambda p: p["oldest_waiting_s"] > LONG_OUTAGE_S and p["queued"] > 0)
            assert acked_while_down >= 200
            after = len(ingester.acked)
            await until(lambda: len(ingester.acked) >= after + 10, what="commits after")
        finally:
            await ingester.stop()
        everything = set(ingester.acked)
        await until(lambda: everything <= follower.times,
                    what="every acknowledged reading on the stream")
        last = await last_seq(a.ws_url, "site.o")
        await until(lambda: follower.last == last, what=f"the stream reaches seq {last}")
        await follower.stop()
        follower.check_complete(last)
        assert not follower.repeated and not follower.gaps
        stats = publishing(a)
        assert stats["queued"] == 0 and stats["gaps"] == 0 and stats["failures"] == 0
        assert ingester.acked <= stored_times(database, "o")

    asyncio.run(scenario())


def test_a_full_publish_queue_gives_a_history_gap(
        tmp_path: Path, database: str, bus_server: tuple[str, Daemon]) -> None:
    """Past ``publish_queue`` the waiting events of a channel become one ``history_gap``
    event naming the readings and their time range; the client gets the gap, then every
    later event, gapless seqs, nothing twice; gap and events together cover every
    acknowledged reading."""
    bus_url, bus = bus_server
    a, b = start_pair(tmp_path, database, bus_url, env={"RISKCAST_PUBLISH_QUEUE": "50"})
    try:
        httpx.post(f"{a.url}/api/v1/sites", json={"id": "g"}).raise_for_status()

        async def scenario() -> None:
            follower = Follower([b.ws_url], "site.g").start()
            await until(lambda: follower.last is not None, what="subscribed")
            ingester = Ingester(a.url, "g").start()
            try:
                await _long_outage(a, bus, ingester, follower, lambda p: p["queued"] > 0
                                   and p["gap_readings"] >= 100)
                after = len(ingester.acked)
                await until(lambda: len(ingester.acked) >= after + 10 and follower.gaps != [],
                            what="commits and the gap after the restart")
            finally:
                await ingester.stop()
            last = await last_seq(a.ws_url, "site.g")
            await until(lambda: follower.last == last, what=f"the stream reaches seq {last}")
            await follower.stop()
            follower.check_complete(last)
            assert not follower.repeated
            assert len(follower.gaps) >= 1
            assert follower.gaps[0]["site"] == "g" and follower.gaps[0]["readings"] >= 100
            covered = set(follower.times)
            for gap in follower.gaps:
                span = gap["variables"]["wind_kmh"]
                first, to = (int(datetime.fromisoformat(span[k]).timestamp())
                             for k in ("from", "to"))
                covered.update(range(first, to + 1))
            missing = ingester.acked - covered
            assert not missing, f"{len(missing)} acknowledged readings neither sent nor in a gap"

        asyncio.run(scenario())
    finally:
        a.stop()
        b.stop()


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
        try:
            await until(lambda: all(f.last == last for f in followers),
                        what=f"every follower reaches seq {last}")
        except TimeoutError as err:  # say where each follower stands
            states = [(f.last, f.connects, f.errors[-3:], _tail(f.seqs)) for f in followers]
            raise AssertionError(f"{err}; followers (last, connects, errors, seqs): "
                                 f"{states}") from err
        for follower in followers:
            await follower.stop()
            follower.check_complete(last)
            assert follower.connects >= 2  # it did reconnect

    asyncio.run(scenario())


def _tail(seqs: list[int]) -> str:
    return f"{len(seqs)} seqs, last ten {seqs[-10:]}"
