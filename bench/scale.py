"""Scale-out: ingest and fan-out through two riskcast processes against one, on PostgreSQL
plus Redis, and through one process on SQLite (the embedded default), in one run.

    .venv/bin/python bench/scale.py [--seconds 8] [--subscribers 500] [--rate 100]

- ingest: HTTP batches (``--batch`` readings each) from ``--concurrency`` connections in
  all, split evenly over the processes; readings/s acknowledged, checked against what is
  stored.
- fan-out: ``--subscribers`` WebSocket subscribers of one channel, split evenly over the
  processes; a publisher posts one reading every 1/``--rate`` s through the first process;
  every subscriber should get every reading (one event each, or several in one event when
  the publish queue merged them). Deliveries (readings received)/s, latency from the POST
  to receipt.

PostgreSQL: a database created for the run on ``--postgres`` (dropped after). Redis: a
private ``redis-server`` on a free port (no persistence), so the bus's keys meet nobody
else's. Client, servers, PostgreSQL and Redis all share this machine's cores: the
ratios say what a second process buys here, not on a machine with cores to spare.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from ingest import VARIABLES, bodies, cpu_seconds, drive, pct  # noqa: E402

from riskcast.testing.server import free_port  # noqa: E402

ENV = {"RISKCAST_AUTH": "false", "RISKCAST_RATE_LIMIT": "0", "RISKCAST_LOG_LEVEL": "warning",
       "RISKCAST_RETENTION": "0"}
FAN_T0 = 1_700_000_000  # reading times of the fan-out site


# ---------------------------------------------------------------- servers


@contextmanager
def processes(count: int, storage: str, bus: str, directory: Path) -> Iterator[list[str]]:
    """``count`` riskcast serve processes; yields their base URLs."""
    procs: list[subprocess.Popen[bytes]] = []
    urls = []
    env = {**os.environ, **ENV}
    try:
        for k in range(count):
            port = free_port()
            proc = subprocess.Popen(
                [sys.executable, "-m", "riskcast.cli.main", "serve", "--port", str(port),
                 "--data-dir", str(directory / f"data-{k}"), "--storage", storage,
                 "--bus", bus], env=env, stdout=subprocess.PIPE)
            procs.append(proc)
            assert proc.stdout is not None
            while b"riskcast ready on" not in (line := proc.stdout.readline()):
                if not line:
                    raise RuntimeError(f"riskcast serve exited with {proc.wait()}")
            urls.append(f"http://127.0.0.1:{port}")
        yield urls
    finally:
        for proc in procs:
            proc.send_signal(signal.SIGTERM)
        for proc in procs:
            proc.wait(60)


def pids_of(urls: list[str]) -> list[int]:
    """Server pids by their listening port (from /proc), for CPU accounting."""
    ports = {int(u.rsplit(":", 1)[1]) for u in urls}
    inodes: dict[str, int] = {}
    for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        fields = line.split()
        port = int(fields[1].split(":")[1], 16)
        if port in ports and fields[3] == "0A":  # LISTEN
            inodes[fields[9]] = port
    found = []
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            for fd in os.listdir(f"/proc/{pid}/fd"):
                link = os.readlink(f"/proc/{pid}/fd/{fd}")
                if link.startswith("socket:[") and link[8:-1] in inodes:
                    found.append(int(pid))
                    break
        except OSError:
            continue
    return found


@contextmanager
def private_redis() -> Iterator[str]:
    port = free_port()
    proc = subprocess.Popen(["redis-server", "--port", str(port), "--bind", "127.0.0.1",
                             "--save", "", "--appendonly", "no"], stdout=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 10
        while True:
            try:
                httpx.get(f"http://127.0.0.1:{port}", timeout=0.5)
            except httpx.RemoteProtocolError:
                break  # it answers (not HTTP)
            except httpx.HTTPError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.05)
        yield f"redis://127.0.0.1:{port}/0"
    finally:
        proc.terminate()
        proc.wait(30)


@contextmanager
def fresh_database(server: str) -> Iterator[str]:
    import psycopg

    name = f"rc_bench_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(f"{server}/postgres", autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')  # type: ignore[arg-type]
    try:
        yield f"{server}/{name}"
    finally:
        with psycopg.connect(f"{server}/postgres", autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')  # type: ignore[arg-type]


def stored(storage: str, directory: Path) -> int:
    query = ("SELECT count(*) FROM {0}readings r JOIN {0}series s ON s.id = r.series "
             "WHERE s.site <> 'fan' AND s.variable IN ({1})")
    if storage.startswith("postgresql://"):
        import psycopg

        with psycopg.connect(storage) as conn:
            marks = ",".join(["%s"] * len(VARIABLES))
            row = conn.execute(query.format("riskcast.", marks).encode(),
                               VARIABLES).fetchone()
    else:
        conn2 = sqlite3.connect(directory / "data-0" / "riskcast.db")
        row = conn2.execute(query.format("", ",".join("?" * len(VARIABLES))),
                            VARIABLES).fetchone()
        conn2.close()
    return int(row[0]) if row else 0


def settle(pids: list[int], within: float = 30.0) -> None:
    """Wait until the servers are idle (under 5 % of a core for 0.5 s): work left over from
    one phase (commits, derivations, alert evaluation) must not count in the next."""
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        before = sum(cpu_seconds(p) for p in pids)
        time.sleep(0.5)
        if sum(cpu_seconds(p) for p in pids) - before < 0.025 * max(1, len(pids)):
            return


# ---------------------------------------------------------------- fan-out client


class Subscriber(asyncio.Protocol):
    """A minimal WebSocket client: upgrade, subscribe, read the value of each event."""

    def __init__(self, request: bytes, subscribe: bytes, fan: Fan) -> None:
        self.request, self.subscribe, self.fan = request, subscribe, fan
        self.buf = b""
        self.upgraded = False
        self.ready: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self.transport: Any = None

    def connection_made(self, transport: Any) -> None:
        self.transport = transport
        transport.write(self.request)

    def connection_lost(self, exc: Exception | None) -> None:
        self.fan.closed += 1
        if not self.ready.done():
            self.ready.set_exception(ConnectionError("connection lost"))

    def data_received(self, data: bytes) -> None:
        buf = self.buf + data if self.buf else data
        if not self.upgraded:
            status, sep, rest = buf.partition(b"\r\n\r\n")
            if not sep:
                self.buf = buf
                return
            if not status.startswith(b"HTTP/1.1 101"):
                self.ready.set_exception(ConnectionError(status[:60].decode()))
                return
            self.upgraded = True
            buf = rest
            self.transport.write(self.subscribe)
        now = time.time()
        i, n = 0, len(buf)
        while n - i >= 2:
            size, head = buf[i + 1] & 0x7F, 2
            if size == 126:
                if n - i < 4:
                    break
                size, head = int.from_bytes(buf[i + 2:i + 4], "big"), 4
            elif size == 127:
                if n - i < 10:
                    break
                size, head = int.from_bytes(buf[i + 2:i + 10], "big"), 10
            end = i + head + size
            if end > n:
                break
            # Every reading of the event counts (an event carries several when the
            # publish queue merged readings that waited for the bus).
            at = buf.find(b'"value":', i + head, end)
            if at < 0 and not self.ready.done():  # the "subscribed" acknowledgement
                self.ready.set_result(None)
            while at >= 0:
                stop = buf.find(b",", at)
                self.fan.latency.append(now - self.fan.base - float(buf[at + 8:stop]))
                at = buf.find(b'"value":', stop, end)
            if len(self.fan.latency) >= self.fan.expected:
                self.fan.done.set()
            i = end
        self.buf = buf[i:] if i < n else b""


@dataclass
class Fan:
    """What the subscribers saw; a reading's value is its POST time minus ``base``."""

    latency: list[float]
    base: float
    closed: int = 0
    expected: float = float("inf")
    done: asyncio.Event = field(default_factory=asyncio.Event)


