"""Several ``riskcast serve`` processes on PostgreSQL plus Redis or NATS: an event ingested
through one process reaches WebSocket subscribers of another in order, and a client resumes
with ``since`` on a process other than the one it left."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.scale.servers import ServeProcess
from tests.scale.services import Daemon
from tests.scale.streams import Stream, post_readings, reading, values


@pytest.fixture
def two(tmp_path: Path, database: str, bus_server: tuple[str, Daemon]
        ) -> Iterator[tuple[ServeProcess, ServeProcess]]:
    bus, _ = bus_server
    a = ServeProcess(tmp_path, storage=database, bus=bus, name="a")
    b = ServeProcess(tmp_path, storage=database, bus=bus, name="b")
    try:
        a.start()
        b.start()
        yield a, b
    finally:
        a.stop()
        b.stop()


def test_ingest_on_one_process_reaches_a_subscriber_of_another_in_order(
        two: tuple[ServeProcess, ServeProcess]) -> None:
    a, b = two
    httpx.post(f"{a.url}/api/v1/sites", json={"id": "shared"}).raise_for_status()

    async def scenario() -> None:
        stream = Stream()
        await stream.connect(b.ws_url, ["site.shared"])
        async with httpx.AsyncClient() as client:
            for k in range(20):
                r = await post_readings(client, a.url, [reading("shared", k)])
                assert r.status_code == 200 and r.json()["accepted"] == 1
        events = await stream.read(20)
        assert values(events) == [float(k) for k in range(20)]
        seqs = [e["seq"] for e in events]
        assert seqs == list(range(seqs[0], seqs[0] + 20))  # gapless, in order
        # Leave b, miss five events, resume on a: the missed ones, then live ones.
        await stream.close()
        async with httpx.AsyncClient() as client:
            for k in range(20, 25):
                await post_readings(client, b.url, [reading("shared", k)])
        await stream.connect(a.ws_url, ["site.shared"], resume=True)
        async with httpx.AsyncClient() as client:
            await post_readings(client, b.url, [reading("shared", 25)])
        resumed = await stream.read(6)
        assert values(resumed) == [float(k) for k in range(20, 26)]
        assert [e["seq"] for e in resumed] == list(range(seqs[-1] + 1, seqs[-1] + 7))
        await stream.close()

    asyncio.run(scenario())
    points = httpx.get(f"{b.url}/api/v1/sites/shared/series/wind_kmh",
                       params={"from": "2023-01-01T00:00:00Z"}).json()["points"]
    assert [p["value"] for p in points] == [float(k) for k in range(26)]


def test_workers_share_one_port(tmp_path: Path, database: str,
                                bus_server: tuple[str, Daemon]) -> None:
    bus, _ = bus_server
    server = ServeProcess(tmp_path, storage=database, bus=bus, workers=2).start()
    try:
        httpx.post(f"{server.url}/api/v1/sites", json={"id": "w"}).raise_for_status()

        async def scenario() -> None:
            # Several connections: the kernel spreads them over both workers; every
            # subscriber hears every event whichever worker ingested it.
            streams = [Stream() for _ in range(6)]
            for stream in streams:
                await stream.connect(server.ws_url, ["site.w"])
            async with httpx.AsyncClient() as client:
                for k in range(10):
                    # A fresh connection per request, so requests land on both workers.
                    r = await client.post(f"{server.url}/api/v1/readings",
                                          json={"readings": [reading("w", k)]},
                                          headers={"connection": "close"})
                    assert r.json()["accepted"] == 1
            for stream in streams:
                assert values(await stream.read(10)) == [float(k) for k in range(10)]
                await stream.close()

        asyncio.run(scenario())
    finally:
        server.stop()
    assert "Traceback" not in server.log_text()


def test_workers_refuse_sqlite_and_the_memory_bus(tmp_path: Path) -> None:
    import subprocess
    import sys

    done = subprocess.run([sys.executable, "-m", "riskcast.cli.main", "serve", "--workers", "2",
                           "--data-dir", str(tmp_path)], capture_output=True, text=True,
                          timeout=60)
    assert done.returncode == 2
    assert "--workers 2 needs backends that processes share" in done.stderr
    assert "postgresql://" in done.stderr and "redis://" in done.stderr


def worker_pids(parent: int) -> list[int]:
    """The riskcast workers of a ``serve --workers`` parent (not multiprocessing helpers)."""
    pids = []
    for tid in Path(f"/proc/{parent}/task").iterdir():
        for child in (tid / "children").read_text().split():
            cmdline = Path(f"/proc/{child}/cmdline").read_bytes()
            if b"spawn_main" in cmdline and b"resource_tracker" not in cmdline:
                pids.append(int(child))
    return pids


def test_workers_share_the_requests(tmp_path: Path, database: str,
                                    redis_server: Daemon) -> None:
    """Requests on new connections are answered by both workers, not only one (each
    answer names its process in /api/v1/system)."""
    bus = f"redis://127.0.0.1:{redis_server.port}/0"
    server = ServeProcess(tmp_path, storage=database, bus=bus, workers=2).start()
    try:
        workers = set(worker_pids(server.pid))
        assert len(workers) == 2

        async def answered_by() -> set[int]:
            seen: set[int] = set()
            deadline = asyncio.get_running_loop().time() + 60

            async def one() -> None:
                async with httpx.AsyncClient() as client:  # a connection of its own
                    r = await client.get(f"{server.url}/api/v1/system")
                    seen.add(r.json()["process"]["pid"])

            while seen != workers and asyncio.get_running_loop().time() < deadline:
                await asyncio.gather(*(one() for _ in range(8)))
            return seen

        assert asyncio.run(answered_by()) == workers
    finally:
        server.stop()


def test_a_killed_worker_is_replaced(tmp_path: Path, database: str,
                                     redis_server: Daemon) -> None:
    import os
    import signal

    bus = f"redis://127.0.0.1:{redis_server.port}/0"
    server = ServeProcess(tmp_path, storage=database, bus=bus, workers=2).start()
    try:
        workers = worker_pids(server.pid)
        assert len(workers) == 2
        os.kill(workers[0], signal.SIGKILL)
        assert server.proc is not None and server.proc.stdout is not None
        # The parent starts another, which prints its banner once it serves.
        while "riskcast ready on" not in (line := server.proc.stdout.readline().decode()):
            assert line, f"serve ended:\n{server.log_text()}"
        now = worker_pids(server.pid)
        assert len(now) == 2 and workers[0] not in now and workers[1] in now
        httpx.get(f"{server.url}/health/ready").raise_for_status()
    finally:
        server.stop()


def test_keys_and_stream_tokens_work_on_every_process(tmp_path: Path, database: str,
                                                      redis_server: Daemon) -> None:
    """Auth on: a key made through one process and a token it signed work on the other
    (keys and the token secret live in PostgreSQL)."""
    admin = "scale-out-admin-key-0123456789abcdef"
    bus = f"redis://127.0.0.1:{redis_server.port}/0"
    env = {"RISKCAST_AUTH": "true", "RISKCAST_ADMIN_KEY": admin}
    a = ServeProcess(tmp_path, storage=database, bus=bus, env=env, name="a")
    b = ServeProcess(tmp_path, storage=database, bus=bus, env=env, name="b")
    try:
        a.start()
        b.start()
        as_admin = {"authorization": f"Bearer {admin}"}
        made = httpx.post(f"{a.url}/api/v1/keys", headers=as_admin,
                          json={"role": "operator", "name": "loader"})
        assert made.status_code in (200, 201), made.text
        key = {"authorization": f"Bearer {made.json()['key']}"}
        httpx.post(f"{b.url}/api/v1/sites", json={"id": "sec"}, headers=key).raise_for_status()
        assert httpx.get(f"{b.url}/api/v1/sites").status_code == 401
        token = httpx.post(f"{a.url}/api/v1/auth/token", headers=key).json()["token"]

        async def scenario() -> None:
            stream = Stream()
            await stream.connect(f"{b.ws_url}?token={token}", ["site.sec"])
            async with httpx.AsyncClient(headers=key) as client:
                r = await post_readings(client, a.url, [reading("sec", 1)])
                assert r.status_code == 200, r.text
            assert values(await stream.read(1)) == [1.0]
            await stream.close()

        asyncio.run(scenario())
    finally:
        a.stop()
        b.stop()