def masked(payload: bytes) -> bytes:
    mask = os.urandom(4)
    body = bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
    return bytes([0x81, 0x80 | len(payload)]) + mask + body


async def fan_out(urls: list[str], subscribers: int, rate: float, seconds: float
                  ) -> dict[str, float]:
    loop = asyncio.get_running_loop()
    fan = Fan(latency=[], base=time.time())
    subscribe = masked(b'{"op":"subscribe","channels":["site.fan"]}')
    clients = []
    started = time.perf_counter()
    for k in range(subscribers):
        port = int(urls[k % len(urls)].rsplit(":", 1)[1])
        request = (f"GET /ws HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nUpgrade: websocket\r\n"
                   "Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
                   "Sec-WebSocket-Version: 13\r\n\r\n").encode()
        _, client = await loop.create_connection(
            lambda r=request: Subscriber(r, subscribe, fan), "127.0.0.1", port)
        clients.append(client)
        if len(clients) % 200 == 0:
            await asyncio.gather(*(c.ready for c in clients[-200:]))
    await asyncio.gather(*(c.ready for c in clients))
    connect_s = time.perf_counter() - started
    limits = httpx.Limits(max_connections=64)
    async with httpx.AsyncClient(base_url=urls[0], timeout=30, limits=limits) as http:

        async def post(k: int) -> bool:
            body = {"readings": [{"site": "fan", "variable": "wind_kmh", "time": FAN_T0 + k,
                                  "value": round(time.time() - fan.base, 6)}]}
            r = await http.post("/api/v1/readings", json=body)
            return r.status_code == 200

        # On a fixed schedule, not one after the other: a POST answers after its commit.
        posts = []
        begin = time.perf_counter()
        while (k := len(posts)) < seconds * rate:
            due = begin + k / rate
            if due > time.perf_counter():
                await asyncio.sleep(due - time.perf_counter())
            posts.append(asyncio.create_task(post(k)))
        sent = sum(await asyncio.gather(*posts))
        publish_s = time.perf_counter() - begin
    expected = fan.expected = sent * subscribers
    if len(fan.latency) >= expected:
        fan.done.set()
    with contextlib.suppress(TimeoutError):  # the last events arrive, or some never do
        async with asyncio.timeout(10):
            await fan.done.wait()
    drained_s = time.perf_counter() - begin
    for client in clients:
        client.transport.close()
    return {"connect_s": connect_s, "events": sent, "expected": expected,
            "delivered": len(fan.latency), "per_s": len(fan.latency) / drained_s,
            "publish_s": publish_s, "p50_ms": pct(fan.latency, 0.5),
            "p99_ms": pct(fan.latency, 0.99), "dropped": fan.closed}


# ---------------------------------------------------------------- runs


def run(name: str, count: int, storage: str, bus: str, args: argparse.Namespace
        ) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as tmp, processes(count, storage, bus, Path(tmp)) as urls:
        directory = Path(tmp)
        for k in range(50):
            httpx.post(f"{urls[0]}/api/v1/sites", json={"id": f"b{k}"}).raise_for_status()
        httpx.post(f"{urls[0]}/api/v1/sites", json={"id": "fan"}).raise_for_status()
        per = max(1, args.concurrency // count)
        total = int(args.seconds * 400_000 / args.batch) + 10
        payloads = bodies(total, args.batch)
        asyncio.run(drive(urls[0], payloads[:4], 5, 1))  # warm up
        pids = pids_of(urls)
        settle(pids)
        cpu = sum(cpu_seconds(p) for p in pids)

        async def ingest() -> list[tuple[int, float, list[float]]]:
            share = (len(payloads) - 4) // count
            return await asyncio.gather(*(
                drive(url, payloads[4 + i * share:4 + (i + 1) * share], args.seconds, per)
                for i, url in enumerate(urls)))

        results = asyncio.run(ingest())
        cpu = sum(cpu_seconds(p) for p in pids) - cpu
        settle(pids)
        acked = sum(r[0] for r in results)
        elapsed = max(r[1] for r in results)
        latencies = [x for r in results for x in r[2]]
        fan = asyncio.run(fan_out(urls, args.subscribers, args.rate, args.seconds))
    stored_rows = stored(storage, directory) if storage.startswith("postgresql") else None
    return {"name": name, "ingest": acked / elapsed, "acked": acked + 4 * args.batch,
            "stored": stored_rows, "p99": pct(latencies, 0.99),
            "cpu_us": cpu / max(acked, 1) * 1e6, "fan": fan}


def run_sqlite(args: argparse.Namespace) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as tmp:
        directory = Path(tmp)
        storage = f"sqlite:///{directory / 'data-0' / 'riskcast.db'}"
        with processes(1, storage, "memory", directory) as urls:
            for k in range(50):
                httpx.post(f"{urls[0]}/api/v1/sites", json={"id": f"b{k}"}).raise_for_status()
            httpx.post(f"{urls[0]}/api/v1/sites", json={"id": "fan"}).raise_for_status()
            payloads = bodies(int(args.seconds * 400_000 / args.batch) + 10, args.batch)
            asyncio.run(drive(urls[0], payloads[:4], 5, 1))
            pids = pids_of(urls)
            settle(pids)
            cpu = sum(cpu_seconds(p) for p in pids)
            acked, elapsed, latencies = asyncio.run(
                drive(urls[0], payloads[4:], args.seconds, args.concurrency))
            cpu = sum(cpu_seconds(p) for p in pids) - cpu
            settle(pids)
            fan = asyncio.run(fan_out(urls, args.subscribers, args.rate, args.seconds))
        rows = stored("sqlite", directory)
    return {"name": "1 process, SQLite + memory bus", "ingest": acked / elapsed,
            "acked": acked + 4 * args.batch, "stored": rows, "p99": pct(latencies, 0.99),
            "cpu_us": cpu / max(acked, 1) * 1e6, "fan": fan}


def report(r: dict[str, Any]) -> None:
    f = r["fan"]
    check = "" if r["stored"] is None else (
        f"; stored {r['stored']:,} of {r['acked']:,} acknowledged: "
        f"{'OK' if r['stored'] >= r['acked'] else 'LOST READINGS'}")
    print(f"{r['name']}\n  ingest  {r['ingest']:>10,.0f} readings/s  request p99 "
          f"{r['p99']:.0f} ms  server CPU {r['cpu_us']:.1f} µs/reading{check}\n"
          f"  fan-out {f['per_s']:>10,.0f} deliveries/s  {f['delivered']:,} of "
          f"{f['expected']:,} ({f['events']} events x subscribers)  p50 {f['p50_ms']:.0f} ms"
          f"  p99 {f['p99_ms']:.0f} ms  connect {f['connect_s']:.1f} s  "
          f"dropped {f['dropped']}  (publishing took {f['publish_s']:.1f} s)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=8.0)
    parser.add_argument("--batch", type=int, default=1000)
    parser.add_argument("--concurrency", type=int, default=4, help="ingest connections in all")
    parser.add_argument("--subscribers", type=int, default=500)
    parser.add_argument("--rate", type=float, default=100.0, help="fan-out events/s")
    parser.add_argument("--postgres", default="postgresql://postgres@127.0.0.1:5432")
    args = parser.parse_args()
    print(f"{os.cpu_count()} cores shared by client, servers, PostgreSQL and Redis; "
          f"{args.seconds:.0f} s per phase; load average {os.getloadavg()[0]:.1f} at start")
    sqlite = run_sqlite(args)
    report(sqlite)
    with private_redis() as redis, fresh_database(args.postgres) as one_db:
        one = run("1 process, PostgreSQL + Redis", 1, one_db, redis, args)
    report(one)
    with private_redis() as redis, fresh_database(args.postgres) as two_db:
        two = run("2 processes, PostgreSQL + Redis", 2, two_db, redis, args)
    report(two)
    print(f"scaling, 2 processes / 1 (PostgreSQL + Redis): ingest "
          f"{two['ingest'] / one['ingest']:.2f}x, fan-out "
          f"{two['fan']['per_s'] / one['fan']['per_s']:.2f}x")
    print(f"against 1 process on SQLite: ingest 1 process {one['ingest'] / sqlite['ingest']:.2f}x,"
          f" 2 processes {two['ingest'] / sqlite['ingest']:.2f}x; fan-out 1 process "
          f"{one['fan']['per_s'] / sqlite['fan']['per_s']:.2f}x, 2 processes "
          f"{two['fan']['per_s'] / sqlite['fan']['per_s']:.2f}x")
    print(f"load average {os.getloadavg()[0]:.1f} at the end (other work on the machine "
          "moves these figures: compare within one run, and over several runs)")


if __name__ == "__main__":
    main()
